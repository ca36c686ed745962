"""SagaService: one service's API and consumer functions, its queues, rules, mappings and alarms."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.alarms import alarm_on_any
from components.fiscal_archive import FiscalArchiveAccess
from components.lambdas import (
    DatabaseAccess,
    FunctionResources,
    LambdaRuntime,
    Network,
    create_function,
    database_environment,
    errors_alarm,
)
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
# Where the stack and local mode (its pollers per queue) share the mapping's scaling rule.
MIN_MAXIMUM_CONCURRENCY = function_env.MIN_MAXIMUM_CONCURRENCY
maximum_concurrency = function_env.maximum_concurrency


@dataclass(frozen=True)
class SagaServiceArgs:
    service: str  # "faturamento" or "estoque"
    runtime: LambdaRuntime
    network: Network
    database: DatabaseAccess
    bus_name: pulumi.Input[str]
    bus_arn: pulumi.Input[str]
    alarm_topic_arn: pulumi.Input[str]
    # The one origin the API function's CORS answers allow (the console's, or nfe:api.corsAllowOrigin).
    cors_allow_origin: pulumi.Input[str] | None = None
    # The NF-e documents' bucket and key, for the functions that keep them (function_env.uses_fiscal_archive).
    fiscal_archive: FiscalArchiveAccess | None = None


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


class SagaService(pulumi.ComponentResource):
    functions: dict[str, FunctionResources]
    queues: list[RoutedQueue]
    target_dlq: aws.sqs.Queue

    def __init__(self, name: str, args: SagaServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nfe:index:SagaService", name, None, opts)
        self.args = args
        specs = [f for f in topology.FUNCTIONS if f.service == args.service]
        if not specs:
            raise ValueError(f"topology has no functions for service {args.service!r}")
        self.functions = {}
        self.queues = []
        for spec in specs:
            if spec.kind == "api":
                self.functions[spec.name] = self._create_function(name, spec, [])
            elif spec.kind == "consumer":
                self._create_consumer(name, spec)
        self.register_outputs(
            {
                "functionNames": {n: f.function.name for n, f in self.functions.items()},
                "queueUrls": {q.spec.name: q.queue.url for q in self.queues},
            }
        )

    def _create_function(
        self, name: str, spec: topology.Function, queue_arns: list[pulumi.Output[str]]
    ) -> FunctionResources:
        args = self.args
        assert spec.database_role, f"{spec.name} must connect as its own database role"
        statements = [
            iam.statement(["rds-db:connect"], [args.database.connect_arn(spec.database_role)], sid="OwnDatabaseUser")
        ]
        if queue_arns:
            statements.append(iam.statement(iam.SQS_CONSUME_ACTIONS, queue_arns, sid="OwnQueues"))
        if spec.publishes_events:
            statements.append(iam.statement(["events:PutEvents"], [args.bus_arn], sid="PublishToBus"))
        archive = args.fiscal_archive if function_env.uses_fiscal_archive(spec) else None
        if archive is not None:
            statements.extend(archive.statements())
        environment = database_environment(spec, args.runtime, args.database)
        prefix = f"{name}-{spec.kind}"
        resources = create_function(
            self,
            prefix,
            spec,
            args.runtime,
            args.network,
            environment=environment,
            bus_name=args.bus_name,
            cors_allow_origin=args.cors_allow_origin,
            statements=statements,
            depends_on=args.database.migrated,
            fiscal_archive_bucket=archive.bucket_name if archive is not None else None,
        )
        errors_alarm(self, prefix, resources, args.alarm_topic_arn)
        return resources

    def _create_consumer(self, name: str, spec: topology.Function) -> None:
        args = self.args
        child = pulumi.ResourceOptions(parent=self)
        queue_specs = topology.queues_for(spec.name)
        target_dlq = aws.sqs.Queue(
            f"{name}-target-dlq",
            name=f"{args.service}-events-target-dlq-{args.runtime.environment}",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            opts=child,
        )
        routed = [
            create_routed_queue(
                self,
                f"{name}-{q.name}",
                q,
                args.runtime.environment,
                args.runtime.timeout_for(spec),
                args.bus_name,
                target_dlq,
            )
            for q in queue_specs
        ]
        self.queues.extend(routed)
        # Events EventBridge could not deliver to a queue land here; only this service's rules may write.
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
        dlq_depth_alarm(self, f"{name}-target-dlq", target_dlq, args.alarm_topic_arn)
        self.target_dlq = target_dlq
        consumer = self._create_function(name, spec, [r.queue.arn for r in routed])
        self.functions[spec.name] = consumer
        rejected_messages_alarm(self, name, spec, args.alarm_topic_arn)
        share = maximum_concurrency(args.runtime.reserved_concurrency, len(routed))
        for r in routed:
            aws.lambda_.EventSourceMapping(
                f"{name}-{r.spec.name}-mapping",
                event_source_arn=r.queue.arn,
                function_name=consumer.function.arn,
                batch_size=topology.SQS_BATCH_SIZE,
                function_response_types=["ReportBatchItemFailures"],
                scaling_config={"maximum_concurrency": share},
                # A mapping starts polling as soon as it exists: not before the schema is migrated.
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.database.migrated)),
            )
            dlq_depth_alarm(self, f"{name}-{r.spec.name}-dlq", r.dlq, args.alarm_topic_arn)
            backlog_age_alarm(
                self, f"{name}-{r.spec.name}", r.queue, args.runtime.outage_tolerance_seconds, args.alarm_topic_arn
            )
