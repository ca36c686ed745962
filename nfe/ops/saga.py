"""One nota's whole story, across both schemas and the DLQs, as a timeline.

Everything the saga leaves a time for: the nota's status changes, each outbox row (written, and
published or parked), each inbox row (the event applied by the other service's consumer), the
reservas (made, released), failures the consumers recorded, and any message about the nota still
in a DLQ. The nota's id is the correlation id of every event about it, and the outbox rows carry it
as `agregado_id`, so every step is found by it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from nfe.ops import dlq as dlqs
from nfe.ops.render import iso
from nfe.ops.target import Target, TargetError

# Which consumer applies the events each schema publishes: its inbox is in the other schema.
INBOX_OF = {"faturamento": "estoque", "estoque": "faturamento"}


def _steps(conn: Any, nota_id: UUID) -> tuple[dict[str, Any], list[tuple[datetime, str]]]:
    nota = conn.execute("SELECT * FROM faturamento.notas_fiscais WHERE id = %s", (nota_id,)).fetchone()
    if nota is None:
        raise LookupError(f"no nota {nota_id} in faturamento.notas_fiscais")
    steps: list[tuple[datetime, str]] = [(nota["criada_em"], "nota PENDING (created)")]
    if nota["confirmada_em"]:
        steps.append((nota["confirmada_em"], "nota CONFIRMADA"))
    if nota["erro_timestamp"]:
        steps.append(
            (nota["erro_timestamp"], f"estoque refused the reservation: {nota['erro_codigo']}: {nota['erro_mensagem']}")
        )
    if nota["status"] == "ERRO_ESTOQUE":
        steps.append((nota["atualizada_em"], "nota ERRO_ESTOQUE (compensated)"))
    if nota["cancelamento_solicitado_em"]:
        steps.append((nota["cancelamento_solicitado_em"], "cancelation requested"))
    if nota["cancelada_em"]:
        steps.append((nota["cancelada_em"], "nota CANCELADA"))
    for schema, inbox in INBOX_OF.items():
        rows = conn.execute(
            f"SELECT o.id, o.tipo, o.criado_em, o.publicado_em, o.estacionado, o.ultimo_erro, o.tentativas, "
            f"m.processada_em FROM {schema}.eventos_outbox o "
            f"LEFT JOIN {inbox}.mensagens_processadas m ON m.evento_id = o.id "
            "WHERE o.agregado_id = %s ORDER BY o.criado_em",
            (nota_id,),
        ).fetchall()
        for r in rows:
            short = str(r["id"])[:8]
            steps.append((r["criado_em"], f"{schema} outbox: {r['tipo']} {short} written"))
            if r["publicado_em"]:
                steps.append((r["publicado_em"], f"{r['tipo']} {short} published to the bus"))
            elif r["estacionado"]:
                steps.append((r["criado_em"], f"{r['tipo']} {short} PARKED: {r['ultimo_erro']}"))
            elif r["tentativas"]:
                steps.append((r["criado_em"], f"{r['tipo']} {short} not yet published: {r['ultimo_erro']}"))
            else:
                steps.append((r["criado_em"], f"{r['tipo']} {short} waiting for the publisher"))
            if r["processada_em"]:
                steps.append((r["processada_em"], f"{inbox} consumer applied {r['tipo']} {short} (inbox)"))
    for r in conn.execute(
        "SELECT r.produto_id, r.quantidade, r.criada_em, r.liberada_em, p.sku FROM estoque.reservas r "
        "LEFT JOIN estoque.produtos p ON p.id = r.produto_id WHERE r.nota_fiscal_id = %s ORDER BY r.criada_em",
        (nota_id,),
    ):
        what = f"{r['quantidade']} x {r['sku'] or r['produto_id']}"
        steps.append((r["criada_em"], f"reserva made: {what}"))
        if r["liberada_em"]:
            steps.append((r["liberada_em"], f"reserva released: {what}"))
    for schema in INBOX_OF:
        for r in conn.execute(
            f"SELECT mensagem_id, fila, tipo, recebimentos, motivo, primeira_falha_em, ultima_falha_em, desistiu "
            f"FROM {schema}.mensagens_falhas WHERE nota_fiscal_id = %s",
            (nota_id,),
        ):
            gave_up = ", gave up (DLQ)" if r["desistiu"] else ""
            steps.append(
                (
                    r["ultima_falha_em"],
                    f"{schema} consumer failed {r['tipo'] or 'a message'} from {r['fila']} "
                    f"({r['recebimentos']} receive(s){gave_up}): {r['motivo']}",
                )
            )
    conn.rollback()
    return nota, steps


def show(target: Target, conn: Any, nota_id: str, read_dlqs: bool = True) -> dict[str, Any]:
    try:
        wanted = UUID(nota_id)
    except ValueError:
        raise TargetError(f"{nota_id!r} is not a nota id (a UUID)") from None
    nota, steps = _steps(conn, wanted)
    in_dlq = []
    if read_dlqs:
        for dlq in target.dlqs:
            for message in dlqs.show(target, dlq, 1000, conn):
                if message["notaId"] == str(wanted):
                    in_dlq.append({**message, "queue": dlq.name})
    timeline = [{"at": iso(at), "what": what} for at, what in sorted(steps, key=lambda s: s[0])]
    for message in in_dlq:
        timeline.append(
            {
                "at": message["firstFailedAt"] or message["sentAt"],
                "what": f"IN DLQ {message['queue']}: {message['eventType']} message {message['messageId']} "
                f"({message['receiveCount']} receive(s)): {message['reason']}",
            }
        )
    timeline.sort(key=lambda s: s["at"] or "")
    return {"notaId": str(wanted), "status": nota["status"], "timeline": timeline, "inDlq": len(in_dlq)}
