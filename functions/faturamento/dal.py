"""Faturamento's SQL, and nothing else: functions of a connection inside the caller's unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from functions.faturamento.models import NotaIn

Row = dict[str, Any]
_NOTA_COLUMNS = (
    "id, status, destinatario_documento, destinatario_nome, valor_total, criada_em, confirmada_em, "
    "cancelamento_solicitado_em, cancelada_em, erro_codigo, erro_mensagem, erro_timestamp, "
    "criada_por_sub, criada_por_email, cancelamento_solicitado_por_sub, cancelamento_solicitado_por_email"
)


def inserir_nota(conn: psycopg.Connection[Any], nota: NotaIn, por_sub: str, por_email: str) -> Row:
    row = conn.execute(
        "INSERT INTO faturamento.notas_fiscais (destinatario_documento, destinatario_nome, valor_total, "
        f"criada_por_sub, criada_por_email) VALUES (%s, %s, %s, %s, %s) RETURNING {_NOTA_COLUMNS}",
        (nota.destinatario.documento, nota.destinatario.nome, nota.valor_total(), por_sub, por_email),
    ).fetchone()
    assert row is not None
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO faturamento.itens_nota (nota_fiscal_id, produto_id, quantidade, valor_unitario, posicao) "
            "VALUES (%s, %s, %s, %s, %s)",
            [
                (row["id"], item.produto_id, item.quantidade, item.valor_unitario, position)
                for position, item in enumerate(nota.items)
            ],
        )
    return row


def obter_nota(conn: psycopg.Connection[Any], nota_id: UUID) -> Row | None:
    return conn.execute(f"SELECT {_NOTA_COLUMNS} FROM faturamento.notas_fiscais WHERE id = %s", (nota_id,)).fetchone()


def listar_notas(
    conn: psycopg.Connection[Any], status: str | None, limit: int, after: tuple[datetime, UUID] | None
) -> list[Row]:
    """Newest first; `after` is the (criada_em, id) of the last row of the previous page."""
    conditions: list[str] = []
    params: list[Any] = []
    if status is not None:
        conditions.append("status = %s")
        params.append(status)
    if after is not None:
        conditions.append("(criada_em, id) < (%s, %s)")
        params.extend(after)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return conn.execute(
        f"SELECT {_NOTA_COLUMNS} FROM faturamento.notas_fiscais {where} ORDER BY criada_em DESC, id DESC LIMIT %s",
        (*params, limit),
    ).fetchall()


def itens_das_notas(conn: psycopg.Connection[Any], nota_ids: list[UUID]) -> dict[UUID, list[Row]]:
    items: dict[UUID, list[Row]] = {nota_id: [] for nota_id in nota_ids}
    for row in conn.execute(
        "SELECT nota_fiscal_id, produto_id, quantidade, valor_unitario FROM faturamento.itens_nota "
        "WHERE nota_fiscal_id = ANY(%s) ORDER BY nota_fiscal_id, posicao",
        (nota_ids,),
    ):
        items[row["nota_fiscal_id"]].append(row)
    return items


def solicitar_cancelamento(conn: psycopg.Connection[Any], nota_id: UUID, por_sub: str, por_email: str) -> Row | None:
    """Mark the cancelation as requested if the nota allows it; None when it does not (or is unknown)."""
    return conn.execute(
        "UPDATE faturamento.notas_fiscais SET cancelamento_solicitado_em = now(), atualizada_em = now(), "
        "cancelamento_solicitado_por_sub = %s, cancelamento_solicitado_por_email = %s "
        "WHERE id = %s AND status = 'CONFIRMADA' AND cancelamento_solicitado_em IS NULL "
        f"RETURNING {_NOTA_COLUMNS}",
        (por_sub, por_email, nota_id),
    ).fetchone()


# The saga's transitions. Each UPDATE carries its guard, so an event that does not fit the
# nota's current state matches no row and changes nothing; the caller logs it.


def confirmar(conn: psycopg.Connection[Any], nota_id: UUID) -> bool:
    cur = conn.execute(
        "UPDATE faturamento.notas_fiscais SET status = 'CONFIRMADA', confirmada_em = now(), atualizada_em = now() "
        "WHERE id = %s AND status = 'PENDING'",
        (nota_id,),
    )
    return cur.rowcount == 1


def registrar_erro_estoque(
    conn: psycopg.Connection[Any], nota_id: UUID, codigo: str, mensagem: str, quando: datetime
) -> bool:
    cur = conn.execute(
        "UPDATE faturamento.notas_fiscais SET status = 'ERRO_ESTOQUE', erro_codigo = %s, erro_mensagem = %s, "
        "erro_timestamp = %s, atualizada_em = now() WHERE id = %s AND status = 'PENDING'",
        (codigo, mensagem, quando, nota_id),
    )
    return cur.rowcount == 1


def cancelar(conn: psycopg.Connection[Any], nota_id: UUID) -> bool:
    cur = conn.execute(
        "UPDATE faturamento.notas_fiscais SET status = 'CANCELADA', cancelada_em = now(), atualizada_em = now() "
        "WHERE id = %s AND status = 'CONFIRMADA' AND cancelamento_solicitado_em IS NOT NULL",
        (nota_id,),
    )
    return cur.rowcount == 1


def duracoes_ms(conn: psycopg.Connection[Any], nota_id: UUID) -> dict[str, float | None]:
    """Milliseconds since the nota was created and since its cancelation was requested, as of now()."""
    row = conn.execute(
        "SELECT EXTRACT(EPOCH FROM now() - criada_em) * 1000 AS saga, "
        "EXTRACT(EPOCH FROM now() - cancelamento_solicitado_em) * 1000 AS cancelamento "
        "FROM faturamento.notas_fiscais WHERE id = %s",
        (nota_id,),
    ).fetchone()
    if row is None:
        return {"saga": None, "cancelamento": None}
    return {k: None if row[k] is None else float(row[k]) for k in ("saga", "cancelamento")}


def status_atual(conn: psycopg.Connection[Any], nota_id: UUID) -> str | None:
    row = conn.execute("SELECT status FROM faturamento.notas_fiscais WHERE id = %s", (nota_id,)).fetchone()
    return None if row is None else str(row["status"])
