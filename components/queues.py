"""SQS building blocks: a queue with its own DLQ, fed by one EventBridge rule, and DLQ alarms."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.alarms import alarm_on_any
from nfe import topology

QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
# Longer than the source queue's retention: SQS keeps a message's original enqueue time in the DLQ.
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# EventBridge keeps retrying a target for a day before the event goes to the target DLQ.
TARGET_RETRY_POLICY = {"maximum_event_age_in_seconds": 24 * 3600, "maximum_retry_attempts": 185}


@dataclass
class RoutedQueue:
    spec: topology.Queue
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue
    rule: aws.cloudwatch.EventRule
    target: aws.cloudwatch.EventTarget


def check_visibility_timeout(spec: topology.Queue, consumer_timeout_seconds: int) -> int:
    """The queue's own visibility (nfe/topology.py: 90 s, the SEFAZ queue's 360 s) must cover six
    timeouts of its consumer (AWS guidance for SQS event sources)."""
    visibility = spec.visibility_timeout_seconds
    if visibility < 6 * consumer_timeout_seconds:
        raise ValueError(
            f"{spec.consumer}'s timeout is {consumer_timeout_seconds} s: queue {spec.name}'s {visibility} s "
            f"visibility timeout must be at least 6x the consumer timeout, so at most {visibility // 6} "
            "(nfe:lambda.consumerTimeoutSeconds, or the function's own in nfe/topology.py)"
        )
    return visibility


def create_routed_queue(
    parent: pulumi.Resource,
    prefix: str,
    spec: topology.Queue,
    environment: str,
    consumer_timeout_seconds: int,
    bus_name: pulumi.Input[str],
    target_dlq: aws.sqs.Queue,
) -> RoutedQueue:
    """The queue for one event: its DLQ, the rule that routes the event to it, and the target."""
    child = pulumi.ResourceOptions(parent=parent)
    visibility = check_visibility_timeout(spec, consumer_timeout_seconds)
    dlq = aws.sqs.Queue(
        f"{prefix}-dlq",
        name=f"{spec.dlq_name}-{environment}",
        sqs_managed_sse_enabled=True,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        opts=child,
    )
    queue = aws.sqs.Queue(
        f"{prefix}-queue",
        name=f"{spec.name}-{environment}",
        # SQS-managed SSE: EventBridge can deliver to it without a KMS key policy naming events.amazonaws.com.
        sqs_managed_sse_enabled=True,
        visibility_timeout_seconds=visibility,
        message_retention_seconds=QUEUE_RETENTION_SECONDS,
        redrive_policy=pulumi.Output.json_dumps(
            {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": topology.MAX_RECEIVE_COUNT}
        ),
        opts=child,
    )
    rule = aws.cloudwatch.EventRule(
        f"{prefix}-rule",
        name=f"{spec.rule_name}-{environment}",
        description=f"{', '.join(e.value for e in spec.events)} from {spec.source.value} to {spec.name}",
        event_bus_name=bus_name,
        event_pattern=json.dumps(topology.event_pattern(spec)),
        opts=child,
    )
    policy = aws.sqs.QueuePolicy(
        f"{prefix}-queue-policy",
        queue_url=queue.url,
        policy=iam.document(
            [
                iam.statement(
                    ["sqs:SendMessage"],
                    [queue.arn],
                    sid="OnlyItsRule",
                    principal={"Service": "events.amazonaws.com"},
                    condition={"ArnEquals": {"aws:SourceArn": rule.arn}},
                )
            ]
        ),
        opts=child,
    )
    target = aws.cloudwatch.EventTarget(
        f"{prefix}-target",
        rule=rule.name,
        # A target on a custom bus must name the bus, or the provider looks for the rule on `default`.
        event_bus_name=bus_name,
        arn=queue.arn,
        dead_letter_config={"arn": target_dlq.arn},
        retry_policy=TARGET_RETRY_POLICY,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
    )
    return RoutedQueue(spec=spec, queue=queue, dlq=dlq, rule=rule, target=target)


def backlog_alarm_seconds(outage_tolerance_seconds: int) -> int:
    """The oldest message's age that means a backlog: a third of the outage tolerance (5 minutes
    with the default 15), so operators hear of an outage with two thirds of it left before the
    first message could be dead-lettered. A saga's messages live milliseconds; a poison message
    lives its receives times the visibility timeout and may trip it too, on its way to the DLQ."""
    return max(60, outage_tolerance_seconds // 3)


def backlog_age_alarm(
    parent: pulumi.Resource,
    prefix: str,
    queue: aws.sqs.Queue,
    outage_tolerance_seconds: int,
    alarm_topic_arn: pulumi.Input[str],
) -> aws.cloudwatch.MetricAlarm:
    """A queue's oldest message growing old: a dependency is down and messages are backing off."""
    return aws.cloudwatch.MetricAlarm(
        f"{prefix}-backlog-alarm",
        alarm_description=pulumi.Output.concat(
            "Oldest message in ",
            queue.name,
            " older than the backlog threshold: a dependency may be down (docs/operations.md)",
        ),
        namespace="AWS/SQS",
        metric_name="ApproximateAgeOfOldestMessage",
        dimensions={"QueueName": queue.name},
        statistic="Maximum",
        period=60,
        evaluation_periods=1,
        threshold=backlog_alarm_seconds(outage_tolerance_seconds),
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[alarm_topic_arn],
        ok_actions=[alarm_topic_arn],
        opts=pulumi.ResourceOptions(parent=parent),
    )


def dlq_depth_alarm(
    parent: pulumi.Resource, prefix: str, dlq: aws.sqs.Queue, alarm_topic_arn: pulumi.Input[str]
) -> aws.cloudwatch.MetricAlarm:
    """A single message in a DLQ is an event the saga failed to handle: alarm at once."""
    return alarm_on_any(
        parent,
        f"{prefix}-depth-alarm",
        description=pulumi.Output.concat("Messages waiting in the dead-letter queue ", dlq.name),
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": dlq.name},
        statistic="Maximum",
        period=300,
        alarm_topic_arn=alarm_topic_arn,
    )
