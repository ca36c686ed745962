"""`nfe fiscal numeracao`: every número of every série and its fate, and the gaps nothing explains.

The numbering is gapless by construction (a counter row per série, `faturamento.numeracao`, advanced in
the transaction that numbers a nota), so every número from 1 to the counter's last belongs to a nota or
to an inutilização SEFAZ homologated (`faturamento.inutilizacoes`). Each número's fate:

- autorizada, cancelada, denegada: the nota's status; SEFAZ keeps the NF-e under that número;
- pendente: a CONFIRMADA nota, sent to SEFAZ and not answered yet;
- inutilizada: inside a recorded inutilização (a rejected nota's número, or a número no nota took);
- a inutilizar: a REJEITADA nota's número no inutilização covers yet, with its deadline (the 10th of the
  month after the rejection, in the emitente's legal time: nfe/ops/fiscal.py `inutilizacao_deadline`),
  OVERDUE past it;
- lacuna: no nota and no inutilização: an unexplained gap.

Problems, which make the command exit 1: a lacuna, an overdue número, and an inutilização beyond the
counter's last número (the counter would hand those números to new notas, which SEFAZ refuses: 206).

One database numbers one emitente in one ambiente (the counter is per série alone, and a série's
números are unique across the notas), so notas and inutilizações are matched by série and número.
Consecutive números with one fate (and one protocol, or one deadline) are shown as one range.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nfe.ops.render import iso

# In the order a número travels: SEFAZ's final answers first, then what still waits, then the gaps.
FATES = ("autorizada", "cancelada", "denegada", "inutilizada", "pendente", "a inutilizar", "lacuna")

# Each número 1..last of each série with its fate, grouped into runs of one fate and one protocol
# (gaps and islands: within a run, número minus its rank is constant). An unknown status shows as itself.
_RUNS = """
WITH series AS (
    SELECT serie, ultimo_numero FROM faturamento.numeracao
    WHERE %(serie)s::smallint IS NULL OR serie = %(serie)s::smallint
), numeros AS (
    SELECT s.serie, g.numero, n.status, i.protocolo
    FROM series s
    CROSS JOIN LATERAL generate_series(1, s.ultimo_numero) AS g(numero)
    LEFT JOIN faturamento.notas_fiscais n ON n.serie = s.serie AND n.numero = g.numero
    LEFT JOIN LATERAL (
        SELECT i.protocolo FROM faturamento.inutilizacoes i
        WHERE i.serie = s.serie AND g.numero BETWEEN i.numero_inicial AND i.numero_final
        ORDER BY i.homologada_em LIMIT 1
    ) i ON true
), fates AS (
    SELECT serie, numero,
        CASE
            WHEN status = 'AUTORIZADA' THEN 'autorizada'
            WHEN status = 'CANCELADA' THEN 'cancelada'
            WHEN status = 'DENEGADA' THEN 'denegada'
            WHEN status = 'CONFIRMADA' THEN 'pendente'
            WHEN protocolo IS NOT NULL THEN 'inutilizada'
            WHEN status = 'REJEITADA' THEN 'a inutilizar'
            WHEN status IS NOT NULL THEN lower(status)
            ELSE 'lacuna'
        END AS fate,
        CASE WHEN status IN ('AUTORIZADA', 'CANCELADA', 'DENEGADA', 'CONFIRMADA') THEN NULL ELSE protocolo END
            AS protocolo
    FROM numeros
)
SELECT serie, fate, protocolo, min(numero) AS de, max(numero) AS ate, count(*) AS n
FROM (
    SELECT *, numero - row_number() OVER (PARTITION BY serie, fate, protocolo ORDER BY numero) AS run
    FROM fates
) f
GROUP BY serie, fate, protocolo, run
ORDER BY serie, de
"""

_BEYOND = """
SELECT i.serie, i.numero_inicial, i.numero_final, i.protocolo, COALESCE(c.ultimo_numero, 0) AS ultimo_numero
FROM faturamento.inutilizacoes i LEFT JOIN faturamento.numeracao c ON c.serie = i.serie
WHERE i.numero_final > COALESCE(c.ultimo_numero, 0) AND (%(serie)s::smallint IS NULL OR i.serie = %(serie)s::smallint)
ORDER BY i.serie, i.numero_inicial
"""


def _numeros(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def label(first: int, last: int) -> str:
    """`número 5` or `números 8-9`, for sentences."""
    return f"número {first}" if first == last else f"números {first}-{last}"


def _split_by_deadline(run: dict[str, Any], awaiting: dict[tuple[int, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """An `a inutilizar` run cut where the deadline changes (one NFeInutilizacao4 request per piece)."""
    pieces: list[dict[str, Any]] = []
    for numero in range(run["numeroInicial"], run["numeroFinal"] + 1):
        found = awaiting.get((run["serie"], numero), {})
        deadline = found.get("deadline")
        last = pieces[-1] if pieces else None
        if last is not None and last["deadline"] == deadline:
            last["numeroFinal"] = numero
            last["count"] += 1
            continue
        pieces.append(
            {
                **run,
                "numeroInicial": numero,
                "numeroFinal": numero,
                "count": 1,
                "deadline": deadline,
                "daysLeft": found.get("daysLeft"),
                "overdue": bool(found.get("overdue")),
            }
        )
    return pieces


def accounting(conn: Any, serie: int | None = None, now: datetime | None = None) -> dict[str, Any]:
    """`nfe fiscal numeracao`'s whole answer (its --json shape). Deadlines are counted from `now`, the
    database's clock by default (the one the rejections were written with)."""
    from nfe.ops.fiscal import awaiting_inutilizacao

    if now is None:
        now = conn.execute("SELECT now() AS now").fetchone()["now"]
    now = now.astimezone(UTC)
    params = {"serie": serie}
    counters = {
        r["serie"]: r["ultimo_numero"]
        for r in conn.execute(
            "SELECT serie, ultimo_numero FROM faturamento.numeracao "
            "WHERE %(serie)s::smallint IS NULL OR serie = %(serie)s::smallint ORDER BY serie",
            params,
        ).fetchall()
    }
    runs = conn.execute(_RUNS, params).fetchall()
    beyond = conn.execute(_BEYOND, params).fetchall()
    awaiting = {(r["serie"], r["numero"]): r for r in awaiting_inutilizacao(conn, now)}
    conn.rollback()

    series: dict[int, dict[str, Any]] = {}
    for number in sorted({*counters, *(b["serie"] for b in beyond)}):
        series[number] = {
            "serie": number,
            "ultimoNumero": counters.get(number, 0),
            "counts": dict.fromkeys(FATES, 0),
            "ranges": [],
            "gaps": 0,
            "overdue": 0,
            "beyondCounter": [],
        }
    for r in runs:
        entry = series[r["serie"]]
        run = {
            "serie": r["serie"],
            "numeroInicial": r["de"],
            "numeroFinal": r["ate"],
            "count": int(r["n"]),
            "fate": r["fate"],
            "protocolo": r["protocolo"],
            "deadline": None,
            "daysLeft": None,
            "overdue": False,
        }
        entry["counts"][r["fate"]] = entry["counts"].get(r["fate"], 0) + run["count"]
        pieces = _split_by_deadline(run, awaiting) if r["fate"] == "a inutilizar" else [run]
        for piece in pieces:
            del piece["serie"]
            entry["ranges"].append(piece)
        if r["fate"] == "lacuna":
            entry["gaps"] += run["count"]
        entry["overdue"] += sum(p["count"] for p in pieces if p["overdue"])
    for b in beyond:
        series[b["serie"]]["beyondCounter"].append(
            {"numeroInicial": b["numero_inicial"], "numeroFinal": b["numero_final"], "protocolo": b["protocolo"]}
        )

    problems = []
    for entry in series.values():
        s = entry["serie"]
        for r in entry["ranges"]:
            numeros = label(r["numeroInicial"], r["numeroFinal"])
            if r["fate"] == "lacuna":
                problems.append(f"série {s}: {numeros} unexplained: no nota and no inutilização (a gap)")
            elif r["overdue"]:
                problems.append(f"série {s}: {numeros} OVERDUE for inutilização (deadline {r['deadline']})")
        for b in entry["beyondCounter"]:
            problems.append(
                f"série {s}: {label(b['numeroInicial'], b['numeroFinal'])} inutilizado beyond the counter's last "
                f"número {entry['ultimoNumero']} (protocolo {b['protocolo']}): the next notas would take it and "
                "SEFAZ would refuse them (206)"
            )
    return {
        "now": iso(now),
        "series": list(series.values()),
        "gaps": sum(e["gaps"] for e in series.values()),
        "overdue": sum(e["overdue"] for e in series.values()),
        "problems": problems,
    }


