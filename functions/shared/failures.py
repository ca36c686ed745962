"""The last failure of each SQS message, kept for the operator (`nfe dlq show` prints it).

SQS cannot carry a failure's reason to the DLQ: message attributes are fixed when a message is
sent, and the queue's redrive policy moves the message as it was. So the consumer writes the
reason to its own schema's `mensagens_falhas` (sql/V005), keyed by the SQS message id that the
DLQ keeps, in a transaction of its own: the handler's transaction has rolled back by then, and a
failure record must survive it. Recording is best effort: when the database itself is what failed,
the error log line is the record.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from uuid import UUID

from functions.shared.inbox import CONSUMER_SCHEMAS

MAX_REASON_CHARS = 2000


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def identify(body: str) -> tuple[UUID | None, str | None, UUID | None]:
    """Event id, event type and nota id of a message body, as far as it can be read (never raises)."""
    try:
        envelope = json.loads(body)
    except (TypeError, ValueError):
        return None, None, None
    if not isinstance(envelope, dict):
        return None, None, None
    raw_detail = envelope.get("detail")
    detail: dict[str, Any] = raw_detail if isinstance(raw_detail, dict) else {}
    raw_payload = detail.get("payload")
    payload: dict[str, Any] = raw_payload if isinstance(raw_payload, dict) else {}
    event_type = detail.get("eventType") or envelope.get("detail-type")
    nota = _uuid(payload.get("notaFiscalId")) or _uuid(detail.get("correlationId"))
    return _uuid(detail.get("eventId")), str(event_type) if event_type else None, nota


class FailureLog:
    def __init__(self, db: Any, schema: str) -> None:
        if schema not in CONSUMER_SCHEMAS:
            raise ValueError(f"unknown consumer schema {schema!r}")
        self.db = db
        self.schema = schema

    def record(self, message_id: str, queue: str, body: str, receive_count: int, reason: str, gave_up: bool) -> bool:
        """Upsert the message's failure; False (and the caller's log line stands) if it can't be written."""
        event_id, event_type, nota_id = identify(body)
        try:
            conn = self.db.connection()
            conn.rollback()  # whatever the failed handler left open
            conn.execute(
                f"INSERT INTO {self.schema}.mensagens_falhas "
                "(mensagem_id, fila, evento_id, tipo, nota_fiscal_id, recebimentos, desistiu, motivo) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (mensagem_id) DO UPDATE SET recebimentos = EXCLUDED.recebimentos, "
                "desistiu = EXCLUDED.desistiu, motivo = EXCLUDED.motivo, fila = EXCLUDED.fila, "
                "ultima_falha_em = now()",
                (
                    message_id[:128],
                    queue,
                    event_id,
                    event_type,
                    nota_id,
                    max(receive_count, 1),
                    gave_up,
                    reason[:MAX_REASON_CHARS],
                ),
            )
            conn.commit()
            return True
        except Exception:
            # Already failing: the caller's log line is the record.
            with contextlib.suppress(Exception):
                self.db.discard()
            return False
