"""One nota's whole story, across both schemas and the DLQs, as a timeline.

Everything the saga leaves a time for: the nota's status changes, each outbox row (written, and
published or parked), each inbox row (the event applied by the other service's consumer), the
reservas (made, released), failures the consumers recorded, and any message about the nota still
in a DLQ. The nota's id is the correlation id of every event about it, and the outbox rows carry it
as `agregado_id`, so every step is found by it.

The SEFAZ steps: the NF-e's identity when it was numbered, its `NotaFiscalEmitida` (Faturamento's
outbox, to the SEFAZ function), SEFAZ's answer as each service applied it, the protocol or the refusal
(cStat, motivo) the nota keeps, and the end of a refusal's compensation. The SEFAZ function has no
database: its answers go on the bus with ids derived from the NotaFiscalEmitida they answer
(`answer_event_id`), which is how the services' inboxes are searched for them.
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
# Events whose consumer keeps no inbox: the SEFAZ function has no database.
NO_INBOX = {"NotaFiscalEmitida": "sefaz-autorizador"}
SEFAZ_ANSWERS = ("NotaFiscalAutorizada", "NotaFiscalRejeitada", "NotaFiscalDenegada")


def _sefaz_steps(conn: Any, nota: dict[str, Any], emitidas: list[UUID]) -> list[tuple[datetime, str]]:
    """SEFAZ's answer as each service applied it, and what the nota keeps of it."""
    from functions.sefaz.participant import answer_event_id
    from functions.shared.events import EventName

    steps: list[tuple[datetime, str]] = []
    answers = {answer_event_id(e, EventName(name)): (e, name) for e in emitidas for name in SEFAZ_ANSWERS}
    applied: dict[str, datetime] = {}
    for schema in INBOX_OF:
        for r in conn.execute(
            f"SELECT evento_id, tipo, processada_em FROM {schema}.mensagens_processadas WHERE evento_id = ANY(%s)",
            (list(answers),),
        ):
            answered, _ = answers[r["evento_id"]]
            what = f"{schema} consumer applied SEFAZ's {r['tipo']} {str(r['evento_id'])[:8]} "
            steps.append((r["processada_em"], what + f"(answer to NotaFiscalEmitida {str(answered)[:8]}; inbox)"))
            if schema == "faturamento":
                applied[r["tipo"]] = r["processada_em"]
    # Each answer is placed when Faturamento applied it; SEFAZ's own time (dhRecbto, on SEFAZ's clock and
    # to the second) is in the text, so the timeline's order stays the order things happened here.
    status = nota["status"]
    if nota["sefaz_cstat"] is None and nota["protocolo"] and nota["autorizada_em"]:
        # Authorized (and maybe cancelled since).
        when = applied.get("NotaFiscalAutorizada") or nota["sefaz_respondida_em"] or nota["autorizada_em"]
        steps.append(
            (
                when,
                f"SEFAZ authorized the NF-e: protocolo {nota['protocolo']} (dhRecbto {iso(nota['autorizada_em'])})",
            )
        )
        steps.append((when, "nota AUTORIZADA"))
    elif nota["sefaz_cstat"] is not None:
        denied = status == "DENEGADA"
        answered_at = nota["sefaz_respondida_em"] or nota["atualizada_em"]
        when = applied.get("NotaFiscalDenegada" if denied else "NotaFiscalRejeitada") or answered_at
        protocolo = f", protocolo {nota['protocolo']}" if nota["protocolo"] else ""
        steps.append(
            (
                when,
                f"SEFAZ {'denied' if denied else 'rejected'} the NF-e: cStat {nota['sefaz_cstat']} "
                f"{nota['sefaz_motivo']} (answered {iso(answered_at)}{protocolo})",
            )
        )
        consequence = "the número is consumed" if denied else "SEFAZ kept nothing"
        steps.append((when, f"nota {status} ({consequence}; Estoque releases the stock)"))
        if status == "REJEITADA":
            from nfe.ops.fiscal import inutilizacao_deadline

            deadline = inutilizacao_deadline(answered_at, nota["chave"])
            steps.append(
                (
                    when,
                    f"número {nota['numero']} of série {nota['serie']} awaits inutilização (by {deadline.isoformat()})",
                )
            )
    if nota["estoque_liberado_em"]:
        steps.append((nota["estoque_liberado_em"], "compensation finished: Estoque released the stock"))
    return steps


