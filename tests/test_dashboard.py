"""The dashboard, the MensagensRejeitadas alarm and the runbook links, under Pulumi mocks (both stacks)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import runbook
from nfe import topology
from nfe.mockrun import PlanResult
from nfe.ops.target import from_outputs
from nfe.plan import plan

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> Iterator[PlanResult]:
    yield plan(request.param)


def body(stack: PlanResult) -> dict[str, Any]:
    (dashboard,) = stack.of_type(DASHBOARD)
    return dict(json.loads(dashboard.inputs["dashboardBody"]))


def series(widget: dict[str, Any]) -> list[list[Any]]:
    return [[part for part in metric if not isinstance(part, dict)] for metric in widget["properties"]["metrics"]]


def test_each_stack_has_one_dashboard_component(stack: PlanResult) -> None:
    (component,) = stack.of_type("nfe:index:Dashboard")
    (dashboard,) = stack.of_type(DASHBOARD)
    assert dashboard.parent == component.urn
    assert dashboard.inputs["dashboardName"] == f"nfe-{stack.stack}"
    assert stack.outputs["dashboardName"] == f"nfe-{stack.stack}"


def test_the_dashboard_shows_the_saga_its_plumbing_functions_api_and_database(stack: PlanResult) -> None:
    widgets = {w["properties"]["title"]: w for w in body(stack)["widgets"]}
    saga = series(widgets["Sagas per minute"])
    assert {m[1] for m in saga} == {"NotasCriadas", "NotasConfirmadas", "Compensacoes", "NotasCanceladas"}
    assert {m[1] for m in series(widgets["Saga duration to its final state (ms)"])} == {
        "DuracaoSaga",
        "DuracaoCancelamento",
    }
    assert series(widgets["Outbox lag (s) and parked rows"])[0][1] == "OutboxOldestUnpublishedAgeSeconds"
    # SEFAZ's row: its answers, the longest wait (with the pending alarm's threshold), the A1's days left
    sefaz = [
        m for t in ("SEFAZ answers per minute", "Waiting for SEFAZ, max (s since dhEmi)") for m in series(widgets[t])
    ]
    assert {m[1] for m in sefaz} == {
        "NotasAutorizadas",
        "NotasRejeitadas",
        "NotasDenegadas",
        "SefazIndisponivel",
        "EsperaAutorizacao",
    }
    assert {(m[2], m[3]) for m in sefaz} == {("service", "sefaz-autorizador")}
    waiting = widgets["Waiting for SEFAZ, max (s since dhEmi)"]["properties"]
    assert waiting["stat"] == "Maximum" and waiting["annotations"]["horizontal"][0]["value"] == 15 * 60
    # The fiscal deadlines: the A1's days left and the nearest inutilização's, each with its alarm's threshold
    deadlines = widgets["Fiscal deadlines: days left"]["properties"]
    assert [m[1] for m in series(widgets["Fiscal deadlines: days left"])] == [
        "CertificadoDiasRestantes",
        "DiasParaInutilizar",
    ]
    assert deadlines["stat"] == "Minimum"
    assert [a["value"] for a in deadlines["annotations"]["horizontal"]] == [30, 3]
    # One row of its own (the second)
    assert {
        w["y"]
        for w in body(stack)["widgets"]
        if w["properties"]["title"]
        in ("SEFAZ answers per minute", "Waiting for SEFAZ, max (s since dhEmi)", "Fiscal deadlines: days left")
    } == {6}
    # Every DLQ the stack has: one per queue, one per consumer's targets, the event log's
    dlqs = {m[3] for m in series(widgets["DLQ depth"])}
    queues = {q.inputs["name"] for q in stack.of_type("aws:sqs/queue:Queue")}
    assert dlqs == {name for name in queues if "dlq" in name}
    consumers = [f for f in topology.FUNCTIONS if f.kind == "consumer"]
    assert len(dlqs) == len(topology.QUEUES) + len(consumers) + 1
    assert {m[3] for m in series(widgets["Rejected messages (MensagensRejeitadas)"])} == {f.name for f in consumers}
    # Each function's errors, throttles and duration p95
    functions = {f.inputs["name"] for f in stack.of_type("aws:lambda/function:Function")}
    for title, metric in (("Lambda errors", "Errors"), ("Lambda throttles", "Throttles")):
        assert {m[3] for m in series(widgets[title])} == functions
        assert {m[1] for m in series(widgets[title])} == {metric}
    assert widgets["Lambda duration p95 (ms)"]["properties"]["stat"] == "p95"
    assert {m[3] for m in series(widgets["Lambda duration p95 (ms)"])} == functions
    # The API's 4xx, 5xx and latency p95, by its name and stage
    assert {m[1] for m in series(widgets["API 4xx and 5xx"])} == {"4XXError", "5XXError"}
    assert widgets["API latency p95 (ms)"]["properties"]["stat"] == "p95"
    # The database's CPU, connections and free storage
    rds = {m[1] for t in ("Database CPU (%)", "Database connections and free storage") for m in series(widgets[t])}
    assert rds == {"CPUUtilization", "DatabaseConnections", "FreeStorageSpace"}
    # Laid out on the 24-column grid without overlaps, in the stack's region
    cells = {(w["x"], w["y"]) for w in body(stack)["widgets"]}
    assert len(cells) == len(widgets)
    assert all(w["x"] + w["width"] <= 24 for w in body(stack)["widgets"])
    assert {w["properties"]["region"] for w in body(stack)["widgets"]} == {"us-east-1"}


def test_each_consumer_has_a_mensagens_rejeitadas_alarm(stack: PlanResult) -> None:
    alarms = [
        a
        for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs.get("metricName") == "MensagensRejeitadas"
    ]
    assert sorted(a.inputs["dimensions"]["service"] for a in alarms) == [
        "estoque-consumer",
        "faturamento-consumer",
        "sefaz-autorizador",
    ]
    for alarm in alarms:
        assert alarm.inputs["namespace"] == "nfe"
        assert alarm.inputs["threshold"] == 0 and alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm.inputs["alarmActions"] and alarm.inputs["treatMissingData"] == "notBreaching"


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE):
        found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return found


def test_every_alarm_links_to_its_runbook_section_and_the_section_exists(stack: PlanResult) -> None:
    sections = anchors((ROOT / runbook.RUNBOOK).read_text())
    alarms = stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) >= 10
    for alarm in alarms:
        description = alarm.inputs["alarmDescription"]
        link = re.search(r"Runbook: docs/operations\.md#([\w-]+)$", description)
        assert link, description
        assert link.group(1) in sections, (link.group(1), sorted(sections))
        # A metric-math alarm links to the section of the first metric it reads that has one
        metric = alarm.inputs.get("metricName") or next(
            q["metric"]["metricName"]
            for q in alarm.inputs["metricQueries"]
            if "metric" in q and q["metric"]["metricName"] in runbook.SECTIONS
        )
        assert link.group(1) == runbook.section_for(metric)


def test_a_metric_math_alarm_finds_its_section_by_the_metrics_it_reads() -> None:
    def query(name: str) -> dict[str, Any]:
        return {"id": name.lower(), "metric": {"metric_name": name, "namespace": "nfe"}}

    # The first metric with a section decides, whatever comes before it
    props = {"metric_queries": [query("NotasAutorizadas"), query("NotasRejeitadas"), {"id": "e", "expression": "1"}]}
    assert runbook.alarm_metric(props) == "NotasRejeitadas"
    # None with a section: the first one's name, which section_for then refuses
    assert runbook.alarm_metric({"metric_queries": [query("SomethingNew")]}) == "SomethingNew"
    assert runbook.alarm_metric({"metric_name": "Errors"}) == "Errors"


def test_an_alarm_without_a_runbook_section_is_refused() -> None:
    with pytest.raises(ValueError, match="no runbook section"):
        runbook.section_for("SomethingNew")


def test_the_stack_outputs_are_a_target_for_the_ops_commands(stack: PlanResult) -> None:
    # Given the outputs as `pulumi stack output --json` prints them
    outputs = json.loads(json.dumps(stack.outputs, default=str))
    # When the ops commands read them / Then they find every DLQ, the bus, its archive and the region
    target = from_outputs(outputs, f"stack {stack.stack}")
    assert target.region == "us-east-1" and target.bus_name == f"nfe-events-{stack.stack}"
    assert target.archive_name == f"nfe-events-{stack.stack}-archive"
    kinds = [d.kind for d in target.dlqs]
    consumers = [f for f in topology.FUNCTIONS if f.kind == "consumer"]
    assert kinds.count("queue") == len(topology.QUEUES) and kinds.count("log") == 1
    # A target DLQ per consumer: each service's and the SEFAZ participant's
    assert kinds.count("target") == len(consumers) == 3
    assert target.dlq("sefaz-pedidos").name == f"sefaz-pedidos-dlq-{stack.stack}"
    assert all(d.source_url for d in target.dlqs if d.kind == "queue")
    assert target.dlq("estoque-reserva").name == f"estoque-reserva-dlq-{stack.stack}"
