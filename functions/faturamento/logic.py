"""Faturamento's business rules: the notas API and the nota's side of the saga.

Every state change and the event announcing it are written in one unit of work; events leave
through the outbox (eagerly right after the commit, and by the scheduled publisher otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from functions.faturamento import dal
from functions.faturamento.models import (
    Ambiente,
    CancelamentoIn,
    DestinatarioOut,
    ErroNota,
    ItemOut,
    NotaIn,
    NotaOut,
    PaginaNotas,
    RespostaSefaz,
    Saude,
    StatusNota,
)
from functions.fiscal import archive
from functions.fiscal.archive import FiscalArchive
from functions.fiscal.chave import gerar_cnf
from functions.fiscal.limits import cancelamento_permitido_ate
from functions.fiscal.model import Ambiente as TpAmb
from functions.fiscal.model import Destinatario, Emitente, Item, NotaFiscal, ProdutoFiscal
from functions.shared.apimodels import usuario
from functions.shared.db import Database, UnitOfWork
from functions.shared.errors import ConflictError, InvalidInput, ResourceNotFound
from functions.shared.events import (
    Ator,
    EventDetail,
    EventName,
    ItemReserva,
    NotaFiscalAutorizada,
    NotaFiscalCancelada,
    NotaFiscalCancelamentoHomologado,
    NotaFiscalCancelamentoRejeitado,
    NotaFiscalCancelamentoSolicitado,
    NotaFiscalCriada,
    NotaFiscalDenegada,
    NotaFiscalEmitida,
    NotaFiscalRejeitada,
    NumeracaoInutilizada,
    ProdutoCadastrado,
    ReservaConfirmada,
    ReservaFalhou,
    ReservaLiberada,
)
from functions.shared.inbox import EventHandler, MalformedEvent, mark_processed
from functions.shared.observability import logger, metrics, tracer
from functions.shared.outbox import EagerPublisher, add_event
from functions.shared.pagination import decode_cursor, encode_cursor

SCHEMA = "faturamento"
# What an NF-e item needs of its produto beyond its name (functions/estoque/logic.py checks the same).
FISCAL_FIELDS = ("ncm", "unidade", "origem")
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


AMBIENTES = {1: Ambiente.PRODUCAO, 2: Ambiente.HOMOLOGACAO}


def _destinatario_out(row: dict[str, Any]) -> DestinatarioOut:
    full = row["destinatario"] or {}
    return DestinatarioOut(
        documento=row["destinatario_documento"],
        nome=row["destinatario_nome"],
        endereco=full.get("endereco"),
        indicador_ie=full.get("indicadorIe"),
        ie=full.get("ie"),
        email=full.get("email"),
    )


def _nota_out(row: dict[str, Any], items: list[dict[str, Any]]) -> NotaOut:
    erro = None
    if row["erro_codigo"] is not None:
        erro = ErroNota(codigo=row["erro_codigo"], mensagem=row["erro_mensagem"], timestamp=row["erro_timestamp"])
    return NotaOut(
        id=row["id"],
        status=StatusNota(row["status"]),
        numero=row["numero"],
        serie=row["serie"],
        chave=row["chave"],
        ambiente=AMBIENTES.get(row["ambiente"]),
        natureza_operacao=row["natureza_operacao"],
        emitida_em=row["emitida_em"],
        destinatario=_destinatario_out(row),
        items=[
            ItemOut(
                produto_id=i["produto_id"],
                quantidade=i["quantidade"],
                valor_unitario=i["valor_unitario"],
                cfop=i.get("cfop"),
                descricao=i.get("descricao"),
                ncm=i.get("ncm"),
                unidade=i.get("unidade"),
            )
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
        protocolo=row["protocolo"],
        autorizada_em=row["autorizada_em"],
        sefaz=None
        if row["sefaz_cstat"] is None
        else RespostaSefaz(
            c_stat=row["sefaz_cstat"], motivo=row["sefaz_motivo"] or "", respondida_em=row["sefaz_respondida_em"]
        ),
        estoque_liberado_em=row["estoque_liberado_em"],
        cancelavel_ate=cancelamento_permitido_ate(row["autorizada_em"])
        if row["status"] == StatusNota.AUTORIZADA and row["autorizada_em"] is not None
        else None,
        cancelamento_justificativa=row["cancelamento_justificativa"],
        cancelamento_protocolo=row["cancelamento_protocolo"],
        cancelamento_recusado=None
        if row["cancelamento_recusa_cstat"] is None
        else RespostaSefaz(
            c_stat=row["cancelamento_recusa_cstat"],
            motivo=row["cancelamento_recusa_motivo"] or "",
            respondida_em=row["cancelamento_recusado_em"],
        ),
    )


class NotasService:
    """The notas API: create, read, list, request a cancelation, health.

    Not traced per method: Tracer logs every exception at ERROR and marks the segment failed, and here
    most exceptions are answers (404, 409, 422), not faults. The handler itself is traced.
    """

    def __init__(
        self,
        db: Database,
        publisher: EagerPublisher,
        emitente: Emitente,
        idempotency_ttl_seconds: int = 24 * 3600,
        fiscal_archive: FiscalArchive | None = None,
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.emitente = emitente
        self.idempotency_ttl_seconds = idempotency_ttl_seconds
        self.archive = fiscal_archive or FiscalArchive(None)
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
            {"produto_id": i.produto_id, "quantidade": i.quantidade, "valor_unitario": i.valor_unitario, "cfop": i.cfop}
            for i in nota.items
        ]
        with UnitOfWork(self.db) as uow:
            self._faturaveis(uow, nota)
            # Numbered later, in the série and ambiente the emitente has now.
            row = dal.inserir_nota(
                uow.conn, nota, ator.sub, ator.email, self.emitente.serie, int(self.emitente.ambiente)
            )
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

    @staticmethod
    def _faturaveis(uow: UnitOfWork, nota: NotaIn) -> None:
        """Refuse (422, naming each item and field) a nota with a produto Estoque announced without what an
        NF-e item needs. A produto not announced yet (just created, or unknown) is left to the
        reservation, which checks the same fields against Estoque's own rows."""
        conhecidos = dal.produtos_fiscais(uow.conn, [i.produto_id for i in nota.items])
        problems = []
        for index, item in enumerate(nota.items):
            row = conhecidos.get(item.produto_id)
            missing = [name for name in FISCAL_FIELDS if row is not None and row[name] is None]
            if missing:
                problems.append(
                    (
                        f"items[{index}].produtoId",
                        f"produto {row['sku']} has no {', '.join(missing)}: it cannot be invoiced until Estoque "  # type: ignore[index]
                        "records its fiscal data",
                    )
                )
        if problems:
            (field, message), *more = problems
            raise InvalidInput(field, message, more=more)

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

    def listar(
        self,
        status: StatusNota | None,
        limit: int,
        cursor: str | None,
        serie: int | None = None,
        numero_de: int | None = None,
        numero_ate: int | None = None,
    ) -> PaginaNotas:
        after = decode_cursor(cursor) if cursor else None
        with UnitOfWork(self.db) as uow:
            rows = dal.listar_notas(
                uow.conn, status.value if status else None, limit + 1, after, serie, numero_de, numero_ate
            )
            page = rows[:limit]
            items = dal.itens_das_notas(uow.conn, [r["id"] for r in page])
        next_cursor = encode_cursor(page[-1]["criada_em"], page[-1]["id"]) if len(rows) > limit else None
        return PaginaNotas(items=[_nota_out(r, items[r["id"]]) for r in page], next_cursor=next_cursor)

    def solicitar_cancelamento(self, nota_id: UUID, pedido: CancelamentoIn, ator: Ator) -> NotaOut:
        """Accept the cancelation of an AUTORIZADA nota within SEFAZ's 24 hours: the SEFAZ participant
        registers the cancelamento (evento 110111); once SEFAZ homologates it the nota is CANCELADA and
        Estoque releases the stock. A CONFIRMADA nota from before the NF-e (no chave) is cancelled here
        alone, as before. Anything else is refused, saying why."""
        with UnitOfWork(self.db) as uow:
            row = dal.solicitar_cancelamento(uow.conn, nota_id, ator.sub, ator.email, pedido.justificativa)
            if row is None:
                self._recusar_cancelamento(uow, nota_id)
            assert row is not None
            if row["chave"] is None:
                evento: Any = NotaFiscalCancelada(nota_fiscal_id=nota_id, solicitado_por=ator)
                name = EventName.NOTA_FISCAL_CANCELADA
            else:
                evento = NotaFiscalCancelamentoSolicitado(
                    nota_fiscal_id=nota_id,
                    chave=row["chave"],
                    protocolo=row["protocolo"],
                    justificativa=pedido.justificativa,
                    serie=row["serie"],
                    numero=row["numero"],
                    ambiente=row["ambiente"],
                    solicitado_por=ator,
                )
                name = EventName.NOTA_FISCAL_CANCELAMENTO_SOLICITADO
            event_id = add_event(uow.conn, SCHEMA, name, evento)
            self.publisher.publish_after_commit(uow, SCHEMA, [event_id])
            items = dal.itens_das_notas(uow.conn, [nota_id])[nota_id]
            uow.commit()
        logger.set_correlation_id(str(nota_id))
        logger.info("cancelamento solicitado", extra={"nota_id": str(nota_id), "event_type": name.value})
        metrics.add_metric(name="CancelamentosSolicitados", unit=MetricUnit.Count, value=1)
        return _nota_out(row, items)

    @staticmethod
    def _recusar_cancelamento(uow: UnitOfWork, nota_id: UUID) -> None:
        """Why the nota cannot be cancelled now: 404, or 409 with a message a user can act on."""
        current = dal.obter_nota(uow.conn, nota_id)
        if current is None:
            raise ResourceNotFound(f"nota {nota_id} not found")
        status = current["status"]
        if current["cancelamento_solicitado_em"] is not None and status != StatusNota.CANCELADA:
            raise ConflictError(f"nota {nota_id} already has a cancelation in progress")
        if status == StatusNota.CONFIRMADA:
            raise ConflictError(
                f"nota {nota_id} is with SEFAZ, which has not answered yet; it can be cancelled once it is AUTORIZADA"
            )
        if status == StatusNota.AUTORIZADA:
            limite = cancelamento_permitido_ate(current["autorizada_em"])
            raise ConflictError(
                f"nota {nota_id} was authorized at {current['autorizada_em'].isoformat()}, more than 24 hours ago: "
                f"SEFAZ accepts a cancelamento until {limite.isoformat()} (Ajuste SINIEF 07/05; it answers 501 "
                "after). Undo the operation with an NF-e de estorno (not issued by this system yet)."
            )
        raise ConflictError(f"nota {nota_id} is {status}; only an AUTORIZADA nota can be cancelled")

    def _documento(self, nota_id: UUID) -> dict[str, Any]:
        with UnitOfWork(self.db) as uow:
            row = dal.documento(uow.conn, nota_id)
        if row is None:
            raise ResourceNotFound(f"nota {nota_id} not found")
        if row["xml"] is None:
            raise ResourceNotFound(
                f"nota {nota_id} has no NF-e yet: its XML is built when its stock is reserved (status {row['status']})"
            )
        return row

    def _autorizado(self, doc: dict[str, Any]) -> str | None:
        """The nfeProc SEFAZ's participant archived (authorized or denied), or None before SEFAZ answered."""
        if doc["documento_autorizado"] is None:
            return None
        kept = self.archive.get(doc["documento_autorizado"])
        if kept is None:
            if self.archive.bucket:
                # The participant archives before it announces: a missing object is a broken archive.
                raise RuntimeError(f"the archive has no {doc['documento_autorizado']}")
            return None  # unit tests run without an archive
        return kept.decode()

    def xml(self, nota_id: UUID) -> str:
        """The nfeProc (the signed NF-e with SEFAZ's protocol) once SEFAZ authorized or denied the nota;
        before that, the NF-e as built from the official schemas, unsigned."""
        doc = self._documento(nota_id)
        return self._autorizado(doc) or str(doc["xml"])

    def cancelamento_xml(self, nota_id: UUID) -> str:
        """The procEventoNFe of the nota's cancelamento, as SEFAZ registered it."""
        with UnitOfWork(self.db) as uow:
            row = dal.obter_nota(uow.conn, nota_id)
        if row is None:
            raise ResourceNotFound(f"nota {nota_id} not found")
        if row["cancelamento_documento"] is None:
            raise ResourceNotFound(f"nota {nota_id} has no cancelamento registered at SEFAZ (status {row['status']})")
        kept = self.archive.get(row["cancelamento_documento"])
        if kept is None:
            raise ResourceNotFound(f"nota {nota_id}: the archive has no {row['cancelamento_documento']}")
        return kept.decode()

    def danfe(self, nota_id: UUID) -> bytes:
        """The DANFE: from the archive when it was rendered before, else rendered now and archived.

        Rendered from the nfeProc once SEFAZ authorized the nota (with its protocol); before, a preview
        kept under its own key, which an authorized nota never serves.
        """
        doc = self._documento(nota_id)
        proc = self._autorizado(doc)
        previa = proc is None
        cancelada = doc["status"] == StatusNota.CANCELADA and proc is not None
        key = archive.danfe_key(
            doc["ambiente"], doc["serie"], doc["numero"], doc["chave"], previa=previa, cancelada=cancelada
        )
        kept = self.archive.get(key)
        if kept is not None:
            return kept
        # Imported here: BrazilFiscalReport and nfelib cost ~200 ms to import, paid only by this route.
        from functions.fiscal.danfe import render_danfe

        pdf = render_danfe(proc or doc["xml"], cancelada=cancelada)
        self.archive.put(key, pdf, "application/pdf")
        if previa:
            # The unsigned NF-e beside its preview, so the archive holds what the preview shows.
            xml_key = archive.xml_key(doc["ambiente"], doc["serie"], doc["numero"], doc["chave"])
            if self.archive.get(xml_key) is None:
                self.archive.put(xml_key, str(doc["xml"]).encode(), "application/xml")
        return pdf

    def saude(self) -> Saude:
        up = self.db.ping()
        return Saude(status="ok" if up else "unavailable", database="ok" if up else "unavailable")


