"""What every benchmark shares: the PostgreSQL server, `nfe local` processes, an HTTP client, statistics.

The system under test always runs as its own `nfe local` process, exactly as a developer starts it,
so the load generator's threads never share a GIL with the handlers they measure.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL

ROOT = Path(__file__).resolve().parents[1]
# Where a saga ends: SEFAZ's answer, a reservation that failed, a cancelation. CONFIRMADA is a step:
# the NF-e is numbered and with SEFAZ.
TERMINAL = ("AUTORIZADA", "REJEITADA", "DENEGADA", "ERRO_ESTOQUE", "CANCELADA")
# When a saga ended, per final status: AUTORIZADA's transaction sets sefaz_respondida_em to its now()
# (a refusal's holds SEFAZ's time instead, and its atualizada_em moves again when the stock comes back).
_ENDED_AT = (
    "CASE status WHEN 'AUTORIZADA' THEN sefaz_respondida_em WHEN 'CANCELADA' THEN cancelada_em ELSE atualizada_em END"
)
DESTINATARIO = DESTINATARIO_SP
# A demo user of local mode in faturamento and estoque: may create produtos and emit notas.
BENCH_USER = "admin@example.com"
# The largest initial stock the API accepts: no benchmark ever runs a product out of stock.
BIG_STOCK = 1_000_000_000

Log = Callable[[str], None]


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


# Statistics -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def ms(value: float) -> float:
    """Milliseconds rounded for the report: one decimal is below any figure's noise."""
    return round(value, 1)


def percentiles(values_ms: Sequence[float], *qs: int) -> dict[str, float]:
    return {f"p{q}": ms(percentile(values_ms, q)) for q in qs}


# PostgreSQL -------------------------------------------------------------------------------------


def with_database(url: str, dbname: str) -> str:
    params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    params["dbname"] = dbname
    return make_conninfo("", **params)


@dataclass
class Postgres:
    """The server every benchmark uses: a given one (superuser URL) or a throwaway one we own."""

    admin_url: str
    server: Any = None  # nfe.pgserver.PostgresServer when we started it

    @classmethod
    def start(cls, admin_url: str | None, log: Log = say) -> Postgres:
        if admin_url:
            return cls(admin_url)
        from nfe.pgserver import PostgresServer

        server = PostgresServer(log=lambda m: log(f"postgres: {m}")).start()
        return cls(server.url, server)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return with_database(self.admin_url, name)

    def drop_database(self, url: str) -> None:
        name = str(conninfo_to_dict(url)["dbname"])
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def version(self) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    def connection_params(self) -> dict[str, str]:
        return {k: str(v) for k, v in conninfo_to_dict(self.admin_url).items() if v is not None}


