"""The benchmark harness (`make bench`) with tiny sizes, so it keeps working between releases.

It runs every benchmark for real (three `nfe local` processes, pgbench, fresh interpreters, the
publisher against moto) on the session's PostgreSQL, and checks the shape of what it writes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench.harness import percentile
from bench.run import main
from nfe import topology

TINY = [
    "--sagas",
    "3",
    "--warmup",
    "1",
    # The emulator's default, zero (the same run when the default is zero) and a slow SEFAZ
    "--sefaz-delays",
    "default,0,200",
    "--api-requests",
    "8",
    "--api-rounds",
    "1",
    "--duration",
    # 3 s, not 1: the first confirmation pays the NF-e libraries' import in a fresh consumer container
    "3",
    "--schedule-interval",
    "0.5",
    "--clients",
    "2",
    "--sweep-clients",
    "1",
    "--sweep-seconds",
    "1",
    "--pgbench-seconds",
    "1",
    "--pgbench-runs",
    "1",
    "--cold-start-runs",
    "1",
    "--skip-untraced",
    "--publisher-events",
    "40",
    "--publisher-runs",
    "1",
    "--fiscal-notas",
    "3",
]


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def test_percentile_interpolates_between_ranks() -> None:
    # Given ten values 1..10
    values = [float(v) for v in range(10, 0, -1)]
    # Then the median falls between 5 and 6 and the extremes are the ends
    assert percentile(values, 50) == 5.5
    assert percentile(values, 0) == 1 and percentile(values, 100) == 10
    assert percentile(values, 95) == pytest.approx(9.55)


def test_every_benchmark_runs_and_writes_its_figures(pg_admin_url: str, tmp_path: Path) -> None:
    # Given the harness with tiny sizes on the session's PostgreSQL
    # When it runs every benchmark
    assert main(["--database-url", pg_admin_url, "--out", str(tmp_path), *TINY]) == 0

    # Then the JSON holds issue 8's keys, each figure a positive number
    results = json.loads((tmp_path / "latest.json").read_text())
    for key in ("sagaLatencyMs", "sagaLatencyScheduleOnlyMs"):
        assert set(results[key]) == {"p50", "p95", "p99"}
        assert all(positive(v) for v in results[key].values())
        assert results[key]["p50"] <= results[key]["p95"] <= results[key]["p99"]
    # The schedule alone cannot beat a publish right after the commit.
    assert results["sagaLatencyScheduleOnlyMs"]["p50"] > results["sagaLatencyMs"]["p50"]
    # The saga ends at AUTORIZADA, measured at each SEFAZ delay once: SEFAZ's 200 ms are in the saga's time
    by_delay = results["sagaLatencyBySefazDelayMs"]
    default_delay = results["details"]["sagaEager"]["sefazDefaultDelayMs"]
    assert set(by_delay) == {str(default_delay), "0", "200"}
    assert by_delay[str(default_delay)] == results["sagaLatencyMs"]
    assert by_delay["200"]["p50"] >= by_delay["0"]["p50"] + 150
    eager = results["details"]["sagaEager"]
    assert eager["statuses"] == {"AUTORIZADA": 3}
    assert eager["toConfirmadaMs"]["p50"] < results["sagaLatencyMs"]["p50"]
    steps = [step["step"] for step in eager["anatomy"]]
    assert steps[-1] == "faturamento consumer transaction began (AUTORIZADA)" and len(steps) == 7
    for op in ("post", "get"):
        assert set(results["apiLatencyMs"][op]) == {"c1", "c8"}
        for figures in results["apiLatencyMs"][op].values():
            assert set(figures) == {"p50", "p95"} and all(positive(v) for v in figures.values())
    throughput = results["throughput"]
    assert {"sagasPerSecond", "pgbenchTps", "transactionsPerSaga", "ratio"} <= set(throughput)
    assert all(positive(throughput[k]) for k in ("sagasPerSecond", "pgbenchTps", "transactionsPerSaga", "ratio"))
    # The sweep beside the main run: each point a rate and a CPU cost, the peak one of them
    points = results["details"]["throughput"]["byClients"]
    assert [p["clients"] for p in points] == [1, 2]
    assert all(positive(p["sagasPerSecond"]) and positive(p["cpuMsPerSaga"]) for p in points)
    assert throughput["peakSagasPerSecond"] == max(p["sagasPerSecond"] for p in points)
    # Measured commits per saga agree with the counted path (connection start-ups add a little).
    counted = throughput["transactionsPerSagaCounted"]
    assert counted == 7 and counted <= throughput["transactionsPerSaga"] < counted + 2
    expected_functions = {fn.name for fn in topology.FUNCTIONS} | {"python"}
    assert set(results["coldStartMs"]) == expected_functions
    assert all(positive(v) for v in results["coldStartMs"].values())
    # Every function that serves a request has its cold request, the SEFAZ participant's included
    served = {fn.name for fn in topology.FUNCTIONS if fn.kind != "migrator"}
    assert set(results["coldRequestMs"]) == served | {"python"}
    assert all(positive(v) for v in results["coldRequestMs"].values())
    assert positive(results["details"]["coldRequest"]["sefazServerMs"])
    assert positive(results["publisherEventsPerSecond"])
    # The fiscal step's CPU: a DANFE costs more than building and validating the XML, and 20 items more than 1
    fiscal = results["fiscalCpuMsPerNota"]
    assert all(positive(v) for v in fiscal.values())
    assert fiscal["danfeCpuMs1Item"] > fiscal["xmlBuildValidateCpuMs1Item"]
    assert fiscal["xmlBuildValidateCpuMs20Items"] > fiscal["xmlBuildValidateCpuMs1Item"]
    # Signing a nota (the A1 already open) costs less than rendering its DANFE
    assert fiscal["signCpuMs1Item"] < fiscal["danfeCpuMs1Item"] and positive(fiscal["signCpuMs20Items"])
    assert {"cpu", "cores", "ramGb", "os", "python", "postgresql", "date"} <= set(results["machine"])
    # And the markdown report carries every section and the goals
    report = (tmp_path / "latest.md").read_text()
    for heading in (
        "## Goals",
        "## Saga latency",
        "## API latency",
        "## Throughput",
        "## Cold start",
        "## Publisher",
        "## Fiscal step",
        "Clients",
    ):
        assert heading in report
