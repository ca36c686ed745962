"""SEFAZ from the operator's side: what waits for its answer, what it refused, what needs inutilização.

Everything comes from `faturamento.notas_fiscais`, which keeps SEFAZ's answers (V008): the SEFAZ
function has no database, so the notas are the record.
- Pending: CONFIRMADA notas with a chave are with SEFAZ (sent, waiting for a retry, or in its DLQ);
  their age counts from dhEmi (`emitida_em`), the same clock as the pending alarm's `EsperaAutorizacao`.
- Refusals: REJEITADA and DENEGADA notas whose answer (`sefaz_respondida_em`) falls in the window,
  counted per cStat with the latest motivo, so a cause shared by many notas shows as one line.
- Inutilização: SEFAZ keeps nothing of a rejected NF-e, so its número is a gap the emitente must
  inutilizar by the 10th day of the month after (Ajuste SINIEF 07/05, cláusula décima quarta;
  reference/nfe.md §2). Every REJEITADA nota's número is listed with that deadline, in the emitente's
  legal time, and the consecutive ones as ranges (one NFeInutilizacao4 request covers a range), but
  for those in an inutilização already recorded in `faturamento.inutilizacoes` (when the database has
  that table: the migration that records inutilizações comes after the one that rejects notas).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from nfe.ops.render import iso
from nfe.ops.replay import parse_time
from nfe.ops.target import TargetError

REFUSED = ("REJEITADA", "DENEGADA")
_DURATION = re.compile(r"^([0-9]+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The day of the next month by which a gap must be inutilizado.
INUTILIZACAO_DAY = 10


def parse_since(text: str, now: datetime) -> datetime:
    """`24h`, `90m`, `7d`, `2w` (that long before now), or a time as `nfe replay` takes it."""
    found = _DURATION.match(text.strip())
    if found:
        return now - timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    since = parse_time(text, now)
    if since > now:
        raise TargetError(f"--since {text!r} is in the future")
    return since


def legal_timezone(chave: str) -> timezone:
    """The emitente's legal time (its UF's, from the chave's cUF): where its calendar days begin."""
    from functions.faturamento.logic import BRASILIA_UTC_OFFSET_HOURS, UTC_OFFSET_HOURS
    from functions.fiscal.chave import parse_chave

    try:
        uf = parse_chave(chave).uf
    except (ValueError, KeyError):
        uf = ""
    return timezone(timedelta(hours=UTC_OFFSET_HOURS.get(uf, BRASILIA_UTC_OFFSET_HOURS)))


def inutilizacao_deadline(rejected_at: datetime, chave: str) -> date:
    """The last day to inutilizar a número rejected at `rejected_at`: the 10th of the following month,
    counted in the emitente's legal time (a rejection at 22:00 on 31 May in São Paulo is May's)."""
    local = rejected_at.astimezone(legal_timezone(chave)).date()
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return date(year, month, INUTILIZACAO_DAY)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


def pending(conn: Any, now: datetime, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(how many, the oldest `limit`): CONFIRMADA notas with a chave, oldest dhEmi first."""
    total = conn.execute(
        "SELECT count(*) AS n FROM faturamento.notas_fiscais WHERE status = 'CONFIRMADA' AND chave IS NOT NULL"
    ).fetchone()["n"]
    rows = conn.execute(
        "SELECT id, serie, numero, chave, emitida_em FROM faturamento.notas_fiscais "
        "WHERE status = 'CONFIRMADA' AND chave IS NOT NULL ORDER BY emitida_em, serie, numero LIMIT %s",
        (limit,),
    ).fetchall()
    return int(total), [
        {
            "notaId": str(r["id"]),
            "serie": r["serie"],
            "numero": r["numero"],
            "chave": r["chave"],
            "emitidaEm": iso(r["emitida_em"]),
            "ageSeconds": round(max((now - r["emitida_em"]).total_seconds(), 0.0), 1),
        }
        for r in rows
    ]


def refusals(conn: Any, window: Window) -> dict[str, list[dict[str, Any]]]:
    """Per status, one row per cStat answered in the window: how many notas, the latest motivo and when."""
    rows = conn.execute(
        "SELECT DISTINCT ON (status, sefaz_cstat) status, sefaz_cstat, sefaz_motivo, sefaz_respondida_em, "
        "count(*) OVER (PARTITION BY status, sefaz_cstat) AS n FROM faturamento.notas_fiscais "
        "WHERE status = ANY(%s) AND sefaz_respondida_em >= %s AND sefaz_respondida_em <= %s "
        "ORDER BY status, sefaz_cstat, sefaz_respondida_em DESC",
        (list(REFUSED), window.since, window.until),
    ).fetchall()
    result: dict[str, list[dict[str, Any]]] = {status: [] for status in REFUSED}
    for r in rows:
        result[r["status"]].append(
            {
                "cStat": r["sefaz_cstat"],
                "count": int(r["n"]),
                "latestMotivo": r["sefaz_motivo"],
                "latestAt": iso(r["sefaz_respondida_em"]),
            }
        )
    for found in result.values():
        found.sort(key=lambda row: (-row["count"], row["cStat"]))
    return result


def _ranges(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive números of one série with one deadline, merged: what one inutilização request covers."""
    ranges: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: (r["deadline"], r["serie"], r["numero"])):
        last = ranges[-1] if ranges else None
        if (
            last is not None
            and last["serie"] == row["serie"]
            and last["deadline"] == row["deadline"]
            and last["numeroFinal"] + 1 == row["numero"]
        ):
            last["numeroFinal"] = row["numero"]
            last["count"] += 1
            continue
        ranges.append(
            {
                "serie": row["serie"],
                "numeroInicial": row["numero"],
                "numeroFinal": row["numero"],
                "count": 1,
                "deadline": row["deadline"],
                "overdue": row["overdue"],
            }
        )
    return ranges


