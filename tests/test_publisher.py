"""The outbox relay and publisher against a real PostgreSQL and the AWS emulator (moto server)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg.rows import dict_row

from functions.publisher.logic import drain
from functions.shared.events import EventName, ItemReserva, NotaFiscalCriada, ReservaFalhou
from functions.shared.outbox import PUT_EVENTS_MAX_ENTRIES, EagerPublisher, OutboxRelay, add_event
from nfe.local import emulator


@pytest.fixture(scope="module")
def local_aws() -> Iterator[emulator.LocalAws]:
    aws = emulator.start("pubtest", visibility_timeout_seconds=30)
    yield aws
    aws.stop()


class RecordingEvents:
    """The real (emulated) EventBridge client, counting calls and optionally failing entries."""

    def __init__(self, client: Any, fail: dict[int, str] | None = None, die_after_send: bool = False) -> None:
        self.client = client
        self.calls: list[list[dict[str, Any]]] = []
        self.fail = fail or {}
        self.die_after_send = die_after_send
        self.lock = threading.Lock()

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        with self.lock:
            self.calls.append(Entries)
            first_index = sum(len(c) for c in self.calls[:-1])
        response = self.client.put_events(Entries=Entries)
        if self.die_after_send:
            raise SystemExit("publisher died after PutEvents")
        entries = response["Entries"]
        for offset in range(len(entries)):
            code = self.fail.get(first_index + offset)
            if code:
                entries[offset] = {"ErrorCode": code, "ErrorMessage": "injected"}
        return response


def nota_payload(n_items: int = 1) -> NotaFiscalCriada:
    return NotaFiscalCriada(
        nota_fiscal_id=uuid4(),
        items=[ItemReserva(produto_id=uuid4(), quantidade=1) for _ in range(n_items)],
        valor_total=Decimal("10.00"),
    )


def write_events(url: str, schema: str, count: int) -> list[UUID]:
    ids = []
    with psycopg.connect(url) as conn:
        for _ in range(count):
            if schema == "faturamento":
                ids.append(add_event(conn, schema, EventName.NOTA_FISCAL_CRIADA, nota_payload()))
            else:
                payload = ReservaFalhou(
                    nota_fiscal_id=uuid4(),
                    codigo="ESTOQUE_INSUFICIENTE",
                    mensagem="sem estoque",
                    produtos_em_falta=[{"produtoId": uuid4(), "solicitado": 2, "disponivel": 1}],  # type: ignore[list-item]
                )
                ids.append(add_event(conn, schema, EventName.RESERVA_FALHOU, payload))
    return ids


def outbox_rows(url: str, schema: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(f"SELECT * FROM {schema}.eventos_outbox ORDER BY criado_em").fetchall()


def drain_queue(aws: emulator.LocalAws, queue: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    bodies: list[dict[str, Any]] = []
    while True:
        response = sqs.receive_message(QueueUrl=aws.queues[queue].url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=aws.queues[queue].url, ReceiptHandle=message["ReceiptHandle"])


def test_drain_publishes_both_outboxes_in_batches_of_ten(
    database_url: str, role_url: Any, local_aws: emulator.LocalAws
) -> None:
    # Given 23 pending rows in faturamento and 4 in estoque
    faturamento_ids = write_events(database_url, "faturamento", 23)
    write_events(database_url, "estoque", 4)
    events = RecordingEvents(local_aws.client("events"))
    relay = OutboxRelay(events, local_aws.bus_name)
    # When the publisher drains as the outbox_publisher role
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
        result = drain(conn, relay, lambda: True)
    # Then every row is published, in calls of at most 10 entries, oldest first
    assert result.published == 27 and result.parked == 0 and result.retried == 0
    assert all(len(call) <= PUT_EVENTS_MAX_ENTRIES for call in events.calls)
    sent_faturamento = [
        json.loads(e["Detail"])["eventId"] for call in events.calls for e in call if e["Source"] == "nfe.faturamento"
    ]
    assert sent_faturamento == [str(i) for i in faturamento_ids]
    rows = outbox_rows(database_url, "faturamento") + outbox_rows(database_url, "estoque")
    assert all(r["publicado"] and r["publicado_em"] is not None for r in rows)
    # And the bus routed them to the topology's queues with source and detail-type set
    delivered = drain_queue(local_aws, "estoque-reserva")
    assert {b["detail"]["eventId"] for b in delivered} == {str(i) for i in faturamento_ids}
    assert {(b["source"], b["detail-type"]) for b in delivered} == {("nfe.faturamento", "NotaFiscalCriada")}
    assert len(drain_queue(local_aws, "faturamento-compensacao")) == 4


def test_two_relays_never_send_the_same_row(database_url: str, role_url: Any, local_aws: emulator.LocalAws) -> None:
    # Given 60 pending rows and two publishers running at once
    write_events(database_url, "faturamento", 60)
    events = RecordingEvents(local_aws.client("events"))

    def run() -> None:
        with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
            drain(conn, OutboxRelay(events, local_aws.bus_name), lambda: True)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then each row was sent exactly once
    sent = [json.loads(e["Detail"])["eventId"] for call in events.calls for e in call]
    assert len(sent) == 60 and len(set(sent)) == 60
    drain_queue(local_aws, "estoque-reserva")


def test_entry_failures_are_retried_or_parked_never_dropped(
    database_url: str, role_url: Any, local_aws: emulator.LocalAws
) -> None:
    # Given three rows: the bus throttles the first, rejects the second for good, accepts the third
    ids = write_events(database_url, "faturamento", 3)
    events = RecordingEvents(local_aws.client("events"), fail={0: "ThrottlingException", 1: "MalformedDetail"})
    relay = OutboxRelay(events, local_aws.bus_name)
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
        result = relay.relay_batch(conn, "faturamento")
    assert result is not None
    assert (result.published, result.retried, result.parked) == (1, 1, 1)
    rows = {r["id"]: r for r in outbox_rows(database_url, "faturamento")}
    throttled, rejected, accepted = (rows[i] for i in ids)
    # Then the throttled row stays pending with its attempt and error recorded
    assert not throttled["publicado"] and not throttled["estacionado"]
    assert throttled["tentativas"] == 1 and "ThrottlingException" in throttled["ultimo_erro"]
    # And the rejected row is parked with its error, not deleted
    assert rejected["estacionado"] and not rejected["publicado"] and "MalformedDetail" in rejected["ultimo_erro"]
    assert accepted["publicado"]
    # When the next run comes, only the throttled row is sent again
    events_again = RecordingEvents(local_aws.client("events"))
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
        again = drain(conn, OutboxRelay(events_again, local_aws.bus_name), lambda: True)
    assert again.published == 1
    assert [json.loads(e["Detail"])["eventId"] for c in events_again.calls for e in c] == [str(ids[0])]
    drain_queue(local_aws, "estoque-reserva")


def test_oversized_entry_is_parked_and_not_sent(database_url: str, role_url: Any, local_aws: emulator.LocalAws) -> None:
    # Given a row whose detail is larger than EventBridge accepts (written by hand: the API caps items)
    big_id = uuid4()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO faturamento.eventos_outbox (id, tipo, agregado_id, payload) VALUES (%s, %s, %s, %s)",
            (big_id, "NotaFiscalCriada", uuid4(), json.dumps({"padding": "x" * 300_000})),
        )
    events = RecordingEvents(local_aws.client("events"))
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
        result = drain(conn, OutboxRelay(events, local_aws.bus_name), lambda: True)
    # Then it is parked with the reason and no PutEvents call carried it
    assert result.parked == 1 and events.calls == []
    (row,) = outbox_rows(database_url, "faturamento")
    assert row["estacionado"] and "exceeds 256 KB" in row["ultimo_erro"]


def test_publisher_dying_after_put_events_sends_again(
    database_url: str, role_url: Any, local_aws: emulator.LocalAws
) -> None:
    # Given a publisher that dies after PutEvents succeeded but before its commit
    (event_id,) = write_events(database_url, "faturamento", 1)
    dying = RecordingEvents(local_aws.client("events"), die_after_send=True)
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn, pytest.raises(SystemExit):
        OutboxRelay(dying, local_aws.bus_name).relay_batch(conn, "faturamento")
    # Then the row is still pending, and the next run publishes it again (at least once)
    assert not outbox_rows(database_url, "faturamento")[0]["publicado"]
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
        result = drain(conn, OutboxRelay(local_aws.client("events"), local_aws.bus_name), lambda: True)
    assert result.published == 1
    delivered = drain_queue(local_aws, "estoque-reserva")
    # The same event id arrived twice: consumers deduplicate on it.
    assert [b["detail"]["eventId"] for b in delivered] == [str(event_id), str(event_id)]


def test_drain_stops_when_time_runs_low(database_url: str, role_url: Any, local_aws: emulator.LocalAws) -> None:
    write_events(database_url, "faturamento", 30)
    budget = iter([True, True, False])
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
        result = drain(conn, OutboxRelay(local_aws.client("events"), local_aws.bus_name), lambda: next(budget, False))
    # One batch per check that still had time: the run leaves the rest for the next one.
    assert result.published == 10
    assert sum(not r["publicado"] for r in outbox_rows(database_url, "faturamento")) == 20
    drain_queue(local_aws, "estoque-reserva")


class UnreachableBus:
    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        raise ConnectionError("bus unreachable")


def test_eager_publish_failure_never_fails_the_caller(database_url: str, role_url: Any) -> None:
    from functions.shared.db import Database, UnitOfWork
    from functions.shared.settings import DatabaseSettings

    db = Database(DatabaseSettings(database_url=database_url, db_user="faturamento_app"))
    eager = EagerPublisher(db, "nfe-events-x", events_client=UnreachableBus())
    # Given a unit of work that writes an event and asks for eager publishing
    with UnitOfWork(db) as uow:
        event_id = add_event(uow.conn, "faturamento", EventName.NOTA_FISCAL_CRIADA, nota_payload())
        eager.publish_after_commit(uow, "faturamento", [event_id])
        uow.commit()
    # Then the commit stands, the row waits for the schedule with the error recorded
    (row,) = outbox_rows(database_url, "faturamento")
    assert row["id"] == event_id and not row["publicado"]
    assert row["tentativas"] == 1 and "bus unreachable" in row["ultimo_erro"]
    db.close()


def test_unit_of_work_without_commit_writes_nothing(database_url: str) -> None:
    from functions.shared.db import Database, UnitOfWork
    from functions.shared.settings import DatabaseSettings

    db = Database(DatabaseSettings(database_url=database_url, db_user="faturamento_app"))
    with UnitOfWork(db) as uow:
        add_event(uow.conn, "faturamento", EventName.NOTA_FISCAL_CRIADA, nota_payload())
    assert outbox_rows(database_url, "faturamento") == []
    db.close()


def test_oldest_pending_age_is_the_outbox_lag(database_url: str, role_url: Any) -> None:
    from functions.shared.outbox import oldest_pending_age_seconds

    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
        assert oldest_pending_age_seconds(conn) == 0.0
    write_events(database_url, "estoque", 1)
    time.sleep(0.2)
    with psycopg.connect(role_url("outbox_publisher"), row_factory=dict_row) as conn:
        assert oldest_pending_age_seconds(conn) >= 0.2


def test_tracer_loads_the_xray_sdk_only_where_traces_can_be_sent() -> None:
    from aws_lambda_powertools import Tracer

    from functions.shared.observability import NoopTracer, TracingSettings, build_tracer

    # Given local mode / tests (no daemon address): the stand-in, decorators pass functions through
    local = build_tracer(TracingSettings(aws_xray_daemon_address=None, lambda_task_root=None))
    assert isinstance(local, NoopTracer)

    def handler(event: dict[str, Any], context: Any) -> str:
        return "ok"

    assert local.capture_lambda_handler(handler) is handler
    assert local.capture_method()(handler) is handler
    # And on Lambda with active tracing: Powertools' real Tracer, unless explicitly disabled
    on_lambda = TracingSettings(aws_xray_daemon_address="169.254.79.129:2000", lambda_task_root="/var/task")
    assert on_lambda.enabled
    assert isinstance(build_tracer(on_lambda), Tracer)
    assert not TracingSettings(
        aws_xray_daemon_address="169.254.79.129:2000", lambda_task_root="/var/task", powertools_trace_disabled=True
    ).enabled
