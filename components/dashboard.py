"""Dashboard: the stack's CloudWatch dashboard, one screen an operator opens when an alarm fires.

Rows, top to bottom: the saga (notas emitted, confirmed, compensated and canceled per minute, how
long a saga takes to reach its final state, the outbox lag and parked rows), SEFAZ (its answers, how
long notas wait for them, the days left before the A1 certificate expires and before the nearest
inutilização is due), the plumbing (DLQ depths, the oldest message's age per queue, rejected
messages), the functions (errors, throttles, duration p95 of each), the API (4xx, 5xx, latency p95)
and the database (CPU, connections, free storage).

The saga's figures are the functions' own EMF metrics (namespace `nfe`, dimension `service` = the
function's topology name, see components/metrics.py): NotasCriadas from faturamento-api;
NotasConfirmadas, Compensacoes, NotasCanceladas, DuracaoSaga and DuracaoCancelamento from
faturamento-consumer; MensagensRejeitadas from each consumer; the outbox figures from the publisher;
the SEFAZ figures from sefaz-autorizador, but the inutilização deadline, which the publisher reports
(components/metrics.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import metrics

PERIOD = 60
WIDTH = 8  # three widgets per row of the 24-column grid
HEIGHT = 6
# The consumer's metric names (functions/faturamento/logic.py, functions/shared/consumer.py).
SAGA_METRICS = (
    ("NotasCriadas", "faturamento-api", "emitted"),
    ("NotasConfirmadas", "faturamento-consumer", "confirmed"),
    ("Compensacoes", "faturamento-consumer", "compensated"),
    ("NotasCanceladas", "faturamento-consumer", "canceled"),
)
SAGA_DURATION_METRIC = "DuracaoSaga"
CANCELATION_DURATION_METRIC = "DuracaoCancelamento"
REJECTED_METRIC = "MensagensRejeitadas"
CONSUMERS = ("estoque-consumer", "faturamento-consumer", metrics.SEFAZ_SERVICE)
SEFAZ_ANSWERS = (
    (metrics.SEFAZ_AUTHORIZED_METRIC, "authorized"),
    (metrics.SEFAZ_REJECTED_METRIC, "rejected"),
    (metrics.SEFAZ_DENIED_METRIC, "denied"),
    (metrics.SEFAZ_UNAVAILABLE_METRIC, "SEFAZ unavailable (attempts)"),
)


@dataclass(frozen=True)
class DashboardArgs:
    environment: str
    region: str
    function_names: Mapping[str, pulumi.Input[str]]  # topology name -> deployed name
    dlq_names: Sequence[pulumi.Input[str]]
    api_name: pulumi.Input[str]
    api_stage: pulumi.Input[str]
    db_instance_id: pulumi.Input[str]
    # The saga's queues (not their DLQs): the age of the oldest message shows a backlog building.
    queue_names: Sequence[pulumi.Input[str]] = ()
    backlog_alarm_seconds: int | None = None
    # nfe:sefaz.pendingAlarmMinutes in seconds, drawn on the authorization wait.
    sefaz_pending_alarm_seconds: int | None = None


def _widget(title: str, series: list[list[Any]], stat: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "view": "timeSeries",
            "stat": stat,
            "period": PERIOD,
            "metrics": series,
            **properties,
        },
    }


def _threshold(label: str, value: float | None) -> dict[str, Any]:
    return {"annotations": {"horizontal": [{"label": label, "value": value}]}} if value is not None else {}


def sefaz_widgets(args: DashboardArgs) -> list[dict[str, Any]]:
    """SEFAZ's row: what it answered, how long the notas waited for it, the days left before the fiscal
    deadlines (the certificate's expiry, the nearest inutilização)."""
    ns, dims = metrics.METRICS_NAMESPACE, ["service", metrics.SEFAZ_SERVICE]
    return [
        _widget(
            "SEFAZ answers per minute",
            [[ns, name, *dims, {"label": label}] for name, label in SEFAZ_ANSWERS],
            "Sum",
        ),
        _widget(
            "Waiting for SEFAZ, max (s since dhEmi)",
            [[ns, metrics.SEFAZ_PENDING_METRIC, *dims, {"label": "longest wait"}]],
            "Maximum",
            **_threshold("pending alarm", args.sefaz_pending_alarm_seconds),
        ),
        # Both fiscal deadlines on one days axis: the certificate's renewal and the nearest inutilização
        # (reported by the publisher, sql/V010), each with its alarm's threshold.
        _widget(
            "Fiscal deadlines: days left",
            [
                [ns, metrics.SEFAZ_CERTIFICATE_DAYS_METRIC, *dims, {"label": "A1 certificate"}],
                [
                    ns,
                    metrics.INUTILIZACAO_DEADLINE_METRIC,
                    "service",
                    metrics.OUTBOX_PUBLISHER_SERVICE,
                    {"label": "nearest inutilização"},
                ],
            ],
            "Minimum",
            period=3600,
            annotations={
                "horizontal": [
                    {"label": "certificate alarm", "value": metrics.SEFAZ_CERTIFICATE_ALARM_DAYS},
                    {"label": "inutilização alarm", "value": metrics.INUTILIZACAO_ALARM_DAYS},
                ]
            },
        ),
    ]


def widgets(args: DashboardArgs) -> list[dict[str, Any]]:
    """The dashboard's widgets, in reading order (positions are assigned by `layout`)."""
    functions = sorted(args.function_names.items())
    api = ["ApiName", args.api_name, "Stage", args.api_stage]
    db = ["DBInstanceIdentifier", args.db_instance_id]
    ns = metrics.METRICS_NAMESPACE
    return [
        _widget(
            "Sagas per minute",
            [[ns, name, "service", service, {"label": label}] for name, service, label in SAGA_METRICS],
            "Sum",
        ),
        _widget(
            "Saga duration to its final state (ms)",
            [
                [ns, SAGA_DURATION_METRIC, "service", "faturamento-consumer", {"stat": "p50", "label": "p50"}],
                [ns, SAGA_DURATION_METRIC, "service", "faturamento-consumer", {"stat": "p95", "label": "p95"}],
                [
                    ns,
                    CANCELATION_DURATION_METRIC,
                    "service",
                    "faturamento-consumer",
                    {"stat": "p95", "label": "cancel p95"},
                ],
            ],
            "p95",
        ),
        _widget(
            "Outbox lag (s) and parked rows",
            [
                [
                    ns,
                    metrics.OUTBOX_LAG_METRIC,
                    "service",
                    metrics.OUTBOX_PUBLISHER_SERVICE,
                    {"label": "oldest unpublished (s)"},
                ],
                [
                    ns,
                    "OutboxEventsParked",
                    "service",
                    metrics.OUTBOX_PUBLISHER_SERVICE,
                    {"stat": "Sum", "label": "parked", "yAxis": "right"},
                ],
            ],
            "Maximum",
        ),
        # A row of its own, the second: SEFAZ is the saga's one dependency outside the stack.
        *sefaz_widgets(args),
        _widget(
            "DLQ depth",
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name] for name in args.dlq_names],
            "Maximum",
        ),
        _widget(
            "Oldest message age per queue (s)",
            [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", name] for name in args.queue_names],
            "Maximum",
            **(
                {"annotations": {"horizontal": [{"label": "backlog alarm", "value": args.backlog_alarm_seconds}]}}
                if args.backlog_alarm_seconds is not None
                else {}
            ),
        ),
        _widget(
            "Rejected messages (MensagensRejeitadas)",
            [[ns, REJECTED_METRIC, "service", consumer] for consumer in CONSUMERS],
            "Sum",
        ),
        _widget("Lambda errors", [["AWS/Lambda", "Errors", "FunctionName", fn] for _, fn in functions], "Sum"),
        _widget("Lambda throttles", [["AWS/Lambda", "Throttles", "FunctionName", fn] for _, fn in functions], "Sum"),
        _widget(
            "Lambda duration p95 (ms)", [["AWS/Lambda", "Duration", "FunctionName", fn] for _, fn in functions], "p95"
        ),
        _widget("API 4xx and 5xx", [["AWS/ApiGateway", "4XXError", *api], ["AWS/ApiGateway", "5XXError", *api]], "Sum"),
        _widget("API latency p95 (ms)", [["AWS/ApiGateway", "Latency", *api]], "p95"),
        _widget("Database CPU (%)", [["AWS/RDS", "CPUUtilization", *db]], "Average"),
        _widget(
            "Database connections and free storage",
            [
                ["AWS/RDS", "DatabaseConnections", *db, {"stat": "Maximum"}],
                ["AWS/RDS", "FreeStorageSpace", *db, {"stat": "Minimum", "yAxis": "right"}],
            ],
            "Maximum",
        ),
    ]


def layout(items: list[dict[str, Any]], region: str) -> dict[str, Any]:
    placed = []
    for index, widget in enumerate(items):
        x, y = (index % 3) * WIDTH, (index // 3) * HEIGHT
        placed.append({**widget, "x": x, "y": y, "properties": {**widget["properties"], "region": region}})
    return {"widgets": placed}


class Dashboard(pulumi.ComponentResource):
    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nfe:index:Dashboard", name, None, opts)
        body = layout(widgets(args), args.region)
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"nfe-{args.environment}",
            # from_input resolves the Outputs nested in the body (names known only after creation).
            dashboard_body=pulumi.Output.from_input(body).apply(lambda b: json.dumps(b, separators=(",", ":"))),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"dashboardName": self.dashboard.dashboard_name})