def awaiting_inutilizacao(conn: Any, now: datetime) -> list[dict[str, Any]]:
    """Every REJEITADA nota's número not yet inutilizado, with its deadline, the nearest deadline first."""
    recorded = conn.execute("SELECT to_regclass('faturamento.inutilizacoes') IS NOT NULL AS present").fetchone()
    not_inutilizado = (
        "AND NOT EXISTS (SELECT 1 FROM faturamento.inutilizacoes i WHERE i.serie = n.serie "
        "AND i.ambiente = n.ambiente AND n.numero BETWEEN i.numero_inicial AND i.numero_final) "
        if recorded["present"]
        else ""
    )
    rows = conn.execute(
        "SELECT n.id, n.serie, n.numero, n.chave, n.sefaz_cstat, n.sefaz_motivo, "
        "COALESCE(n.sefaz_respondida_em, n.atualizada_em) AS sefaz_respondida_em "
        f"FROM faturamento.notas_fiscais n WHERE n.status = 'REJEITADA' {not_inutilizado}"
        "ORDER BY 7, n.serie, n.numero"
    ).fetchall()
    result = []
    for r in rows:
        deadline = inutilizacao_deadline(r["sefaz_respondida_em"], r["chave"])
        today = now.astimezone(legal_timezone(r["chave"])).date()
        result.append(
            {
                "notaId": str(r["id"]),
                "serie": r["serie"],
                "numero": r["numero"],
                "chave": r["chave"],
                "cStat": r["sefaz_cstat"],
                "motivo": r["sefaz_motivo"],
                "rejeitadaEm": iso(r["sefaz_respondida_em"]),
                "deadline": deadline.isoformat(),
                "daysLeft": (deadline - today).days,
                "overdue": today > deadline,
            }
        )
    result.sort(key=lambda r: (r["deadline"], r["serie"], r["numero"]))
    return result


def status(conn: Any, since: str = "24h", limit: int = 50, now: datetime | None = None) -> dict[str, Any]:
    """`nfe fiscal status`'s whole answer (its --json shape). Times are the database's clock, the one
    every timestamp compared here was written with."""
    if limit < 1:
        raise TargetError("--limit must be at least 1")
    if now is None:
        now = conn.execute("SELECT now() AS now").fetchone()["now"]
    now = now.astimezone(UTC)
    window = Window(parse_since(since, now), now)
    count, oldest = pending(conn, now, limit)
    inutilizar = awaiting_inutilizacao(conn, now)
    answer = {
        "now": iso(now),
        "window": {"since": iso(window.since), "until": iso(window.until)},
        "pending": {"count": count, "oldestAgeSeconds": oldest[0]["ageSeconds"] if oldest else None, "notas": oldest},
        "refusals": refusals(conn, window),
        "inutilizacao": {
            "count": len(inutilizar),
            "overdue": sum(1 for r in inutilizar if r["overdue"]),
            "ranges": _ranges(inutilizar),
            "numeros": inutilizar[:limit],
        },
    }
    conn.rollback()
    return answer


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.1f}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def render(answer: dict[str, Any]) -> str:
    """The answer for a person: three sections, each a line and a table."""
    from nfe.ops.render import table

    p = answer["pending"]
    lines = [
        f"authorizations pending: {p['count']}" + (f", oldest {_age(p['oldestAgeSeconds'])}" if p["count"] else "")
    ]
    if p["notas"]:
        shown = [{**n, "age": _age(n["ageSeconds"])} for n in p["notas"]]
        lines.append(
            table(
                shown,
                [
                    ("serie", "SERIE"),
                    ("numero", "NUMERO"),
                    ("chave", "CHAVE"),
                    ("emitidaEm", "EMITIDA"),
                    ("age", "AGE"),
                ],
            )
        )
        if p["count"] > len(p["notas"]):
            lines.append(f"... and {p['count'] - len(p['notas'])} more (--limit)")
    window = answer["window"]
    lines.append("")
    lines.append(f"refusals since {window['since']}:")
    refused = [{"status": s, **row} for s in REFUSED for row in answer["refusals"][s]]
    if refused:
        lines.append(
            table(
                refused,
                [
                    ("status", "STATUS"),
                    ("cStat", "CSTAT"),
                    ("count", "NOTAS"),
                    ("latestAt", "LATEST"),
                    ("latestMotivo", "LATEST MOTIVO"),
                ],
            )
        )
    else:
        lines.append("none")
    inut = answer["inutilizacao"]
    lines.append("")
    overdue = f", {inut['overdue']} OVERDUE" if inut["overdue"] else ""
    lines.append(f"números awaiting inutilização: {inut['count']}{overdue}")
    if inut["ranges"]:
        ranges = [
            {
                **r,
                "numeros": str(r["numeroInicial"]) if r["count"] == 1 else f"{r['numeroInicial']}-{r['numeroFinal']}",
                "late": "OVERDUE" if r["overdue"] else "",
            }
            for r in inut["ranges"]
        ]
        lines.append(
            table(ranges, [("serie", "SERIE"), ("numeros", "NUMEROS"), ("deadline", "DEADLINE"), ("late", "")])
        )
    return "\n".join(lines)
