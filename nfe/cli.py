"""The project's command line: `nfe <command>`.

Each command lives in its own module under `nfe/commands/` exposing `register(subparsers)`; the
module is imported only to build the parser, and heavy imports (pulumi, boto3) stay inside the
command functions so `nfe migrate` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# One line per command module; order is the order of `nfe --help`.
COMMAND_MODULES = [
    "nfe.commands.migrate",
    "nfe.commands.build",
    "nfe.commands.plan",
    "nfe.commands.local",
    "nfe.commands.sefaz",
    "nfe.commands.demo",
    "nfe.commands.login",
    "nfe.commands.cost",
    "nfe.commands.policy",
    "nfe.commands.schemas",
    "nfe.commands.openapi",
    "nfe.commands.ops",
    "nfe.commands.fiscal",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nfe", description="NF-e serverless saga: tools for the project")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
