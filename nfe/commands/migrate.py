"""`nfe migrate --database-url URL`: apply pending SQL migrations."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="apply pending SQL migrations from sql/")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL URL of the migrating (owner) user; default $DATABASE_URL",
    )
    parser.add_argument("--sql-dir", type=Path, default=None, help="migrations folder (default: sql/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.migrator.runner import DEFAULT_SQL_DIR, MigrationError, migrate

    if not args.database_url:
        print("nfe migrate: --database-url (or DATABASE_URL) is required", file=sys.stderr)
        return 2
    try:
        applied = migrate(args.database_url, args.sql_dir or DEFAULT_SQL_DIR, log=print)
    except MigrationError as exc:
        print(f"nfe migrate: {exc}", file=sys.stderr)
        return 1
    print(f"applied {len(applied)} migration(s)" + (f": {applied}" if applied else ""))
    return 0
