"""Event contracts of the saga: the single source for what travels on the bus.

Every event is put on the bus with `source` = its service (`nfe.faturamento` / `nfe.estoque`) and
`detail-type` = its name; the EventBridge `detail` is an `EventDetail`: the event id (the outbox
row id, which consumers use for idempotency), a schema version, when it occurred, the nota id as
correlation id, and the typed payload. Consumers read only `detail-type` and `detail` from the
envelope, never `account` or other fields an emulator may omit.

The JSON Schemas under `events/schemas/` are generated from these models (`nfe schemas`), and a
test fails when the committed files drift from the code.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

SCHEMA_VERSION = 1


class Source(StrEnum):
    FATURAMENTO = "nfe.faturamento"
    ESTOQUE = "nfe.estoque"
    # The participant that talks to SEFAZ (functions/sefaz/): it has no database and no outbox, so it
    # puts its events on the bus itself, with ids derived from the event it answers (see there).
    SEFAZ = "nfe.sefaz"


class EventName(StrEnum):
    NOTA_FISCAL_CRIADA = "NotaFiscalCriada"
    NOTA_FISCAL_CANCELADA = "NotaFiscalCancelada"
    RESERVA_CONFIRMADA = "ReservaConfirmada"
    RESERVA_FALHOU = "ReservaFalhou"
    RESERVA_LIBERADA = "ReservaLiberada"
    NOTA_FISCAL_EMITIDA = "NotaFiscalEmitida"
    NOTA_FISCAL_AUTORIZADA = "NotaFiscalAutorizada"
    NOTA_FISCAL_REJEITADA = "NotaFiscalRejeitada"
    NOTA_FISCAL_DENEGADA = "NotaFiscalDenegada"
    NOTA_FISCAL_CANCELAMENTO_SOLICITADO = "NotaFiscalCancelamentoSolicitado"
    NOTA_FISCAL_CANCELAMENTO_HOMOLOGADO = "NotaFiscalCancelamentoHomologado"
    NOTA_FISCAL_CANCELAMENTO_REJEITADO = "NotaFiscalCancelamentoRejeitado"
    NUMERACAO_INUTILIZADA = "NumeracaoInutilizada"
    PRODUTO_CADASTRADO = "ProdutoCadastrado"


class _Contract(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


Quantidade = Annotated[int, Field(ge=1, le=1_000_000)]


class ItemReserva(_Contract):
    produto_id: UUID
    quantidade: Quantidade


class Ator(_Contract):
    """The signed-in user who caused an event: their Cognito `sub` and the e-mail they had then."""

    sub: str = Field(min_length=1, max_length=128)
    email: str = Field(max_length=320)


class NotaFiscalCriada(_Contract):
    nota_fiscal_id: UUID
    items: list[ItemReserva] = Field(min_length=1, max_length=100)
    valor_total: Decimal = Field(ge=0, decimal_places=2)
    # Optional, so events written before sign-in existed (still in outboxes, archives, DLQs) stay valid.
    criada_por: Ator | None = Field(default=None, description="Who emitted the nota")


class NotaFiscalCancelada(_Contract):
    nota_fiscal_id: UUID
    solicitado_por: Ator | None = Field(default=None, description="Who asked for the cancelation")


class Reserva(_Contract):
    reserva_id: UUID
    produto_id: UUID
    quantidade: Quantidade


class ProdutoFiscal(_Contract):
    """A produto's fiscal data as Estoque had it when it reserved the stock: what the NF-e's item
    needs, carried to Faturamento, which cannot read Estoque's schema."""

    produto_id: UUID
    codigo: str = Field(min_length=1, max_length=64, description="The produto's SKU (cProd)")
    descricao: str = Field(min_length=1, max_length=200, description="The produto's name (xProd)")
    ncm: str = Field(pattern=r"^[0-9]{8}$")
    unidade: str = Field(min_length=1, max_length=6, description="Unidade comercial (uCom)")
    origem: int = Field(ge=0, le=8, description="Origem da mercadoria (orig)")
    gtin: str | None = Field(default=None, pattern=r"^([0-9]{8}|[0-9]{12,14})$", description="null: SEM GTIN")


