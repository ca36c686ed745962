"""Faturamento's business rules: the notas API and the nota's side of the saga.

Every state change and the event announcing it are written in one unit of work; events leave
through the outbox (eagerly right after the commit, and by the scheduled publisher otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
from aws_lambda_powertools.metrics import MetricUnit

from functions.faturamento import dal
from functions.faturamento.models import (
    DestinatarioOut,
    ErroNota,
    ItemOut,
    NotaIn,
    NotaOut,
    PaginaNotas,
    Saude,
    StatusNota,
)
from functions.shared.apimodels import usuario
from functions.shared.db import Database, UnitOfWork
from functions.shared.errors import ConflictError, InvalidInput, ResourceNotFound
from functions.shared.events import (
    Ator,
    EventDetail,
    EventName,
    ItemReserva,
    NotaFiscalCancelada,
    NotaFiscalCriada,
    ReservaConfirmada,
    ReservaFalhou,
    ReservaLiberada,
)
from functions.shared.inbox import EventHandler, MalformedEvent, mark_processed
from functions.shared.observability import logger, metrics, tracer
from functions.shared.outbox import EagerPublisher, add_event
from functions.shared.pagination import decode_cursor, encode_cursor

SCHEMA = "faturamento"
# Stable across deployments and function renames, unlike Powertools' default (function name + qualname).
IDEMPOTENCY_KEY_PREFIX = "faturamento.criar_nota"
# A key belongs to the user who sent it: the same key from two users is two requests, and one user
# can neither replay nor block another's. Records stored before keys were scoped (24 h at most)
# simply no longer match.
IDEMPOTENCY_KEY_JMESPATH = "[usuario, chave]"
IDEMPOTENCY_PAYLOAD_JMESPATH = "nota"


def pedido_idempotente(ator: Ator, chave: str, nota: NotaIn) -> dict[str, Any]:
    """What the idempotency record is keyed (`usuario`, `chave`) and validated (`nota`) on."""
    return {"usuario": ator.sub, "chave": chave, "nota": nota.model_dump(mode="json")}


def _nota_out(row: dict[str, Any], items: list[dict[str, Any]]) -> NotaOut:
    erro = None
    if row["erro_codigo"] is not None:
        erro = ErroNota(codigo=row["erro_codigo"], mensagem=row["erro_mensagem"], timestamp=row["erro_timestamp"])
    return NotaOut(
        id=row["id"],
        status=StatusNota(row["status"]),
        destinatario=DestinatarioOut(documento=row["destinatario_documento"], nome=row["destinatario_nome"]),
        items=[
            ItemOut(produto_id=i["produto_id"], quantidade=i["quantidade"], valor_unitario=i["valor_unitario"])
            for i in items
        ],
        valor_total=row["valor_total"],
        criada_em=row["criada_em"],
        criada_por=usuario(row["criada_por_sub"], row["criada_por_email"]),
        confirmada_em=row["confirmada_em"],
        cancelamento_solicitado_em=row["cancelamento_solicitado_em"],
        cancelamento_solicitado_por=usuario(
            row["cancelamento_solicitado_por_sub"], row["cancelamento_solicitado_por_email"]
        ),
        cancelada_em=row["cancelada_em"],
        erro=erro,
    )


class NotasService:
    """The notas API: create, read, list, request a cancelation, health.

    Not traced per method: Tracer logs every exception at ERROR and marks the segment failed, and here
    most exceptions are answers (404, 409, 422), not faults. The handler itself is traced.
    """

    def __init__(self, db: Database, publisher: EagerPublisher, idempotency_ttl_seconds: int = 24 * 3600) -> None:
        self.db = db
        self.publisher = publisher
        self.idempotency_ttl_seconds = idempotency_ttl_seconds
        self._idempotency_store: Any = None

    def criar(
        self, nota: NotaIn, ator: Ator, idempotency_key: str | None = None, lambda_context: Any = None
    ) -> NotaOut:
        if idempotency_key is None:
            return self._criar(nota, ator)
        return self._criar_idempotente(idempotency_key, nota, ator, lambda_context)

    def _criar(
        self,
        nota: NotaIn,
        ator: Ator,
        before_commit: Callable[[psycopg.Connection[Any], NotaOut], None] | None = None,
    ) -> NotaOut:
        items = [
            {"produto_id": i.produto_id, "quantidade": i.quantidade, "valor_unitario": i.valor_unitario}
            for i in nota.items
        ]
        with UnitOfWork(self.db) as uow:
            row = dal.inserir_nota(uow.conn, nota, ator.sub, ator.email)
            evento = NotaFiscalCriada(
                nota_fiscal_id=row["id"],
                items=[ItemReserva(produto_id=i.produto_id, quantidade=i.quantidade) for i in nota.items],
                valor_total=row["valor_total"],
                criada_por=ator,
            )
            event_id = add_event(uow.conn, SCHEMA, EventName.NOTA_FISCAL_CRIADA, evento)
            self.publisher.publish_after_commit(uow, SCHEMA, [event_id])
            criada = _nota_out(row, items)
            if before_commit is not None:
                before_commit(uow.conn, criada)
            uow.commit()
        logger.set_correlation_id(str(row["id"]))
        logger.info("nota criada", extra={"nota_id": str(row["id"]), "items": len(nota.items)})
        metrics.add_metric(name="NotasCriadas", unit=MetricUnit.Count, value=1)
        return criada

    def _criar_idempotente(self, key: str, nota: NotaIn, ator: Ator, lambda_context: Any) -> NotaOut:
        # Imported here: the idempotency package imports boto3 for its DynamoDB layer, a cost only
        # requests that carry the header should pay.
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        from functions.shared.idempotency import PostgresPersistenceLayer

        if self._idempotency_store is None:
            self._idempotency_store = PostgresPersistenceLayer(self.db)
        # A config per call: it carries this invocation's context (for the in-progress lease).
        config = IdempotencyConfig(
            event_key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
            payload_validation_jmespath=IDEMPOTENCY_PAYLOAD_JMESPATH,
            expires_after_seconds=self.idempotency_ttl_seconds,
            lambda_context=lambda_context,
        )

        store = self._idempotency_store

        def criar_uma_vez(pedido: dict[str, Any]) -> dict[str, Any]:
            def completar(conn: psycopg.Connection[Any], criada: NotaOut) -> None:
                # The key's answer commits with the nota: a failure after the commit can't leave the
                # key "in progress" for a retry to take over and create a second nota.
                store.complete_in(conn, pedido, criada.model_dump(mode="json", by_alias=True))

            return self._criar(nota, ator, before_commit=completar).model_dump(mode="json", by_alias=True)

        once = idempotent_function(
            criar_uma_vez,
            data_keyword_argument="pedido",
            persistence_store=self._idempotency_store,
            config=config,
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )
        try:
            result = once(pedido=pedido_idempotente(ator, key, nota))
        except IdempotencyValidationError as exc:
            raise InvalidInput(
                "Idempotency-Key", "this Idempotency-Key was already used with a different body", location="header"
            ) from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise ConflictError("a request with this Idempotency-Key is still in progress; retry shortly") from exc
        except IdempotencyPersistenceLayerError as exc:
            # A database failure underneath answers like any other (503), not as an unexpected error.
            if isinstance(exc.__cause__, psycopg.Error):
                raise exc.__cause__ from exc
            raise
        return NotaOut.model_validate(result)

    def obter(self, nota_id: UUID) -> NotaOut:
        with UnitOfWork(self.db) as uow:
            row = dal.obter_nota(uow.conn, nota_id)
            if row is None:
                raise ResourceNotFound(f"nota {nota_id} not found")
            items = dal.itens_das_notas(uow.conn, [nota_id])[nota_id]
        return _nota_out(row, items)

    def listar(self, status: StatusNota | None, limit: int, cursor: str | None) -> PaginaNotas:
        after = decode_cursor(cursor) if cursor else None
        with UnitOfWork(self.db) as uow:
            rows = dal.listar_notas(uow.conn, status.value if status else None, limit + 1, after)
            page = rows[:limit]
            items = dal.itens_das_notas(uow.conn, [r["id"] for r in page])
        next_cursor = encode_cursor(page[-1]["criada_em"], page[-1]["id"]) if len(rows) > limit else None
        return PaginaNotas(items=[_nota_out(r, items[r["id"]]) for r in page], next_cursor=next_cursor)

    def solicitar_cancelamento(self, nota_id: UUID, ator: Ator) -> NotaOut:
        """Accept a cancelation of a CONFIRMADA nota: the saga releases the stock, then cancels it."""
        with UnitOfWork(self.db) as uow:
            row = dal.solicitar_cancelamento(uow.conn, nota_id, ator.sub, ator.email)
            if row is None:
                status = dal.status_atual(uow.conn, nota_id)
                if status is None:
                    raise ResourceNotFound(f"nota {nota_id} not found")
                if status == StatusNota.CONFIRMADA:
                    raise ConflictError(f"nota {nota_id} already has a cancelation in progress")
                raise ConflictError(f"nota {nota_id} is {status}; only a CONFIRMADA nota can be cancelled")
            event_id = add_event(
                uow.conn,
                SCHEMA,
                EventName.NOTA_FISCAL_CANCELADA,
                NotaFiscalCancelada(nota_fiscal_id=nota_id, solicitado_por=ator),
            )
            self.publisher.publish_after_commit(uow, SCHEMA, [event_id])
            items = dal.itens_das_notas(uow.conn, [nota_id])[nota_id]
            uow.commit()
        logger.set_correlation_id(str(nota_id))
        logger.info("cancelamento solicitado", extra={"nota_id": str(nota_id)})
        metrics.add_metric(name="CancelamentosSolicitados", unit=MetricUnit.Count, value=1)
        return _nota_out(row, items)

    def saude(self) -> Saude:
        up = self.db.ping()
        return Saude(status="ok" if up else "unavailable", database="ok" if up else "unavailable")


# When a nota reaches a final state, how long its saga took (the dashboard's saga duration):
# CONFIRMADA and ERRO_ESTOQUE end the saga begun by the nota's creation; CANCELADA ends the
# cancelation's own saga, begun by its request (the nota may have been confirmed for days).
SAGA_DURATION_METRIC = "DuracaoSaga"
CANCELATION_DURATION_METRIC = "DuracaoCancelamento"


class SagaFaturamento:
    """The nota's transitions on Estoque's answers; each event applies at most once."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def handlers(self) -> dict[EventName, EventHandler]:
        return {
            EventName.RESERVA_CONFIRMADA: self.reserva_confirmada,
            EventName.RESERVA_FALHOU: self.reserva_falhou,
            EventName.RESERVA_LIBERADA: self.reserva_liberada,
        }

    @tracer.capture_method
    def reserva_confirmada(self, detail: EventDetail, payload: ReservaConfirmada) -> None:
        nota_id = payload.nota_fiscal_id
        self._transition(detail, nota_id, lambda conn: dal.confirmar(conn, nota_id), "NotasConfirmadas")

    @tracer.capture_method
    def reserva_falhou(self, detail: EventDetail, payload: ReservaFalhou) -> None:
        nota_id = payload.nota_fiscal_id
        self._transition(
            detail,
            nota_id,
            lambda conn: dal.registrar_erro_estoque(
                conn, nota_id, payload.codigo, payload.mensagem, detail.occurred_at
            ),
            # The saga's compensation: the nota is closed as failed instead of confirmed.
            "Compensacoes",
        )

    @tracer.capture_method
    def reserva_liberada(self, detail: EventDetail, payload: ReservaLiberada) -> None:
        nota_id = payload.nota_fiscal_id
        self._transition(detail, nota_id, lambda conn: dal.cancelar(conn, nota_id), "NotasCanceladas")

    def _transition(
        self,
        detail: EventDetail,
        nota_id: UUID,
        apply: Callable[[psycopg.Connection[Any]], bool],
        metric: str,
    ) -> None:
        extra = {"nota_id": str(nota_id), "event_id": str(detail.event_id), "event_type": detail.event_type.value}
        with UnitOfWork(self.db) as uow:
            if not mark_processed(uow.conn, SCHEMA, detail.event_id, detail.event_type.value):
                logger.info("event already processed; skipped", extra=extra)
                metrics.add_metric(name="EventosDuplicados", unit=MetricUnit.Count, value=1)
                return
            applied = apply(uow.conn)
            status = None if applied else dal.status_atual(uow.conn, nota_id)
            durations = dal.duracoes_ms(uow.conn, nota_id) if applied else {}
            if not applied and status is None:
                # Estoque only answers about notas committed here first, so an answer about a nota
                # this database never had comes from elsewhere (another stack's bus, a hand-made
                # event). No retry can fix it: rejected, it ends in the DLQ where someone looks.
                raise MalformedEvent(f"{detail.event_type.value} for nota {nota_id}, which does not exist")
            uow.commit()
        if applied:
            logger.info("nota transition applied", extra=extra)
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
            saga_ms, cancelation_ms = durations.get("saga"), durations.get("cancelamento")
            if metric == "NotasCanceladas" and cancelation_ms is not None:
                metrics.add_metric(name=CANCELATION_DURATION_METRIC, unit=MetricUnit.Milliseconds, value=cancelation_ms)
            elif metric != "NotasCanceladas" and saga_ms is not None:
                metrics.add_metric(name=SAGA_DURATION_METRIC, unit=MetricUnit.Milliseconds, value=saga_ms)
        else:
            # Recorded as processed all the same: redelivering it could never make it fit.
            logger.warning("event does not fit the nota's state; nothing changed", extra={**extra, "status": status})
            metrics.add_metric(name="TransicoesIgnoradas", unit=MetricUnit.Count, value=1)
