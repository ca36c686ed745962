"""docs/sefaz-emulator.md carries the rule table as rules.py has it, and the emulator stays
independent of the code it judges."""

from __future__ import annotations

import ast
from pathlib import Path

from nfe.local.sefaz import docs
from nfe.local.sefaz.rules import RULES

PACKAGE = Path(__file__).resolve().parents[1] / "nfe" / "local" / "sefaz"


def test_the_page_has_the_rule_table_as_generated() -> None:
    page = docs.PAGE.read_text(encoding="utf-8")
    assert docs.render(page) == page, "run `python -m nfe.local.sefaz.docs`"
    for rule in RULES:
        assert f"| `{rule.rule}` |" in page


def test_the_emulator_imports_nothing_from_functions() -> None:
    # It stands for SEFAZ: a check shared with the code under test would prove nothing.
    imported: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    assert imported, "the scan found no imports at all"
    assert "nfe.local.sefaz.rules" in imported
    assert not [name for name in imported if name == "functions" or name.startswith("functions.")]
    assert not [name for name in imported if name.startswith("nfe.") and not name.startswith("nfe.local.sefaz")]
