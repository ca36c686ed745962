"""The rule table of docs/sefaz-emulator.md, generated from rules.RULES.

`python -m nfe.local.sefaz.docs` rewrites the part of the page between the markers;
tests/test_sefaz_docs.py fails when the page and the table differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nfe.local.sefaz.rules import RULES

PAGE = Path(__file__).resolve().parents[3] / "docs" / "sefaz-emulator.md"
BEGIN = "<!-- rules:begin: generated from nfe/local/sefaz/rules.py by `python -m nfe.local.sefaz.docs` -->"
END = "<!-- rules:end -->"
SERVICE_NAMES = {
    "*": "every service",
    "autorizacao": "NFeAutorizacao4",
    "consulta": "NFeConsultaProtocolo4",
    "status": "NFeStatusServico4",
    "evento": "NFeRecepcaoEvento4",
    "inutilizacao": "NFeInutilizacao4",
}


def rule_table() -> str:
    lines = [
        "| # | service | rule | scope | cStat | answer | xMotivo |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, rule in enumerate(RULES, start=1):
        motivo = rule.xmotivo.replace("|", "\\|")
        service = SERVICE_NAMES[rule.service]
        lines.append(f"| {number} | {service} | `{rule.rule}` | {rule.scope} | {rule.cstat} | {rule.kind} | {motivo} |")
    return "\n".join(lines)


def render(page: str) -> str:
    head, found, rest = page.partition(BEGIN)
    if not found:
        raise ValueError(f"{PAGE} has no {BEGIN!r} marker")
    _, found, tail = rest.partition(END)
    if not found:
        raise ValueError(f"{PAGE} has no {END!r} marker")
    return f"{head}{BEGIN}\n{rule_table()}\n{END}{tail}"


def main() -> int:
    PAGE.write_text(render(PAGE.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the rule table ({len(RULES)} rows) into {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
