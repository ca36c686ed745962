"""An SQS consumer's plumbing, shared by SagaService and SefazParticipant.

Each consumer of the topology gets, for every queue `nfe/topology.py` routes to it, the queue with its
own DLQ, the EventBridge rule and target (`components/queues.py`), one target DLQ for the events
EventBridge could not deliver to any of them, an event source mapping per queue, and the alarms every
queue has (DLQ depth, backlog age), plus the consumer's MensagensRejeitadas alarm. The queue's
visibility timeout and the mapping's batch size are the queue's own (`topology.Queue`), and the
mappings share the function's own reserved concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.alarms import alarm_on_any
from components.lambdas import FunctionResources, LambdaRuntime
from components.queues import (
    DLQ_RETENTION_SECONDS,
    RoutedQueue,
    backlog_age_alarm,
    create_routed_queue,
    dlq_depth_alarm,
)
from nfe import function_env, topology

# The consumers' metric for a message no retry can fix (functions/shared/consumer.py REJECTED_METRIC).
REJECTED_METRIC = "MensagensRejeitadas"
METRICS_NAMESPACE = "nfe"


@dataclass
class ConsumerQueues:
    target_dlq: aws.sqs.Queue
    routed: list[RoutedQueue]

    @property
    def queue_arns(self) -> list[pulumi.Output[str]]:
        return [r.queue.arn for r in self.routed]


def create_consumer_queues(
    parent: pulumi.Resource,
    name: str,
    spec: topology.Function,
    runtime: LambdaRuntime,
    bus_name: pulumi.Input[str],
    alarm_topic_arn: pulumi.Input[str],
    target_dlq_name: str,
) -> ConsumerQueues:
    """The consumer's queues, rules and targets, and the target DLQ only their rules may write to."""
    child = pulumi.ResourceOptions(parent=parent)
    target_dlq = aws.sqs.Queue(
        f"{name}-target-dlq",
        name=f"{target_dlq_name}-{runtime.environment}",
        sqs_managed_sse_enabled=True,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        opts=child,
    )
    routed = [
        create_routed_queue(
            parent,
            f"{name}-{q.name}",
            q,
            runtime.environment,
            runtime.timeout_for(spec),
            bus_name,
            target_dlq,
        )
        for q in topology.queues_for(spec.name)
    ]
    # Events EventBridge could not deliver to a queue land here; only these rules may write.
    aws.sqs.QueuePolicy(
        f"{name}-target-dlq-policy",
        queue_url=target_dlq.url,
        policy=iam.document(
            [
                iam.statement(
                    ["sqs:SendMessage"],
                    [target_dlq.arn],
                    sid="ItsRulesDeadLetters",
                    principal={"Service": "events.amazonaws.com"},
                    condition={"ArnEquals": {"aws:SourceArn": [r.rule.arn for r in routed]}},
                )
            ]
        ),
        opts=child,
    )
    dlq_depth_alarm(parent, f"{name}-target-dlq", target_dlq, alarm_topic_arn)
    return ConsumerQueues(target_dlq=target_dlq, routed=routed)


def rejected_messages_alarm(
    parent: pulumi.Resource, prefix: str, spec: topology.Function, alarm_topic_arn: pulumi.Input[str]
) -> aws.cloudwatch.MetricAlarm:
    """A consumer rejected a message no retry can fix (it goes to the DLQ): alarm at once."""
    return alarm_on_any(
        parent,
        f"{prefix}-rejected-alarm",
        description=f"{spec.name}: messages rejected ({REJECTED_METRIC})",
        namespace=METRICS_NAMESPACE,
        metric_name=REJECTED_METRIC,
        dimensions={"service": spec.name},
        statistic="Sum",
        period=60,
        alarm_topic_arn=alarm_topic_arn,
    )


def subscribe(
    parent: pulumi.Resource,
    name: str,
    consumer: FunctionResources,
    queues: ConsumerQueues,
    runtime: LambdaRuntime,
    migrated: Sequence[pulumi.Resource],
    alarm_topic_arn: pulumi.Input[str],
) -> list[aws.lambda_.EventSourceMapping]:
    """The consumer's event source mappings, one per queue, and each queue's alarms.

    Each mapping takes the queue's batch size, and a share of the function's own reserved
    concurrency: above it Lambda would throttle, and throttled messages come back as failed
    receives that count toward the DLQ (function_env.maximum_concurrency).
    """
    spec = consumer.spec
    share = function_env.maximum_concurrency(runtime.reserved_concurrency_for(spec), len(queues.routed))
    mappings = []
    for r in queues.routed:
        mappings.append(
            aws.lambda_.EventSourceMapping(
                f"{name}-{r.spec.name}-mapping",
                event_source_arn=r.queue.arn,
                function_name=consumer.function.arn,
                batch_size=r.spec.batch_size,
                function_response_types=["ReportBatchItemFailures"],
                scaling_config={"maximum_concurrency": share},
                # A mapping starts polling as soon as it exists: not before the schema is migrated.
                opts=pulumi.ResourceOptions(parent=parent, depends_on=list(migrated)),
            )
        )
        dlq_depth_alarm(parent, f"{name}-{r.spec.name}-dlq", r.dlq, alarm_topic_arn)
        backlog_age_alarm(parent, f"{name}-{r.spec.name}", r.queue, runtime.outage_tolerance_seconds, alarm_topic_arn)
    rejected_messages_alarm(parent, name, spec, alarm_topic_arn)
    return mappings
