"""Faturamento's SQL, and nothing else: functions of a connection inside the caller's unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from functions.faturamento.models import NotaIn
from functions.fiscal.limits import PRAZO_CANCELAMENTO

Row = dict[str, Any]
_NOTA_COLUMNS = (
    "id, status, destinatario_documento, destinatario_nome, valor_total, criada_em, confirmada_em, "
    "cancelamento_solicitado_em, cancelada_em, erro_codigo, erro_mensagem, erro_timestamp, "
    "criada_por_sub, criada_por_email, cancelamento_solicitado_por_sub, cancelamento_solicitado_por_email, "
    "destinatario, natureza_operacao, serie, ambiente, numero, chave, emitida_em, "
    "protocolo, autorizada_em, sefaz_cstat, sefaz_motivo, sefaz_respondida_em, estoque_liberado_em, "
    "cancelamento_justificativa, cancelamento_protocolo, cancelamento_recusa_cstat, cancelamento_recusa_motivo, "
    "cancelamento_recusado_em, documento_autorizado, cancelamento_documento"
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


def solicitar_cancelamento(
    conn: psycopg.Connection[Any], nota_id: UUID, por_sub: str, por_email: str, justificativa: str
) -> Row | None:
    """Mark the cancelation as requested if the nota allows it; None when it does not (or is unknown).

    An AUTORIZADA nota within the 24 hours SEFAZ allows after its authorization (the cancelamento is
    SEFAZ's event), or a CONFIRMADA one without chave (from before the NF-e: cancelled here alone). A
    CONFIRMADA NF-e is with SEFAZ, which has not answered yet.
    """
    return conn.execute(
        "UPDATE faturamento.notas_fiscais SET cancelamento_solicitado_em = now(), atualizada_em = now(), "
        "cancelamento_solicitado_por_sub = %s, cancelamento_solicitado_por_email = %s, "
        "cancelamento_justificativa = %s, cancelamento_recusa_cstat = NULL, cancelamento_recusa_motivo = NULL, "
        "cancelamento_recusado_em = NULL "
        "WHERE id = %s AND cancelamento_solicitado_em IS NULL AND ("
        " (status = 'AUTORIZADA' AND autorizada_em + %s > now())"
        " OR (status = 'CONFIRMADA' AND chave IS NULL)) "
        f"RETURNING {_NOTA_COLUMNS}",
        (por_sub, por_email, justificativa, nota_id, PRAZO_CANCELAMENTO),
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
        "SELECT id, status, serie, numero, chave, ambiente, xml, documento_autorizado "
        "FROM faturamento.notas_fiscais WHERE id = %s",
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
    """A nota from before the NF-e (no chave) is cancelled here alone, once its stock is back."""
    cur = conn.execute(
        "UPDATE faturamento.notas_fiscais SET status = 'CANCELADA', cancelada_em = now(), atualizada_em = now() "
        "WHERE id = %s AND status = 'CONFIRMADA' AND chave IS NULL AND cancelamento_solicitado_em IS NOT NULL",
        (nota_id,),
    )
    return cur.rowcount == 1


def cancelar_na_sefaz(
    conn: psycopg.Connection[Any], nota_id: UUID, chave: str, protocolo: str, registrado_em: datetime, documento: str
) -> Row | None:
    """AUTORIZADA -> CANCELADA: SEFAZ registered the cancelamento. The row, for the event that has
    Estoque release the stock; None when the answer does not fit. SEFAZ's record wins even when no
    cancelamento is pending here (a redelivered request SEFAZ accepted after refusing an earlier one):
    the NF-e is cancelled there, so the goods may come back."""
    return conn.execute(
        "UPDATE faturamento.notas_fiscais SET status = 'CANCELADA', cancelada_em = %s, cancelamento_protocolo = %s, "
        "cancelamento_documento = %s, atualizada_em = now() "
        "WHERE id = %s AND chave = %s AND status = 'AUTORIZADA' "
        f"RETURNING {_NOTA_COLUMNS}",
        (registrado_em, protocolo, documento, nota_id, chave),
    ).fetchone()


def recusar_cancelamento(
    conn: psycopg.Connection[Any], nota_id: UUID, chave: str, c_stat: int, motivo: str, quando: datetime
) -> bool:
    """SEFAZ refused the cancelamento: the nota stays AUTORIZADA, says why, and may be asked again."""
    cur = conn.execute(
        "UPDATE faturamento.notas_fiscais SET cancelamento_solicitado_em = NULL, "
        "cancelamento_solicitado_por_sub = NULL, cancelamento_solicitado_por_email = NULL, "
        "cancelamento_recusa_cstat = %s, cancelamento_recusa_motivo = %s, "
        "cancelamento_recusado_em = %s, atualizada_em = now() "
        "WHERE id = %s AND chave = %s AND status = 'AUTORIZADA' AND cancelamento_solicitado_em IS NOT NULL",
        (c_stat, motivo, quando, nota_id, chave),
    )
    return cur.rowcount == 1


def registrar_inutilizacao(conn: psycopg.Connection[Any], inutilizacao: dict[str, Any]) -> bool:
    """Record a range SEFAZ inutilizou; False when it was recorded before (the same range again)."""
    cur = conn.execute(
        "INSERT INTO faturamento.inutilizacoes (serie, ambiente, numero_inicial, numero_final, justificativa, "
        "protocolo, homologada_em, documento) VALUES (%(serie)s, %(ambiente)s, %(numero_inicial)s, "
        "%(numero_final)s, %(justificativa)s, %(protocolo)s, %(homologada_em)s, %(documento)s) "
        "ON CONFLICT (serie, ambiente, numero_inicial, numero_final) DO NOTHING",
        inutilizacao,
    )
    return cur.rowcount == 1


def autorizar(
    conn: psycopg.Connection[Any],
    nota_id: UUID,
    chave: str,
    protocolo: str,
    autorizada_em: datetime,
    digest_value: str,
    documento: str,
) -> bool:
    """CONFIRMADA -> AUTORIZADA with SEFAZ's protocol; the chave must be the nota's (an answer about
    another NF-e matches no row)."""
    cur = conn.execute(
        "UPDATE faturamento.notas_fiscais SET status = 'AUTORIZADA', protocolo = %s, autorizada_em = %s, "
        "digest_value = %s, documento_autorizado = %s, sefaz_respondida_em = now(), atualizada_em = now() "
        "WHERE id = %s AND chave = %s AND status = 'CONFIRMADA'",
        (protocolo, autorizada_em, digest_value, documento, nota_id, chave),
    )
    return cur.rowcount == 1


def recusar(
    conn: psycopg.Connection[Any],
    nota_id: UUID,
    status: str,
    chave: str,
    c_stat: int,
    motivo: str,
    quando: datetime,
    *,
    protocolo: str | None = None,
    documento: str | None = None,
) -> bool:
    """CONFIRMADA -> REJEITADA or DENEGADA (with the denial's protocol and nfeProc), keeping SEFAZ's answer."""
    assert status in ("REJEITADA", "DENEGADA")
    cur = conn.execute(
        "UPDATE faturamento.notas_fiscais SET status = %s, sefaz_cstat = %s, sefaz_motivo = %s, "
        "sefaz_respondida_em = %s, protocolo = %s, documento_autorizado = %s, atualizada_em = now() "
        "WHERE id = %s AND chave = %s AND status = 'CONFIRMADA'",
        (status, c_stat, motivo, quando, protocolo, documento, nota_id, chave),
    )
    return cur.rowcount == 1


def registrar_estoque_liberado(conn: psycopg.Connection[Any], nota_id: UUID) -> bool:
    """Estoque released the reservas of an NF-e SEFAZ refused or cancelled. After a refusal, its
    ReservaLiberada may arrive before SEFAZ's answer reaches this service (both services consume the
    answer), so CONFIRMADA fits too."""
    cur = conn.execute(
        "UPDATE faturamento.notas_fiscais SET estoque_liberado_em = now(), atualizada_em = now() "
        "WHERE id = %s AND chave IS NOT NULL AND estoque_liberado_em IS NULL AND ("
        " (cancelamento_solicitado_em IS NULL AND status IN ('CONFIRMADA', 'REJEITADA', 'DENEGADA'))"
        " OR status = 'CANCELADA')",
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


def projetar_produto(conn: psycopg.Connection[Any], produto: dict[str, Any]) -> None:
    """Keep what Estoque announced about a produto (its fiscal fields) in Faturamento's projection."""
    conn.execute(
        "INSERT INTO faturamento.produtos_fiscais (produto_id, sku, ncm, unidade, origem) "
        "VALUES (%(produto_id)s, %(sku)s, %(ncm)s, %(unidade)s, %(origem)s) "
        "ON CONFLICT (produto_id) DO UPDATE SET sku = EXCLUDED.sku, ncm = EXCLUDED.ncm, "
        "unidade = EXCLUDED.unidade, origem = EXCLUDED.origem, atualizado_em = now()",
        produto,
    )


def produtos_fiscais(conn: psycopg.Connection[Any], produto_ids: list[UUID]) -> dict[UUID, Row]:
    """The projection's rows for these produtos (those Estoque announced so far)."""
    return {
        row["produto_id"]: row
        for row in conn.execute(
            "SELECT produto_id, sku, ncm, unidade, origem FROM faturamento.produtos_fiscais WHERE produto_id = ANY(%s)",
            (produto_ids,),
        )
    }
