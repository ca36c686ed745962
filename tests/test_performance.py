"""Regression tests for the performance fixes `make bench` led to (figures in docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.coldstart import lambda_environment
from nfe import topology
from nfe.local import emulator

PROBE = (
    "import json, sys\n"
    "import functions.shared.observability as observability\n"
    "from aws_xray_sdk.core import patcher\n"
    "print(json.dumps({'tracer': type(observability.tracer).__name__, "
    "'patched': sorted(patcher._PATCHED_MODULES), 'requests': 'requests' in sys.modules}))\n"
)


def test_a_traced_function_patches_only_the_aws_sdk_at_init() -> None:
    # Given a fresh interpreter with the environment of a deployed function with active tracing
    env = lambda_environment(topology.function("estoque-api"))
    # When the shared observability module builds its tracer
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout)
    # Then the real Tracer patched botocore alone, and nothing imported `requests` for it
    assert probe == {"tracer": "Tracer", "patched": ["botocore"], "requests": False}


def test_local_bus_still_routes_each_event_to_its_queue_with_its_own_detail() -> None:
    import jsonpath_ng.ext
    import moto.backends

    # Given the local emulator, whose moto lookups are parsed and listed once per process
    aws = emulator.start("perftest")
    try:
        assert hasattr(jsonpath_ng.ext.parse, "cache_info")
        assert hasattr(moto.backends.list_of_moto_modules, "cache_info")
        # When three events of two types go on the bus, in one call and then another
        events = aws.client("events")
        for details in (["a", "b"], ["c"]):
            events.put_events(
                Entries=[
                    {
                        "EventBusName": aws.bus_name,
                        "Source": "nfe.faturamento",
                        "DetailType": "NotaFiscalCriada",
                        "Detail": json.dumps({"marker": d}),
                    }
                    for d in details
                ]
            )
        events.put_events(
            Entries=[
                {
                    "EventBusName": aws.bus_name,
                    "Source": "nfe.estoque",
                    "DetailType": "ReservaConfirmada",
                    "Detail": json.dumps({"marker": "z"}),
                }
            ]
        )
        # Then each queue holds exactly its events, each with its own detail (no cached result leaked)
        sqs = aws.client("sqs")

        def bodies(queue: str) -> list[dict[str, object]]:
            messages = sqs.receive_message(QueueUrl=aws.queues[queue].url, MaxNumberOfMessages=10).get("Messages", [])
            return [json.loads(m["Body"]) for m in messages]

        reserva = bodies("estoque-reserva")
        assert sorted(b["detail"]["marker"] for b in reserva) == ["a", "b", "c"]  # type: ignore[index]
        assert {b["detail-type"] for b in reserva} == {"NotaFiscalCriada"}
        confirmacao = bodies("faturamento-confirmacao")
        assert [(b["source"], b["detail"]) for b in confirmacao] == [("nfe.estoque", {"marker": "z"})]
    finally:
        aws.stop()


def test_the_publisher_builds_its_eventbridge_client_only_when_a_run_has_something_to_send() -> None:
    # Given a fresh interpreter with the publisher's deployed environment, without active tracing
    env = lambda_environment(topology.function("outbox-publisher"))
    env.pop("AWS_XRAY_DAEMON_ADDRESS")
    probe = (
        "import json, sys\n"
        "from functions.publisher import handler\n"
        "print(json.dumps({'boto3': 'boto3' in sys.modules, 'client': handler.relay.events.client is not None}))\n"
    )
    # When its handler module is imported (the cold start)
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    # Then neither boto3 nor a client exists yet (the schedule-only saga test proves the first send)
    assert json.loads(out.stdout) == {"boto3": False, "client": False}
