"""`python -m bench`: run the benchmarks of issue 8 and write bench/results/latest.{json,md}.

Defaults are the figures `make bench` commits (about five minutes on two cores); every size is a
flag, so the smoke test runs the same code with tiny ones.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import api, coldstart, fiscal, publisher, saga, throughput
from bench.harness import ROOT, Postgres, create_produtos, local_system, nota_body, reap_stopped, say
from bench.report import goal_figure, goals, machine, markdown

BENCHMARKS = ("saga", "api", "throughput", "coldstart", "publisher", "fiscal")
DEFAULT_OUT = ROOT / "bench" / "results"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--database-url", help="superuser URL of a PostgreSQL to use (default: a throwaway server)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for latest.json and latest.md")
    p.add_argument(
        "--render", action="store_true", help="only rewrite latest.md from the latest.json in --out (no benchmark)"
    )
    p.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    p.add_argument("--sagas", type=int, default=200, help="sagas per latency run (default 200)")
    p.add_argument("--warmup", type=int, default=5, help="eager sagas before measuring (default 5)")
    p.add_argument(
        "--sefaz-delays",
        type=_delays,
        default=("default", 0),
        metavar="LIST",
        help="the emulated SEFAZ's answer delays (ms) of the eager saga runs: `default` is the emulator's own "
        "(default: default,0; a delay equal to one already run is not run again)",
    )
    p.add_argument("--schedule-rate", type=float, default=20, help="notas/s sent in the schedule-only run")
    p.add_argument("--schedule-interval", type=float, default=1, help="publisher interval of the schedule-only run (s)")
    p.add_argument("--api-requests", type=int, default=200, help="requests per API latency round (default 200)")
    p.add_argument("--api-rounds", type=int, default=3, help="rounds per API figure; the median is kept")
    p.add_argument("--duration", type=float, default=60, help="seconds of sustained load for throughput (default 60)")
    p.add_argument("--clients", type=int, default=8, help="concurrent sagas (and pgbench clients) for throughput")
    p.add_argument(
        "--sweep-clients",
        type=lambda text: tuple(int(n) for n in text.split(",") if n),
        default=(1, 2, 4),
        help="client counts of the shorter throughput runs beside the main one (default 1,2,4; empty for none)",
    )
    p.add_argument("--sweep-seconds", type=float, default=15, help="seconds per sweep run (default 15)")
    p.add_argument("--pgbench-seconds", type=int, default=10, help="seconds per pgbench run (default 10)")
    p.add_argument("--pgbench-runs", type=int, default=3, help="pgbench runs; the median is kept")
    p.add_argument("--cold-start-runs", type=int, default=10, help="fresh interpreters per function (default 10)")
    p.add_argument(
        "--skip-untraced", action="store_true", help="skip the cold starts without active tracing (a detail)"
    )
    p.add_argument("--publisher-events", type=int, default=5000, help="outbox rows per drain run (default 5000)")
    p.add_argument("--fiscal-notas", type=int, default=50, help="notas per fiscal-step figure (default 50)")
    # One run by default: against moto a run of 5,000 rows takes about a minute.
    p.add_argument("--publisher-runs", type=int, default=1, help="drain runs; the median is kept (default 1)")
    return p


def _delays(text: str) -> tuple[int | str, ...]:
    delays: list[int | str] = []
    for item in (part.strip() for part in text.split(",")):
        if item == "default":
            delays.append(item)
        elif item.isdigit():
            delays.append(int(item))
        elif item:
            raise argparse.ArgumentTypeError(f"{item!r}: a delay is milliseconds or `default`")
    if not delays:
        raise argparse.ArgumentTypeError("at least one delay")
    return tuple(delays)


def _eager_sagas(local: Any, produto_id: str, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The eager closed loop once per SEFAZ delay: the emulator's default first (the saga's figure and
    goal), then the others (zero: what the saga costs without SEFAZ's own time)."""
    results: dict[str, Any] = {}
    details: dict[str, Any] = {}
    default_ms = int(local.sefaz_switches()["delayMs"])
    runs: dict[int, dict[str, Any]] = {}
    for wanted in args.sefaz_delays:
        delay = default_ms if wanted == "default" else int(wanted)
        if delay in runs:
            say(f"saga latency (eager): SEFAZ delay {delay} ms already measured (the emulator's default)")
            continue
        local.sefaz_switches(delayMs=delay)
        say(f"saga latency (eager, SEFAZ delay {delay} ms): {args.sagas} sagas, one at a time")
        run = saga.closed_loop(local, produto_id, args.sagas, args.warmup, label=f"eager, SEFAZ {delay} ms")
        runs[delay] = {
            "sefazDelayMs": delay,
            "latencyMs": run.summary(),
            **run.details(),
            "warmup": args.warmup,
            "anatomy": saga.anatomy(local.database_url, run.sent),
        }
        say(f"saga latency (eager, SEFAZ delay {delay} ms): {runs[delay]['latencyMs']}")
        details.setdefault("nota_ids", run.ids)
    local.sefaz_switches(delayMs=default_ms)
    results["sagaLatencyMs"] = runs[default_ms]["latencyMs"]
    results["sagaLatencyBySefazDelayMs"] = {str(delay): run["latencyMs"] for delay, run in runs.items()}
    details["sagaEager"] = {**runs[default_ms], "sefazDefaultDelayMs": default_ms}
    details["sagaEagerBySefazDelay"] = [runs[delay] for delay in runs]
    return results, details