def database_name(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


# nfe local --------------------------------------------------------------------------------------


@dataclass
class LocalProcess:
    """One `nfe local` process on its own database, started exactly as a developer starts it."""

    process: subprocess.Popen[str]
    url: str
    database_url: str
    lines: list[str] = field(default_factory=list)
    state_file: Path | None = None
    _idp: Any = None  # the Cognito client sign-ins go through (boto3 clients are slow to build)
    _sign_in_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, database_url: str, *extra: str, timeout: float = 90) -> LocalProcess:
        import tempfile

        from nfe.pgserver import free_port

        # The state file says how to reach the emulated SEFAZ (its switches need the test A1).
        state_file = Path(tempfile.mkdtemp(prefix="nfe-bench-")) / "state.json"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nfe.cli",
                "local",
                "--port",
                str(free_port()),
                "--database-url",
                database_url,
                "--state-file",
                str(state_file),
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "POWERTOOLS_LOG_LEVEL": "ERROR"},
        )
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("nfe local ready: "):
                local = cls(process, line.split(": ", 1)[1].strip(), database_url, lines, state_file)
                # Keep draining output so the child never blocks on a full pipe.
                threading.Thread(target=local._drain, daemon=True).start()
                return local
        process.kill()
        process.wait()
        raise RuntimeError("nfe local did not become ready:\n" + "\n".join(lines))

    def _printed(self, pattern: str) -> re.Match[str]:
        for line in self.lines:
            found = re.search(pattern, line)
            if found:
                return found
        raise RuntimeError(f"nfe local printed no line matching {pattern!r}")

    def sign_in(self, email: str = BENCH_USER) -> str:
        """An ID token from the local user pool (InitiateAuth, as the console signs in)."""
        import boto3

        from nfe.local import cognito
        from nfe.local.emulator import LOCAL_CREDENTIALS, LOCAL_REGION

        client_id = self._printed(r"user pool: \S+, console client (\S+)").group(1)
        with self._sign_in_lock:
            if self._idp is None:
                endpoint = self._printed(r"aws emulator: (http://\S+)").group(1)
                self._idp = boto3.client(
                    "cognito-idp", endpoint_url=endpoint, region_name=LOCAL_REGION, **LOCAL_CREDENTIALS
                )
            return str(cognito.sign_in(self._idp, client_id, email)["IdToken"])

    def sefaz_switches(self, **patch: Any) -> dict[str, Any]:
        """The emulated SEFAZ's switches (`delayMs`, ...), changed by `patch` when given, over its admin
        endpoint (HTTPS with mutual TLS, docs/sefaz-emulator.md), as any client outside the process."""
        import ssl
        import urllib.request

        assert self.state_file is not None
        sefaz = json.loads(self.state_file.read_text())["sefaz"]
        context = ssl.create_default_context(cafile=sefaz["caFile"])
        context.load_cert_chain(sefaz["clientCert"], sefaz["clientKey"])
        request = urllib.request.Request(  # noqa: S310 (the emulator's URL from the state file)
            f"{sefaz['url']}/_emulator/switches",
            data=json.dumps(patch).encode() if patch else None,
            method="POST" if patch else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
            switches: dict[str, Any] = json.loads(response.read())
        return switches

    def client(self) -> ApiClient:
        """A client signed in once, before it sends anything: the figures hold no sign-in."""
        return ApiClient(self.url, token=self.sign_in())

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def stop(self, wait: bool = True) -> None:
        """SIGTERM, as Ctrl-C would; without `wait`, `reap_stopped()` collects the process later."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        if wait:
            self.reap()
        else:
            _stopping.append(self)

    def stats(self) -> dict[str, Any]:
        """What `nfe local` printed as it stopped: per function invocations, cold starts and CPU
        ms per invocation, and the X-Ray listener's summary (empty if it has not stopped)."""
        for line in reversed(self.lines):
            _, found, text = line.partition("nfe local: stats: ")
            if found:
                stats: dict[str, Any] = json.loads(text)
                return stats
        return {}

    def reap(self) -> None:
        import shutil

        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.state_file is not None:
            shutil.rmtree(self.state_file.parent, ignore_errors=True)


# Processes told to stop and not yet waited for: a clean stop of `nfe local` takes about 2 s (its
# pollers finish their long polls), time the next benchmark need not spend waiting.
_stopping: list[LocalProcess] = []


def reap_stopped() -> None:
    while _stopping:
        _stopping.pop().reap()


@contextmanager
def local_system(database_url: str, *extra: str) -> Iterator[LocalProcess]:
    """A system whose stop overlaps what comes next; its database may be dropped at once."""
    local = LocalProcess.start(database_url, *extra)
    try:
        yield local
    finally:
        local.stop(wait=False)


# HTTP -------------------------------------------------------------------------------------------


class ApiClient:
    """A keep-alive HTTP/1.1 connection to the local API (one per thread): the figures are the
    server's, not a new TCP handshake per request."""

    def __init__(self, base_url: str, timeout: float = 30, token: str | None = None) -> None:
        parts = urlsplit(base_url)
        # The ID token API Gateway's authorizer reads (local mode's gateway verifies it the same way).
        self.token = token
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token is not None:
            headers["Authorization"] = self.token
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, body=data, headers=headers)
                response = self._conn.getresponse()
                payload = response.read()
                return response.status, json.loads(payload) if payload else None
            except (http.client.HTTPException, ConnectionError):
                # The server may close an idle keep-alive connection; one fresh connection, then give up.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def expect(self, status: int, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        got, payload = self.call(method, path, body)
        if got != status:
            raise RuntimeError(f"{method} {path}: expected {status}, got {got}: {payload}")
        return payload

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def nota_body(produto_id: str, quantidade: int = 1) -> dict[str, Any]:
    return {
        "destinatario": DESTINATARIO,
        "items": [{"produtoId": produto_id, "quantidade": quantidade, "valorUnitario": "10.50"}],
    }


