"""EventBus: the saga's custom bus with its archive, schema discovery and a copy of every event in logs."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.queues import dlq_depth_alarm
from nfe import topology

ARCHIVE_RETENTION_DAYS = 90
# Every event the saga publishes has a source of `nfe.<service>` (functions/shared/events.py).
ALL_SAGA_EVENTS_PATTERN = {"source": [{"prefix": "nfe."}]}
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class EventBusArgs:
    environment: str
    log_retention_days: int
    alarm_topic_arn: pulumi.Input[str]


class EventBus(pulumi.ComponentResource):
    bus: aws.cloudwatch.EventBus
    bus_name: pulumi.Output[str]
    bus_arn: pulumi.Output[str]

    def __init__(self, name: str, args: EventBusArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nfe:index:EventBus", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bus_name = topology.bus_name(args.environment)
        self.bus = aws.cloudwatch.EventBus(f"{name}-bus", name=bus_name, opts=child)
        self.bus_name = self.bus.name
        self.bus_arn = self.bus.arn
        self._create_archive(name, bus_name)
        aws.schemas.Discoverer(
            f"{name}-discoverer",
            source_arn=self.bus.arn,
            description=f"Schema discovery on {bus_name}",
            opts=child,
        )
        self.log_group = self._create_event_log(name, bus_name, args)
        register = {"busName": self.bus.name, "busArn": self.bus.arn, "eventLogGroup": self.log_group.name}
        self.register_outputs(register)

    def _create_archive(self, name: str, bus_name: str) -> None:
        aws.cloudwatch.EventArchive(
            f"{name}-archive",
            name=f"{bus_name}-archive",
            event_source_arn=self.bus.arn,
            retention_days=ARCHIVE_RETENTION_DAYS,
            description="Every event of the saga, replayable for 90 days",
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_event_log(self, name: str, bus_name: str, args: EventBusArgs) -> aws.cloudwatch.LogGroup:
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-event-log",
            name=f"/aws/events/{bus_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-log-rule",
            name=f"{bus_name}-all-to-logs",
            description="Copy every saga event to CloudWatch Logs",
            event_bus_name=self.bus.name,
            event_pattern=json.dumps(ALL_SAGA_EVENTS_PATTERN),
            opts=child,
        )
        # EventBridge writes to CloudWatch Logs only through the log service's resource policy (an IAM
        # role is not accepted for log targets). That policy is account-wide, at most 10 per region:
        # account/ holds the one that admits every nfe bus's log group (docs/deploy.md).
        dlq = aws.sqs.Queue(
            f"{name}-log-target-dlq",
            name=f"{bus_name}-log-target-dlq",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-log-target-dlq-policy",
            queue_url=dlq.url,
            policy=iam.document(
                [
                    iam.statement(
                        ["sqs:SendMessage"],
                        [dlq.arn],
                        sid="EventBridgeDeadLetters",
                        principal={"Service": "events.amazonaws.com"},
                        condition={"ArnEquals": {"aws:SourceArn": rule.arn}},
                    )
                ]
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-log-target",
            rule=rule.name,
            event_bus_name=self.bus.name,
            arn=log_group.arn,
            dead_letter_config={"arn": dlq.arn},
            retry_policy={"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 24},
            opts=child,
        )
        dlq_depth_alarm(self, f"{name}-log-target-dlq", dlq, args.alarm_topic_arn)
        return log_group
