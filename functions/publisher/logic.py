"""Drain both outboxes to the bus until they are empty or the invocation's time runs low; and, once a
minute beside it, the figure the inutilização alarm watches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from functions.shared.outbox import OUTBOX_SCHEMAS, OutboxRelay, RelayResult


def drain(
    conn: Any,
    relay: OutboxRelay,
    time_left: Callable[[], bool],
    schemas: Sequence[str] = OUTBOX_SCHEMAS,
) -> RelayResult:
    """Send pending rows of every schema, batch by batch, alternating schemas so neither starves.

    Stops early when a whole PutEvents call fails (the bus is unreachable or throttling us): the
    rows stay pending with their error recorded and the next scheduled run tries again.
    """
    total = RelayResult()
    active = list(schemas)
    while active and time_left():
        for schema in list(active):
            if not time_left():
                break
            batch = relay.relay_batch(conn, schema)
            if batch is None:
                active.remove(schema)
                continue
            total.add(batch)
            if batch.published == 0 and batch.retried > 0:
                return total
    return total


def dias_para_inutilizar(conn: Any) -> float | None:
    """Days left before the nearest deadline to inutilizar a rejected número (negative once passed), or
    None when no número awaits inutilização: sql/V010's SECURITY DEFINER function, the one thing of
    faturamento's business tables this role may learn.

    The publisher asks because it is the one function already running every minute with a database
    connection; a schedule of its own would cost a function, a role and a rule for one query.
    """
    row = conn.execute("SELECT faturamento.dias_para_inutilizar() AS dias").fetchone()
    conn.rollback()
    value = row["dias"] if isinstance(row, dict) else (row[0] if row else None)
    return None if value is None else float(value)