def sefaz_summary(nota: dict[str, Any]) -> dict[str, Any] | None:
    """The NF-e and SEFAZ's answer in one object (--json's `nfe`); None before the nota was numbered."""
    if not nota["chave"]:
        return None
    return {
        "serie": nota["serie"],
        "numero": nota["numero"],
        "chave": nota["chave"],
        "emitidaEm": iso(nota["emitida_em"]),
        "protocolo": nota["protocolo"],
        "autorizadaEm": iso(nota["autorizada_em"]),
        "cStat": nota["sefaz_cstat"],
        "motivo": nota["sefaz_motivo"],
        "respondidaEm": iso(nota["sefaz_respondida_em"]),
        "estoqueLiberadoEm": iso(nota["estoque_liberado_em"]),
    }


def _steps(conn: Any, nota_id: UUID) -> tuple[dict[str, Any], list[tuple[datetime, str]]]:
    nota = conn.execute("SELECT * FROM faturamento.notas_fiscais WHERE id = %s", (nota_id,)).fetchone()
    if nota is None:
        raise LookupError(f"no nota {nota_id} in faturamento.notas_fiscais")
    steps: list[tuple[datetime, str]] = [(nota["criada_em"], "nota PENDING (created)")]
    if nota["confirmada_em"]:
        steps.append((nota["confirmada_em"], "nota CONFIRMADA"))
        if nota["chave"]:
            steps.append(
                (
                    nota["confirmada_em"],
                    f"NF-e numbered: série {nota['serie']} número {nota['numero']}, chave {nota['chave']} "
                    f"(dhEmi {iso(nota['emitida_em'])})",
                )
            )
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
    emitidas: list[UUID] = []
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
            if r["tipo"] == "NotaFiscalEmitida":
                emitidas.append(r["id"])
            if r["publicado_em"]:
                to = f" (to {NO_INBOX[r['tipo']]})" if r["tipo"] in NO_INBOX else ""
                steps.append((r["publicado_em"], f"{r['tipo']} {short} published to the bus{to}"))
            elif r["estacionado"]:
                steps.append((r["criado_em"], f"{r['tipo']} {short} PARKED: {r['ultimo_erro']}"))
            elif r["tentativas"]:
                steps.append((r["criado_em"], f"{r['tipo']} {short} not yet published: {r['ultimo_erro']}"))
            else:
                steps.append((r["criado_em"], f"{r['tipo']} {short} waiting for the publisher"))
            if r["processada_em"]:
                steps.append((r["processada_em"], f"{inbox} consumer applied {r['tipo']} {short} (inbox)"))
    steps += _sefaz_steps(conn, nota, emitidas)
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


def _order(step: tuple[datetime, str]) -> tuple[datetime, int]:
    """Time, then within one transaction (one `now()`) the order a consumer works in: the event
    applied (its inbox row), the change it made, the outbox row announcing it."""
    at, what = step
    if " consumer applied " in what:
        return at, 0
    if any(what.startswith(f"{schema} outbox: ") for schema in INBOX_OF):
        return at, 2
    if what.endswith(" waiting for the publisher") or " PARKED: " in what or " not yet published: " in what:
        return at, 3  # what became of the row just written, told at its writing time
    return at, 1


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
    timeline = [{"at": iso(at), "what": what} for at, what in sorted(steps, key=_order)]
    for message in in_dlq:
        timeline.append(
            {
                "at": message["firstFailedAt"] or message["sentAt"],
                "what": f"IN DLQ {message['queue']}: {message['eventType']} message {message['messageId']} "
                f"({message['receiveCount']} receive(s)): {message['reason']}",
            }
        )
    timeline.sort(key=lambda s: s["at"] or "")
    return {
        "notaId": str(wanted),
        "status": nota["status"],
        "nfe": sefaz_summary(nota),
        "timeline": timeline,
        "inDlq": len(in_dlq),
    }
