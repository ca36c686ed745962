"""Publisher drain rate: outbox rows moved to the local bus per second.

Rows are inserted with `functions.shared.outbox.add_event` (half NotaFiscalCriada in faturamento's
outbox, half ReservaConfirmada in estoque's), then `functions.publisher.logic.drain` runs as the
scheduled publisher does: logged in as `outbox_publisher`, PutEvents to a moto server holding
the topology's bus, rules and queues, so every event is also routed to its SQS queue. As in
local mode, the emulator runs in the publisher's process.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import psycopg

from bench.harness import Log, Postgres, median, say

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
    try:
        migrate(database_url)
        settings = PublisherSettings(database_url=database_url, event_bus_name=aws.bus_name)
        db = Database(settings, application_name="outbox-publisher")
        relay = OutboxRelay(aws.client("events"), aws.bus_name)
        for run_number in range(1, runs + 1):
            _insert(database_url, events)
            conn = db.connection()
            t0 = time.perf_counter()
            result = drain(conn, relay, lambda: True)
            seconds = time.perf_counter() - t0
            left = _pending(database_url)
            if result.published != events or left != 0:
                raise RuntimeError(f"drain published {result.published} of {events}, {left} left ({result.errors[:3]})")
            rates.append(events / seconds)
            log(f"publisher: run {run_number}/{runs}: {events} events in {seconds:.2f} s = {rates[-1]:.0f} events/s")
        db.close()
    finally:
        aws.stop()
        pg.drop_database(database_url)
    return round(median(rates), 1), {"events": events, "runs": [round(r, 1) for r in rates]}
