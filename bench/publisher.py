"""Publisher drain rate: outbox rows moved to the local bus per second.

Rows are inserted with `functions.shared.outbox.add_event` (half NotaFiscalCriada in faturamento's
outbox, half ReservaConfirmada in estoque's), then `functions.publisher.logic.drain` runs as the
scheduled publisher does: logged in as `outbox_publisher`, PutEvents to a moto server holding
the topology's bus, rules and queues, so every event is also routed to its SQS queue. As in
local mode, the emulator runs in the publisher's process.

One receiver per queue stands in for the consumers and deletes what arrives: moto scans a whole
queue on every send, so queues left to fill would make each PutEvents slower than the last, a cost
of the emulator that local mode (whose consumers keep up) never pays. The receivers' count also
proves every event reached its queue. PutEvents calls are timed apart, which separates moto's
share from the relay's own (the database round trips).
"""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import psycopg

from bench.harness import Log, Postgres, median, ms, percentile, say

ENVIRONMENT = "bench"


def _insert(database_url: str, events: int) -> None:
    from functions.shared.events import EventName, ItemReserva, NotaFiscalCriada, Reserva, ReservaConfirmada
    from functions.shared.outbox import add_event

    with psycopg.connect(database_url) as conn:
        for i in range(events):
            nota_id, produto_id = uuid.uuid4(), uuid.uuid4()
            if i % 2 == 0:
                add_event(
                    conn,
                    "faturamento",
                    EventName.NOTA_FISCAL_CRIADA,
                    NotaFiscalCriada(
                        nota_fiscal_id=nota_id,
                        items=[ItemReserva(produto_id=produto_id, quantidade=2)],
                        valor_total=Decimal("21.00"),
                    ),
                )
            else:
                add_event(
                    conn,
                    "estoque",
                    EventName.RESERVA_CONFIRMADA,
                    ReservaConfirmada(
                        nota_fiscal_id=nota_id,
                        reservas=[Reserva(reserva_id=uuid.uuid4(), produto_id=produto_id, quantidade=2)],
                    ),
                )


def _pending(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM faturamento.eventos_outbox WHERE NOT publicado) "
            "+ (SELECT count(*) FROM estoque.eventos_outbox WHERE NOT publicado)"
        ).fetchone()
    return int(row[0]) if row else -1


class TimedEvents:
    """The events client with each PutEvents call timed."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls_ms: list[float] = []

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            response: dict[str, Any] = self.client.put_events(Entries=Entries)
            return response
        finally:
            self.calls_ms.append((time.perf_counter() - t0) * 1000)


class QueueSinks:
    """Receive and delete every message of every queue, counting them, until stopped."""

    def __init__(self, aws: Any) -> None:
        self.aws = aws
        self.received = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sink, args=(q.url,), daemon=True) for q in aws.queues.values()]

    def _sink(self, url: str) -> None:
        sqs = self.aws.client("sqs")
        while not self._stop.is_set():
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
                with self._lock:
                    self.received += len(messages)

    def wait_for(self, count: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.received < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received

    def __enter__(self) -> QueueSinks:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def run(pg: Postgres, events: int, runs: int, log: Log = say) -> tuple[float, dict[str, Any]]:
    from functions.migrator.runner import migrate
    from functions.publisher.logic import drain
    from functions.publisher.settings import PublisherSettings
    from functions.shared.db import Database
    from functions.shared.outbox import OutboxRelay
    from nfe.local import emulator

    database_url = pg.create_database("bench_publisher")
    aws = emulator.start(ENVIRONMENT)
    rates: list[float] = []
    relay_only: list[float] = []
    calls_ms: list[float] = []
    try:
        migrate(database_url)
        settings = PublisherSettings(database_url=database_url, event_bus_name=aws.bus_name)
        db = Database(settings, application_name="outbox-publisher")
        with QueueSinks(aws) as sinks:
            for run_number in range(1, runs + 1):
                _insert(database_url, events)
                timed = TimedEvents(aws.client("events"))
                relay = OutboxRelay(timed, aws.bus_name)
                conn = db.connection()
                t0 = time.perf_counter()
                result = drain(conn, relay, lambda: True)
                seconds = time.perf_counter() - t0
                left = _pending(database_url)
                routed = sinks.wait_for(events * run_number)
                if result.published != events or left != 0 or routed != events * run_number:
                    raise RuntimeError(
                        f"drain published {result.published} of {events}, {left} left, {routed} routed to queues "
                        f"({result.errors[:3]})"
                    )
                rates.append(events / seconds)
                relay_only.append(events / (seconds - sum(timed.calls_ms) / 1000))
                calls_ms.extend(timed.calls_ms)
                log(
                    f"publisher: run {run_number}/{runs}: {events} events in {seconds:.2f} s = {rates[-1]:.0f} "
                    f"events/s; PutEvents p50 {percentile(timed.calls_ms, 50):.1f} ms per call of 10"
                )
        db.close()
    finally:
        aws.stop()
        pg.drop_database(database_url)
    details = {
        "events": events,
        "runs": [round(r, 1) for r in rates],
        "putEventsCallMs": {"p50": ms(percentile(calls_ms, 50)), "p95": ms(percentile(calls_ms, 95))},
        "putEventsShare": round(1 - median(rates) / median(relay_only), 3),
        # The rate if PutEvents were free: the relay's own database work, a bound that is not moto's.
        "relayOnlyEventsPerSecond": round(median(relay_only), 1),
    }
    return round(median(rates), 1), details
