"""EventBridge: every custom bus keeps an archive, so lost or mishandled events can be replayed.

An archive belongs to the bus its `eventSourceArn` names; on a first preview, when the bus's ARN is
not known yet, to the bus that value comes from (the dependency graph), so the policy still decides.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import EVENT_ARCHIVE, EVENT_BUS, known, number_or, of_type, show
from .graph import referents

DEFAULT_MIN_RETENTION_DAYS = 90


def _is_arn_of(reference: Any, bus: PolicyResource) -> bool:
    arn = known(bus.props, "arn")
    return bool(arn) and str(reference) == str(arn)


def eventbus_archive(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    minimum = number_or(args.get_config().get("minRetentionDays"), DEFAULT_MIN_RETENTION_DAYS)
    buses = of_type(args.resources, EVENT_BUS)
    kept: dict[str, list[float]] = {bus.urn: [] for bus in buses}
    for archive in of_type(args.resources, EVENT_ARCHIVE):
        for bus in referents(archive, "eventSourceArn", buses, _is_arn_of):
            # retentionDays 0 (or unset) keeps events forever.
            kept[bus.urn].append(number_or(archive.props.get("retentionDays"), 0))
    for bus in buses:
        days = kept[bus.urn]
        if not days:
            report_violation("no archive: events it loses can't be replayed", bus.urn)
        elif not any(d == 0 or d >= minimum for d in days):
            report_violation(f"archive keeps {show(max(days))} days; at least {show(minimum)} required", bus.urn)


POLICIES = [
    StackValidationPolicy(
        name="eventbus-archive",
        description="Every EventBridge bus has an archive keeping events at least 90 days.",
        validate=eventbus_archive,
        config_schema=PolicyConfigSchema(
            properties={"minRetentionDays": {"type": "integer", "minimum": 1, "default": DEFAULT_MIN_RETENTION_DAYS}}
        ),
    ),
]
