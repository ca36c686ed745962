"""Estoque's SQL, and nothing else: functions of a connection inside the caller's unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from functions.estoque.models import MAX_ESTOQUE, ProdutoIn

Row = dict[str, Any]
_PRODUTO_COLUMNS = (
    "id, sku, nome, quantidade, ncm, unidade, origem, gtin, criado_em, atualizado_em, criado_por_sub, criado_por_email"
)


def inserir_produto(conn: psycopg.Connection[Any], produto: ProdutoIn, por_sub: str, por_email: str) -> Row:
    """Raises psycopg.errors.UniqueViolation for a SKU already taken."""
    row = conn.execute(
        "INSERT INTO estoque.produtos (sku, nome, quantidade, ncm, unidade, origem, gtin, criado_por_sub, "
        f"criado_por_email) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_PRODUTO_COLUMNS}",
        (
            produto.sku,
            produto.nome,
            produto.quantidade,
            produto.ncm,
            produto.unidade,
            produto.origem,
            produto.gtin,
            por_sub,
            por_email,
        ),
    ).fetchone()
    assert row is not None
    return row


def obter_produto(conn: psycopg.Connection[Any], produto_id: UUID) -> Row | None:
    return conn.execute(f"SELECT {_PRODUTO_COLUMNS} FROM estoque.produtos WHERE id = %s", (produto_id,)).fetchone()


def listar_produtos(conn: psycopg.Connection[Any], limit: int, after: tuple[datetime, UUID] | None) -> list[Row]:
    """Newest first; `after` is the (criado_em, id) of the last row of the previous page."""
    if after is None:
        return conn.execute(
            f"SELECT {_PRODUTO_COLUMNS} FROM estoque.produtos ORDER BY criado_em DESC, id DESC LIMIT %s", (limit,)
        ).fetchall()
    return conn.execute(
        f"SELECT {_PRODUTO_COLUMNS} FROM estoque.produtos WHERE (criado_em, id) < (%s, %s) "
        "ORDER BY criado_em DESC, id DESC LIMIT %s",
        (*after, limit),
    ).fetchall()


def registrar_entrada(conn: psycopg.Connection[Any], produto_id: UUID, quantidade: int) -> Row | None:
    """Add stock unless it would pass the column's ceiling; None when it would, or for an unknown id."""
    return conn.execute(
        "UPDATE estoque.produtos SET quantidade = quantidade + %s, atualizado_em = now() "
        f"WHERE id = %s AND quantidade <= %s RETURNING {_PRODUTO_COLUMNS}",
        (quantidade, produto_id, MAX_ESTOQUE - quantidade),
    ).fetchone()


def inserir_entrada(
    conn: psycopg.Connection[Any], produto_id: UUID, quantidade: int, por_sub: str, por_email: str
) -> Row:
    row = conn.execute(
        "INSERT INTO estoque.entradas (produto_id, quantidade, registrada_por_sub, registrada_por_email) "
        "VALUES (%s, %s, %s, %s) RETURNING id, quantidade, registrada_em, registrada_por_sub, registrada_por_email",
        (produto_id, quantidade, por_sub, por_email),
    ).fetchone()
    assert row is not None
    return row


def bloquear_produtos(conn: psycopg.Connection[Any], produto_ids: list[UUID]) -> dict[UUID, Row]:
    """Lock the products in id order: every transaction takes its locks in the same order, so two
    reservations over the same products queue behind each other instead of deadlocking."""
    rows = conn.execute(
        "SELECT id, sku, nome, quantidade, ncm, unidade, origem, gtin FROM estoque.produtos "
        "WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
        (produto_ids,),
    ).fetchall()
    return {row["id"]: row for row in rows}


def decrementar(conn: psycopg.Connection[Any], produto_id: UUID, quantidade: int) -> bool:
    # The guard makes overselling impossible even if a caller forgot to lock; False means short.
    cur = conn.execute(
        "UPDATE estoque.produtos SET quantidade = quantidade - %s, atualizado_em = now() "
        "WHERE id = %s AND quantidade >= %s",
        (quantidade, produto_id, quantidade),
    )
    return cur.rowcount == 1


def incrementar(conn: psycopg.Connection[Any], produto_id: UUID, quantidade: int) -> None:
    conn.execute(
        "UPDATE estoque.produtos SET quantidade = quantidade + %s, atualizado_em = now() WHERE id = %s",
        (quantidade, produto_id),
    )


def inserir_reserva(conn: psycopg.Connection[Any], nota_id: UUID, produto_id: UUID, quantidade: int) -> UUID:
    row = conn.execute(
        "INSERT INTO estoque.reservas (nota_fiscal_id, produto_id, quantidade) VALUES (%s, %s, %s) RETURNING id",
        (nota_id, produto_id, quantidade),
    ).fetchone()
    assert row is not None
    return UUID(str(row["id"]))


def liberar_reservas(conn: psycopg.Connection[Any], nota_id: UUID) -> list[Row]:
    """Mark the nota's active reservas released; returns them (already-released ones stay as they are)."""
    return conn.execute(
        "UPDATE estoque.reservas SET status = 'LIBERADA', liberada_em = now() "
        "WHERE nota_fiscal_id = %s AND status = 'ATIVA' RETURNING id, produto_id, quantidade",
        (nota_id,),
    ).fetchall()


def produtos_reservados(conn: psycopg.Connection[Any], nota_id: UUID) -> list[UUID]:
    rows = conn.execute(
        "SELECT produto_id FROM estoque.reservas WHERE nota_fiscal_id = %s AND status = 'ATIVA'", (nota_id,)
    ).fetchall()
    return [row["produto_id"] for row in rows]
