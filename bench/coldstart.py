"""Cold start: a fresh interpreter's imports and init up to a ready handler, beside `python -c pass`.

Each function's handler module is imported in a new process with the environment a deployed
Lambda has: the runtime's own variables (LAMBDA_TASK_ROOT and friends, which also make
Powertools' Tracer active and patch the AWS SDK, as with the stack's active tracing), the ones
the stack sets (POWERTOOLS_SERVICE_NAME, EVENT_BUS_NAME, ...) and a DATABASE_URL standing in for
the DB_* endpoint variables. Connections are opened on first use, so init needs no server.

The figure is wall time from spawning the interpreter to the child reporting its handler
resolved (what Lambda's init phase covers); the child's own import time is kept as a detail.
`python -c pass` is timed from spawn to exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from bench.harness import ROOT, Log, median, ms, say
from nfe import topology

# The child resolves the handler exactly as the runtime does (module import, then the attribute).
CHILD = (
    "import importlib, sys, time\n"
    "t = time.perf_counter()\n"
    "module, _, attribute = sys.argv[1].rpartition('.')\n"
    "getattr(importlib.import_module(module), attribute)\n"
    "sys.stdout.write(f'ready {(time.perf_counter() - t) * 1000:.3f}\\n')\n"
    "sys.stdout.flush()\n"
)
# Kept from the caller's environment: what any process needs, nothing that configures the handlers.
PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")


def lambda_environment(function: topology.Function) -> dict[str, str]:
    env = {key: os.environ[key] for key in PASSTHROUGH if key in os.environ}
    env.update(
        {
            # Set by the Lambda runtime.
            "LAMBDA_TASK_ROOT": str(ROOT),
            "LAMBDA_RUNTIME_DIR": str(ROOT),
            "_HANDLER": function.handler,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": f"{function.name}-bench",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb or 512),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            # Set by the stack (components/lambdas.py), with a local database URL for the endpoint.
            "POWERTOOLS_SERVICE_NAME": function.name,
            "POWERTOOLS_METRICS_NAMESPACE": "nfe",
            "DATABASE_URL": "host=127.0.0.1 port=5432 dbname=nfe sslmode=disable",
            "EVENT_BUS_NAME": topology.bus_name("bench"),
            "EAGER_PUBLISH": "true",
        }
    )
    if function.kind == "migrator":
        # The migrator reads the master secret at invocation; init only validates its settings.
        env.update(
            {
                "DB_HOST": "127.0.0.1",
                "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench",
                "DB_SSLMODE": "disable",
            }
        )
    return env


def time_function(function: topology.Function) -> tuple[float, float]:
    """(spawn-to-ready ms, the child's own import ms) for one fresh interpreter."""
    t0 = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, function.handler],
        cwd=ROOT,
        env=lambda_environment(function),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    ready = (time.perf_counter() - t0) * 1000
    _, stderr = child.communicate()
    if child.returncode != 0 or not line.startswith("ready "):
        raise RuntimeError(f"{function.name}: init failed ({child.returncode}): {stderr.strip()[-2000:]}")
    return ready, float(line.split()[1])


def time_python() -> float:
    env = {key: os.environ[key] for key in PASSTHROUGH if key in os.environ}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=ROOT, env=env, check=True)
    return (time.perf_counter() - t0) * 1000


def run(runs: int, log: Log = say) -> tuple[dict[str, float], dict[str, Any]]:
    figures: dict[str, float] = {}
    details: dict[str, Any] = {}
    # Round-robin rather than function by function, so a burst of load elsewhere on the machine
    # spreads over every function instead of landing on one.
    samples: dict[str, list[float]] = {fn.name: [] for fn in topology.FUNCTIONS}
    imports: dict[str, list[float]] = {fn.name: [] for fn in topology.FUNCTIONS}
    python: list[float] = []
    for run_number in range(1, runs + 1):
        python.append(time_python())
        for function in topology.FUNCTIONS:
            ready, imported = time_function(function)
            samples[function.name].append(ready)
            imports[function.name].append(imported)
        log(f"cold start: round {run_number}/{runs} done")
    for function in topology.FUNCTIONS:
        figures[function.name] = ms(median(samples[function.name]))
        details[function.name] = {
            "importMs": ms(median(imports[function.name])),
            "minMs": ms(min(samples[function.name])),
            "maxMs": ms(max(samples[function.name])),
        }
        log(
            f"cold start: {function.name}: {figures[function.name]:.0f} ms to a ready handler "
            f"(import {details[function.name]['importMs']:.0f} ms)"
        )
    figures["python"] = ms(median(python))
    log(f"cold start: python -c pass: {figures['python']:.0f} ms")
    return figures, details
