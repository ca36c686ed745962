"""The machine a run happened on, the goals, and the markdown rendering of the results."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SAGA_P95_GOAL_MS = 1000
API_P95_C1_GOAL_MS = 50
COLD_START_GOAL_MS = 400
# The seed's own Lambda cold-start p95: a cold request (spawn to first response) must not exceed it.
COLD_REQUEST_GOAL_MS = 480
SAGAS_PER_SECOND_GOAL = 100
# POST p95 at concurrency 8 within this many times its p95 at concurrency 1.
CONCURRENCY_RATIO_GOAL = 3


def goal_figure(goal: dict[str, Any]) -> str:
    """A goal's figure with its unit: milliseconds unless the goal names another (throughput's sagas/s)."""
    return f"{goal['figureMs']:.1f} {goal.get('unit', 'ms')}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))} ({platform.system()} {platform.release()})"
    except OSError:
        pass
    return platform.platform()


def machine(postgres_version: str) -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ramGb": _ram_gb(),
        "os": _os_name(),
        "python": platform.python_version(),
        "postgresql": postgres_version,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        # Other work on the machine moves every figure; the load average says how much there was.
        "loadAverageAtStart": [round(x, 2) for x in os.getloadavg()],
    }


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of issue 8 with its figure and whether it was met."""
    checks: list[dict[str, Any]] = []
    if "sagaLatencyMs" in results:
        value = results["sagaLatencyMs"]["p95"]
        delay = results.get("details", {}).get("sagaEager", {}).get("sefazDelayMs")
        at = f", SEFAZ delay {delay} ms" if delay is not None else ""
        checks.append(
            {"goal": f"saga p95 < 1 s (eager, to AUTORIZADA{at})", "figureMs": value, "met": value < SAGA_P95_GOAL_MS}
        )
    if "apiLatencyMs" in results:
        for op in ("post", "get"):
            value = results["apiLatencyMs"][op]["c1"]["p95"]
            checks.append(
                {"goal": f"API {op.upper()} p95 < 50 ms at c1", "figureMs": value, "met": value < API_P95_C1_GOAL_MS}
            )
        post = results["apiLatencyMs"]["post"]
        bound = CONCURRENCY_RATIO_GOAL * post["c1"]["p95"]
        checks.append(
            {
                "goal": f"API POST p95 at c8 <= {CONCURRENCY_RATIO_GOAL}x its p95 at c1 ({bound:.1f} ms)",
                "figureMs": post["c8"]["p95"],
                "met": post["c8"]["p95"] <= bound,
            }
        )
    if "coldStartMs" in results:
        for name, value in results["coldStartMs"].items():
            if name != "python":
                checks.append(
                    {"goal": f"cold start {name} < 400 ms", "figureMs": value, "met": value < COLD_START_GOAL_MS}
                )
    for name, value in results.get("coldRequestMs", {}).items():
        if name != "python":
            checks.append(
                {"goal": f"cold request {name} <= 480 ms", "figureMs": value, "met": value <= COLD_REQUEST_GOAL_MS}
            )
    if "throughput" in results:
        rate = results["throughput"]["sagasPerSecond"]
        # Not a time: the figure is sagas/s (kept under figureMs so every goal has the same shape).
        checks.append(
            {
                "goal": "throughput >= 100 sagas/s",
                "figureMs": rate,
                "unit": "sagas/s",
                "met": rate >= SAGAS_PER_SECOND_GOAL,
            }
        )
    return checks


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    d = results.get("details", {})
    out = [
        "# Benchmark results",
        "",
        f"`make bench` on {m['date']}: {m['cpu']}, {m['cores']} cores, {m['ramGb']} GB RAM, {m['os']}, "
        f"Python {m['python']}, PostgreSQL {m['postgresql']} (fsync off, as local mode runs it). "
        f"Load average at start: {', '.join(str(x) for x in m['loadAverageAtStart'])}.",
        "",
        "Everything runs through local mode: `nfe local` in its own process (the AWS emulator, moto, with the "
        "gateway and the pollers), each function's containers as processes of their own started on demand up to "
        "its reserved concurrency, with the stack's environment and active tracing, PostgreSQL on the same "
        "machine. The figures say what the code costs on a laptop, not what AWS will show.",
        "",
    ]
    if "goals" in results:
        out += ["## Goals", "", _row("Goal", "Figure", "Met"), _row("---", "---:", "---")]
        for g in results["goals"]:
            out.append(_row(g["goal"], goal_figure(g), "yes" if g["met"] else "**no**"))
        out.append("")
    if "fiscalCpuMsPerNota" in results:
        f, fd = results["fiscalCpuMsPerNota"], d.get("fiscal", {})
        out += [
            "## Fiscal step: CPU per nota",
            "",
            "Building the NF-e from nfelib's bindings and validating it against the official schema (in the "
            "consumer that numbers the nota), signing it (`Assinador.sign` in the SEFAZ function, the A1 opened "
            "once as a warm container keeps it), and rendering the DANFE with BrazilFiscalReport (on the DANFE "
            f"route's first request); `time.process_time` over {fd.get('notas', '?')} notas each, after a first "
            f"call that loads the schema and fonts ({fd.get('firstCallCpuMs', '?')} ms).",
            "",
            _row("Step", "1 item", "20 items"),
            _row("---", "---:", "---:"),
            _row(
                "XML build + XSD validation",
                f"{f['xmlBuildValidateCpuMs1Item']} ms",
                f"{f['xmlBuildValidateCpuMs20Items']} ms",
            ),
        ]
        if "signCpuMs1Item" in f:
            out.append(_row("signing (XMLDSig, RSA-SHA1)", f"{f['signCpuMs1Item']} ms", f"{f['signCpuMs20Items']} ms"))
        out += [_row("DANFE render", f"{f['danfeCpuMs1Item']} ms", f"{f['danfeCpuMs20Items']} ms"), ""]
        if "certificateOpenCpuMs" in fd:
            out += [
                f"Opening the A1 (the PKCS#12's key derivation; once per container and certificate): "
                f"{fd['certificateOpenCpuMs']} ms; the first signature after it: {fd['firstSignCpuMs']} ms. The "
                "certificate is the emulated SEFAZ's test A1 (RSA 2048, as A1 certificates are).",
                "",
            ]
    if "sagaLatencyMs" in results:
        s = results["sagaLatencyScheduleOnlyMs"]
        de, ds = d.get("sagaEager", {}), d.get("sagaScheduleOnly", {})
        default_delay = de.get("sefazDefaultDelayMs")
        eager_runs = d.get("sagaEagerBySefazDelay") or [{**de, "latencyMs": results["sagaLatencyMs"]}]

        def _confirmada(run: dict[str, Any]) -> str:
            to = run.get("toConfirmadaMs") or {}
            return f"{to['p50']} / {to['p95']} ms" if to else ""

        out += [
            "## Saga latency: POST to AUTORIZADA",
            "",
            _row("Mode", "Sagas", "p50", "p95", "p99", "to CONFIRMADA p50 / p95", "POST p50"),
            _row("---", "---:", "---:", "---:", "---:", "---:", "---:"),
        ]
        for run in eager_runs:
            delay = run.get("sefazDelayMs")
            mark = " (its default)" if delay == default_delay else ""
            lat = run["latencyMs"]
            out.append(
                _row(
                    f"eager publish, one saga at a time, SEFAZ emulator delay {delay} ms{mark}",
                    run.get("sagas", ""),
                    f"{lat['p50']} ms",
                    f"{lat['p95']} ms",
                    f"{lat['p99']} ms",
                    _confirmada(run),
                    f"{run.get('postP50Ms', '')} ms",
                )
            )
        out += [
            _row(
                f"schedule only, every {ds.get('intervalSeconds', 1)} s, {ds.get('ratePerSecond', '')} notas/s",
                ds.get("sagas", ""),
                f"{s['p50']} ms",
                f"{s['p95']} ms",
                f"{s['p99']} ms",
                _confirmada(ds),
                f"{ds.get('postP50Ms', '')} ms",
            ),
            "",
            "Start: the client's clock just before the POST; end: SEFAZ's authorization as Faturamento applied "
            "it, the nota's `sefaz_respondida_em` (same machine clock; PostgreSQL's `now()`, the start of that "
            "short transaction, so its last millisecond or so is left out); the CONFIRMADA column ends at "
            "`confirmada_em` instead (stock reserved, NF-e numbered: where the saga ended before SEFAZ joined it). "
            "SEFAZ is local mode's emulator: its answer delay is a switch set over its admin endpoint, "
            f"{default_delay} ms by default. The client polls PostgreSQL every 2 ms only to know when to send the "
            "next nota; the poll does not enter the figure. Eager sagas run one at a time after "
            f"{de.get('warmup', '')} warm-up sagas; the very first saga after start, every function's container "
            "cold, took "
            f"{de.get('firstSagaMs', '')} ms (its POST {de.get('firstPostMs', '')} ms). The schedule-only notas "
            "arrive at a fixed rate (an open loop): each waits for three publisher ticks (NotaFiscalCriada, "
            "ReservaConfirmada, NotaFiscalEmitida; the SEFAZ function puts its answer on the bus itself).",
            "",
        ]
        if de.get("anatomy"):
            out += [
                "Where an eager saga's time goes (median milliseconds after the POST was sent, from the "
                "timestamps each transaction left; `now()` is when a transaction began):",
                "",
                _row("Step", "p50"),
                _row("---", "---:"),
                *(_row(step["step"], f"{step['p50Ms']} ms") for step in de["anatomy"]),
                "",
            ]
    if "apiLatencyMs" in results:
        a = results["apiLatencyMs"]
        out += [
            "## API latency through the local HTTP server",
            "",
            _row("Request", "c1 p50", "c1 p95", "c8 p50", "c8 p95"),
            _row("---", "---:", "---:", "---:", "---:"),
        ]
        for op, label in (("post", "POST /api/v1/notas"), ("get", "GET /api/v1/notas/{id}")):
            out.append(
                _row(
                    label,
                    f"{a[op]['c1']['p50']} ms",
                    f"{a[op]['c1']['p95']} ms",
                    f"{a[op]['c8']['p50']} ms",
                    f"{a[op]['c8']['p95']} ms",
                )
            )
        da = d.get("api", {})
        out += [
            "",
            f"Median over {da.get('rounds', '')} rounds of {da.get('requestsPerRound', '')} requests each, keep-alive "
            "connections, after a warm-up round at each concurrency (its cold starts are the cold-request "
            "figures). At concurrency 8 each function has up to 8 containers, as on AWS; they share the "
            "machine's two cores with the emulator, PostgreSQL and the sagas every POST starts.",
            "",
        ]
    if "throughput" in results:
        t = results["throughput"]
        dt = d.get("throughput", {})
        out += [
            "## Throughput",
            "",
            _row("Figure", "Value"),
            _row("---", "---:"),
            _row(
                f"sagas completed per second ({dt.get('clients', '')} clients, {dt.get('seconds', '')} s)",
                t["sagasPerSecond"],
            ),
            _row(f"pgbench TPS (TPC-B-like, same server, {dt.get('clients', '')} clients)", t["pgbenchTps"]),
            _row("transactions per saga, counted", t["transactionsPerSagaCounted"]),
            _row("transactions per saga, measured (xact_commit delta / sagas)", t["transactionsPerSagaMeasured"]),
            _row(
                "database bound, sagas/s (pgbench TPS / transactions per saga)",
                round(t["pgbenchTps"] / t["transactionsPerSaga"], 1),
            ),
            _row("ratio: sagas/s over that bound", t["ratio"]),
            "",
            "Sagas per second in each sixth of the run: "
            f"{', '.join(str(x) for x in dt.get('windowSagasPerSecond', []))}.",
            "The transactions one saga commits, counted from the code:",
            "",
        ]
        out += [f"{i}. {step}" for i, step in enumerate(dt.get("sagaTransactions", []), start=1)]
        out += [
            "",
            "Measured: pg_stat_database.xact_commit of the run's own database, before any handler connected and "
            "after the `nfe local` process exited (backends flush the counter as they exit), divided by the sagas "
            "posted; connection start-ups and autovacuum add a little. The ratio says how far local mode is from "
            "what the database alone could carry.",
            "",
        ]
        if dt.get("cpuMsPerSaga"):
            out += [
                "CPU per saga (ms, from /proc over the run: each function's containers, `nfe local`'s own process "
                "with moto, the gateway and the pollers, PostgreSQL, the load generator):",
                "",
                _row("Where", "CPU ms per saga"),
                _row("---", "---:"),
                *(_row(key, value) for key, value in dt["cpuMsPerSaga"].items()),
                "",
            ]
        if dt.get("byClients"):
            out += [
                "Throughput by sagas in flight (the main run, and shorter runs of their own on a fresh system and "
                "database): where it peaks, and how each saga's CPU grows as more containers share two cores:",
                "",
                _row("Clients", "Seconds", "Sagas/s", "CPU ms per saga"),
                _row("---:", "---:", "---:", "---:"),
                *(_row(p["clients"], p["seconds"], p["sagasPerSecond"], p["cpuMsPerSaga"]) for p in dt["byClients"]),
                "",
            ]
    if "cpuMsPerInvocation" in results:
        out += [
            "## CPU per invocation",
            "",
            "Each function's CPU milliseconds inside its invocations during the throughput run (the handler's "
            "process time, what Lambda bills as duration, here measured in CPU):",
            "",
            _row("Function", "CPU ms per invocation"),
            _row("---", "---:"),
            *(_row(name, value) for name, value in results["cpuMsPerInvocation"].items()),
            "",
        ]
    if "coldRequestMs" in results:
        cr = results["coldRequestMs"]
        dr = d.get("coldRequest", {})
        out += [
            "## Cold request: spawning a container to its first response",
            "",
            _row("Function", "Median", "interpreter", "init", "client", "connect", "work", "max"),
            _row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"),
        ]
        for name, value in cr.items():
            if name == "python":
                continue
            i = dr.get(name, {})
            out.append(
                _row(
                    name,
                    f"{value} ms",
                    *(f"{i.get(k, '')} ms" for k in ("interpreterMs", "initMs", "clientMs", "connectMs", "workMs")),
                    f"{i.get('maxMs', '')} ms",
                )
            )
        out += [
            _row("`python -c pass`", f"{cr.get('python', '')} ms", "", "", "", "", "", ""),
            "",
            "A container started as local mode starts it (the function's environment, active tracing to the local "
            "X-Ray listener), then its first real invocation: a POST for the APIs, a batch of one for the "
            "consumers, a drain of one for the publisher. Interpreter: spawn to the bootstrap running; init: "
            "importing the handler; client: building the AWS client on first use (boto3 import included); "
            "connect: the database connection; work: the rest of the invocation. Goal: at most 480 ms, the seed's "
            "Lambda cold-start p95. Locally the database URL replaces the RDS IAM token, which on AWS adds boto3 "
            "and an RDS client to the first connection of a function that has not loaded them. sefaz-autorizador "
            "has no database; its client is three (Secrets Manager for the A1, S3 for the nfeProc, EventBridge "
            "for the answer) and its work holds the NF-e libraries' import, opening the A1, signing, the mutual "
            "TLS handshake and the emulated SEFAZ's own answer"
            + (f" ({dr['sefazServerMs']} ms of it inside the emulator)" if "sefazServerMs" in dr else "")
            + ".",
            "",
        ]
    if "coldStartMs" in results:
        c = results["coldStartMs"]
        dc = d.get("coldStart", {})
        out += [
            "## Cold start: a fresh interpreter to a ready handler",
            "",
            _row("Function", "Median", "of which imports + init", "min", "max", "without active tracing"),
            _row("---", "---:", "---:", "---:", "---:", "---:"),
        ]
        for name, value in c.items():
            if name == "python":
                continue
            info = dc.get(name, {})
            out.append(
                _row(
                    name,
                    f"{value} ms",
                    f"{info.get('importMs', '')} ms",
                    f"{info.get('minMs', '')} ms",
                    f"{info.get('maxMs', '')} ms",
                    f"{info['untracedMs']} ms" if "untracedMs" in info else "",
                )
            )
        out += [
            _row("`python -c pass`", f"{c['python']} ms", "", "", "", ""),
            "",
            f"Median of {dc.get('runs', '')} fresh interpreters each (interleaved), with a deployed function's "
            "environment: the Lambda runtime's variables including the X-Ray daemon address of active tracing (so "
            "the real Tracer loads and patches botocore), the stack's variables, and a local DATABASE_URL for the "
            "endpoint. Wall time from spawn to the handler resolved, bytecode already compiled. The last column is "
            "the same function without active tracing. Connections open on first use: the first invocation adds a "
            "database connection (on AWS with an IAM token, which loads boto3 and an RDS client) and, for the "
            "functions that publish, the EventBridge client; the publisher builds its client on its first "
            "PutEvents, since most of its runs find nothing to send.",
            "",
        ]
    if "publisherEventsPerSecond" in results:
        dp = d.get("publisher", {})
        out += [
            "## Publisher drain rate",
            "",
            f"**{results['publisherEventsPerSecond']} events/s**: {len(dp.get('runs', []))} run(s) "
            f"({', '.join(str(x) for x in dp.get('runs', []))} events/s), each moving {dp.get('events', '')} outbox "
            "rows (half per service) to the local bus with `functions.publisher.logic.drain` logged in as "
            "`outbox_publisher`: PutEvents of 10 entries against moto, which routes every event to its SQS queue "
            "(a receiver per queue deletes them, standing in for the consumers, and counts them: all arrived).",
            "",
            f"PutEvents calls took {dp.get('putEventsCallMs', {}).get('p50', '')} ms at the median "
            f"(p95 {dp.get('putEventsCallMs', {}).get('p95', '')} ms), "
            f"{round(100 * dp.get('putEventsShare', 0))} % of the drain: the rate is moto's. Without them the relay's "
            f"own work (claim, mark, commit per batch of 10) would move {dp.get('relayOnlyEventsPerSecond', '')} "
            "events/s, a bound for a real bus whose PutEvents answers in a few milliseconds.",
            "",
        ]
    return "\n".join(out)
