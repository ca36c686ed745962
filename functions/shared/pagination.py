"""Keyset pagination: an opaque cursor holding the (created at, id) of the last row of a page.

Lists are ordered newest first by (created at, id), which an index serves directly; the next page
is everything strictly after the cursor in that order, so rows inserted meanwhile never shift a
page the way OFFSET would.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID

from functions.shared.errors import InvalidInput

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_MAX_CURSOR_LENGTH = 200


def encode_cursor(created_at: datetime, row_id: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        if len(cursor) > _MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed, UUID(row_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput("cursor", "cursor is not one returned by this API", location="query") from exc