# When a nota reaches a final state, how long its saga took (the dashboard's saga duration):
# SEFAZ's answer (AUTORIZADA, REJEITADA, DENEGADA) and ERRO_ESTOQUE end the saga begun by the nota's
# creation; CANCELADA ends the cancelation's own saga, begun by its request (the nota may have been
# authorized for days). CONFIRMADA is a step, not an end: the nota is with SEFAZ.
SAGA_DURATION_METRIC = "DuracaoSaga"
CANCELATION_DURATION_METRIC = "DuracaoCancelamento"
INUTILIZACAO_FIELDS = (
    "serie",
    "numero_inicial",
    "numero_final",
    "justificativa",
    "protocolo",
    "homologada_em",
    "documento",
)
SAGA_ENDS = frozenset({"Compensacoes", "NotasAutorizadas", "NotasRejeitadas", "NotasDenegadas"})


# Brazil's legal time per UF (no daylight saving since 2019): dhEmi carries the emitente's offset.
UTC_OFFSET_HOURS = {"AC": -5, "AM": -4, "RO": -4, "RR": -4, "MT": -4, "MS": -4}
BRASILIA_UTC_OFFSET_HOURS = -3


def emission_time(uf: str, now: datetime | None = None) -> datetime:
    offset = timezone(timedelta(hours=UTC_OFFSET_HOURS.get(uf, BRASILIA_UTC_OFFSET_HOURS)))
    return (now or datetime.now(UTC)).astimezone(offset).replace(microsecond=0)