class ReservaConfirmada(_Contract):
    nota_fiscal_id: UUID
    reservas: list[Reserva] = Field(min_length=1)
    # Empty only in events written before the NF-e existed; Faturamento refuses those.
    produtos: list[ProdutoFiscal] = Field(
        default_factory=list, description="Each reserved produto's fiscal snapshot, one per reserva"
    )


class ProdutoEmFalta(_Contract):
    produto_id: UUID
    solicitado: int
    # None when the product does not exist at all.
    disponivel: int | None


class ReservaFalhou(_Contract):
    nota_fiscal_id: UUID
    codigo: Literal["ESTOQUE_INSUFICIENTE", "PRODUTO_INEXISTENTE", "PRODUTO_SEM_DADOS_FISCAIS"]
    mensagem: str
    # Empty when the reservation failed for another reason than stock (PRODUTO_SEM_DADOS_FISCAIS).
    produtos_em_falta: list[ProdutoEmFalta] = Field(default_factory=list)


class ReservaLiberada(_Contract):
    nota_fiscal_id: UUID
    reservas: list[Reserva]


CHAVE_PATTERN = r"^[0-9]{6}[0-9A-Z]{12}[0-9]{26}$"
# nProt is 15 digits (TProt in tiposBasico_v4.00.xsd).
PROTOCOLO_PATTERN = r"^[0-9]{15}$"
# The unsigned NF-e of a nota of at most 100 items measures about 72 KB (docs/sefaz.md gives the measure);
# EventBridge takes entries of up to 256 KB.
MAX_XML_CHARS = 200_000


class NotaFiscalEmitida(_Contract):
    """Faturamento numbered the nota and built its NF-e: the SEFAZ participant signs and sends it.

    The XML travels in the event because the SEFAZ function has no database (it runs outside the VPC):
    the document is what it must sign, so a reference to a copy would only add a write that can fail
    between the commit and the send.
    """

    nota_fiscal_id: UUID
    chave: str = Field(pattern=CHAVE_PATTERN, description="The chave de acesso (44 positions)")
    serie: int = Field(ge=0, le=999)
    numero: int = Field(ge=1, le=999_999_999)
    ambiente: Literal[1, 2] = Field(description="tpAmb: 1 produção, 2 homologação")
    emitida_em: datetime = Field(description="dhEmi")
    xml: str = Field(min_length=1, max_length=MAX_XML_CHARS, description="The unsigned NF-e, as Faturamento built it")


class NotaFiscalAutorizada(_Contract):
    """SEFAZ authorized the NF-e (cStat 100 or 150); the nfeProc is in the fiscal archive under `documento`."""

    nota_fiscal_id: UUID
    chave: str = Field(pattern=CHAVE_PATTERN)
    protocolo: str = Field(pattern=PROTOCOLO_PATTERN, description="nProt")
    autorizada_em: datetime = Field(description="dhRecbto of the protocol")
    digest_value: str = Field(min_length=1, max_length=64, description="digVal: the signed NF-e's DigestValue")
    c_stat: Literal[100, 150]
    motivo: str = Field(max_length=255)
    documento: str = Field(min_length=1, max_length=1024, description="The nfeProc's key in the fiscal archive")
    via_consulta: bool = Field(default=False, description="The protocol came from NFeConsultaProtocolo4")


class NotaFiscalRejeitada(_Contract):
    """SEFAZ refused the NF-e and kept nothing: the stock is released and the número awaits inutilização."""

    nota_fiscal_id: UUID
    chave: str = Field(pattern=CHAVE_PATTERN)
    c_stat: int = Field(ge=100, le=999)
    motivo: str = Field(max_length=255)


class NotaFiscalDenegada(_Contract):
    """SEFAZ denied the use of the NF-e (110, 301, 302, 303): it is stored as denied, its número is
    consumed, and the goods must not move (the stock is released). The nfeProc is archived."""

    nota_fiscal_id: UUID
    chave: str = Field(pattern=CHAVE_PATTERN)
    protocolo: str = Field(pattern=PROTOCOLO_PATTERN, description="nProt of the denial")
    denegada_em: datetime = Field(description="dhRecbto of the protocol")
    c_stat: Literal[110, 301, 302, 303]
    motivo: str = Field(max_length=255)
    documento: str = Field(min_length=1, max_length=1024, description="The nfeProc's key in the fiscal archive")


