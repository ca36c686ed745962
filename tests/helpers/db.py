"""Read-side helpers for tests: look at what the handlers left in PostgreSQL (as the superuser)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from functions.shared.events import SOURCES, EventName

STORED_TABLES = (
    "faturamento.notas_fiscais",
    "faturamento.itens_nota",
    "faturamento.eventos_outbox",
    "faturamento.mensagens_processadas",
    "faturamento.idempotencia",
    "estoque.produtos",
    "estoque.entradas",
    "estoque.reservas",
    "estoque.eventos_outbox",
    "estoque.mensagens_processadas",
)


def rows(url: str, sql: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def one(url: str, sql: str, params: Any = None) -> dict[str, Any]:
    found = rows(url, sql, params)
    assert len(found) == 1, f"expected one row, got {len(found)}"
    return found[0]


def counts(url: str) -> dict[str, int]:
    """Row count of every table the services write."""
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in STORED_TABLES}  # type: ignore[index]


def outbox(url: str, schema: str, tipo: str | None = None) -> list[dict[str, Any]]:
    sql = f"SELECT id, tipo, agregado_id, payload, publicado FROM {schema}.eventos_outbox"
    if tipo is not None:
        return rows(url, sql + " WHERE tipo = %s ORDER BY criado_em", (tipo,))
    return rows(url, sql + " ORDER BY criado_em")


def envelope_of(row: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge event the relay would publish for an outbox row, as a rule delivers it."""
    name = EventName(row["tipo"])
    return {
        "version": "0",
        "id": str(row["id"]),
        "detail-type": name.value,
        "source": SOURCES[name].value,
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": row["payload"],
    }
