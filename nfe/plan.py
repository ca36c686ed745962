"""The offline plan: run the Pulumi program under mocks and show what a stack would create.

`nfe plan` is the stand-in for `pulumi preview` where there is no Pulumi CLI or cloud account. The
program runs with NFE_OFFLINE_PLAN=1: nothing is packaged and the CA bundle is not read.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nfe.build import OFFLINE_ENV, PROJECT_ROOT
from nfe.mockrun import PlanResult, ResourceRecord, run_program


@contextlib.contextmanager
def offline() -> Iterator[None]:
    previous = os.environ.get(OFFLINE_ENV)
    os.environ[OFFLINE_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(OFFLINE_ENV, None)
        else:
            os.environ[OFFLINE_ENV] = previous


def plan(
    stack: str, program_dir: Path = PROJECT_ROOT, config: dict[str, str] | None = None, *, preview: bool = False
) -> PlanResult:
    """Run the program for `stack` offline; raises nfe.mockrun.ProgramError when it fails.

    `preview` runs it as a first `pulumi preview` would: ids and computed outputs unknown.
    """
    # The program's own prints go to stderr, so `--json` output stays clean.
    with offline(), contextlib.redirect_stdout(sys.stderr):
        return run_program(program_dir, stack, config, preview=preview)


def counts_by_type(result: PlanResult) -> dict[str, int]:
    counter = Counter(r.type for r in result.resources if r.custom)
    return dict(sorted(counter.items()))


def _json_default(value: Any) -> Any:
    # Archives and assets (Lambda code) are shown by their path, as `pulumi preview --json` does.
    for attribute in ("path", "uri", "text"):
        if isinstance(getattr(value, attribute, None), str):
            return {attribute: getattr(value, attribute)}
    if hasattr(value, "assets"):
        return {"assets": sorted(value.assets)}
    return repr(value)


def to_json(result: PlanResult) -> str:
    document = {
        "stack": result.stack,
        "preview": result.preview,
        "resources": [r.as_json() for r in result.resources],
    }
    return json.dumps(document, indent=2, default=_json_default)


def render_tree(result: PlanResult) -> str:
    """Components as a tree; under each, how many resources of each type it declares directly."""
    by_urn = {r.urn: r for r in result.resources}
    children: dict[str | None, list[ResourceRecord]] = defaultdict(list)
    for record in result.resources:
        parent = record.parent if record.parent in by_urn else None
        children[parent].append(record)

    def subtree_size(urn: str) -> int:
        return sum(1 + subtree_size(c.urn) for c in children.get(urn, []))

    lines: list[str] = []
    custom_count = sum(1 for r in result.resources if r.custom)
    component_count = len(result.resources) - custom_count
    lines.append(f"{result.project}-{result.stack}: {custom_count} resources in {component_count} components")

    def render(urn: str | None, indent: str) -> None:
        kids = children.get(urn, [])
        components = [c for c in kids if not c.custom]
        types = Counter(c.type for c in kids if c.custom)
        entries: list[tuple[str, ResourceRecord | None]] = [(f"{t} x{n}", None) for t, n in sorted(types.items())] + [
            (f"{c.type} {c.name} ({subtree_size(c.urn)} resources)", c) for c in components
        ]
        for i, (text, component) in enumerate(entries):
            last = i == len(entries) - 1
            lines.append(f"{indent}{'└── ' if last else '├── '}{text}")
            if component is not None:
                render(component.urn, indent + ("    " if last else "│   "))

    render(None, "")
    lines.append("")
    lines.append("Resources by type:")
    counts = counts_by_type(result)
    width = max((len(t) for t in counts), default=0)
    for type_token, count in counts.items():
        lines.append(f"  {type_token:<{width}}  {count:>3}")
    lines.append(f"  {'total':<{width}}  {custom_count:>3}")
    return "\n".join(lines)
