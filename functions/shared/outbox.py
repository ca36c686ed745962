"""The transactional outbox: writing events with the state change, and moving them to the bus.

`add_event` inserts the outbox row inside the caller's unit of work, so the event exists if and only
if the state change committed. `OutboxRelay` moves pending rows to EventBridge: rows are claimed
with `FOR UPDATE SKIP LOCKED` (two relays never send the same row at once), sent oldest first in
PutEvents calls of at most 10 entries, and marked per entry. The scheduled publisher Lambda and the
eager path right after a handler's commit share this code.

Delivery is at least once: a relay that dies after PutEvents and before its commit leaves the rows
pending, they are sent again, and consumers deduplicate on the event id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

import psycopg
from psycopg.types.json import Jsonb

from functions.shared.events import SOURCES, EventName, build_detail, correlation_id

OUTBOX_SCHEMAS = ("faturamento", "estoque")
PUT_EVENTS_MAX_ENTRIES = 10
# EventBridge limits the whole PutEvents request (and so any one entry) to 256 KB.
PUT_EVENTS_MAX_BYTES = 256 * 1024
RETRYABLE_ERRORS = frozenset({"InternalFailure", "ThrottlingException"})


class EventsClient(Protocol):
    # Parameter name as boto3 spells it.
    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]: ...


def _check_schema(schema: str) -> str:
    # Identifiers can't be bound parameters; only our two fixed schema names ever reach SQL text.
    if schema not in OUTBOX_SCHEMAS:
        raise ValueError(f"unknown outbox schema {schema!r}")
    return schema


def add_event(conn: psycopg.Connection[Any], schema: str, name: EventName, payload: Any) -> UUID:
    """Insert an outbox row for `payload` (a contract model); call inside the unit of work."""
    event_id = uuid4()
    occurred_at = datetime.now(UTC)
    detail = build_detail(event_id, name, occurred_at, payload)
    conn.execute(
        f"INSERT INTO {_check_schema(schema)}.eventos_outbox (id, tipo, agregado_id, payload, criado_em) "
        "VALUES (%s, %s, %s, %s, %s)",
        (event_id, name.value, correlation_id(payload), Jsonb(detail), occurred_at),
    )
    return event_id


def entry_size(entry: dict[str, Any]) -> int:
    """PutEvents entry size as EventBridge computes it (time + source + detail-type + detail + resources)."""
    size = 14  # the Time field
    for key in ("Source", "DetailType", "Detail"):
        size += len(entry.get(key, "").encode())
    for resource in entry.get("Resources", []):
        size += len(resource.encode())
    return size


@dataclass
class RelayResult:
    published: int = 0
    retried: int = 0
    parked: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: RelayResult) -> None:
        self.published += other.published
        self.retried += other.retried
        self.parked += other.parked
        self.errors.extend(other.errors)


class OutboxRelay:
    def __init__(self, events: EventsClient, bus_name: str) -> None:
        self.events = events
        self.bus_name = bus_name

    def _entry(self, row: dict[str, Any]) -> dict[str, Any]:
        name = EventName(row["tipo"])
        return {
            "EventBusName": self.bus_name,
            "Source": SOURCES[name].value,
            "DetailType": name.value,
            "Detail": json.dumps(row["payload"], separators=(",", ":")),
            "Time": row["criado_em"],
        }

    def relay_batch(
        self,
        conn: psycopg.Connection[Any],
        schema: str,
        ids: Sequence[UUID] | None = None,
        limit: int = PUT_EVENTS_MAX_ENTRIES,
    ) -> RelayResult | None:
        """Claim up to `limit` pending rows, send them, mark them; commit. None when nothing is pending."""
        schema = _check_schema(schema)
        where = "NOT publicado AND NOT estacionado" + (" AND id = ANY(%(ids)s)" if ids is not None else "")
        rows = conn.execute(
            f"SELECT id, tipo, payload, criado_em FROM {schema}.eventos_outbox WHERE {where} "
            "ORDER BY criado_em, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED",
            {"ids": list(ids) if ids is not None else None, "limit": min(limit, PUT_EVENTS_MAX_ENTRIES)},
        ).fetchall()
        if not rows:
            conn.rollback()
            return None
        result = RelayResult()
        sendable: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for row in rows:
            try:
                entry = self._entry(row)
            except (ValueError, KeyError) as exc:
                self._park(conn, schema, row["id"], f"not a known event: {exc}")
                result.parked += 1
                continue
            if entry_size(entry) > PUT_EVENTS_MAX_BYTES:
                self._park(conn, schema, row["id"], f"entry of {entry_size(entry)} bytes exceeds 256 KB")
                result.parked += 1
                continue
            sendable.append((row, entry))
        for batch in _by_request_size(sendable):
            self._send(conn, schema, batch, result)
        conn.commit()
        return result

    def _send(
        self,
        conn: psycopg.Connection[Any],
        schema: str,
        batch: list[tuple[dict[str, Any], dict[str, Any]]],
        result: RelayResult,
    ) -> None:
        try:
            response = self.events.put_events(Entries=[entry for _, entry in batch])
        except Exception as exc:  # the whole call failed (network, throttling): every row stays pending
            message = f"{type(exc).__name__}: {exc}"[:500]
            for row, _ in batch:
                self._retry_later(conn, schema, row["id"], message)
            result.retried += len(batch)
            result.errors.append(message)
            return
        published: list[UUID] = []
        for (row, _), outcome in zip(batch, response.get("Entries", []), strict=False):
            code = outcome.get("ErrorCode")
            if not code:
                published.append(row["id"])
            elif code in RETRYABLE_ERRORS:
                self._retry_later(conn, schema, row["id"], f"{code}: {outcome.get('ErrorMessage', '')}")
                result.retried += 1
            else:
                self._park(conn, schema, row["id"], f"{code}: {outcome.get('ErrorMessage', '')}")
                result.parked += 1
                result.errors.append(f"{row['id']} parked: {code}")
        if published:
            conn.execute(
                f"UPDATE {schema}.eventos_outbox SET publicado = true, publicado_em = now(), "
                "tentativas = tentativas + 1 WHERE id = ANY(%s)",
                (published,),
            )
            result.published += len(published)

    @staticmethod
    def _retry_later(conn: psycopg.Connection[Any], schema: str, row_id: UUID, error: str) -> None:
        conn.execute(
            f"UPDATE {schema}.eventos_outbox SET tentativas = tentativas + 1, ultimo_erro = %s WHERE id = %s",
            (error[:1000], row_id),
        )

    @staticmethod
    def _park(conn: psycopg.Connection[Any], schema: str, row_id: UUID, error: str) -> None:
        conn.execute(
            f"UPDATE {schema}.eventos_outbox SET estacionado = true, tentativas = tentativas + 1, "
            "ultimo_erro = %s WHERE id = %s",
            (error[:1000], row_id),
        )

    def relay_ids(self, conn: psycopg.Connection[Any], schema: str, ids: Iterable[UUID]) -> RelayResult:
        """Send exactly these rows if still pending (the eager path after a commit)."""
        result = RelayResult()
        pending = list(ids)
        while pending:
            chunk, pending = pending[:PUT_EVENTS_MAX_ENTRIES], pending[PUT_EVENTS_MAX_ENTRIES:]
            batch = self.relay_batch(conn, schema, ids=chunk)
            if batch is not None:
                result.add(batch)
        return result


def _by_request_size(
    items: list[tuple[dict[str, Any], dict[str, Any]]],
) -> Iterable[list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Split entries so that no PutEvents request exceeds 10 entries or 256 KB."""
    batch: list[tuple[dict[str, Any], dict[str, Any]]] = []
    size = 0
    for item in items:
        item_size = entry_size(item[1])
        if batch and (len(batch) == PUT_EVENTS_MAX_ENTRIES or size + item_size > PUT_EVENTS_MAX_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


def oldest_pending_age_seconds(conn: psycopg.Connection[Any], schemas: Sequence[str] = OUTBOX_SCHEMAS) -> float:
    """Age of the oldest unpublished, unparked row across schemas (0 when none): the outbox lag."""
    ages = []
    for schema in schemas:
        row = conn.execute(
            f"SELECT EXTRACT(EPOCH FROM now() - min(criado_em)) AS age FROM {_check_schema(schema)}.eventos_outbox "
            "WHERE NOT publicado AND NOT estacionado"
        ).fetchone()
        conn.rollback()
        value = row["age"] if isinstance(row, dict) else (row[0] if row else None)
        if value is not None:
            ages.append(float(value))
    return max(ages, default=0.0)


class EagerPublisher:
    """Publish a handler's outbox rows right after its commit: best effort, never fails the request.

    The saga then completes in well under a second; the scheduled publisher remains the safety net
    for anything this misses (bus throttled, container frozen right after the commit, ...).
    """

    def __init__(self, db: Any, bus_name: str, enabled: bool = True, events_client: EventsClient | None = None):
        self.db = db
        self.bus_name = bus_name
        self.enabled = enabled
        self._events = events_client

    def _relay(self) -> OutboxRelay:
        if self._events is None:
            import boto3  # imported on first publish, keeping it off the cold-start path of reads

            self._events = boto3.client("events")
        return OutboxRelay(self._events, self.bus_name)

    def publish_after_commit(self, uow: Any, schema: str, event_ids: Sequence[UUID]) -> None:
        if not self.enabled or not event_ids:
            return
        ids = list(event_ids)
        uow.after_commit(lambda: self.publish_now(schema, ids))

    def publish_now(self, schema: str, event_ids: Sequence[UUID]) -> RelayResult | None:
        from functions.shared.observability import logger

        try:
            return self._relay().relay_ids(self.db.connection(), schema, event_ids)
        except Exception as exc:  # best effort by design: the scheduled publisher retries
            logger.warning("eager publish failed; the scheduled publisher will send it", extra={"error": str(exc)})
            try:
                self.db.connection().rollback()
            except Exception:
                self.db.discard()
            return None