Justificativa = Annotated[str, Field(min_length=15, max_length=255, description="xJust, as SEFAZ takes it")]


class NotaFiscalCancelamentoSolicitado(_Contract):
    """Faturamento asks the SEFAZ participant to register the cancelamento (evento 110111) of an
    AUTORIZADA NF-e, within the 24 hours SEFAZ allows."""

    nota_fiscal_id: UUID
    chave: str = Field(pattern=CHAVE_PATTERN)
    protocolo: str = Field(pattern=PROTOCOLO_PATTERN, description="nProt of the authorization")
    justificativa: Justificativa
    serie: int = Field(ge=0, le=999)
    numero: int = Field(ge=1, le=999_999_999)
    ambiente: Literal[1, 2]
    solicitado_por: Ator | None = Field(default=None, description="Who asked for the cancelation")


class NotaFiscalCancelamentoHomologado(_Contract):
    """SEFAZ registered the cancelamento (135, 155; or found it registered: 101/151/155 on a consulta).
    The procEventoNFe is in the fiscal archive under `documento`."""

    nota_fiscal_id: UUID
    chave: str = Field(pattern=CHAVE_PATTERN)
    protocolo: str = Field(pattern=PROTOCOLO_PATTERN, description="nProt of the event")
    registrado_em: datetime = Field(description="dhRegEvento")
    c_stat: int = Field(ge=100, le=999)
    motivo: str = Field(max_length=255)
    documento: str = Field(min_length=1, max_length=1024, description="The procEventoNFe's key in the fiscal archive")
    via_consulta: bool = False


class NotaFiscalCancelamentoRejeitado(_Contract):
    """SEFAZ refused the cancelamento (501 after 24 h, 580, 222, ...): the NF-e stays authorized."""

    nota_fiscal_id: UUID
    chave: str = Field(pattern=CHAVE_PATTERN)
    c_stat: int = Field(ge=100, le=999)
    motivo: str = Field(max_length=255)


class NumeracaoInutilizada(_Contract):
    """SEFAZ homologated the inutilização of a range of números of a série (102, or 563 with the
    earlier protocol). The procInutNFe is in the fiscal archive under `documento`."""

    inutilizacao_id: UUID = Field(description="Derived from the série, the range and the ambiente")
    serie: int = Field(ge=0, le=889)
    numero_inicial: int = Field(ge=1, le=999_999_999)
    numero_final: int = Field(ge=1, le=999_999_999)
    ambiente: Literal[1, 2]
    justificativa: Justificativa
    protocolo: str = Field(pattern=PROTOCOLO_PATTERN)
    homologada_em: datetime = Field(description="dhRecbto")
    c_stat: int = Field(ge=100, le=999)
    documento: str = Field(min_length=1, max_length=1024, description="The procInutNFe's key in the fiscal archive")


class ProdutoCadastrado(_Contract):
    """Estoque registered a produto: what Faturamento needs to refuse, at emission, a nota it could never
    invoice (a produto without NCM, unidade or origem). Faturamento keeps these in its own projection;
    the fiscal snapshot that goes into the NF-e still travels in ReservaConfirmada."""

    produto_id: UUID
    sku: str = Field(min_length=1, max_length=64)
    ncm: str | None = Field(default=None, pattern=r"^[0-9]{8}$")
    unidade: str | None = Field(default=None, min_length=1, max_length=6)
    origem: int | None = Field(default=None, ge=0, le=8)


