"""Estoque's business rules: the produtos API and the stock side of the saga.

A reservation is all or nothing. The nota's products are locked in id order, the shortages are
computed from the locked rows, and only when nothing is short is every product decremented (each
UPDATE still guarded by `quantidade >= n`) and ReservaConfirmada written, all in one transaction.
Otherwise that transaction rolls back untouched and a second one records ReservaFalhou, so a
short second item never leaves the first one decremented.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from aws_lambda_powertools.metrics import MetricUnit

from functions.estoque import dal
from functions.estoque.models import EntradaIn, EntradaOut, EntradaRegistrada, PaginaProdutos, ProdutoIn, ProdutoOut
from functions.shared.apimodels import usuario
from functions.shared.db import Database, UnitOfWork
from functions.shared.errors import ConflictError, ResourceNotFound
from functions.shared.events import (
    Ator,
    EventDetail,
    EventName,
    NotaFiscalCancelada,
    NotaFiscalCriada,
    NotaFiscalDenegada,
    NotaFiscalRejeitada,
    ProdutoCadastrado,
    ProdutoEmFalta,
    ProdutoFiscal,
    Reserva,
    ReservaConfirmada,
    ReservaFalhou,
    ReservaLiberada,
)
from functions.shared.inbox import EventHandler, MalformedEvent, mark_processed
from functions.shared.observability import logger, metrics, tracer
from functions.shared.outbox import EagerPublisher, add_event
from functions.shared.pagination import decode_cursor, encode_cursor

SCHEMA = "estoque"


def _produto_out(row: dict[str, Any]) -> ProdutoOut:
    return ProdutoOut.model_validate({**row, "criado_por": usuario(row["criado_por_sub"], row["criado_por_email"])})


class ProdutosService:
    """The produtos API. Not traced per method, for the reason given on faturamento's NotasService."""

    def __init__(self, db: Database, publisher: EagerPublisher | None = None) -> None:
        self.db = db
        self.publisher = publisher

    def criar(self, produto: ProdutoIn, ator: Ator) -> ProdutoOut:
        try:
            with UnitOfWork(self.db) as uow:
                row = dal.inserir_produto(uow.conn, produto, ator.sub, ator.email)
                # Faturamento's projection of what can be invoiced (it refuses a nota it never could).
                cadastrado = ProdutoCadastrado(
                    produto_id=row["id"],
                    sku=row["sku"],
                    ncm=row["ncm"],
                    unidade=row["unidade"],
                    origem=row["origem"],
                )
                event_id = add_event(uow.conn, SCHEMA, EventName.PRODUTO_CADASTRADO, cadastrado)
                if self.publisher is not None:
                    self.publisher.publish_after_commit(uow, SCHEMA, [event_id])
                uow.commit()
        except psycopg.errors.UniqueViolation as exc:
            raise ConflictError(f"sku {produto.sku} already exists") from exc
        logger.info("produto criado", extra={"produto_id": str(row["id"]), "sku": produto.sku})
        return _produto_out(row)

    def obter(self, produto_id: UUID) -> ProdutoOut:
        with UnitOfWork(self.db) as uow:
            row = dal.obter_produto(uow.conn, produto_id)
        if row is None:
            raise ResourceNotFound(f"produto {produto_id} not found")
        return _produto_out(row)

    def listar(self, limit: int, cursor: str | None) -> PaginaProdutos:
        after = decode_cursor(cursor) if cursor else None
        with UnitOfWork(self.db) as uow:
            rows = dal.listar_produtos(uow.conn, limit + 1, after)
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1]["criado_em"], page[-1]["id"]) if len(rows) > limit else None
        return PaginaProdutos(items=[_produto_out(r) for r in page], next_cursor=next_cursor)

    def registrar_entrada(self, produto_id: UUID, entrada: EntradaIn, ator: Ator) -> EntradaRegistrada:
        with UnitOfWork(self.db) as uow:
            row = dal.registrar_entrada(uow.conn, produto_id, entrada.quantidade)
            if row is None:
                if dal.obter_produto(uow.conn, produto_id) is None:
                    raise ResourceNotFound(f"produto {produto_id} not found")
                raise ConflictError(f"an entrada of {entrada.quantidade} would exceed the maximum stock of produto")
            registrada = dal.inserir_entrada(uow.conn, produto_id, entrada.quantidade, ator.sub, ator.email)
            uow.commit()
        logger.info("entrada registrada", extra={"produto_id": str(produto_id), "quantidade": entrada.quantidade})
        return EntradaRegistrada(
            **_produto_out(row).model_dump(),
            entrada=EntradaOut(
                id=registrada["id"],
                quantidade=registrada["quantidade"],
                registrada_em=registrada["registrada_em"],
                registrada_por=usuario(registrada["registrada_por_sub"], registrada["registrada_por_email"]),
            ),
        )


