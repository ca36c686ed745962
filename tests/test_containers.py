"""Local mode's Lambda runtime: process containers, their environment, scaling, crashes and timeouts.

The runtime tests run a fixture handler (tests/fixtures/container_handlers.py) in real container
processes; the environment test compares what local mode gives each function with what the Pulumi
program deploys; the init test starts each real function's container and checks what its init
imported.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from nfe import function_env, topology
from nfe.local import emulator
from nfe.local.containers import runtime_environment
from nfe.local.fiscal_demo import DEMO_EMITENTE
from nfe.local.lambda_runtime import ContainerLost, FunctionError, FunctionRuntime
from nfe.local.system import LOCAL_FUNCTIONS, SefazTarget, container_environment
from nfe.local.xray_listener import XRayListener
from nfe.plan import plan

FIXTURE = topology.Function("fixture", "platform", "tests.fixtures.container_handlers.handler", None, "consumer")


def fixture_runtime(concurrency: int = 2, timeout: float = 5, idle: float = 300) -> FunctionRuntime:
    env = runtime_environment(FIXTURE, "fixture-local", region="us-east-1", xray_daemon=None, memory_mb=128)
    return FunctionRuntime(FIXTURE, env, concurrency=concurrency, timeout_seconds=timeout, idle_seconds=idle)


@pytest.fixture
def runtime() -> Iterator[FunctionRuntime]:
    created = fixture_runtime()
    yield created
    created.shutdown()


def test_a_warm_container_is_reused_and_each_invocation_gets_its_trace_and_deadline(runtime: FunctionRuntime) -> None:
    first = runtime.invoke({})
    second = runtime.invoke({})
    assert first["pid"] == second["pid"]
    assert runtime.stats.cold_starts == 1 and runtime.stats.invocations == 2
    assert first["requestId"] != second["requestId"]
    assert first["trace"].startswith("Root=1-") and "Sampled=1" in first["trace"]
    assert first["trace"] != second["trace"]
    assert 0 < first["remainingMs"] <= 5000


def test_concurrent_invocations_get_containers_up_to_the_reserved_concurrency() -> None:
    runtime = fixture_runtime(concurrency=2)
    try:
        results: list[Any] = []
        threads = [threading.Thread(target=lambda: results.append(runtime.invoke({"sleep": 0.5}))) for _ in range(4)]
        t0 = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Two at a time, in two containers: about 1 s, never four containers
        assert len({r["pid"] for r in results}) == 2
        assert runtime.stats.cold_starts == 2 and len(runtime.containers) == 2
        assert time.monotonic() - t0 >= 1.0
    finally:
        runtime.shutdown()


def test_idle_containers_are_reaped_and_the_next_invocation_is_a_cold_start() -> None:
    runtime = fixture_runtime(idle=0.2)
    try:
        pid = runtime.invoke({})["pid"]
        time.sleep(0.3)
        assert runtime.reap_idle() == 1
        assert runtime.containers == []
        assert runtime.invoke({})["pid"] != pid
        assert runtime.stats.cold_starts == 2 and runtime.stats.reaped == 1
    finally:
        runtime.shutdown()


def test_a_handler_error_fails_the_invocation_and_keeps_the_container(runtime: FunctionRuntime) -> None:
    pid = runtime.invoke({})["pid"]
    with pytest.raises(FunctionError, match="ValueError: no stock") as raised:
        runtime.invoke({"raise": "no stock"})
    assert not isinstance(raised.value, ContainerLost)
    assert runtime.invoke({})["pid"] == pid


def test_a_crashed_container_ends_its_invocation_and_is_replaced(runtime: FunctionRuntime) -> None:
    pid = runtime.invoke({})["pid"]
    with pytest.raises(ContainerLost) as raised:
        runtime.invoke({"exit": 3})
    assert raised.value.error_type == "Runtime.ExitError"
    assert runtime.invoke({})["pid"] != pid
    assert runtime.stats.lost == 1 and runtime.stats.cold_starts == 2


def test_a_container_past_its_timeout_is_killed_and_replaced() -> None:
    runtime = fixture_runtime(timeout=1)
    try:
        pid = runtime.invoke({})["pid"]
        t0 = time.monotonic()
        with pytest.raises(ContainerLost) as raised:
            runtime.invoke({"sleep": 30})
        assert raised.value.error_type == "Sandbox.Timedout"
        assert time.monotonic() - t0 < 3
        assert runtime.invoke({})["pid"] != pid
    finally:
        runtime.shutdown()


# --- the environment: the stack's, but for the database and the endpoints --------------------

LOCAL_ONLY = {"DATABASE_URL", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SEFAZ_BASE_URL"}
STACK_ONLY = {
    topology.ENV_DB_HOST,
    topology.ENV_DB_PORT,
    topology.ENV_DB_NAME,
    topology.ENV_DB_IAM_AUTH,
    topology.ENV_DB_SSLMODE,
    topology.ENV_DB_SSLROOTCERT,
    topology.ENV_DB_PROXY,
}


@pytest.fixture(scope="module")
def local_aws() -> Iterator[emulator.LocalAws]:
    aws = emulator.start("envtest")
    yield aws
    aws.stop()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_container_gets_the_variables_the_stack_deploys_but_for_the_database_and_endpoints(
    stack: str, local_aws: emulator.LocalAws
) -> None:
    deployed = {
        f.inputs["name"]: f.inputs["environment"]["variables"]
        for f in plan(stack).of_type("aws:lambda/function:Function")
    }
    for fn in LOCAL_FUNCTIONS:
        stack_vars = deployed[f"{fn.name}-{stack}"]
        local = container_environment(
            fn,
            local_aws,
            "127.0.0.1:2000",
            "host=127.0.0.1 port=5432 dbname=nfe user=x",
            cors_origin="http://127.0.0.1:3000",
            sefaz=SefazTarget("https://127.0.0.1:1", "/tmp/ca.pem", "nfe-sefaz-certificado-test"),
        )
        runtime = runtime_environment(
            fn, f"{fn.name}-local", region="us-east-1", xray_daemon="127.0.0.1:2000", memory_mb=0
        )
        from_stack = {k for k in local if k not in runtime or k in ("AWS_REGION", "AWS_DEFAULT_REGION")} - LOCAL_ONLY
        if topology.ENV_SEFAZ_CA_BUNDLE not in stack_vars:
            # A homologação stack without nfe:sefaz.caBundlePath deploys none (and warns); local mode
            # always has the emulator's CA.
            from_stack.discard(topology.ENV_SEFAZ_CA_BUNDLE)
        assert from_stack - {"AWS_REGION", "AWS_DEFAULT_REGION"} == set(stack_vars) - STACK_ONLY, fn.name
        # Where things are, and whose notas these are: the stack's own there, local mode's demo here
        endpoints = {
            topology.ENV_EVENT_BUS_NAME,
            topology.ENV_CORS_ALLOW_ORIGIN,
            topology.ENV_FISCAL_ARCHIVE_BUCKET,
            topology.ENV_EMITENTE,
            # The certificate's secret and SEFAZ's CA: the stack's there, the emulator's here
            topology.ENV_SEFAZ_CERTIFICATE_SECRET,
            topology.ENV_SEFAZ_CA_BUNDLE,
        }
        if topology.ENV_EMITENTE in stack_vars:
            assert json.loads(local[topology.ENV_EMITENTE])["cnpj"] == DEMO_EMITENTE["cnpj"], fn.name
        for key in set(stack_vars) - STACK_ONLY - endpoints:
            assert local[key] == stack_vars[key], (fn.name, key)
        assert local[topology.ENV_EVENT_BUS_NAME] == local_aws.bus_name
        # The fiscal archive: the stack's bucket there, the emulator's here, for the same functions
        deployed_archive = topology.ENV_FISCAL_ARCHIVE_BUCKET in stack_vars
        archive = local.get(topology.ENV_FISCAL_ARCHIVE_BUCKET)
        assert archive == (local_aws.fiscal_archive_bucket if deployed_archive else None), fn.name
        # The API's one allowed origin: the console's on the stack, this server's locally
        assert local.get(topology.ENV_CORS_ALLOW_ORIGIN) == ("http://127.0.0.1:3000" if fn.kind == "api" else None)
        # Tracing and metrics as deployed: X-Ray's daemon address, nothing switching either off
        assert local["AWS_XRAY_DAEMON_ADDRESS"] == "127.0.0.1:2000"
        assert not {k for k in local if k.endswith("_DISABLED")}
        # The database URL carries no credentials: the function logs in as its own role; a function
        # outside the VPC gets no database at all, there as here
        if fn.in_vpc:
            assert "user=" not in local["DATABASE_URL"] and local.get(topology.ENV_DB_USER) == fn.database_role
        else:
            assert "DATABASE_URL" not in local and not {k for k in stack_vars if k.startswith("DB_")}, fn.name


def test_the_stack_and_local_mode_share_one_environment_function() -> None:
    spec = topology.function("faturamento-api")
    aws = function_env.function_environment(
        spec, function_env.aws_database("db", via_proxy=False, sslmode="verify-full", sslrootcert="ca.pem"), "bus"
    )
    local = function_env.function_environment(spec, function_env.local_database("host=h"), "bus")
    assert set(aws) - STACK_ONLY == set(local) - {"DATABASE_URL"}


# --- what a function's init imports ----------------------------------------------------------

# Heavy modules no handler's init may load (the cold-start budget, docs/performance.md): the AWS SDK
# beyond the botocore X-Ray patches (clients are built on first use), what Powertools' default
# Tracer would patch, and local mode's or the stack's own code.
FORBIDDEN_AT_INIT = (
    "boto3",
    "requests",
    "sqlite3",
    "httpx",
    "moto",
    "werkzeug",
    "pulumi",
    "yaml",
    "jsonpath_ng",
    # The NF-e's heavy libraries: loaded on first use by the consumer that numbers notas and by the
    # DANFE route, never by a handler's init.
    "nfelib",
    "lxml",
    "xsdata",
    "fpdf",
    "brazilfiscalreport",
    "signxml",
    # (erpbrasil itself is a namespace package its .pth file creates at interpreter start here; on
    # Lambda the layer is no site directory, so only the real package would show)
    "erpbrasil.assinatura",
    "xmlsec",
)
# The bootstrap is local mode's stand-in for the runtime; nothing else of nfe may reach a function.
ALLOWED_NFE = {"nfe", "nfe.local", "nfe.local.bootstrap"}


def test_no_heavy_module_creeps_into_a_handlers_init(local_aws: emulator.LocalAws) -> None:
    from nfe.local.containers import Container

    xray = XRayListener().start()
    try:
        for fn in LOCAL_FUNCTIONS:
            env = container_environment(
                fn,
                local_aws,
                xray.address,
                "host=127.0.0.1 port=5432 dbname=nfe",
                cors_origin="http://127.0.0.1:3000",
                # The SEFAZ participant's init reads where SEFAZ and its certificate are, nothing more.
                sefaz=SefazTarget("https://127.0.0.1:1", "/nonexistent/ca.pem", "nfe-sefaz-certificado-test"),
            )
            container = Container(fn, env, None, measure=True)
            try:
                container.wait_ready()
            finally:
                container.stop()
            loaded = set(container.init_modules)
            assert "aws_xray_sdk" in loaded, f"{fn.name}: active tracing should load the X-Ray SDK"
            heavy = sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_AT_INIT))
            assert heavy == [], f"{fn.name} imports at init: {heavy}"
            assert {m for m in loaded if m.split(".")[0] == "nfe"} <= ALLOWED_NFE, fn.name
    finally:
        xray.stop()
