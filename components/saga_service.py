"""SagaService: one service's API and consumer functions, its queues, rules, mappings and alarms."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.consumers import create_consumer_queues, subscribe
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
from components.queues import RoutedQueue
from nfe import function_env, topology


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
        queues = create_consumer_queues(
            self,
            name,
            spec,
            args.runtime,
            args.bus_name,
            args.alarm_topic_arn,
            target_dlq_name=f"{args.service}-events-target-dlq",
        )
        self.queues.extend(queues.routed)
        self.target_dlq = queues.target_dlq
        consumer = self._create_function(name, spec, queues.queue_arns)
        self.functions[spec.name] = consumer
        subscribe(self, name, consumer, queues, args.runtime, args.database.migrated, args.alarm_topic_arn)
