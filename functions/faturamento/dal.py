"""Faturamento's SQL, and nothing else: functions of a connection inside the caller's unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from functions.faturamento.models import NotaIn

Row = dict[str, Any]
_NOTA_COLUMNS = (
    "id, status, destinatario_documento, destinatario_nome, valor_total, criada_em, confirmada_em, "
    "cancelamento_solicitado_em, cancelada_em, erro_codigo, erro_mensagem, erro_timestamp, "
    "criada_por_sub, criada_por_email, cancelamento_solicitado_por_sub, cancelamento_solicitado_por_email, "
    "destinatario, natureza_operacao, serie, ambiente, numero, chave, emitida_em"
)
_ITEM_COLUMNS = (
    "nota_fiscal_id, produto_id, quantidade, valor_unitario, cfop, codigo, descricao, ncm, unidade, origem, gtin"
)


def inserir_nota(
    conn: psycopg.Connection[Any], nota: NotaIn, por_sub: str, por_email: str, serie: int, ambiente: int
) -> Row:
    destinatario = nota.destinatario
    row = conn.execute(
        "INSERT INTO faturamento.notas_fiscais (destinatario_documento, destinatario_nome, destinatario, "
        "natureza_operacao, serie, ambiente, valor_total, criada_por_sub, criada_por_email) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_NOTA_COLUMNS}",
        (
            destinatario.documento,
            destinatario.nome,
            Jsonb(destinatario.model_dump(mode="json", by_alias=True, exclude_none=True)),
            nota.natureza_operacao,
            serie,
            ambiente,
            nota.valor_total(),
            por_sub,
            por_email,
        ),
    ).fetchone()
    assert row is not None
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO faturamento.itens_nota (nota_fiscal_id, produto_id, quantidade, valor_unitario, cfop, "
            "posicao) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (row["id"], item.produto_id, item.quantidade, item.valor_unitario, item.cfop, position)
                for position, item in enumerate(nota.items)
            ],
        )
    return row


def obter_nota(conn: psycopg.Connection[Any], nota_id: UUID) -> Row | None:
    return conn.execute(f"SELECT {_NOTA_COLUMNS} FROM faturamento.notas_fiscais WHERE id = %s", (nota_id,)).fetchone()


def listar_notas(
    conn: psycopg.Connection[Any],
    status: str | None,
    limit: int,
    after: tuple[datetime, UUID] | None,
    serie: int | None = None,
    numero_de: int | None = None,
    numero_ate: int | None = None,
) -> list[Row]:
    """Newest first; `after` is the (criada_em, id) of the last row of the previous page."""
    conditions: list[str] = []
    params: list[Any] = []
    for condition, value in (
        ("status = %s", status),
        ("serie = %s", serie),
        ("numero >= %s", numero_de),
        ("numero <= %s", numero_ate),
    ):
        if value is not None:
            conditions.append(condition)
            params.append(value)
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
        f"SELECT {_ITEM_COLUMNS} FROM faturamento.itens_nota "
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


def bloquear_para_emissao(conn: psycopg.Connection[Any], nota_id: UUID) -> Row | None:
    """The PENDING nota, locked until the caller's transaction ends; None in any other status."""
    return conn.execute(
        f"SELECT {_NOTA_COLUMNS} FROM faturamento.notas_fiscais WHERE id = %s AND status = 'PENDING' FOR UPDATE",
        (nota_id,),
    ).fetchone()


def proximo_numero(conn: psycopg.Connection[Any], serie: int) -> int:
    """The série's next número, gapless: the counter row stays locked until the caller's transaction
    ends, so concurrent confirmations queue on it, and a rollback gives the número back."""
    row = conn.execute(
        "INSERT INTO faturamento.numeracao AS n (serie, ultimo_numero) VALUES (%s, 1) "
        "ON CONFLICT (serie) DO UPDATE SET ultimo_numero = n.ultimo_numero + 1 RETURNING ultimo_numero",
        (serie,),
    ).fetchone()
    assert row is not None
    return int(row["ultimo_numero"])


def confirmar_com_documento(
    conn: psycopg.Connection[Any],
    nota_id: UUID,
    numero: int,
    chave: str,
    emitida_em: datetime,
    xml: str,
    itens: list[dict[str, Any]],
) -> bool:
    """CONFIRMADA with its número, chave and XML, and each item's fiscal snapshot and CFOP."""
    cur = conn.execute(
        "UPDATE faturamento.notas_fiscais SET status = 'CONFIRMADA', confirmada_em = now(), atualizada_em = now(), "
        "numero = %s, chave = %s, emitida_em = %s, xml = %s WHERE id = %s AND status = 'PENDING'",
        (numero, chave, emitida_em, xml, nota_id),
    )
    if cur.rowcount != 1:
        return False
    with conn.cursor() as items:
        items.executemany(
            "UPDATE faturamento.itens_nota SET cfop = %(cfop)s, codigo = %(codigo)s, descricao = %(descricao)s, "
            "ncm = %(ncm)s, unidade = %(unidade)s, origem = %(origem)s, gtin = %(gtin)s "
            "WHERE nota_fiscal_id = %(nota_fiscal_id)s AND produto_id = %(produto_id)s",
            [{**item, "nota_fiscal_id": nota_id} for item in itens],
        )
    return True


def documento(conn: psycopg.Connection[Any], nota_id: UUID) -> Row | None:
    """What the document routes need: the XML (null before the número) and the names to file it under."""
    return conn.execute(
        "SELECT id, status, serie, numero, chave, ambiente, xml FROM faturamento.notas_fiscais WHERE id = %s",
        (nota_id,),
    ).fetchone()


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