class SagaFaturamento:
    """The nota's transitions on Estoque's and SEFAZ's answers; each event applies at most once."""

    def __init__(self, db: Database, emitente: Emitente, publisher: EagerPublisher) -> None:
        self.db = db
        self.emitente = emitente
        self.publisher = publisher

    def handlers(self) -> dict[EventName, EventHandler]:
        return {
            EventName.RESERVA_CONFIRMADA: self.reserva_confirmada,
            EventName.RESERVA_FALHOU: self.reserva_falhou,
            EventName.RESERVA_LIBERADA: self.reserva_liberada,
            EventName.NOTA_FISCAL_AUTORIZADA: self.autorizada,
            EventName.NOTA_FISCAL_REJEITADA: self.rejeitada,
            EventName.NOTA_FISCAL_DENEGADA: self.denegada,
            EventName.NOTA_FISCAL_CANCELAMENTO_HOMOLOGADO: self.cancelamento_homologado,
            EventName.NOTA_FISCAL_CANCELAMENTO_REJEITADO: self.cancelamento_rejeitado,
            EventName.NUMERACAO_INUTILIZADA: self.numeracao_inutilizada,
            EventName.PRODUTO_CADASTRADO: self.produto_cadastrado,
        }

    @tracer.capture_method
    def reserva_confirmada(self, detail: EventDetail, payload: ReservaConfirmada) -> None:
        nota_id = payload.nota_fiscal_id
        self._transition(detail, nota_id, lambda uow: self._emitir(uow, nota_id, payload), "NotasConfirmadas")

    def _emitir(self, uow: UnitOfWork, nota_id: UUID, payload: ReservaConfirmada) -> bool:
        """CONFIRMADA with the next número of its série, its chave and its XML, in the caller's
        transaction, and the NF-e on its way to SEFAZ (NotaFiscalEmitida, in the same transaction)."""
        conn = uow.conn
        row = dal.bloquear_para_emissao(conn, nota_id)
        if row is None:
            return False
        if row["serie"] is None or not (row["destinatario"] or {}).get("endereco"):
            # Emitted before the NF-e existed: it has no address to put in an XML. Confirmed as then.
            logger.warning("nota from before the NF-e: confirmed without a número", extra={"nota_id": str(nota_id)})
            return dal.confirmar(conn, nota_id)
        items = dal.itens_das_notas(conn, [nota_id])[nota_id]
        snapshot = {p.produto_id: p for p in payload.produtos}
        missing = [str(i["produto_id"]) for i in items if i["produto_id"] not in snapshot]
        if missing:
            raise MalformedEvent(
                f"ReservaConfirmada for nota {nota_id} carries no fiscal data for produto(s) {', '.join(missing)}"
            )
        numero = dal.proximo_numero(conn, row["serie"])
        try:
            nota = NotaFiscal(
                # The ambiente the nota was emitted in, even if the stack's changed since.
                emitente=self.emitente.model_copy(update={"ambiente": TpAmb(row["ambiente"])}),
                destinatario=Destinatario.model_validate(row["destinatario"]),
                numero=numero,
                serie=row["serie"],
                dh_emi=emission_time(self.emitente.endereco.uf),
                cnf=gerar_cnf(numero),
                nat_op=row["natureza_operacao"],
                items=[
                    Item(
                        numero=position,
                        produto=ProdutoFiscal.model_validate(
                            snapshot[i["produto_id"]].model_dump(exclude={"produto_id"}, exclude_none=True)
                        ),
                        quantidade=Decimal(i["quantidade"]),
                        valor_unitario=i["valor_unitario"],
                        cfop=i["cfop"],
                    )
                    for position, i in enumerate(items, start=1)
                ],
            )
        except ValidationError as exc:
            # Stored data the fiscal model refuses: no retry can fix it; its DLQ entry says why.
            raise MalformedEvent(f"the NF-e of nota {nota_id} cannot be built: {exc}") from exc
        from functions.fiscal import xml as nfe_xml  # nfelib and lxml: only the consumer that numbers pays

        xml = nfe_xml.to_xml(nota)
        problems = nfe_xml.validate(xml)
        if problems:
            raise MalformedEvent(f"the NF-e of nota {nota_id} fails the official schema: {'; '.join(problems[:5])}")
        itens = [
            {
                "produto_id": i["produto_id"],
                "cfop": nota.cfop(item),
                "codigo": item.produto.codigo,
                "descricao": item.produto.descricao,
                "ncm": item.produto.ncm,
                "unidade": item.produto.unidade,
                "origem": item.produto.origem,
                "gtin": snapshot[i["produto_id"]].gtin,
            }
            for i, item in zip(items, nota.items, strict=True)
        ]
        if not dal.confirmar_com_documento(conn, nota_id, numero, nota.chave, nota.dh_emi, xml, itens):
            return False
        emitida = NotaFiscalEmitida(
            nota_fiscal_id=nota_id,
            chave=nota.chave,
            serie=row["serie"],
            numero=numero,
            ambiente=row["ambiente"],
            emitida_em=nota.dh_emi,
            xml=xml,
        )
        event_id = add_event(conn, SCHEMA, EventName.NOTA_FISCAL_EMITIDA, emitida)
        self.publisher.publish_after_commit(uow, SCHEMA, [event_id])
        logger.info("NF-e emitida", extra={"nota_id": str(nota_id), "serie": row["serie"], "numero": numero})
        return True

    @tracer.capture_method
    def autorizada(self, detail: EventDetail, payload: NotaFiscalAutorizada) -> None:
        self._transition(
            detail,
            payload.nota_fiscal_id,
            lambda uow: dal.autorizar(
                uow.conn,
                payload.nota_fiscal_id,
                payload.chave,
                payload.protocolo,
                payload.autorizada_em,
                payload.digest_value,
                payload.documento,
            ),
            "NotasAutorizadas",
        )

    @tracer.capture_method
    def rejeitada(self, detail: EventDetail, payload: NotaFiscalRejeitada) -> None:
        # The número stays with the nota: SEFAZ kept nothing under it, so it is inutilizado later
        # (docs/nfe.md says why not reused). Estoque releases the stock on the same event.
        self._transition(
            detail,
            payload.nota_fiscal_id,
            lambda uow: dal.recusar(
                uow.conn,
                payload.nota_fiscal_id,
                "REJEITADA",
                payload.chave,
                payload.c_stat,
                payload.motivo,
                detail.occurred_at,
            ),
            "NotasRejeitadas",
        )

    @tracer.capture_method
    def denegada(self, detail: EventDetail, payload: NotaFiscalDenegada) -> None:
        self._transition(
            detail,
            payload.nota_fiscal_id,
            lambda uow: dal.recusar(
                uow.conn,
                payload.nota_fiscal_id,
                "DENEGADA",
                payload.chave,
                payload.c_stat,
                payload.motivo,
                payload.denegada_em,
                protocolo=payload.protocolo,
                documento=payload.documento,
            ),
            "NotasDenegadas",
        )

    @tracer.capture_method
    def cancelamento_homologado(self, detail: EventDetail, payload: NotaFiscalCancelamentoHomologado) -> None:
        nota_id = payload.nota_fiscal_id

        def apply(uow: UnitOfWork) -> bool:
            row = dal.cancelar_na_sefaz(
                uow.conn, nota_id, payload.chave, payload.protocolo, payload.registrado_em, payload.documento
            )
            if row is None:
                return False
            # The NF-e is cancelled at SEFAZ: now the goods may come back (Estoque releases the reservas).
            ator = (
                Ator(sub=row["cancelamento_solicitado_por_sub"], email=row["cancelamento_solicitado_por_email"] or "")
                if row["cancelamento_solicitado_por_sub"]
                else None
            )
            event_id = add_event(
                uow.conn,
                SCHEMA,
                EventName.NOTA_FISCAL_CANCELADA,
                NotaFiscalCancelada(nota_fiscal_id=nota_id, solicitado_por=ator),
            )
            self.publisher.publish_after_commit(uow, SCHEMA, [event_id])
            return True

        self._transition(detail, nota_id, apply, "NotasCanceladas")

    @tracer.capture_method
    def cancelamento_rejeitado(self, detail: EventDetail, payload: NotaFiscalCancelamentoRejeitado) -> None:
        self._transition(
            detail,
            payload.nota_fiscal_id,
            lambda uow: dal.recusar_cancelamento(
                uow.conn, payload.nota_fiscal_id, payload.chave, payload.c_stat, payload.motivo, detail.occurred_at
            ),
            "CancelamentosRecusados",
        )

    @tracer.capture_method
    def numeracao_inutilizada(self, detail: EventDetail, payload: NumeracaoInutilizada) -> None:
        """Record the range SEFAZ inutilizou: its números are accounted for (`nfe fiscal numeracao`)."""
        with UnitOfWork(self.db) as uow:
            if not mark_processed(uow.conn, SCHEMA, detail.event_id, detail.event_type.value):
                metrics.add_metric(name="EventosDuplicados", unit=MetricUnit.Count, value=1)
                return
            novo = dal.registrar_inutilizacao(
                uow.conn, payload.model_dump(include=set(INUTILIZACAO_FIELDS)) | {"ambiente": payload.ambiente}
            )
            uow.commit()
        logger.info(
            "inutilização recorded" if novo else "inutilização already recorded",
            extra={"serie": payload.serie, "de": payload.numero_inicial, "ate": payload.numero_final},
        )

    @tracer.capture_method
    def produto_cadastrado(self, detail: EventDetail, payload: ProdutoCadastrado) -> None:
        """Project what Estoque announced about a produto: the API refuses notas it could never invoice."""
        with UnitOfWork(self.db) as uow:
            if not mark_processed(uow.conn, SCHEMA, detail.event_id, detail.event_type.value):
                metrics.add_metric(name="EventosDuplicados", unit=MetricUnit.Count, value=1)
                return
            dal.projetar_produto(uow.conn, payload.model_dump())
            uow.commit()

    @tracer.capture_method
    def reserva_falhou(self, detail: EventDetail, payload: ReservaFalhou) -> None:
        nota_id = payload.nota_fiscal_id
        self._transition(
            detail,
            nota_id,
            lambda uow: dal.registrar_erro_estoque(
                uow.conn, nota_id, payload.codigo, payload.mensagem, detail.occurred_at
            ),
            # The saga's compensation: the nota is closed as failed instead of confirmed.
            "Compensacoes",
        )

    @tracer.capture_method
    def reserva_liberada(self, detail: EventDetail, payload: ReservaLiberada) -> None:
        nota_id = payload.nota_fiscal_id
        self._transition(
            detail,
            nota_id,
            # A nota from before the NF-e is cancelled now; after SEFAZ's refusal or its cancelamento the
            # stock's return is recorded, and the status stays as SEFAZ's answer set it.
            lambda uow: dal.cancelar(uow.conn, nota_id) or dal.registrar_estoque_liberado(uow.conn, nota_id),
            "EstoqueDevolvido",
        )

    def _transition(
        self,
        detail: EventDetail,
        nota_id: UUID,
        apply: Callable[[UnitOfWork], bool],
        metric: str,
    ) -> None:
        extra = {"nota_id": str(nota_id), "event_id": str(detail.event_id), "event_type": detail.event_type.value}
        with UnitOfWork(self.db) as uow:
            if not mark_processed(uow.conn, SCHEMA, detail.event_id, detail.event_type.value):
                logger.info("event already processed; skipped", extra=extra)
                metrics.add_metric(name="EventosDuplicados", unit=MetricUnit.Count, value=1)
                return
            applied = apply(uow)
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
            saga_ms, cancelation_ms = durations.get("saga"), durations.get("cancelamento")
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
            if metric == "NotasCanceladas" and cancelation_ms is not None:
                metrics.add_metric(name=CANCELATION_DURATION_METRIC, unit=MetricUnit.Milliseconds, value=cancelation_ms)
            elif metric in SAGA_ENDS and saga_ms is not None:
                metrics.add_metric(name=SAGA_DURATION_METRIC, unit=MetricUnit.Milliseconds, value=saga_ms)
        else:
            # Recorded as processed all the same: redelivering it could never make it fit.
            logger.warning("event does not fit the nota's state; nothing changed", extra={**extra, "status": status})
            metrics.add_metric(name="TransicoesIgnoradas", unit=MetricUnit.Count, value=1)
