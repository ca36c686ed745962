"""Cold start: a fresh interpreter's imports and init up to a ready handler, beside `python -c pass`.

Each function's handler module is imported in a new process with the environment a deployed
Lambda has: the runtime's own variables (LAMBDA_TASK_ROOT, the X-Ray daemon address of a function
with active tracing, as the stack deploys them, so the real Tracer loads), the ones the stack sets
(POWERTOOLS_SERVICE_NAME, EVENT_BUS_NAME, ...) and a DATABASE_URL standing in for the DB_*
endpoint variables. Connections are opened on first use, so init needs no server.

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
            # Set for functions with active tracing (the stack's `tracing_config`): X-Ray is on.
            "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
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


def time_function(function: topology.Function, traced: bool = True) -> tuple[float, float]:
    """(spawn-to-ready ms, the child's own import ms) for one fresh interpreter.

    Untraced is the same function deployed without active tracing: no X-Ray daemon address, so
    the shared observability module never loads the X-Ray SDK.
    """
    env = lambda_environment(function)
    if not traced:
        env.pop("AWS_XRAY_DAEMON_ADDRESS")
    t0 = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, function.handler],
        cwd=ROOT,
        env=env,
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


def run(runs: int, untraced: bool = True, log: Log = say) -> tuple[dict[str, float], dict[str, Any]]:
    figures: dict[str, float] = {}
    details: dict[str, Any] = {}
    # Round-robin rather than function by function, so a burst of load elsewhere on the machine
    # spreads over every function instead of landing on one.
    samples: dict[str, list[float]] = {fn.name: [] for fn in topology.FUNCTIONS}
    imports: dict[str, list[float]] = {fn.name: [] for fn in topology.FUNCTIONS}
    plain: dict[str, list[float]] = {fn.name: [] for fn in topology.FUNCTIONS}
    python: list[float] = []
    for run_number in range(1, runs + 1):
        python.append(time_python())
        for function in topology.FUNCTIONS:
            ready, imported = time_function(function)
            samples[function.name].append(ready)
            imports[function.name].append(imported)
            if untraced:
                plain[function.name].append(time_function(function, traced=False)[0])
        log(f"cold start: round {run_number}/{runs} done")
    for function in topology.FUNCTIONS:
        name = function.name
        figures[name] = ms(median(samples[name]))
        details[name] = {
            "importMs": ms(median(imports[name])),
            "minMs": ms(min(samples[name])),
            "maxMs": ms(max(samples[name])),
        }
        if untraced:
            details[name]["untracedMs"] = ms(median(plain[name]))
        log(
            f"cold start: {name}: {figures[name]:.0f} ms to a ready handler (import {details[name]['importMs']:.0f} ms"
            + (f"; {details[name]['untracedMs']:.0f} ms without active tracing)" if untraced else ")")
        )
    figures["python"] = ms(median(python))
    log(f"cold start: python -c pass: {figures['python']:.0f} ms")
    return figures, details