def create_produtos(api: ApiClient, count: int) -> list[str]:
    return [
        str(
            api.expect(
                201,
                "POST",
                "/api/v1/produtos",
                {
                    "sku": f"BENCH-{uuid.uuid4().hex[:12]}",
                    "nome": "Parafuso 6mm",
                    "quantidade": BIG_STOCK,
                    **PRODUTO_FISCAL,
                },
            )["id"]
        )
        for _ in range(count)
    ]


# Waiting on the database ------------------------------------------------------------------------


class NotaWatcher:
    """Reads nota statuses straight from PostgreSQL, never through the API under test.

    Each poll ends in a ROLLBACK, so the watcher adds nothing to pg_stat_database.xact_commit, the
    counter the throughput benchmark reads.
    """

    def __init__(self, database_url: str) -> None:
        self.conn = psycopg.connect(database_url, autocommit=False)

    def terminal(self, ids: Sequence[str]) -> dict[str, str]:
        """Status of those of `ids` that reached a terminal state."""
        if not ids:
            return {}
        rows = self.conn.execute(
            "SELECT id::text, status FROM faturamento.notas_fiscais WHERE id = ANY(%s::uuid[]) AND status = ANY(%s)",
            (list(ids), list(TERMINAL)),
        ).fetchall()
        self.conn.rollback()
        return {row[0]: row[1] for row in rows}

    def wait(self, ids: Sequence[str], timeout: float, interval: float = 0.002) -> dict[str, str]:
        """Poll until every id is terminal or the timeout passes; the statuses seen."""
        pending = list(ids)
        seen: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            seen.update(self.terminal(pending))
            pending = [i for i in pending if i not in seen]
            if pending:
                time.sleep(interval)
        return seen

    def completion_times(self, ids: Sequence[str]) -> dict[str, tuple[str, Any]]:
        """id -> (status, the final transition's DB timestamp) for every terminal nota among `ids`."""
        return {nota: (status, ended) for nota, (status, ended, _) in self.milestones(ids).items()}

    def milestones(self, ids: Sequence[str]) -> dict[str, tuple[str, Any, Any]]:
        """id -> (status, when the saga ended, when it was CONFIRMADA) for every terminal nota among `ids`."""
        rows = self.conn.execute(
            f"SELECT id::text, status, {_ENDED_AT}, confirmada_em FROM faturamento.notas_fiscais "
            "WHERE id = ANY(%s::uuid[]) AND status = ANY(%s)",
            (list(ids), list(TERMINAL)),
        ).fetchall()
        self.conn.rollback()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def close(self) -> None:
        self.conn.close()


def wait_until_quiet(database_url: str, timeout: float = 30) -> None:
    """Wait until no nota is PENDING or with SEFAZ and no outbox row waits: the previous benchmark's
    sagas are done."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM faturamento.notas_fiscais WHERE status IN ('PENDING', 'CONFIRMADA')) "
                "+ (SELECT count(*) FROM faturamento.eventos_outbox WHERE NOT publicado AND NOT estacionado) "
                "+ (SELECT count(*) FROM estoque.eventos_outbox WHERE NOT publicado AND NOT estacionado)"
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.05)
    raise RuntimeError("sagas still in flight after the wait")


def parse_float(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        raise ValueError(f"{pattern!r} not found in:\n{text}")
    return float(found.group(1))
