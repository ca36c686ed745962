"""`nfe plan --stack dev|prod [--json] [--preview]`: what a stack would create, offline (the program under mocks).

`--json` gives each resource its inputs and `dependsOn`, the URNs it waits for (explicit
`depends_on` and the resources whose outputs it takes), so the deploy order can be read and tested.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plan", help="run the Pulumi program under mocks and show the resources")
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument(
        "--json", action="store_true", help="print every resource with its inputs and dependsOn (URNs) as JSON"
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="run as a first `pulumi preview`: ids and computed outputs unknown (shown as Pulumi's placeholder)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nfe.mockrun import ProgramError
    from nfe.plan import plan, render_tree, to_json

    try:
        result = plan(args.stack, preview=args.preview)
    except ProgramError as exc:
        print(f"nfe plan: {exc}", file=sys.stderr)
        return 2
    print(to_json(result) if args.json else render_tree(result))
    return 0