FISCAL_FIELDS = ("ncm", "unidade", "origem")


def _sem_dados_fiscais(pedido: NotaFiscalCriada, locked: dict[UUID, dict[str, Any]]) -> list[str]:
    """Each item whose produto lacks what an NF-e item needs, naming the item and the fields."""
    found = []
    for index, item in enumerate(pedido.items):
        row = locked[item.produto_id]
        missing = [name for name in FISCAL_FIELDS if row[name] is None]
        if missing:
            found.append(f"items[{index}] (produto {row['sku']}) has no {', '.join(missing)}")
    return found


class SagaEstoque:
    """Reserve stock for new notas and release it for cancelled ones and for those SEFAZ refused (the
    saga's compensation); each event applies at most once, and a reserva is released at most once."""

    def __init__(self, db: Database, publisher: EagerPublisher) -> None:
        self.db = db
        self.publisher = publisher

    def handlers(self) -> dict[EventName, EventHandler]:
        return {
            EventName.NOTA_FISCAL_CRIADA: self.reservar,
            EventName.NOTA_FISCAL_CANCELADA: self.liberar,
            EventName.NOTA_FISCAL_REJEITADA: self.liberar,
            EventName.NOTA_FISCAL_DENEGADA: self.liberar,
        }

    @tracer.capture_method
    def reservar(self, detail: EventDetail, pedido: NotaFiscalCriada) -> None:
        nota_id = pedido.nota_fiscal_id
        extra = {"nota_id": str(nota_id), "event_id": str(detail.event_id)}
        wanted = {item.produto_id: item.quantidade for item in pedido.items}
        if len(wanted) != len(pedido.items):
            raise MalformedEvent(f"NotaFiscalCriada {detail.event_id} names a produtoId more than once")
        ordered = sorted(wanted)

        with UnitOfWork(self.db) as uow:
            if not mark_processed(uow.conn, SCHEMA, detail.event_id, detail.event_type.value):
                logger.info("event already processed; skipped", extra=extra)
                metrics.add_metric(name="EventosDuplicados", unit=MetricUnit.Count, value=1)
                return
            locked = dal.bloquear_produtos(uow.conn, ordered)
            faltas = [
                ProdutoEmFalta(
                    produto_id=produto_id,
                    solicitado=wanted[produto_id],
                    disponivel=locked[produto_id]["quantidade"] if produto_id in locked else None,
                )
                for produto_id in ordered
                if produto_id not in locked or locked[produto_id]["quantidade"] < wanted[produto_id]
            ]
            sem_dados = _sem_dados_fiscais(pedido, locked) if not faltas else []
            if not faltas and not sem_dados:
                reservas = []
                for produto_id in ordered:
                    if not dal.decrementar(uow.conn, produto_id, wanted[produto_id]):
                        # Cannot happen under the row lock; if it does, fail loudly and retry.
                        raise RuntimeError(f"produto {produto_id} went short while locked")
                    reserva_id = dal.inserir_reserva(uow.conn, nota_id, produto_id, wanted[produto_id])
                    reservas.append(
                        Reserva(reserva_id=reserva_id, produto_id=produto_id, quantidade=wanted[produto_id])
                    )
                # The fiscal snapshot at reservation time: what the NF-e's items will say.
                produtos = [
                    ProdutoFiscal(
                        produto_id=produto_id,
                        codigo=locked[produto_id]["sku"],
                        descricao=locked[produto_id]["nome"],
                        ncm=locked[produto_id]["ncm"],
                        unidade=locked[produto_id]["unidade"],
                        origem=locked[produto_id]["origem"],
                        gtin=locked[produto_id]["gtin"],
                    )
                    for produto_id in ordered
                ]
                confirmada = ReservaConfirmada(nota_fiscal_id=nota_id, reservas=reservas, produtos=produtos)
                event_id = add_event(uow.conn, SCHEMA, EventName.RESERVA_CONFIRMADA, confirmada)
                self.publisher.publish_after_commit(uow, SCHEMA, [event_id])
                uow.commit()
            # Short: leaving without commit rolls back the locks and the processed mark together.
        if not faltas and not sem_dados:
            logger.info("reserva confirmada", extra={**extra, "produtos": len(ordered)})
            metrics.add_metric(name="ReservasConfirmadas", unit=MetricUnit.Count, value=1)
            return
        if sem_dados:
            self._registrar_falha(
                detail, nota_id, [], "PRODUTO_SEM_DADOS_FISCAIS", "cannot be invoiced: " + "; ".join(sem_dados)
            )
            return
        skus = {pid: row["sku"] for pid, row in locked.items()}
        inexistentes = [f for f in faltas if f.disponivel is None]
        partes = [
            f"produto {f.produto_id} does not exist"
            if f.disponivel is None
            else f"{skus.get(f.produto_id, f.produto_id)}: requested {f.solicitado}, available {f.disponivel}"
            for f in faltas
        ]
        self._registrar_falha(
            detail,
            nota_id,
            faltas,
            "PRODUTO_INEXISTENTE" if inexistentes else "ESTOQUE_INSUFICIENTE",
            ("unknown product: " if inexistentes else "insufficient stock: ") + "; ".join(partes),
        )

    def _registrar_falha(
        self, detail: EventDetail, nota_id: UUID, faltas: list[ProdutoEmFalta], codigo: Any, mensagem: str
    ) -> None:
        extra = {"nota_id": str(nota_id), "event_id": str(detail.event_id)}
        with UnitOfWork(self.db) as uow:
            if not mark_processed(uow.conn, SCHEMA, detail.event_id, detail.event_type.value):
                # A concurrent delivery of the same event got here first.
                logger.info("event already processed; skipped", extra=extra)
                return
            falhou = ReservaFalhou(nota_fiscal_id=nota_id, codigo=codigo, mensagem=mensagem, produtos_em_falta=faltas)
            event_id = add_event(uow.conn, SCHEMA, EventName.RESERVA_FALHOU, falhou)
            self.publisher.publish_after_commit(uow, SCHEMA, [event_id])
            uow.commit()
        logger.warning("reserva falhou", extra={**extra, "codigo": codigo, "mensagem": mensagem})
        metrics.add_metric(name="ReservasFalhas", unit=MetricUnit.Count, value=1)

    @tracer.capture_method
    def liberar(
        self, detail: EventDetail, pedido: NotaFiscalCancelada | NotaFiscalRejeitada | NotaFiscalDenegada
    ) -> None:
        """The compensation of a cancelled nota, or of one SEFAZ rejected or denied: every active
        reserva returns its units to stock. A released reserva is no longer active, so a second event
        about the same nota (a cancelation after a refusal, a replay) releases nothing twice."""
        nota_id = pedido.nota_fiscal_id
        extra = {"nota_id": str(nota_id), "event_id": str(detail.event_id)}
        with UnitOfWork(self.db) as uow:
            if not mark_processed(uow.conn, SCHEMA, detail.event_id, detail.event_type.value):
                logger.info("event already processed; skipped", extra=extra)
                metrics.add_metric(name="EventosDuplicados", unit=MetricUnit.Count, value=1)
                return
            # Products first, in id order, as reservations lock them: the two never deadlock.
            dal.bloquear_produtos(uow.conn, sorted(dal.produtos_reservados(uow.conn, nota_id)))
            liberadas = dal.liberar_reservas(uow.conn, nota_id)
            for reserva in liberadas:
                dal.incrementar(uow.conn, reserva["produto_id"], reserva["quantidade"])
            evento = ReservaLiberada(
                nota_fiscal_id=nota_id,
                reservas=[
                    Reserva(reserva_id=r["id"], produto_id=r["produto_id"], quantidade=r["quantidade"])
                    for r in liberadas
                ],
            )
            event_id = add_event(uow.conn, SCHEMA, EventName.RESERVA_LIBERADA, evento)
            self.publisher.publish_after_commit(uow, SCHEMA, [event_id])
            uow.commit()
        if not liberadas:
            # Nothing held for this nota; announcing it lets Faturamento close the nota all the same.
            logger.warning("no active reservas to release", extra=extra)
        logger.info("reservas liberadas", extra={**extra, "reservas": len(liberadas)})
        metrics.add_metric(name="ReservasLiberadas", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Compensacoes", unit=MetricUnit.Count, value=1)