def _eager_and_api(pg: Postgres, args: argparse.Namespace, selected: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    results: dict[str, Any] = {}
    details: dict[str, Any] = {}
    database_url = pg.create_database("bench_eager")
    try:
        with local_system(database_url) as local:
            client = local.client()
            produto_id = create_produtos(client, 1)[0]
            nota_ids: list[str] = []
            if "saga" in selected:
                figures, more = _eager_sagas(local, produto_id, args)
                results.update(figures)
                nota_ids = more.pop("nota_ids")
                details.update(more)
            if "api" in selected:
                if not nota_ids:
                    nota_ids = [
                        str(client.expect(201, "POST", "/api/v1/notas", nota_body(produto_id))["id"]) for _ in range(20)
                    ]
                say(f"api latency: {args.api_rounds} rounds of {args.api_requests} requests per figure")
                figures, api_details = api.run(local, produto_id, nota_ids, args.api_requests, args.api_rounds)
                results["apiLatencyMs"] = figures
                details["api"] = {**api_details, "rounds": args.api_rounds, "requestsPerRound": args.api_requests}
                say(f"api latency: {figures}")
            client.close()
    finally:
        pg.drop_database(database_url)
    return results, details


def _schedule_only(pg: Postgres, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    database_url = pg.create_database("bench_schedule")
    try:
        with local_system(
            database_url, "--no-eager-publish", "--outbox-interval", f"{args.schedule_interval:g}"
        ) as local:
            client = local.client()
            produto_id = create_produtos(client, 1)[0]
            client.close()
            say(
                f"saga latency (schedule only, every {args.schedule_interval:g} s): "
                f"{args.sagas} notas at {args.schedule_rate:g}/s"
            )
            run = saga.open_loop(local, produto_id, args.sagas, args.schedule_rate)
    finally:
        pg.drop_database(database_url)
    summary = run.summary()
    say(f"saga latency (schedule only): {summary}")
    return (
        {"sagaLatencyScheduleOnlyMs": summary},
        {
            "sagaScheduleOnly": {
                **run.details(),
                "ratePerSecond": args.schedule_rate,
                "intervalSeconds": args.schedule_interval,
            }
        },
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    selected = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = selected - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    started = time.monotonic()
    pg = Postgres.start(args.database_url)
    results: dict[str, Any] = {}
    details: dict[str, Any] = {}
    seconds: dict[str, float] = {}

    def stage(name: str, body: Callable[[], tuple[dict[str, Any], dict[str, Any]]]) -> None:
        t0 = time.monotonic()
        figures, more = body()
        results.update(figures)
        details.update(more)
        seconds[name] = round(time.monotonic() - t0, 1)

    def cold_start() -> tuple[dict[str, Any], dict[str, Any]]:
        say(f"cold start: {args.cold_start_runs} fresh interpreters per function")
        figures, more = coldstart.run(args.cold_start_runs, untraced=not args.skip_untraced)
        say(f"cold request: {args.cold_start_runs} containers per function, each to its first response")
        requests, split = coldstart.cold_requests(pg.admin_url, args.cold_start_runs)
        return (
            {"coldStartMs": figures, "coldRequestMs": requests},
            {"coldStart": {**more, "runs": args.cold_start_runs}, "coldRequest": split},
        )

    def drain() -> tuple[dict[str, Any], dict[str, Any]]:
        say(f"publisher: {args.publisher_runs} run(s) of {args.publisher_events} outbox rows")
        rate, more = publisher.run(pg, args.publisher_events, args.publisher_runs)
        return {"publisherEventsPerSecond": rate}, {"publisher": more}

    def load() -> tuple[dict[str, Any], dict[str, Any]]:
        figures, more = throughput.run(
            pg,
            args.clients,
            args.duration,
            args.pgbench_seconds,
            args.pgbench_runs,
            sweep_clients=args.sweep_clients,
            sweep_seconds=args.sweep_seconds,
        )
        return {"throughput": figures, "cpuMsPerInvocation": more["cpuMsPerInvocation"]}, {"throughput": more}

    try:
        results["machine"] = machine(pg.version())
        say(f"machine: {results['machine']}")
        if selected & {"saga", "api"}:
            stage("sagaEagerAndApi", lambda: _eager_and_api(pg, args, selected))
        if "saga" in selected:
            stage("sagaScheduleOnly", lambda: _schedule_only(pg, args))
        if "throughput" in selected:
            stage("throughput", load)
        if "coldstart" in selected:
            stage("coldStart", cold_start)
        if "publisher" in selected:
            stage("publisher", drain)
        if "fiscal" in selected:
            stage("fiscal", lambda: fiscal.run(args.fiscal_notas))
    finally:
        reap_stopped()
        pg.stop()
    details = {**details, "seconds": {**seconds, "total": round(time.monotonic() - started, 1)}}
    # The goals read the details too (the SEFAZ delay the saga's goal was measured at).
    results["goals"] = goals({**results, "details": details})
    results["details"] = details
    return results


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "latest.md").write_text(markdown(results) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.render:
        results = json.loads((args.out / "latest.json").read_text())
        (args.out / "latest.md").write_text(markdown(results) + "\n")
        say(f"wrote {args.out / 'latest.md'} from {args.out / 'latest.json'}")
        return 0
    results = run(args)
    write(results, args.out)
    for goal in results["goals"]:
        say(f"goal {'met' if goal['met'] else 'NOT met'}: {goal['goal']}: {goal_figure(goal)}")
    total = results["details"]["seconds"]["total"]
    say(f"wrote {args.out / 'latest.json'} and {args.out / 'latest.md'} in {total:.0f} s")
    return 0
