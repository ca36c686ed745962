"""Throughput: completed sagas per second, sustained, beside pgbench on the same server.

N client threads (a closed loop: each posts a nota, waits until it is terminal, posts the next)
keep N sagas in flight for the whole run; a saga counts when its AUTORIZADA commit falls inside
the run (SEFAZ is local mode's emulator at its default delay; the SEFAZ function's reserved
concurrency, 4, bounds how many notas are with SEFAZ at once). The database bound is
`pgbench TPS / transactions per saga`; the ratio is how much of it local mode reaches.

Transactions per saga are counted from the code path (SAGA_TRANSACTIONS) and measured: the
delta of pg_stat_database.xact_commit of the run's database over the run, divided by the sagas.
Backends publish that counter lazily (up to 10 s after going idle), so the run has a database of
its own, the baseline is read before any handler has connected, and the final figure after the
`nfe local` process has exited, which makes every backend flush. The benchmark's own reads are
rolled back or come from another database, so they never count.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench import cpu
from bench.harness import (
    BIG_STOCK,
    LocalProcess,
    Log,
    NotaWatcher,
    Postgres,
    database_name,
    median,
    nota_body,
    parse_float,
    say,
)
from nfe.local.fiscal_demo import PRODUTO_FISCAL

# The transactions one saga commits on the eager path, in order. The scheduled publisher finds
# nothing to send when eager publishing works, and its empty runs roll back.
SAGA_TRANSACTIONS = (
    "faturamento-api: POST /api/v1/notas commits the nota, its items and the NotaFiscalCriada outbox row",
    "faturamento-api: eager relay claims that row, calls PutEvents, marks it published",
    "estoque-consumer: processed mark, stock locked and decremented, reserva, ReservaConfirmada outbox row",
    "estoque-consumer: eager relay of ReservaConfirmada",
    "faturamento-consumer: processed mark, número allocated, CONFIRMADA with chave and XML, NotaFiscalEmitida "
    "outbox row",
    "faturamento-consumer: eager relay of NotaFiscalEmitida",
    # sefaz-autorizador has no database: it signs, calls SEFAZ and puts the answer on the bus itself.
    "faturamento-consumer: processed mark and the AUTORIZADA transition",
)
PRODUTOS = 10
WINDOWS = 6


@dataclass
class LoadResult:
    started: datetime
    seconds: float
    sagas: int
    confirmed_in_run: int
    statuses: Counter[str]
    window_rates: list[float]

    @property
    def sagas_per_second(self) -> float:
        return self.confirmed_in_run / self.seconds

    def cpu_ms_per_saga(self, cpu_ms: dict[str, float]) -> dict[str, float]:
        """A window's CPU split (cpu.split) per saga posted in it."""
        return {key: round(value / self.sagas, 2) for key, value in cpu_ms.items()} if self.sagas else {}


def _point(clients: int, load: LoadResult, per_saga: dict[str, float]) -> dict[str, Any]:
    """One entry of `byClients`: a closed-loop run's rate and what each of its sagas cost."""
    return {
        "clients": clients,
        "seconds": load.seconds,
        "sagasPerSecond": round(load.sagas_per_second, 2),
        "cpuMsPerSaga": round(sum(per_saga.values()), 2),
        "cpuMsPerSagaBy": per_saga,
    }


def _commits(pg: Postgres, dbname: str) -> int:
    """xact_commit of `dbname`, read from another database once its backends are gone and flushed."""
    with psycopg.connect(pg.admin_url, autocommit=True) as conn:
        deadline = time.monotonic() + 30
        previous = None
        while True:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = %s), "
                "(SELECT xact_commit FROM pg_stat_database WHERE datname = %s)",
                (dbname, dbname),
            ).fetchone()
            assert row is not None
            backends, commits = int(row[0]), int(row[1])
            # A backend flushes its counters as it exits, a moment after it leaves pg_stat_activity.
            if backends == 0 and commits == previous:
                return commits
            if time.monotonic() > deadline:
                raise RuntimeError(f"{dbname}: {backends} backends still connected")
            previous = commits if backends == 0 else None
            time.sleep(0.1)


def _insert_produtos(database_url: str, count: int) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "INSERT INTO estoque.produtos (sku, nome, quantidade, ncm, unidade, origem) "
            "SELECT 'TPUT-' || g || '-' || %s, 'Parafuso 6mm', %s, %s, %s, %s FROM generate_series(1, %s) g "
            "RETURNING id::text",
            (
                uuid.uuid4().hex[:8],
                BIG_STOCK,
                PRODUTO_FISCAL["ncm"],
                PRODUTO_FISCAL["unidade"],
                PRODUTO_FISCAL["origem"],
                count,
            ),
        ).fetchall()
    return [row[0] for row in rows]


