"""`nfe policy --stack dev|prod [--program DIR] [--preview] [--json]`: the CrossGuard pack, offline.

Exit status: 0 when no mandatory policy is violated, 1 when one is, 2 when the check could not be
made (the program failed, the policy config is invalid, or a policy crashed). With `--preview` the
program runs as a first `pulumi preview` sees it; a policy that reads a value unknown until deploy
is listed as an advisory "can't run during preview", as the Pulumi CLI reports it, and does not
fail the check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_CLEAN, EXIT_VIOLATIONS, EXIT_CANNOT_CHECK = 0, 1, 2
COLUMNS = ("policy", "level", "resource", "message")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "policy", help="check a stack against the policy pack in policies/, offline (Pulumi mocks)"
    )
    parser.add_argument("--stack", required=True, help="stack name: dev or prod (reads Pulumi.<stack>.yaml)")
    parser.add_argument(
        "--program",
        type=Path,
        default=None,
        help="Pulumi program folder, run in its own interpreter with its own modules (default: this project)",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="run the program as a first `pulumi preview` sees it: ids and computed outputs unknown",
    )
    parser.add_argument(
        "--json", action="store_true", help='print {"stack": ..., "preview": ..., "violations": [...]} only'
    )
    parser.set_defaults(func=run)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from nfe.mockrun import ProgramError
    from nfe.policy_runner import PROJECT_DIR, PolicyConfigError, PolicyRunError, check_program

    program = args.program or PROJECT_DIR
    try:
        report = check_program(program, args.stack, preview=args.preview)
    except (ProgramError, PolicyConfigError, PolicyRunError) as exc:
        print(f"nfe policy: {args.stack}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    for warning in report.warnings:
        print(f"nfe policy: warning: {warning}", file=sys.stderr)

    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        if report.violations:
            rows = [COLUMNS, *((v.policy, v.level, v.resource, v.message) for v in report.violations)]
            print(_table(rows))
        mandatory = len(report.mandatory)
        cannot_run = f", {len(report.cannot_run)} of them can't run during preview" if report.preview else ""
        print(
            f"stack {report.stack}{' (preview)' if report.preview else ''}: {report.resources} resources, "
            f"{report.policies} policies: {mandatory} mandatory and "
            f"{len(report.violations) - mandatory} advisory violation(s){cannot_run}"
        )
    return EXIT_VIOLATIONS if report.mandatory else EXIT_CLEAN
