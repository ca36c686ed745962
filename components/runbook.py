"""Every alarm's description ends with a link to its section of the runbook, docs/operations.md.

The alarms are declared by the components (each next to what it watches); the sections they link
to are declared here, once, by metric, and applied to every `MetricAlarm` of the stack by a stack
transformation registered at the start of the program. So a new alarm can't be deployed without
its section: `section_for` raises, and tests/test_dashboard.py checks that every anchor exists in
docs/operations.md. A metric-math alarm (no metric name of its own) links to the section of the
first metric it reads that has one.
"""

from __future__ import annotations

from typing import Any

import pulumi

RUNBOOK = "docs/operations.md"
ALARM_TYPE = "aws:cloudwatch/metricAlarm:MetricAlarm"

# Metric name -> the runbook section (its GitHub-style anchor) that says what to do.
SECTIONS: dict[str, str] = {
    "ApproximateNumberOfMessagesVisible": "alarm-messages-in-a-dead-letter-queue",
    "Errors": "alarm-function-errors",
    "OutboxOldestUnpublishedAgeSeconds": "alarm-outbox-lag",
    "5XXError": "alarm-api-5xx",
    "MensagensRejeitadas": "alarm-mensagensrejeitadas",
    "ApproximateAgeOfOldestMessage": "alarm-queue-backlog",
    "EsperaAutorizacao": "alarm-sefaz-authorization-pending",
    "NotasRejeitadas": "alarm-sefaz-refusal-rate",
    "CertificadoDiasRestantes": "alarm-a1-certificate-expiring",
    "DiasParaInutilizar": "alarm-diasparainutilizar",
}


def link(section: str) -> str:
    return f"Runbook: {RUNBOOK}#{section}"


def section_for(metric_name: str) -> str:
    try:
        return SECTIONS[metric_name]
    except KeyError:
        raise ValueError(
            f"alarm on {metric_name!r} has no runbook section: add one to {RUNBOOK} and components/runbook.py"
        ) from None


def _with_link(description: Any, metric_name: str) -> Any:
    suffix = f" {link(section_for(metric_name))}"
    if isinstance(description, str):
        return description if "Runbook:" in description else description + suffix
    if description is None:
        return suffix.strip()
    return pulumi.Output.from_input(description).apply(lambda d: d if "Runbook:" in d else d + suffix)


def _field(value: Any, snake: str, camel: str) -> Any:
    """A field of a nested input, given as a dict (either spelling) or as a pulumi_aws *Args object."""
    if isinstance(value, dict):
        return value.get(snake, value.get(camel))
    return getattr(value, snake, None)


def alarm_metric(props: dict[str, Any]) -> str | None:
    """The metric an alarm's runbook section is found by: its own, or for metric math the first metric
    it reads that has a section (else the first one, which then fails `section_for` by name)."""
    metric = props.get("metric_name") or props.get("metricName")
    if isinstance(metric, str):
        return metric
    queries = props.get("metric_queries") or props.get("metricQueries") or []
    names = []
    for query in queries if isinstance(queries, list) else []:
        name = _field(_field(query, "metric", "metric"), "metric_name", "metricName")
        if isinstance(name, str):
            names.append(name)
    return next((n for n in names if n in SECTIONS), names[0] if names else None)


def add_runbook_links(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    if args.type_ != ALARM_TYPE:
        return None
    props = dict(args.props)
    metric = alarm_metric(props)
    if not isinstance(metric, str):
        raise ValueError(f"alarm {args.name}: its metric must be a plain name to find its runbook section")
    key = "alarm_description" if "alarm_description" in props or "alarmDescription" not in props else "alarmDescription"
    props[key] = _with_link(props.get(key), metric)
    return pulumi.ResourceTransformationResult(props, args.opts)


def register() -> None:
    """Call first in the program: applies to every resource registered after it."""
    pulumi.runtime.register_stack_transformation(add_runbook_links)
