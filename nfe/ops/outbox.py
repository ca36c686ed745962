"""The outboxes from the operator's side: what is waiting, what is parked and why, and un-parking.

The publisher parks a row (`estacionado`) when the bus refuses it for good: an event name it does not
know, an entry over 256 KB, or a PutEvents error that is not throttling or an internal failure
(functions/shared/outbox.py). A parked row is never resent on its own, so it needs a person: fix the
cause (a deployment, a quota, a policy), then `retry` clears the flag, keeping the last error for the
record, and sends the rows at once through the same relay the publisher uses (the schedule would
send them within a minute anyway). A row parked again says so.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from functions.shared.outbox import OUTBOX_SCHEMAS, OutboxRelay
from nfe.ops.render import iso
from nfe.ops.target import Target, TargetError


def status(conn: Any) -> list[dict[str, Any]]:
    result = []
    for schema in OUTBOX_SCHEMAS:
        summary = conn.execute(
            f"SELECT count(*) FILTER (WHERE NOT publicado AND NOT estacionado) AS unpublished, "
            f"EXTRACT(EPOCH FROM now() - min(criado_em) FILTER (WHERE NOT publicado AND NOT estacionado)) AS age, "
            f"count(*) FILTER (WHERE estacionado) AS parked FROM {schema}.eventos_outbox"
        ).fetchone()
        parked = conn.execute(
            f"SELECT id, tipo, agregado_id, criado_em, tentativas, ultimo_erro FROM {schema}.eventos_outbox "
            "WHERE estacionado ORDER BY criado_em, id LIMIT 100"
        ).fetchall()
        result.append(
            {
                "schema": schema,
                "unpublished": int(summary["unpublished"]),
                "oldestAgeSeconds": round(float(summary["age"]), 1) if summary["age"] is not None else None,
                "parked": int(summary["parked"]),
                "parkedRows": [
                    {
                        "id": str(r["id"]),
                        "eventType": r["tipo"],
                        "notaId": str(r["agregado_id"]),
                        "createdAt": iso(r["criado_em"]),
                        "attempts": r["tentativas"],
                        "reason": r["ultimo_erro"],
                    }
                    for r in parked
                ],
            }
        )
    conn.rollback()
    return result


def _parse_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise TargetError(f"--id {text!r} is not an outbox row id (a UUID)") from None


def unpark(conn: Any, row_id: str | None, everything: bool) -> dict[str, list[UUID]]:
    """Clear `estacionado` on one row or on all; the ids un-parked per schema. Commits."""
    if not row_id and not everything:
        raise TargetError("say which rows: --id ID or --all")
    wanted = _parse_id(row_id) if row_id else None
    unparked: dict[str, list[UUID]] = {}
    for schema in OUTBOX_SCHEMAS:
        rows = conn.execute(
            f"UPDATE {schema}.eventos_outbox SET estacionado = false "
            "WHERE estacionado AND (%(id)s::uuid IS NULL OR id = %(id)s) RETURNING id",
            {"id": wanted},
        ).fetchall()
        if rows:
            unparked[schema] = [r["id"] for r in rows]
    conn.commit()
    if wanted is not None and not unparked:
        exists = any(
            conn.execute(f"SELECT 1 FROM {s}.eventos_outbox WHERE id = %s", (wanted,)).fetchone()
            for s in OUTBOX_SCHEMAS
        )
        conn.rollback()
        raise TargetError(f"outbox row {wanted} {'is not parked' if exists else 'does not exist'}")
    return unparked


def retry(target: Target, conn: Any, row_id: str | None, everything: bool, publish: bool = True) -> dict[str, Any]:
    unparked = unpark(conn, row_id, everything)
    result: dict[str, Any] = {"unparked": sum(len(ids) for ids in unparked.values()), "published": 0, "parkedAgain": 0}
    if not publish:
        return result
    relay = OutboxRelay(target.client("events"), target.bus_name)
    errors: list[str] = []
    for schema, ids in unparked.items():
        sent = relay.relay_ids(conn, schema, ids)
        result["published"] += sent.published
        result["parkedAgain"] += sent.parked
        errors.extend(sent.errors)
    # Rows the bus only throttled stay pending: the scheduled publisher sends them.
    result["pending"] = result["unparked"] - result["published"] - result["parkedAgain"]
    if errors:
        result["errors"] = errors
    return result