PAYLOADS: dict[EventName, type[_Contract]] = {
    EventName.NOTA_FISCAL_CRIADA: NotaFiscalCriada,
    EventName.NOTA_FISCAL_CANCELADA: NotaFiscalCancelada,
    EventName.RESERVA_CONFIRMADA: ReservaConfirmada,
    EventName.RESERVA_FALHOU: ReservaFalhou,
    EventName.RESERVA_LIBERADA: ReservaLiberada,
    EventName.NOTA_FISCAL_EMITIDA: NotaFiscalEmitida,
    EventName.NOTA_FISCAL_AUTORIZADA: NotaFiscalAutorizada,
    EventName.NOTA_FISCAL_REJEITADA: NotaFiscalRejeitada,
    EventName.NOTA_FISCAL_DENEGADA: NotaFiscalDenegada,
    EventName.NOTA_FISCAL_CANCELAMENTO_SOLICITADO: NotaFiscalCancelamentoSolicitado,
    EventName.NOTA_FISCAL_CANCELAMENTO_HOMOLOGADO: NotaFiscalCancelamentoHomologado,
    EventName.NOTA_FISCAL_CANCELAMENTO_REJEITADO: NotaFiscalCancelamentoRejeitado,
    EventName.NUMERACAO_INUTILIZADA: NumeracaoInutilizada,
    EventName.PRODUTO_CADASTRADO: ProdutoCadastrado,
}

SOURCES: dict[EventName, Source] = {
    EventName.NOTA_FISCAL_CRIADA: Source.FATURAMENTO,
    EventName.NOTA_FISCAL_CANCELADA: Source.FATURAMENTO,
    EventName.RESERVA_CONFIRMADA: Source.ESTOQUE,
    EventName.RESERVA_FALHOU: Source.ESTOQUE,
    EventName.RESERVA_LIBERADA: Source.ESTOQUE,
    EventName.NOTA_FISCAL_EMITIDA: Source.FATURAMENTO,
    EventName.NOTA_FISCAL_AUTORIZADA: Source.SEFAZ,
    EventName.NOTA_FISCAL_REJEITADA: Source.SEFAZ,
    EventName.NOTA_FISCAL_DENEGADA: Source.SEFAZ,
    EventName.NOTA_FISCAL_CANCELAMENTO_SOLICITADO: Source.FATURAMENTO,
    EventName.NOTA_FISCAL_CANCELAMENTO_HOMOLOGADO: Source.SEFAZ,
    EventName.NOTA_FISCAL_CANCELAMENTO_REJEITADO: Source.SEFAZ,
    EventName.NUMERACAO_INUTILIZADA: Source.SEFAZ,
    EventName.PRODUTO_CADASTRADO: Source.ESTOQUE,
}


class EventDetail(_Contract):
    """The EventBridge `detail` of every saga event."""

    event_id: UUID
    event_type: EventName
    schema_version: Literal[1]
    occurred_at: datetime
    correlation_id: UUID
    payload: dict[str, Any]

    def typed_payload(self) -> _Contract:
        """The payload validated against its event's model (raises pydantic.ValidationError)."""
        return PAYLOADS[self.event_type].model_validate(self.payload)


def correlation_id(payload: _Contract) -> UUID:
    """The aggregate an event is about: its nota, else its inutilização or its produto."""
    for attribute in ("nota_fiscal_id", "inutilizacao_id", "produto_id"):
        value = getattr(payload, attribute, None)
        if isinstance(value, UUID):
            return value
    raise TypeError(f"{type(payload).__name__} names no nota, inutilização or produto")


def build_detail(event_id: UUID, name: EventName, occurred_at: datetime, payload: _Contract) -> dict[str, Any]:
    """The JSON-ready detail for an outbox row; the correlation id is the nota's id (an inutilização or a
    produto, which belong to no nota, are correlated by their own id)."""
    correlation = correlation_id(payload)
    return EventDetail(
        event_id=event_id,
        event_type=name,
        schema_version=SCHEMA_VERSION,
        occurred_at=occurred_at,
        correlation_id=correlation,
        payload=payload.model_dump(mode="json", by_alias=True),
    ).model_dump(mode="json", by_alias=True)


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema for every contract (the committed files under events/schemas/)."""
    schemas = {"EventDetail.json": EventDetail.model_json_schema(by_alias=True)}
    for name, model in PAYLOADS.items():
        schemas[f"{name.value}.json"] = model.model_json_schema(by_alias=True)
    return schemas
