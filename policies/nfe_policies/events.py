"""EventBridge: every custom bus keeps an archive, so lost or mishandled events can be replayed."""

from __future__ import annotations

from pulumi_policy import PolicyConfigSchema, ReportViolation, StackValidationArgs, StackValidationPolicy

from .common import EVENT_ARCHIVE, EVENT_BUS, number_or, of_type, show

DEFAULT_MIN_RETENTION_DAYS = 90


def eventbus_archive(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    minimum = number_or(args.get_config().get("minRetentionDays"), DEFAULT_MIN_RETENTION_DAYS)
    archives = of_type(args.resources, EVENT_ARCHIVE)
    for bus in of_type(args.resources, EVENT_BUS):
        arn = bus.props.get("arn")
        # retentionDays 0 (or unset) keeps events forever.
        kept = [
            number_or(a.props.get("retentionDays"), 0) for a in archives if arn and a.props.get("eventSourceArn") == arn
        ]
        if not kept:
            report_violation("no archive: events it loses can't be replayed", bus.urn)
        elif not any(days == 0 or days >= minimum for days in kept):
            report_violation(f"archive keeps {show(max(kept))} days; at least {show(minimum)} required", bus.urn)


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
