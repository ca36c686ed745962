"""Faturamento's HTTP models: what the API accepts and answers (camelCase JSON)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, field_validator

from functions.fiscal.limits import XJUST_MAX, XJUST_MIN, normalizar_justificativa
from functions.fiscal.model import NAT_OP_PADRAO, Destinatario, Endereco
from functions.shared.apimodels import ApiInput, ApiOutput, Money, MoneyOut, UsuarioOut

MAX_ITEMS = 100
MAX_QUANTIDADE = 1_000_000
# notas_fiscais.valor_total is numeric(15, 2).
MAX_VALOR_TOTAL = Decimal("9999999999999.99")
CENTAVOS = Decimal("0.01")


class StatusNota(StrEnum):
    PENDING = "PENDING"
    # Stock reserved, número, chave and XML made: the NF-e is with SEFAZ until it answers.
    CONFIRMADA = "CONFIRMADA"
    ERRO_ESTOQUE = "ERRO_ESTOQUE"
    AUTORIZADA = "AUTORIZADA"
    REJEITADA = "REJEITADA"
    DENEGADA = "DENEGADA"
    CANCELADA = "CANCELADA"


# strict: 2.0, "2" and true are not quantities.
Quantidade = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTIDADE)]


class ItemIn(ApiInput):
    produto_id: UUID
    quantidade: Quantidade
    valor_unitario: Money
    cfop: Annotated[
        str | None,
        Field(
            default=None,
            pattern=r"^[1-7][0-9]{3}$",
            description="Optional; 5102 when the destinatário is in the emitente's UF, else 6102",
        ),
    ] = None


class NotaIn(ApiInput):
    # The NF-e's dest: validated by the fiscal model (CPF/CNPJ check digits, alphanumeric CNPJ, the
    # IBGE município within its UF, CEP, IE when contribuinte), the same model that builds the XML.
    destinatario: Destinatario
    natureza_operacao: Annotated[str, Field(min_length=1, max_length=60)] = NAT_OP_PADRAO
    items: list[ItemIn] = Field(
        min_length=1, max_length=MAX_ITEMS, description="1 to 100 lines; each produtoId at most once"
    )

    @field_validator("items")
    @classmethod
    def _one_line_per_produto_and_total_fits(cls, items: list[ItemIn]) -> list[ItemIn]:
        positions: dict[UUID, list[int]] = defaultdict(list)
        for index, item in enumerate(items):
            positions[item.produto_id].append(index)
        repeated = {p: idx for p, idx in positions.items() if len(idx) > 1}
        if repeated:
            described = "; ".join(
                f"produtoId {p} at " + ", ".join(f"items[{i}]" for i in idx) for p, idx in repeated.items()
            )
            raise ValueError(f"each produtoId may appear only once: {described}")
        if valor_total(items) > MAX_VALOR_TOTAL:
            raise ValueError(f"valorTotal would exceed {MAX_VALOR_TOTAL}")
        return items

    def valor_total(self) -> Decimal:
        return valor_total(self.items)


def valor_total(items: list[ItemIn]) -> Decimal:
    return sum((item.valor_unitario * item.quantidade for item in items), Decimal(0)).quantize(CENTAVOS)


class CancelamentoIn(ApiInput):
    justificativa: Annotated[
        str,
        AfterValidator(normalizar_justificativa),
        Field(
            description=f"xJust: why the NF-e is cancelled, {XJUST_MIN}-{XJUST_MAX} characters after trimming",
            examples=["Pedido cancelado pelo cliente antes do envio"],
        ),
    ]


class DestinatarioOut(ApiOutput):
    documento: str = Field(description="Digits only (letters too for an alphanumeric CNPJ)")
    nome: str
    endereco: Endereco | None = Field(default=None, description="null on notas emitted before the NF-e existed")
    indicador_ie: int | None = Field(default=None, description="1 contribuinte, 2 isento, 9 não contribuinte")
    ie: str | None = None
    email: str | None = None


class ItemOut(ApiOutput):
    produto_id: UUID
    quantidade: int
    valor_unitario: MoneyOut
    cfop: str | None = Field(default=None, description="Set with the número")
    descricao: str | None = Field(default=None, description="The produto's name when its stock was reserved")
    ncm: str | None = None
    unidade: str | None = None


class Ambiente(StrEnum):
    PRODUCAO = "producao"
    HOMOLOGACAO = "homologacao"


class ErroNota(ApiOutput):
    codigo: str = Field(examples=["ESTOQUE_INSUFICIENTE"])
    mensagem: str
    timestamp: datetime


class RespostaSefaz(ApiOutput):
    """SEFAZ's answer when it refused the NF-e (REJEITADA, DENEGADA)."""

    c_stat: int = Field(description="SEFAZ's status code", examples=[539])
    motivo: str = Field(description="xMotivo, as SEFAZ wrote it")
    respondida_em: datetime = Field(description="When the answer arrived")


class NotaOut(ApiOutput):
    id: UUID
    status: StatusNota
    numero: int | None = Field(default=None, description="nNF, gapless per série; null until the stock is reserved")
    serie: int | None = Field(default=None, description="The série the nota is numbered in")
    chave: str | None = Field(default=None, description="The 44-character chave de acesso; null with the número")
    ambiente: Ambiente | None = Field(default=None, description="homologacao (tpAmb 2) or producao (tpAmb 1)")
    natureza_operacao: str = NAT_OP_PADRAO
    emitida_em: datetime | None = Field(default=None, description="dhEmi, set with the número")
    destinatario: DestinatarioOut
    items: list[ItemOut]
    valor_total: MoneyOut
    criada_em: datetime
    criada_por: UsuarioOut | None = Field(
        default=None, description="Who emitted the nota; null for notas emitted before sign-in existed"
    )
    confirmada_em: datetime | None = None
    cancelamento_solicitado_em: datetime | None = Field(
        default=None, description="Set when a cancelation was accepted; the nota is CANCELADA once the stock is back"
    )
    cancelamento_solicitado_por: UsuarioOut | None = Field(default=None, description="Who asked for the cancelation")
    cancelada_em: datetime | None = None
    erro: ErroNota | None = Field(default=None, description="Why the nota is ERRO_ESTOQUE")
    protocolo: str | None = Field(
        default=None, description="nProt: SEFAZ's protocol of the authorization (or of the denial)"
    )
    autorizada_em: datetime | None = Field(default=None, description="dhRecbto of the authorization")
    sefaz: RespostaSefaz | None = Field(default=None, description="Why SEFAZ refused the NF-e (REJEITADA, DENEGADA)")
    estoque_liberado_em: datetime | None = Field(
        default=None, description="When Estoque released the reservas of a nota SEFAZ refused or cancelled"
    )
    cancelavel_ate: datetime | None = Field(
        default=None, description="Until when SEFAZ accepts the cancelamento of an AUTORIZADA nota (24 h)"
    )
    cancelamento_justificativa: str | None = Field(default=None, description="xJust of the cancelamento asked")
    cancelamento_protocolo: str | None = Field(default=None, description="nProt of SEFAZ's cancelamento event")
    cancelamento_recusado: RespostaSefaz | None = Field(
        default=None, description="Why SEFAZ refused the last cancelamento asked (the nota stays AUTORIZADA)"
    )


class PaginaNotas(ApiOutput):
    items: list[NotaOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class Saude(ApiOutput):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
