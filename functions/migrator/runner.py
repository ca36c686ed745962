"""Versioned SQL migrations: `sql/V<number>__<name>.sql`, applied in order, each in its own transaction.

Runs from `nfe migrate` and from the migrator Lambda (whose zip carries `sql/` beside `functions/`).
A session-level advisory lock serialises concurrent runs; the applied set is read only after the
lock is held, so two runs at once apply each migration exactly once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

# Both the repository and the Lambda zip keep sql/ two levels above this file.
DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
# Arbitrary but fixed: every migrator of this project contends for the same key.
ADVISORY_LOCK_KEY = 0x4E46455F4D4947  # "NFE_MIG"
_FILE_PATTERN = re.compile(r"^V(\d{3,})__([a-z0-9_]+)\.sql$")

_HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str
    checksum: str


def discover(sql_dir: Path = DEFAULT_SQL_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named V<number>__<name>.sql")
        text = path.read_text(encoding="utf-8")
        migrations.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                path=path,
                sql=text,
                checksum=hashlib.sha256(text.encode()).hexdigest(),
            )
        )
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return sorted(migrations, key=lambda m: m.version)


def checksum_of_tree(sql_dir: Path = DEFAULT_SQL_DIR) -> str:
    """One digest of every migration; the Pulumi program re-runs the migrator when it changes."""
    digest = hashlib.sha256()
    for migration in discover(sql_dir):
        digest.update(f"{migration.version}:{migration.checksum}\n".encode())
    return digest.hexdigest()


def migrate(
    conninfo: str | psycopg.Connection,
    sql_dir: Path = DEFAULT_SQL_DIR,
    log: Callable[[str], None] = lambda _msg: None,
) -> list[int]:
    """Apply pending migrations; return the versions applied by this run."""
    migrations = discover(sql_dir)
    owns = not isinstance(conninfo, psycopg.Connection)
    conn = psycopg.connect(conninfo, autocommit=True) if isinstance(conninfo, str) else conninfo
    applied_now: list[int] = []
    try:
        conn.autocommit = True
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            conn.execute(_HISTORY_DDL)
            applied = {row[0]: row[1] for row in conn.execute("SELECT version, checksum FROM public.schema_migrations")}
            for migration in migrations:
                if migration.version in applied:
                    if applied[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"{migration.path.name} was edited after it was applied "
                            f"(recorded checksum {applied[migration.version][:12]}, "
                            f"file now {migration.checksum[:12]}); add a new migration instead"
                        )
                    continue
                log(f"applying {migration.path.name}")
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO public.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    finally:
        if owns:
            conn.close()
    if not applied_now:
        log("database is up to date")
    return applied_now
