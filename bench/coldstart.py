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

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from typing import Any

from bench.harness import ROOT, Log, median, ms, say
from nfe import topology
from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL, emitente_json

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
            topology.ENV_EMITENTE: emitente_json(),
            "EAGER_PUBLISH": "true",
            "CORS_ALLOW_ORIGIN": "https://console.example.com",
        }
    )
    if function.service == "sefaz":
        # Names, not values: init validates them; the certificate is read on the first nota.
        from nfe.build import SEFAZ_CA_BUNDLE_RUNTIME_PATH

        env.update(
            {
                topology.ENV_SEFAZ_CERTIFICATE_SECRET: (
                    "arn:aws:secretsmanager:us-east-1:000000000000:secret:nfe-sefaz-certificado-bench"
                ),
                topology.ENV_SEFAZ_CA_BUNDLE: SEFAZ_CA_BUNDLE_RUNTIME_PATH,
                topology.ENV_FISCAL_ARCHIVE_BUCKET: "nfe-fiscal-archive-bench",
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


# Cold requests -----------------------------------------------------------------------------------
#
# What a user meets: a container spawned for the request (interpreter start, init), then its first
# real invocation with everything it builds on first use (AWS client, database connection) and the
# work. Each function's container is started exactly as local mode starts it (its environment, the
# X-Ray daemon address included), against a migrated database, the emulator holding the stack's
# bus and queues, and the emulated SEFAZ with the emitente's test A1 in the emulator's Secrets
# Manager; no pollers run, so each consumer gets the message the previous step produced. The SEFAZ
# function's first request reads and opens the certificate, signs, and makes its first TLS connection
# (mutual, to the emulator, at its default answer delay) before it archives and publishes the answer.

CLAIMS = {
    "sub": "00000000-0000-4000-8000-00000000bec1",
    "email": "bench@example.com",
    "cognito:groups": "faturamento,estoque",
    "token_use": "id",
}
# The order a saga meets them: each step's output is the next one's input.
COLD_ORDER = (
    "estoque-api",
    "faturamento-api",
    "estoque-consumer",
    "faturamento-consumer",
    "sefaz-autorizador",
    "outbox-publisher",
)


def _api_event(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    from nfe.local.gateway import build_event, match_route

    matched = match_route(method, path)
    assert matched is not None, path
    route, parameters = matched
    headers = {"Content-Type": "application/json", "User-Agent": "bench"}
    return build_event(method, path, headers, json.dumps(body).encode(), route, parameters, claims=CLAIMS)


def _queue(consumer: str, event: Any) -> str:
    """The queue that brings `event` to `consumer` (nfe/topology.py)."""
    return next(q.name for q in topology.QUEUES if q.consumer == consumer and event in q.events)


def _one_message(aws: Any, queue: str, timeout: float = 10) -> dict[str, Any]:
    from nfe.local.pollers import sqs_event

    info = aws.queues[queue]
    sqs = aws.client("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=info.url, MaxNumberOfMessages=1, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if messages:
            sqs.delete_message(QueueUrl=info.url, ReceiptHandle=messages[0]["ReceiptHandle"])
            return sqs_event(messages, info.arn)
    raise RuntimeError(f"cold request: nothing arrived on {queue}")


def _cold_request(function: topology.Function, environment: dict[str, str], event: Any) -> dict[str, Any]:
    from nfe.local.containers import Container

    container = Container(function, environment, None, measure=True)
    try:
        container.wait_ready()
        ready = (time.perf_counter() - container.spawned_at) * 1000
        invocation = container.invoke(event, 30)
        total = (time.perf_counter() - container.spawned_at) * 1000
    finally:
        container.stop()
    client, connect = invocation.timers.get("client", 0.0), invocation.timers.get("connect", 0.0)
    return {
        "totalMs": total,
        "interpreterMs": ready - container.init_ms,  # spawn to the bootstrap running, and the pipe
        "initMs": container.init_ms,
        "clientMs": client,
        "connectMs": connect,
        "workMs": invocation.ms - client - connect,
        "result": invocation.result,
    }


def cold_requests(admin_url: str, runs: int, log: Log = say) -> tuple[dict[str, float], dict[str, Any]]:
    """Each function's cold request, `runs` times round-robin; medians, with the split."""
    import psycopg

    from bench.harness import with_database
    from functions.migrator.runner import migrate
    from functions.shared.events import EventName, ItemReserva, NotaFiscalCriada
    from functions.shared.outbox import add_event
    from nfe.local import emulator
    from nfe.local.fiscal_demo import DEMO_EMITENTE
    from nfe.local.sefaz import SefazEmulator
    from nfe.local.system import SefazTarget, container_environment, provision_certificate
    from nfe.local.xray_listener import XRayListener

    name = f"bench_cold_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    database_url = with_database(admin_url, name)
    aws = None
    sefaz_dir = tempfile.mkdtemp(prefix="bench-cold-sefaz-")
    sefaz = SefazEmulator(
        sefaz_dir,
        persist=False,
        uf=DEMO_EMITENTE["endereco"]["uf"],
        ambiente=DEMO_EMITENTE["ambiente"],
        cnpj=DEMO_EMITENTE["cnpj"],
    )
    sefaz.start()
    # SEFAZ's own time inside the SEFAZ function's cold request (on AWS, SEFAZ's latency), told apart.
    sefaz_ms: list[float] = []
    answer = sefaz.service.handle

    def timed_answer(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return answer(*args, **kwargs)
        finally:
            sefaz_ms.append((time.perf_counter() - t0) * 1000)

    sefaz.service.handle = timed_answer  # type: ignore[method-assign]
    xray = XRayListener().start()
    samples: dict[str, list[dict[str, Any]]] = {fn: [] for fn in COLD_ORDER}
    python: list[float] = []
    try:
        migrate(database_url)
        # Its own bus and queues: moto keeps a process's resources after its server stops.
        aws = emulator.start("coldrequest")
        info = sefaz.info()
        target = SefazTarget(info["url"], info["caFile"], provision_certificate(aws, info))
        env = {
            fn: container_environment(
                topology.function(fn),
                aws,
                xray.address,
                database_url,
                cors_origin="https://console.example.com",
                sefaz=target,
            )
            for fn in COLD_ORDER
        }
        for run_number in range(1, runs + 1):
            python.append(time_python())
            step = _cold_request(
                topology.function("estoque-api"),
                env["estoque-api"],
                _api_event(
                    "POST",
                    "/api/v1/produtos",
                    {"sku": f"COLD-{uuid.uuid4().hex[:10]}", "nome": "P", "quantidade": 100, **PRODUTO_FISCAL},
                ),
            )
            assert step["result"]["statusCode"] == 201, step["result"]
            samples["estoque-api"].append(step)
            produto_id = json.loads(step["result"]["body"])["id"]
            nota = {
                "destinatario": DESTINATARIO_SP,
                "items": [{"produtoId": produto_id, "quantidade": 1, "valorUnitario": "10.50"}],
            }
            step = _cold_request(
                topology.function("faturamento-api"), env["faturamento-api"], _api_event("POST", "/api/v1/notas", nota)
            )
            assert step["result"]["statusCode"] == 201, step["result"]
            samples["faturamento-api"].append(step)
            for consumer, event in (
                ("estoque-consumer", EventName.NOTA_FISCAL_CRIADA),
                ("faturamento-consumer", EventName.RESERVA_CONFIRMADA),
                # The NotaFiscalEmitida faturamento-consumer published eagerly
                ("sefaz-autorizador", EventName.NOTA_FISCAL_EMITIDA),
            ):
                message = _one_message(aws, _queue(consumer, event))
                step = _cold_request(topology.function(consumer), env[consumer], message)
                assert not (step["result"] or {}).get("batchItemFailures"), step["result"]
                samples[consumer].append(step)
            # SEFAZ authorized it: the answer waits for Faturamento, which this benchmark does not time again
            _one_message(aws, _queue("faturamento-consumer", EventName.NOTA_FISCAL_AUTORIZADA))
            with psycopg.connect(database_url) as conn:
                add_event(
                    conn,
                    "faturamento",
                    EventName.NOTA_FISCAL_CRIADA,
                    NotaFiscalCriada(
                        nota_fiscal_id=uuid.uuid4(),
                        items=[ItemReserva(produto_id=uuid.uuid4(), quantidade=1)],
                        valor_total=Decimal("10.50"),
                    ),
                )
            scheduled = {
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "detail": {},
                "id": str(uuid.uuid4()),
            }
            step = _cold_request(topology.function("outbox-publisher"), env["outbox-publisher"], scheduled)
            samples["outbox-publisher"].append(step)
            # the drained event, so the next round starts empty
            _one_message(aws, _queue("estoque-consumer", EventName.NOTA_FISCAL_CRIADA))
            log(f"cold request: round {run_number}/{runs} done")
    finally:
        xray.stop()
        sefaz.stop()
        shutil.rmtree(sefaz_dir, ignore_errors=True)
        if aws is not None:
            aws.stop()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    figures: dict[str, float] = {}
    details: dict[str, Any] = {}
    for fn, steps in samples.items():
        figures[fn] = ms(median([s["totalMs"] for s in steps]))
        details[fn] = {
            key: ms(median([s[key] for s in steps]))
            for key in ("interpreterMs", "initMs", "clientMs", "connectMs", "workMs")
        }
        details[fn]["maxMs"] = ms(max(s["totalMs"] for s in steps))
        split = details[fn]
        log(
            f"cold request: {fn}: {figures[fn]:.0f} ms (interpreter {split['interpreterMs']:.0f}, init "
            f"{split['initMs']:.0f}, client {split['clientMs']:.0f}, connect {split['connectMs']:.0f}, "
            f"work {split['workMs']:.0f})"
        )
    figures["python"] = ms(median(python))
    if sefaz_ms:
        details["sefazServerMs"] = ms(median(sefaz_ms))
    details["xray"] = xray.summary()
    return figures, details