def _load(local: LocalProcess, produtos: list[str], clients: int, seconds: float, log: Log) -> LoadResult:
    # Each client signs in once, before the window opens: the figures measure sagas, not sign-ins.
    apis = [local.client() for _ in range(clients)]
    # And one saga per client first, also outside the window: local mode now starts each function's
    # containers on demand, as Lambda does, and a cold container per function in the window would
    # make a short run measure start-ups (the earlier runs began with every function warm).
    warm = NotaWatcher(local.database_url)
    try:
        warming = [
            str(api.expect(201, "POST", "/api/v1/notas", nota_body(produtos[i % len(produtos)]))["id"])
            for i, api in enumerate(apis)
        ]
        if len(warm.wait(warming, 60)) != len(warming):
            raise RuntimeError("warm-up sagas not ended after 60 s")
    finally:
        warm.close()
    stop_at = time.monotonic() + seconds
    started = datetime.now(UTC)
    inflight: dict[str, threading.Event] = {}
    lock = threading.Lock()
    posted: list[str] = []
    errors: list[BaseException] = []
    stop_watching = threading.Event()

    def watch() -> None:
        watcher = NotaWatcher(local.database_url)
        try:
            while not stop_watching.is_set():
                with lock:
                    ids = list(inflight)
                for nota_id in watcher.terminal(ids):
                    with lock:
                        inflight.pop(nota_id).set()
                time.sleep(0.005)
        finally:
            watcher.close()

    def client(index: int) -> None:
        api = apis[index]
        try:
            i = 0
            while time.monotonic() < stop_at and not errors:
                done = threading.Event()
                nota_id = str(
                    api.expect(201, "POST", "/api/v1/notas", nota_body(produtos[(index + i) % len(produtos)]))["id"]
                )
                with lock:
                    inflight[nota_id] = done
                    posted.append(nota_id)
                if not done.wait(timeout=60):
                    raise RuntimeError(f"nota {nota_id} not at the end of its saga after 60 s")
                i += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            api.close()

    watcher_thread = threading.Thread(target=watch, daemon=True)
    watcher_thread.start()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    next_report = time.monotonic() + 10
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)
        if time.monotonic() >= next_report:
            next_report += 10
            elapsed = (datetime.now(UTC) - started).total_seconds()
            log(f"throughput: {elapsed:.0f}/{seconds:.0f} s, {len(posted)} notas posted")
    stop_watching.set()
    watcher_thread.join()
    if errors:
        raise RuntimeError(f"throughput load failed: {errors[0]!r}") from errors[0]

    watcher = NotaWatcher(local.database_url)
    try:
        times = watcher.completion_times(posted)
    finally:
        watcher.close()
    statuses = Counter(status for status, _ in times.values())
    statuses["PENDING"] += len(posted) - len(times)
    end = started + timedelta(seconds=seconds)
    confirmed = [at for status, at in times.values() if status == "AUTORIZADA"]
    width = seconds / WINDOWS
    windows = [0] * WINDOWS
    for at in confirmed:
        offset = (at - started).total_seconds()
        if 0 <= offset < seconds:
            windows[int(offset // width)] += 1
    return LoadResult(
        started=started,
        seconds=seconds,
        sagas=len(posted),
        confirmed_in_run=sum(1 for at in confirmed if started <= at < end),
        statuses=statuses,
        window_rates=[count / width for count in windows],
    )


def pgbench(pg: Postgres, clients: int, seconds: int, runs: int, scale: int, log: Log = say) -> list[float]:
    """TPS of pgbench's built-in TPC-B-like script on its own database of the same server."""
    from nfe.pgserver import find_bin_dir

    binary = str(find_bin_dir() / "pgbench")
    params = pg.connection_params()
    env = {
        **os.environ,
        "PGHOST": params.get("host", "127.0.0.1"),
        "PGPORT": params.get("port", "5432"),
        "PGUSER": params.get("user", "postgres"),
    }
    if "password" in params:
        env["PGPASSWORD"] = params["password"]
    url = pg.create_database("bench_pgbench")
    dbname = database_name(url)
    try:
        subprocess.run(
            [binary, "-i", "-q", "-s", str(scale), dbname], env=env, check=True, capture_output=True, text=True
        )
        results = []
        for run_number in range(1, runs + 1):
            out = subprocess.run(
                [
                    binary,
                    "-n",
                    "-c",
                    str(clients),
                    "-j",
                    str(min(clients, os.cpu_count() or 1)),
                    "-T",
                    str(seconds),
                    dbname,
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results.append(parse_float(r"tps = ([0-9.]+)", out))
            log(f"pgbench: run {run_number}/{runs}: {results[-1]:.0f} TPS ({clients} clients, {seconds} s)")
        return results
    finally:
        pg.drop_database(url)


def sweep(pg: Postgres, client_counts: Sequence[int], seconds: float, log: Log = say) -> list[dict[str, Any]]:
    """Shorter closed-loop runs at each client count, on a system and database of their own (so
    the main run's figures and transaction count are untouched): where throughput peaks, and how
    each saga's CPU grows with the sagas in flight."""
    database_url = pg.create_database("bench_sweep")
    local = LocalProcess.start(database_url)
    points = []
    try:
        produtos = _insert_produtos(database_url, PRODUTOS)
        for clients in client_counts:
            before = cpu.snapshot()
            load = _load(local, produtos, clients, seconds, log)
            point = _point(clients, load, load.cpu_ms_per_saga(cpu.split(before, cpu.snapshot(), local.process.pid)))
            log(
                f"throughput: sweep: {clients} client(s) for {seconds:g} s: {point['sagasPerSecond']:.1f} sagas/s, "
                f"{point['cpuMsPerSaga']} CPU ms per saga"
            )
            points.append(point)
    finally:
        local.stop()
        pg.drop_database(database_url)
    return points


def run(
    pg: Postgres,
    clients: int,
    seconds: float,
    pgbench_seconds: int,
    pgbench_runs: int,
    log: Log = say,
    sweep_clients: Sequence[int] = (),
    sweep_seconds: float = 15,
) -> tuple[dict[str, Any], dict[str, Any]]:
    database_url = pg.create_database("bench_throughput")
    dbname = database_name(database_url)
    local = LocalProcess.start(database_url)
    try:
        produtos = _insert_produtos(database_url, PRODUTOS)
        baseline = _commits(pg, dbname)
        log(f"throughput: {clients} clients for {seconds:g} s")
        before = cpu.snapshot()
        load = _load(local, produtos, clients, seconds, log)
        cpu_ms = cpu.split(before, cpu.snapshot(), local.process.pid)
    finally:
        local.stop()
    stats = local.stats()
    final = _commits(pg, dbname)
    pg.drop_database(database_url)
    points = sweep(pg, sweep_clients, sweep_seconds, log) if sweep_clients else []

    tps = pgbench(pg, clients, pgbench_seconds, pgbench_runs, scale=max(clients, 1), log=log)
    pgbench_tps = median(tps)
    sagas_per_second = load.sagas_per_second
    measured = (final - baseline) / load.sagas
    counted = len(SAGA_TRANSACTIONS)
    # How much of the database's own bound (pgbench TPS / transactions per saga) local mode reaches.
    ratio = sagas_per_second * measured / pgbench_tps
    log(
        f"throughput: {sagas_per_second:.1f} sagas/s; pgbench {pgbench_tps:.0f} TPS; "
        f"{measured:.2f} transactions/saga measured ({counted} counted); ratio {ratio:.3f}"
    )
    functions = stats.get("functions", {})
    per_invocation = {name: f["cpuMsPerInvocation"] for name, f in functions.items() if f["invocations"]}
    per_saga = load.cpu_ms_per_saga(cpu_ms)
    log(f"throughput: CPU ms per invocation {per_invocation}; CPU ms per saga {per_saga}")
    # Lambda's default sampling (nfe/local/sampling.py): the share of invocations that were traced.
    traced = {name: round(f["sampled"] / f["invocations"], 3) for name, f in functions.items() if f["invocations"]}
    log(f"throughput: share of invocations traced {traced}")
    figures = {
        "sagasPerSecond": round(sagas_per_second, 2),
        "pgbenchTps": round(pgbench_tps, 1),
        "transactionsPerSaga": round(measured, 2),
        "ratio": round(ratio, 4),
        "transactionsPerSagaCounted": counted,
        "transactionsPerSagaMeasured": round(measured, 2),
    }
    details = {
        "clients": clients,
        "seconds": seconds,
        "sagasPosted": load.sagas,
        "sagasConfirmedInRun": load.confirmed_in_run,
        "statuses": dict(load.statuses),
        "windowSagasPerSecond": [round(rate, 1) for rate in load.window_rates],
        "xactCommitDelta": final - baseline,
        "pgbenchRunsTps": [round(t, 1) for t in tps],
        "pgbenchSecondsPerRun": pgbench_seconds,
        "sagaTransactions": list(SAGA_TRANSACTIONS),
        "cpuMsPerInvocation": per_invocation,
        "cpuMsPerSaga": per_saga,
        "tracedShare": traced,
        "cpuMsInRun": cpu_ms,
        "functions": functions,
        "xray": stats.get("xray", {}),
    }
    if points:
        details["byClients"] = sorted([_point(clients, load, per_saga), *points], key=lambda point: point["clients"])
        best = max(details["byClients"], key=lambda point: point["sagasPerSecond"])
        figures["peakSagasPerSecond"], figures["peakClients"] = best["sagasPerSecond"], best["clients"]
        log(f"throughput: peak {best['sagasPerSecond']:.1f} sagas/s at {best['clients']} client(s)")
    return figures, details
