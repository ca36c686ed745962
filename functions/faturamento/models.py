"""Faturamento's HTTP models: what the API accepts and answers (camelCase JSON)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, WithJsonSchema, field_validator

from functions.shared.apimodels import ApiInput, ApiOutput, Money, MoneyOut, UsuarioOut
from functions.shared.documents import normalizar_documento

MAX_ITEMS = 100
MAX_QUANTIDADE = 1_000_000
# notas_fiscais.valor_total is numeric(15, 2).
MAX_VALOR_TOTAL = Decimal("9999999999999.99")
CENTAVOS = Decimal("0.01")


class StatusNota(StrEnum):
    PENDING = "PENDING"
    CONFIRMADA = "CONFIRMADA"
    ERRO_ESTOQUE = "ERRO_ESTOQUE"
    CANCELADA = "CANCELADA"


Documento = Annotated[
    str,
    Field(max_length=32),
    AfterValidator(normalizar_documento),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 32,
            "description": "CPF (11 digits) or CNPJ (14 digits), formatted or digits only; check digits are "
            "verified and the digits alone are stored",
            "examples": ["11.222.333/0001-81", "52998224725"],
        }
    ),
]
# strict: 2.0, "2" and true are not quantities.
Quantidade = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTIDADE)]


class DestinatarioIn(ApiInput):
    documento: Documento
    nome: Annotated[str, Field(min_length=1, max_length=200)]


class ItemIn(ApiInput):
    produto_id: UUID
    quantidade: Quantidade
    valor_unitario: Money


class NotaIn(ApiInput):
    destinatario: DestinatarioIn
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


class DestinatarioOut(ApiOutput):
    documento: str = Field(description="Digits only")
    nome: str


class ItemOut(ApiOutput):
    produto_id: UUID
    quantidade: int
    valor_unitario: MoneyOut


class ErroNota(ApiOutput):
    codigo: str = Field(examples=["ESTOQUE_INSUFICIENTE"])
    mensagem: str
    timestamp: datetime


class NotaOut(ApiOutput):
    id: UUID
    status: StatusNota
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


class PaginaNotas(ApiOutput):
    items: list[NotaOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class Saude(ApiOutput):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
