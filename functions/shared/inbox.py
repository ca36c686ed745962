"""The consumer side of exactly-once effects: the processed-messages mark, and the handler contract.

Kept apart from `functions.shared.consumer` (which brings in Powertools' batch utility) so that
the API functions, whose logic modules share these names, do not import the batch machinery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg

from functions.shared.events import EventDetail

CONSUMER_SCHEMAS = ("faturamento", "estoque")

# A consumer's handler for one event type: the parsed detail and its typed payload.
EventHandler = Callable[[EventDetail, Any], None]


class MalformedEvent(ValueError):
    """A message no retry can fix; it fails until it reaches the DLQ."""


def mark_processed(conn: psycopg.Connection[Any], schema: str, event_id: UUID, event_type: str) -> bool:
    """Record the event as processed in the caller's transaction; False when it already was."""
    if schema not in CONSUMER_SCHEMAS:
        raise ValueError(f"unknown consumer schema {schema!r}")
    row = conn.execute(
        f"INSERT INTO {schema}.mensagens_processadas (evento_id, tipo) VALUES (%s, %s) "
        "ON CONFLICT (evento_id) DO NOTHING RETURNING evento_id",
        (event_id, event_type),
    ).fetchone()
    return row is not None