def _detail(r: dict[str, Any]) -> str:
    if r["fate"] == "inutilizada":
        return f"protocolo {r['protocolo']}"
    if r["fate"] == "pendente":
        return "with SEFAZ, no answer yet"
    if r["fate"] == "a inutilizar":
        if r["deadline"] is None:
            return "deadline unknown"
        return f"by {r['deadline']}" + (", OVERDUE" if r["overdue"] else f" ({r['daysLeft']} days left)")
    if r["fate"] == "lacuna":
        return "GAP: no nota, no inutilização"
    return ""


def render(answer: dict[str, Any]) -> str:
    """The answer for a person: per série its last número, a table of ranges and the totals; then the
    problems, or a line saying there are none."""
    from nfe.ops.render import table

    lines: list[str] = []
    if not answer["series"]:
        lines.append("no série has numbered a nota yet")
    for entry in answer["series"]:
        if lines:
            lines.append("")
        lines.append(f"série {entry['serie']}: last número {entry['ultimoNumero']}")
        rows = [
            {"numeros": _numeros(r["numeroInicial"], r["numeroFinal"]), "fate": r["fate"], "detail": _detail(r)}
            for r in entry["ranges"]
        ]
        if rows:
            lines.append(table(rows, [("numeros", "NUMEROS"), ("fate", "FATE"), ("detail", "DETAIL")]))
        for b in entry["beyondCounter"]:
            lines.append(
                f"{_numeros(b['numeroInicial'], b['numeroFinal'])}  inutilizada  "
                f"protocolo {b['protocolo']}, BEYOND the counter"
            )
        totals = ", ".join(f"{n} {fate}" for fate, n in entry["counts"].items() if n)
        lines.append(f"totals: {totals}" if totals else "totals: none")
    lines.append("")
    if answer["problems"]:
        lines.append(f"{len(answer['problems'])} problem(s):")
        lines.extend(f"  {p}" for p in answer["problems"])
    else:
        lines.append("every número is accounted for: no gap, nothing overdue")
    return "\n".join(lines)


def exit_code(answer: dict[str, Any]) -> int:
    return 1 if answer["problems"] else 0


def lines(database_url: str, serie: int | None = None) -> list[str]:
    """The accounting as text lines, for whoever holds only a database URL (`nfe demo` prints it)."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(database_url, row_factory=dict_row, application_name="nfe-ops") as conn:
        return render(accounting(conn, serie)).splitlines()
