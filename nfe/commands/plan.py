"""`nfe plan --stack dev|prod [--json]`: what a stack would create, offline (the program under mocks)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plan", help="run the Pulumi program under mocks and show the resources")
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help="print every resource with its inputs as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nfe.mockrun import ProgramError
    from nfe.plan import plan, render_tree, to_json

    try:
        result = plan(args.stack)
    except ProgramError as exc:
        print(f"nfe plan: {exc}", file=sys.stderr)
        return 2
    print(to_json(result) if args.json else render_tree(result))
    return 0
