"""Fault injection in-process: the real handlers against a real PostgreSQL and the AWS emulator.

Every fault here is one a deployed system meets: an event delivered more than once, a publisher or
consumer process dying between two steps, a database connection cut in the middle of a
transaction, an API answer lost after its commit. Each test states the promise and checks the whole
database state afterwards, not just a status code.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from functions.estoque import bootstrap as estoque
from functions.estoque.settings import EstoqueApiSettings, EstoqueConsumerSettings
from functions.faturamento import bootstrap as faturamento
from functions.faturamento.settings import FaturamentoApiSettings, FaturamentoConsumerSettings
from functions.publisher.logic import drain
from functions.shared.consumer import EventConsumer
from functions.shared.db import Database
from functions.shared.events import EventName
from functions.shared.outbox import OutboxRelay
from functions.shared.settings import load
from nfe import topology
from nfe.local import emulator
from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL, emitente_json
from nfe.local.pollers import QueuePoller
from tests.conftest import TEST_CORS_ORIGIN
from tests.helpers.api import ApiClient
from tests.helpers.db import envelope_of, rows
from tests.helpers.events import JUSTIFICATIVA, FakeLambdaContext, api_event, failed_ids, sqs_event

DESTINATARIO = DESTINATARIO_SP
# Another destinatário (digits only, as SEFAZ's switch takes it), whom the emulated SEFAZ may deny.
IRREGULAR = {**DESTINATARIO_SP, "documento": "52998224725", "nome": "Maria Irregular", "indicadorIe": 9}
TERMINAL = {"CONFIRMADA", "ERRO_ESTOQUE", "CANCELADA"}
CONSUMER_OF = {event: queue.consumer for queue in topology.QUEUES for event in queue.events}


@dataclass
class Services:
    """Both services wired as their Lambdas wire them, each function with its own connection."""

    url: str
    notas: ApiClient
    produtos: ApiClient
    consumers: dict[str, EventConsumer]
    databases: dict[str, Database] = field(default_factory=dict)

    def close(self) -> None:
        for db in self.databases.values():
            db.close()


def wire(url: str, monkeypatch: pytest.MonkeyPatch, bus_name: str = "nfe-events-test") -> Services:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("DB_USER", raising=False)
    monkeypatch.setenv("EVENT_BUS_NAME", bus_name)
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", TEST_CORS_ORIGIN)
    # Events travel only when a test moves them, so it decides how often each one arrives.
    monkeypatch.setenv("EAGER_PUBLISH", "false")
    monkeypatch.setenv("EMITENTE", emitente_json())
    dbs = {
        name: Database(load(settings), application_name=name)
        for name, settings in (
            ("faturamento-api", FaturamentoApiSettings),
            ("faturamento-consumer", FaturamentoConsumerSettings),
            ("estoque-api", EstoqueApiSettings),
            ("estoque-consumer", EstoqueConsumerSettings),
        )
    }
    return Services(
        url=url,
        notas=ApiClient(faturamento.api(load(FaturamentoApiSettings), dbs["faturamento-api"]).resolve),
        produtos=ApiClient(estoque.api(load(EstoqueApiSettings), dbs["estoque-api"]).resolve),
        consumers={
            "faturamento-consumer": faturamento.consumer(
                load(FaturamentoConsumerSettings), dbs["faturamento-consumer"]
            ),
            "estoque-consumer": estoque.consumer(load(EstoqueConsumerSettings), dbs["estoque-consumer"]),
        },
        databases=dbs,
    )


@pytest.fixture
def services(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    wired = wire(database_url, monkeypatch)
    yield wired
    wired.close()


def new_produto(api: ApiClient, sku: str, quantidade: int) -> str:
    result = api.post(
        "/api/v1/produtos", {"sku": sku, "nome": f"Produto {sku}", "quantidade": quantidade, **PRODUTO_FISCAL}
    )
    assert result.status == 201, result.body
    return str(result.body["id"])


def new_nota(
    api: ApiClient,
    *items: tuple[str, int],
    headers: dict[str, str] | None = None,
    destinatario: dict[str, Any] | None = None,
) -> str:
    body = {
        "destinatario": destinatario or DESTINATARIO,
        "items": [{"produtoId": p, "quantidade": q, "valorUnitario": "10.50"} for p, q in items],
    }
    result = api.post("/api/v1/notas", body, headers=headers)
    assert result.status == 201, result.body
    return str(result.body["id"])


def admin(url: str, sql: str, params: Any = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, params)


# --- every event delivered three times ------------------------------------------------------


class HandDelivery:
    """The bus and queues, by hand: every outbox row becomes an SQS record for its consumer, and with a
    SEFAZ rig, every answer the participant put on the (emulated) bus goes to its queues' consumers.

    `copies` deliveries of each event: the first and, right behind it in the same batch, a second
    (the redelivery SQS makes when a batch times out); the last copies are kept back and delivered
    at the very end, long after the saga moved on (EventBridge's at-least-once duplicates).
    """

    def __init__(self, services: Services, copies: int, rig: Any = None) -> None:
        self.services = services
        self.copies = copies
        self.rig = rig
        self.delivered: set[Any] = set()
        self.late: list[tuple[str, dict[str, Any]]] = []
        self.deliveries = 0

    def pending(self) -> list[dict[str, Any]]:
        found = []
        for schema in ("faturamento", "estoque"):
            found += rows(
                self.services.url,
                f"SELECT id, tipo, payload, criado_em FROM {schema}.eventos_outbox ORDER BY criado_em",
            )
        return [r for r in sorted(found, key=lambda r: r["criado_em"]) if r["id"] not in self.delivered]

    def deliver(self, envelopes: list[tuple[str, dict[str, Any]]]) -> None:
        """(consumer, envelope) pairs, batched per consumer as its event source mapping batches them."""
        self.deliveries += len(envelopes)
        by_consumer: dict[str, list[dict[str, Any]]] = {}
        for consumer, envelope in envelopes:
            by_consumer.setdefault(consumer, []).append(envelope)
        for consumer, batch in by_consumer.items():
            for start in range(0, len(batch), topology.SQS_BATCH_SIZE):
                event = sqs_event(batch[start : start + topology.SQS_BATCH_SIZE])
                assert failed_ids(self.services.consumers[consumer].handle(event, FakeLambdaContext())) == []

    def _answers(self) -> list[tuple[str, dict[str, Any]]]:
        """What SEFAZ's answers put on the answer queues, taken off them (each queue, its consumer)."""
        if self.rig is None:
            return []
        from tests.helpers.sefaz_saga import ANSWER_QUEUES

        taken = []
        sqs = self.rig.aws.client("sqs")
        for queue in ANSWER_QUEUES:
            url = self.rig.aws.queues[queue.name].url
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                taken += [(queue.consumer, json.loads(m["Body"])) for m in messages]
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
        return taken

    def _copies(self, pairs: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
        batch = []
        for pair in pairs:
            batch += [pair] * min(self.copies, 2)
            self.late += [pair] * max(self.copies - 2, 0)
        return batch

    def pump(self) -> None:
        """Deliver until no outbox row and no answer is left undelivered (the saga has run as far as it can)."""
        while True:
            pending = self.pending()
            for row in pending:
                self.delivered.add(row["id"])
            batch = self._copies([(CONSUMER_OF[EventName(r["tipo"])], envelope_of(r)) for r in pending])
            if batch:
                self.deliver(batch)
            answers = self._copies(self._answers())
            if answers:
                self.deliver(answers)
            if not batch and not answers:
                return

    def finish(self) -> None:
        self.deliver(self.late)
        self.late = []
        self.pump()


def run_scenario(services: Services, copies: int, rig: Any = None) -> list[str]:
    """A fixed mix of sagas: authorized, short of stock, unknown product, cancelled, stock reused, and,
    with a SEFAZ rig, one SEFAZ denies (its stock comes back)."""
    a = new_produto(services.produtos, "PAR-A", 10)
    b = new_produto(services.produtos, "PAR-B", 3)
    c = new_produto(services.produtos, "PAR-C", 1)
    bus = HandDelivery(services, copies, rig)
    notas = [
        new_nota(services.notas, (a, 3)),
        new_nota(services.notas, (a, 2), (b, 2)),
        new_nota(services.notas, (b, 2)),
        new_nota(services.notas, (c, 1), (a, 1)),
        new_nota(services.notas, (str(uuid.uuid4()), 1)),
        new_nota(services.notas, (a, 5)),
    ]
    if rig is not None:
        # A destinatário in irregular status: SEFAZ denies the NF-e, whatever is resent (302).
        rig.sefaz.deny_destinatario(IRREGULAR["documento"])
        notas.append(new_nota(services.notas, (b, 1), destinatario=IRREGULAR))
    bus.pump()
    for cancelled in (notas[0], notas[3]):
        assert services.notas.post(f"/api/v1/notas/{cancelled}/cancelamento", JUSTIFICATIVA).status == 202
    bus.pump()
    # Stock returned by the cancelations is sold again.
    notas.append(new_nota(services.notas, (a, 8), (c, 1)))
    bus.pump()
    bus.finish()
    return notas


def snapshot(url: str, notas: list[str]) -> dict[str, Any]:
    """The whole observable state, keyed by what is stable across databases (order, SKU)."""
    ordinal = {nota_id: i for i, nota_id in enumerate(notas)}
    skus = {r["id"]: r["sku"] for r in rows(url, "SELECT id, sku FROM estoque.produtos")}
    return {
        "notas": sorted(
            (ordinal[str(r["id"])], r["status"], r["erro_codigo"], r["cancelada_em"] is not None)
            for r in rows(url, "SELECT * FROM faturamento.notas_fiscais")
        ),
        "stock": {r["sku"]: r["quantidade"] for r in rows(url, "SELECT sku, quantidade FROM estoque.produtos")},
        "reservas": sorted(
            (ordinal[str(r["nota_fiscal_id"])], skus[r["produto_id"]], r["quantidade"], r["status"])
            for r in rows(url, "SELECT * FROM estoque.reservas")
        ),
        "outbox": sorted(
            (r["schema"], r["tipo"], r["n"])
            for r in rows(
                url,
                "SELECT 'faturamento' AS schema, tipo, count(*) AS n FROM faturamento.eventos_outbox GROUP BY tipo "
                "UNION ALL SELECT 'estoque', tipo, count(*) FROM estoque.eventos_outbox GROUP BY tipo",
            )
        ),
        "processed": sorted(
            (r["schema"], r["tipo"], r["n"])
            for r in rows(
                url,
                "SELECT 'faturamento' AS schema, tipo, count(*) AS n FROM faturamento.mensagens_processadas "
                "GROUP BY tipo UNION ALL SELECT 'estoque', tipo, count(*) FROM estoque.mensagens_processadas "
                "GROUP BY tipo",
            )
        ),
    }


def test_every_event_delivered_three_times_ends_as_with_single_delivery(
    pg_admin_url: str, migrated_template: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import create_database
    from tests.helpers.sefaz_saga import sefaz_rig, unique_bus

    states = {}
    for copies in (1, 3):
        # Given a fresh database, a fresh SEFAZ and the same sagas
        url = create_database(pg_admin_url, migrated_template)
        bus_name = unique_bus()
        with sefaz_rig(monkeypatch, bus_name) as rig:
            services = wire(url, monkeypatch, bus_name=bus_name)
            services.consumers["sefaz-autorizador"] = rig.consumer
            try:
                # When every event reaches its consumer `copies` times
                notas = run_scenario(services, copies, rig)
            finally:
                services.close()
            stored = {n.nnf: n.cstat for n in rig.sefaz.store.nfes.values()}
            eventos = len(rig.sefaz.store.eventos)
        states[copies] = snapshot(url, notas)
        states[copies]["sefaz"] = stored
        states[copies]["eventos"] = eventos
    # Then the final state is the same, to the last row, at SEFAZ too
    assert states[3] == states[1]
    # And it is the state the saga promises (so both runs cannot be equally wrong)
    single = states[1]
    assert [status for _, status, _, _ in single["notas"]] == [
        "CANCELADA",
        "AUTORIZADA",
        "ERRO_ESTOQUE",
        "CANCELADA",
        "ERRO_ESTOQUE",
        "ERRO_ESTOQUE",
        "DENEGADA",
        "AUTORIZADA",
    ]
    # SEFAZ holds each numbered NF-e once, números 1 to 5 without a gap: the denied nota took 4, and the
    # two cancelled ones (1 and 3) are cancelled there, each by one event however often it was asked
    assert single["sefaz"] == {1: 101, 2: 100, 3: 101, 4: 302, 5: 100}
    assert single["eventos"] == 2
    # The denied nota's unit of PAR-B came back, once
    assert single["stock"] == {"PAR-A": 0, "PAR-B": 1, "PAR-C": 0}
    active = [(n, sku, q) for n, sku, q, status in single["reservas"] if status == "ATIVA"]
    assert active == [(1, "PAR-A", 2), (1, "PAR-B", 2), (7, "PAR-A", 8), (7, "PAR-C", 1)]
    # Every outbox event was applied once by its consumer (the participant keeps no inbox: SEFAZ is its
    # record), and each SEFAZ answer once by each service: one authorization per authorized nota
    outbox = {(schema, tipo): n for schema, tipo, n in single["outbox"]}
    processed = {(schema, tipo): n for schema, tipo, n in single["processed"]}
    consumed_by = {"faturamento": "estoque", "estoque": "faturamento"}
    for (schema, tipo), n in outbox.items():
        if tipo not in ("NotaFiscalEmitida", "NotaFiscalCancelamentoSolicitado"):  # the participant's
            assert processed[(consumed_by[schema], tipo)] == n, tipo
    assert outbox[("faturamento", "NotaFiscalEmitida")] == 5
    assert outbox[("faturamento", "NotaFiscalCancelamentoSolicitado")] == 2
    assert processed[("faturamento", "NotaFiscalAutorizada")] == 4
    assert processed[("faturamento", "NotaFiscalDenegada")] == processed[("estoque", "NotaFiscalDenegada")] == 1
    assert processed[("faturamento", "NotaFiscalCancelamentoHomologado")] == 2
    events = sum(outbox.values())
    print(f"\n{len(single['notas'])} sagas, {events} events, each delivered 1x and 3x: identical final state")


# --- the publisher dies between PutEvents and marking the rows ---------------------------------


@pytest.fixture(scope="module")
def local_aws() -> Iterator[emulator.LocalAws]:
    # A short visibility timeout, so a message whose consumer died comes back within a second.
    aws = emulator.start("faults", visibility_timeout_seconds=1)
    yield aws
    aws.stop()


def purge_queues(aws: emulator.LocalAws) -> None:
    # SQS allows one PurgeQueue a minute (moto too); receiving and deleting has no such limit.
    sqs = aws.client("sqs")
    for queue in aws.queues.values():
        for url in (queue.url, queue.dlq_url):
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )


@pytest.fixture
def aws(local_aws: emulator.LocalAws) -> Iterator[emulator.LocalAws]:
    purge_queues(local_aws)
    yield local_aws
    purge_queues(local_aws)


def queue_depth(aws: emulator.LocalAws, url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def consume_until_empty(
    aws: emulator.LocalAws, queue: str, invoke: Callable[[str, dict[str, Any]], Any], timeout: float = 15.0
) -> QueuePoller:
    """Run the queue's event source mapping until nothing is left in flight."""
    poller = QueuePoller(aws.client("sqs"), aws.queues[queue], invoke, threading.Event())
    deadline = time.monotonic() + timeout
    while queue_depth(aws, aws.queues[queue].url) and time.monotonic() < deadline:
        poller.poll_once(wait_seconds=1)
    assert queue_depth(aws, aws.queues[queue].url) == 0, f"{queue} did not drain"
    return poller


def reservas_by_nota(url: str) -> dict[str, int]:
    counted = rows(url, "SELECT nota_fiscal_id, count(*) AS n FROM estoque.reservas GROUP BY nota_fiscal_id")
    return {str(r["nota_fiscal_id"]): r["n"] for r in counted}


class DiesAfterPutEvents:
    """EventBridge as the dying publisher sees it: the events really go out, then the process ends."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.sent = 0

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.client.put_events(Entries=Entries)
        self.sent += len(Entries)
        raise SystemExit("publisher killed after PutEvents, before marking its rows")


def test_publisher_dying_after_put_events_republishes_and_each_event_applies_once(
    services: Services, aws: emulator.LocalAws, role_url: Any
) -> None:
    # Given 25 notas waiting in the outbox over 5 products of 10 units
    produtos = [new_produto(services.produtos, f"PUB-{i}", 10) for i in range(5)]
    notas = [new_nota(services.notas, (produtos[i % 5], 1)) for i in range(25)]
    # When a publisher sends its first PutEvents (10 entries) and dies before marking the rows
    dying = DiesAfterPutEvents(aws.client("events"))
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn, pytest.raises(SystemExit):
        drain(conn, OutboxRelay(dying, aws.bus_name), lambda: True)
    assert dying.sent == 10
    pending = rows(services.url, "SELECT count(*) AS n FROM faturamento.eventos_outbox WHERE NOT publicado")
    assert pending[0]["n"] == 25
    # And the next scheduled run publishes everything, the first ten a second time
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
        result = drain(conn, OutboxRelay(aws.client("events"), aws.bus_name), lambda: True)
    assert result.published == 25 + 5  # and the five produtos' announcements (ProdutoCadastrado)
    assert queue_depth(aws, aws.queues["estoque-reserva"].url) == 35
    consumer = services.consumers["estoque-consumer"]
    consume_until_empty(aws, "estoque-reserva", lambda _fn, event: consumer.handle(event, FakeLambdaContext()))
    # Then every nota has exactly one reserva and each product lost exactly 5 units
    assert reservas_by_nota(services.url) == {n: 1 for n in notas}
    stock = rows(services.url, "SELECT quantidade FROM estoque.produtos")
    assert [r["quantidade"] for r in stock] == [5] * 5
    confirmations = rows(
        services.url, "SELECT count(*) AS n FROM estoque.eventos_outbox WHERE tipo = 'ReservaConfirmada'"
    )
    assert confirmations[0]["n"] == 25


# --- a consumer dies in the middle of a batch --------------------------------------------------


def publish_all(services: Services, aws: emulator.LocalAws, role_url: Any) -> None:
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
        drain(conn, OutboxRelay(aws.client("events"), aws.bus_name), lambda: True)


def ten_notas_on_the_queue(services: Services, aws: emulator.LocalAws, role_url: Any) -> tuple[list[str], list[str]]:
    produtos = [new_produto(services.produtos, f"DIE-{i}", 4) for i in range(10)]
    notas = [new_nota(services.notas, (p, 3)) for p in produtos]
    publish_all(services, aws, role_url)
    assert queue_depth(aws, aws.queues["estoque-reserva"].url) == 10
    return produtos, notas


def receive_batch(aws: emulator.LocalAws, queue: str, visibility_timeout: int = 1) -> dict[str, Any]:
    """One SQS batch of all ten messages, as the event source mapping would hand it over."""
    from nfe.local.pollers import sqs_event as mapping_event

    sqs = aws.client("sqs")
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while len(messages) < 10 and time.monotonic() < deadline:
        messages += sqs.receive_message(
            QueueUrl=aws.queues[queue].url,
            MaxNumberOfMessages=10 - len(messages),
            VisibilityTimeout=visibility_timeout,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
    assert len(messages) == 10
    return mapping_event(messages, aws.queues[queue].arn)


def assert_each_nota_reserved_once(services: Services, produtos: list[str], notas: list[str]) -> None:
    assert reservas_by_nota(services.url) == {n: 1 for n in notas}
    stock = rows(services.url, "SELECT quantidade FROM estoque.produtos WHERE id = ANY(%s)", (produtos,))
    assert [r["quantidade"] for r in stock] == [1] * 10
    processed = rows(services.url, "SELECT count(*) AS n FROM estoque.mensagens_processadas")
    confirmations = rows(
        services.url, "SELECT count(*) AS n FROM estoque.eventos_outbox WHERE tipo = 'ReservaConfirmada'"
    )
    assert processed[0]["n"] == confirmations[0]["n"] == 10


def test_consumer_process_dying_mid_batch_gets_the_batch_again_with_one_effect_each(
    services: Services, aws: emulator.LocalAws, role_url: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ten NotaFiscalCriada on the reservation queue
    produtos, notas = ten_notas_on_the_queue(services, aws, role_url)
    # And a consumer process that dies after committing four of them, before answering the batch
    consumer = services.consumers["estoque-consumer"]
    reservar = consumer.handlers[EventName.NOTA_FISCAL_CRIADA]
    applied = []

    def reserva_then_die(detail: Any, payload: Any) -> None:
        reservar(detail, payload)
        applied.append(detail.event_id)
        if len(applied) == 4:
            raise SystemExit("consumer container killed mid-batch")

    monkeypatch.setitem(consumer.handlers, EventName.NOTA_FISCAL_CRIADA, reserva_then_die)
    # When it gets the batch
    with pytest.raises(SystemExit):
        consumer.handle(receive_batch(aws, "estoque-reserva"), FakeLambdaContext())
    assert len(reservas_by_nota(services.url)) == 4
    # And a new container picks the messages up once their visibility timeout ends
    monkeypatch.setitem(consumer.handlers, EventName.NOTA_FISCAL_CRIADA, reservar)
    services.databases["estoque-consumer"].discard()  # the dead process took its connection with it
    poller = consume_until_empty(aws, "estoque-reserva", lambda _fn, event: consumer.handle(event, FakeLambdaContext()))
    # Then all ten were received again and each nota is reserved exactly once
    assert poller.batches >= 1
    assert_each_nota_reserved_once(services, produtos, notas)
    assert queue_depth(aws, aws.queues["estoque-reserva"].dlq_url) == 0


def test_consumer_connection_killed_inside_a_transaction_retries_that_message_once(
    services: Services, aws: emulator.LocalAws, role_url: Any, pg_admin_url: str
) -> None:
    # Given ten NotaFiscalCriada on the queue, and the product of one of them locked by another session
    produtos, notas = ten_notas_on_the_queue(services, aws, role_url)
    # (received for 3 s: long enough to stage the fault before the batch could come back)
    batch = receive_batch(aws, "estoque-reserva", visibility_timeout=3)
    victim = batch["Records"][5]
    victim_produto = json.loads(victim["body"])["detail"]["payload"]["items"][0]["produtoId"]
    consumer = services.consumers["estoque-consumer"]
    result: dict[str, Any] = {}
    with psycopg.connect(services.url, autocommit=False) as locker:
        locker.execute("SELECT 1 FROM estoque.produtos WHERE id = %s FOR UPDATE", (victim_produto,))
        # When the consumer, mid-batch, waits on that lock inside its transaction
        worker = threading.Thread(
            target=lambda: result.update(consumer.handle(batch, FakeLambdaContext())), daemon=True
        )
        worker.start()
        deadline = time.monotonic() + 10
        blocked: list[dict[str, Any]] = []
        while not blocked and time.monotonic() < deadline:
            blocked = rows(
                pg_admin_url,
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'estoque-consumer' "
                "AND datname = %s AND wait_event_type = 'Lock'",
                (psycopg.conninfo.conninfo_to_dict(services.url)["dbname"],),
            )
            time.sleep(0.02)
        assert blocked, "the consumer never waited on the lock"
        # And its connection is killed there (the processed mark already written, not committed)
        admin(pg_admin_url, "SELECT pg_terminate_backend(%s)", (blocked[0]["pid"],))
        worker.join(timeout=10)
        locker.rollback()
    # Then only that message failed; the rest of the batch went on over a new connection
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [victim["messageId"]]
    assert len(reservas_by_nota(services.url)) == 9
    # And after its visibility timeout the message is applied once
    receipts = [
        {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(batch["Records"]) if r != victim
    ]
    aws.client("sqs").delete_message_batch(QueueUrl=aws.queues["estoque-reserva"].url, Entries=receipts)
    consume_until_empty(aws, "estoque-reserva", lambda _fn, event: consumer.handle(event, FakeLambdaContext()))
    assert_each_nota_reserved_once(services, produtos, notas)


# --- an API answer lost after its commit ------------------------------------------------------

# Fails, as a dropped connection does (SQLSTATE 57P01, admin_shutdown), any update that completes an
# idempotency record outside the transaction that created the nota: the database going away right
# after the nota's commit, before the request could record its answer.
FAIL_AFTER_COMMIT = """
CREATE FUNCTION faturamento.falha_apos_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'COMPLETED' AND NOT EXISTS (
        SELECT 1 FROM faturamento.notas_fiscais WHERE xmin = pg_current_xact_id()::xid
    ) THEN
        RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = '57P01';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER falha_apos_commit BEFORE UPDATE ON faturamento.idempotencia
    FOR EACH ROW EXECUTE FUNCTION faturamento.falha_apos_commit();
"""


def test_retry_after_an_error_answer_that_followed_the_commit_returns_the_same_nota(services: Services) -> None:
    # Given a request with an Idempotency-Key whose nota commits, after which the database fails
    produto = new_produto(services.produtos, "IDEM-1", 5)
    body = {"destinatario": DESTINATARIO, "items": [{"produtoId": produto, "quantidade": 1, "valorUnitario": "1.00"}]}
    key = {"Idempotency-Key": f"fault-{uuid.uuid4()}"}
    admin(services.url, FAIL_AFTER_COMMIT)
    # When the client gets an error answer (its lease on the key lasts the invocation: one second)
    first = services.notas.handler(
        api_event("POST", "/api/v1/notas", body, headers=key), FakeLambdaContext(timeout_seconds=1)
    )
    admin(services.url, "DROP TRIGGER falha_apos_commit ON faturamento.idempotencia")
    assert first["statusCode"] == 503
    assert len(rows(services.url, "SELECT id FROM faturamento.notas_fiscais")) == 1
    # And retries with the same key once that lease is over
    time.sleep(1.2)
    again = services.notas.post("/api/v1/notas", body, headers=key)
    # Then it gets the nota the first attempt created, and there is still only that one
    notas = rows(services.url, "SELECT id FROM faturamento.notas_fiscais")
    assert len(notas) == 1
    assert again.status == 201 and again.body["id"] == str(notas[0]["id"])


# Every statement it guards fails as a dropped connection does: the database is down.
DATABASE_DOWN = """
CREATE FUNCTION faturamento.fora_do_ar() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = '57P01';
END $$;
CREATE TRIGGER fora_do_ar BEFORE INSERT ON faturamento.notas_fiscais
    FOR EACH ROW EXECUTE FUNCTION faturamento.fora_do_ar();
CREATE TRIGGER fora_do_ar BEFORE DELETE ON faturamento.idempotencia
    FOR EACH ROW EXECUTE FUNCTION faturamento.fora_do_ar();
"""


def test_request_cut_by_an_outage_does_not_hold_its_key_until_the_lease_ends(services: Services) -> None:
    # Given a request with an Idempotency-Key whose nota insert fails because the database went
    # away, and whose key can't be released then either (the database is still away)
    body = {
        "destinatario": DESTINATARIO,
        "items": [{"produtoId": str(uuid.uuid4()), "quantidade": 1, "valorUnitario": "1.00"}],
    }
    key = {"Idempotency-Key": f"outage-{uuid.uuid4()}"}
    admin(services.url, DATABASE_DOWN)
    first = services.notas.post("/api/v1/notas", body, headers=key)
    assert first.status == 503
    held = rows(services.url, "SELECT status FROM faturamento.idempotencia")
    assert held == [{"status": "INPROGRESS"}]  # its lease runs for the invocation's 30 s
    # When the database is back and the client retries at once
    admin(services.url, "DROP TRIGGER fora_do_ar ON faturamento.notas_fiscais")
    admin(services.url, "DROP TRIGGER fora_do_ar ON faturamento.idempotencia")
    again = services.notas.post("/api/v1/notas", body, headers=key)
    # Then the retry creates the nota (not a 409 for the next 30 s), once
    assert again.status == 201, again.body
    assert rows(services.url, "SELECT id::text FROM faturamento.notas_fiscais") == [{"id": again.body["id"]}]
    assert rows(services.url, "SELECT status FROM faturamento.idempotencia") == [{"status": "COMPLETED"}]


# --- poison messages ---------------------------------------------------------------------------


def emf_total(output: str, metric: str) -> float:
    """Sum of one metric over every CloudWatch EMF document printed (the way Lambda ships metrics)."""
    total = 0.0
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        declared = {m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
        if metric in declared:
            value = document[metric]
            total += sum(value) if isinstance(value, list) else value
    return total


def test_poison_messages_reach_the_dlq_after_their_receives_counted_while_batch_mates_succeed(
    services: Services,
    aws: emulator.LocalAws,
    role_url: Any,
    monkeypatch: pytest.MonkeyPatch,
    load_handler: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given both consumer Lambdas as deployed: metrics on, eager publishing to the (emulated) bus
    for name, value in aws.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EAGER_PUBLISH", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    handlers = {
        "estoque-consumer": load_handler("functions.estoque.handlers.consumer").handler,
        "faturamento-consumer": load_handler("functions.faturamento.handlers.consumer").handler,
    }
    batches: list[tuple[str, list[str]]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        batches.append((function, [r["body"] for r in event["Records"]]))
        return handlers[function](event, FakeLambdaContext(function_name=function))

    # And three poison messages: not JSON, a schema version from the future, an answer for an unknown nota
    produto = new_produto(services.produtos, "POISON-1", 5)
    nota = new_nota(services.notas, (produto, 2))
    future = envelope_of(rows(services.url, "SELECT * FROM faturamento.eventos_outbox")[0])
    future["detail"] = {**future["detail"], "eventId": str(uuid.uuid4()), "schemaVersion": 2}
    unknown = envelope_of(rows(services.url, "SELECT * FROM faturamento.eventos_outbox")[0])
    unknown_nota = str(uuid.uuid4())
    unknown.update({"detail-type": "ReservaConfirmada", "source": "nfe.estoque"})
    unknown["detail"] = {
        **unknown["detail"],
        "eventId": str(uuid.uuid4()),
        "eventType": "ReservaConfirmada",
        "correlationId": unknown_nota,
        "payload": {
            "notaFiscalId": unknown_nota,
            "reservas": [{"reservaId": str(uuid.uuid4()), "produtoId": produto, "quantidade": 2}],
        },
    }
    poison = {
        "estoque-reserva": ["this is not json", json.dumps(future)],
        "faturamento-confirmacao": [json.dumps(unknown)],
    }
    sqs = aws.client("sqs")
    for queue, bodies in poison.items():
        for body in bodies:
            sqs.send_message(QueueUrl=aws.queues[queue].url, MessageBody=body)
    # And the real nota's NotaFiscalCriada published behind them
    publish_all(services, aws, role_url)
    # Metrics are process-wide; earlier in-process tests added some without flushing them.
    from functions.shared.observability import metrics

    metrics.clear_metrics()
    capsys.readouterr()

    # When the event source mappings run until the poison has left the queues
    pollers = {q: QueuePoller(sqs, aws.queues[q], invoke, threading.Event()) for q in poison}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(queue_depth(aws, aws.queues[q].url) for q in poison):
        for poller in pollers.values():
            poller.poll_once(wait_seconds=0)
        time.sleep(0.1)
    output = capsys.readouterr().out

    # Then each poison message is in its queue's DLQ, received MAX_RECEIVE_COUNT times
    for queue, bodies in poison.items():
        moved = sqs.receive_message(
            QueueUrl=aws.queues[queue].dlq_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        assert sorted(m["Body"] for m in moved) == sorted(bodies)
        receives = [sum(body in b for _, b in batches) for body in bodies]
        assert receives == [topology.MAX_RECEIVE_COUNT] * len(bodies)
    # And the metric counted every rejected receive
    assert emf_total(output, "MensagensRejeitadas") == 3 * topology.MAX_RECEIVE_COUNT
    # And the batch-mates that shared a batch with poison succeeded: stock reserved, nota confirmed
    first_reserva_batch = next(bodies for fn, bodies in batches if fn == "estoque-consumer")
    assert set(poison["estoque-reserva"]) < set(first_reserva_batch)
    confirmation_batches = [b for fn, b in batches if fn == "faturamento-consumer" and len(b) > 1]
    assert confirmation_batches and poison["faturamento-confirmacao"][0] in confirmation_batches[0]
    assert rows(services.url, "SELECT status FROM faturamento.notas_fiscais WHERE id = %s", (nota,)) == [
        {"status": "CONFIRMADA"}
    ]
    assert rows(services.url, "SELECT quantidade FROM estoque.produtos") == [{"quantidade": 3}]
    assert emf_total(output, "ReservasConfirmadas") == 1 and emf_total(output, "NotasConfirmadas") == 1


# --- real container processes killed mid-invocation (local mode's Lambda runtime) -------------


@pytest.fixture
def local_system(database_url: str) -> Iterator[Any]:
    from moto.moto_api._internal.models import moto_api_backend

    from nfe.local.system import LocalOptions, LocalSystem

    # moto's backends are per process: a system started earlier in this process left its bus behind.
    moto_api_backend.reset()
    options = LocalOptions(
        port=0,
        database_url=database_url,
        outbox_interval_seconds=3600,
        visibility_timeout_seconds=2,
        log=lambda m: None,
    )
    system = LocalSystem(options).start()
    yield system
    system.stop()


def wait_for_lock_waiter(url: str, application: str, timeout: float = 10) -> None:
    """Until a backend of `application` is waiting on a lock the test holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = rows(
            url,
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            (application,),
        )
        if found:
            return
        time.sleep(0.02)
    raise AssertionError(f"{application} never waited on the lock")


def kill_busy_containers(system: Any, function: str) -> int:
    import os
    import signal

    killed = 0
    for container in system.functions[function].containers:
        if container.alive():
            os.kill(container.pid, signal.SIGKILL)
            killed += 1
    return killed


def test_an_api_container_killed_mid_request_answers_502_and_the_next_request_gets_a_new_one(
    local_system: Any,
) -> None:
    from nfe.local.demo import HttpClient

    api = HttpClient(local_system.url, local_system.sign_in("admin@example.com"))
    new_produto_body = {"sku": "KILL-1", "nome": "Parafuso", "quantidade": 5, **PRODUTO_FISCAL}
    api.expect(200, "GET", "/api/v1/produtos")  # a warm container
    # Given the POST's insert blocked behind a lock the test holds
    with psycopg.connect(local_system.database_url) as holder:
        holder.execute("LOCK TABLE estoque.produtos IN ACCESS EXCLUSIVE MODE")
        answer: dict[str, Any] = {}
        request = threading.Thread(
            target=lambda: answer.update(r=api.call("POST", "/api/v1/produtos", new_produto_body))
        )
        request.start()
        wait_for_lock_waiter(local_system.database_url, "estoque-api")
        # When its container process is killed
        assert kill_busy_containers(local_system, "estoque-api") == 1
        request.join(timeout=10)
        holder.rollback()
    # Then the request ends as API Gateway ends it for a crashed function: 502
    assert answer["r"][0] == 502
    # And the next request gets a fresh container and succeeds; nothing half-written remains
    api.expect(201, "POST", "/api/v1/produtos", new_produto_body)
    stats = local_system.functions["estoque-api"].stats
    assert stats.lost == 1 and stats.cold_starts == 2
    assert rows(local_system.database_url, "SELECT count(*) AS n FROM estoque.produtos WHERE sku = 'KILL-1'") == [
        {"n": 1}
    ]


def test_a_consumer_container_killed_mid_batch_gets_the_batch_back_with_one_effect(local_system: Any) -> None:
    from nfe.local.demo import HttpClient

    api = HttpClient(local_system.url, local_system.sign_in("admin@example.com"))
    produto = api.expect(
        201, "POST", "/api/v1/produtos", {"sku": "KILL-2", "nome": "Parafuso", "quantidade": 10, **PRODUTO_FISCAL}
    )
    # Given the reservation blocked on the product's row, held by the test
    with psycopg.connect(local_system.database_url) as holder:
        holder.execute("SELECT 1 FROM estoque.produtos WHERE id = %s FOR UPDATE", (produto["id"],))
        nota = new_nota_http(api, produto["id"], 4)
        wait_for_lock_waiter(local_system.database_url, "estoque-consumer")
        # When the consumer's container process is killed in the middle of the batch
        assert kill_busy_containers(local_system, "estoque-consumer") >= 1
        holder.rollback()
    # Then the batch goes back to its queue, a new container takes it after the visibility timeout,
    # and the saga ends with the stock taken once
    assert api.wait_for_status(nota, {"CONFIRMADA"}, timeout=20)["status"] == "CONFIRMADA"
    assert api.expect(200, "GET", f"/api/v1/produtos/{produto['id']}")["quantidade"] == 6
    assert rows(
        local_system.database_url, "SELECT count(*) AS n FROM estoque.reservas WHERE nota_fiscal_id = %s", (nota,)
    ) == [{"n": 1}]
    stats = local_system.functions["estoque-consumer"].stats
    assert stats.lost >= 1 and stats.cold_starts >= 2


def new_nota_http(api: Any, produto_id: str, quantidade: int) -> str:
    body = {
        "destinatario": DESTINATARIO,
        "items": [{"produtoId": produto_id, "quantidade": quantidade, "valorUnitario": "10.50"}],
    }
    return str(api.expect(201, "POST", "/api/v1/notas", body)["id"])
