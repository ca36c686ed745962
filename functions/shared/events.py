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


class EventName(StrEnum):
    NOTA_FISCAL_CRIADA = "NotaFiscalCriada"
    NOTA_FISCAL_CANCELADA = "NotaFiscalCancelada"
    RESERVA_CONFIRMADA = "ReservaConfirmada"
    RESERVA_FALHOU = "ReservaFalhou"
    RESERVA_LIBERADA = "ReservaLiberada"


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


PAYLOADS: dict[EventName, type[_Contract]] = {
    EventName.NOTA_FISCAL_CRIADA: NotaFiscalCriada,
    EventName.NOTA_FISCAL_CANCELADA: NotaFiscalCancelada,
    EventName.RESERVA_CONFIRMADA: ReservaConfirmada,
    EventName.RESERVA_FALHOU: ReservaFalhou,
    EventName.RESERVA_LIBERADA: ReservaLiberada,
}

SOURCES: dict[EventName, Source] = {
    EventName.NOTA_FISCAL_CRIADA: Source.FATURAMENTO,
    EventName.NOTA_FISCAL_CANCELADA: Source.FATURAMENTO,
    EventName.RESERVA_CONFIRMADA: Source.ESTOQUE,
    EventName.RESERVA_FALHOU: Source.ESTOQUE,
    EventName.RESERVA_LIBERADA: Source.ESTOQUE,
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


def build_detail(event_id: UUID, name: EventName, occurred_at: datetime, payload: _Contract) -> dict[str, Any]:
    """The JSON-ready detail for an outbox row; correlation id is always the nota id."""
    nota_id = payload.nota_fiscal_id  # type: ignore[attr-defined]
    return EventDetail(
        event_id=event_id,
        event_type=name,
        schema_version=SCHEMA_VERSION,
        occurred_at=occurred_at,
        correlation_id=nota_id,
        payload=payload.model_dump(mode="json", by_alias=True),
    ).model_dump(mode="json", by_alias=True)


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema for every contract (the committed files under events/schemas/)."""
    schemas = {"EventDetail.json": EventDetail.model_json_schema(by_alias=True)}
    for name, model in PAYLOADS.items():
        schemas[f"{name.value}.json"] = model.model_json_schema(by_alias=True)
    return schemas
