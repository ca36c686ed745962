"""One Lambda function of the topology with its log group, role and least-privilege policy.

Not a component of its own: the SagaService, SefazParticipant, OutboxPublisher and SecureDatabase
components call `create_function` so each function's resources are children of the component that
owns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam
from components.alarms import alarm_on_any
from nfe import function_env, topology

RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
DB_PORT = function_env.DB_PORT


@dataclass(frozen=True)
class LambdaRuntime:
    """What every function of a stack shares: packaging, sizing defaults, logging and TLS settings."""

    environment: str
    code_paths: Mapping[str, str]  # topology function name -> zip path (built by nfe.build)
    layer_arns: Sequence[pulumi.Input[str]]
    memory_mb: int
    api_timeout_seconds: int  # below API Gateway's 29 s integration limit (nfe/config.py checks it)
    consumer_timeout_seconds: int
    reserved_concurrency: int
    log_retention_days: int
    db_sslmode: str  # verify-full with a CA bundle in the package; require only in dev without one
    db_sslrootcert: str | None
    # Consumers' OUTAGE_TOLERANCE_SECONDS (nfe:lambda.outageToleranceMinutes).
    outage_tolerance_seconds: int = 15 * 60
    # Faturamento's EMITENTE: nfe:emitente as JSON.
    emitente_json: str | None = None
    # The SEFAZ participant's SEFAZ_CA_BUNDLE: the packaged bundle's path, None when none is packaged.
    sefaz_ca_bundle: str | None = None

    def physical_name(self, function_name: str) -> str:
        return f"{function_name}-{self.environment}"

    def timeout_for(self, spec: topology.Function) -> int:
        if spec.timeout_seconds is not None:
            return spec.timeout_seconds
        return self.consumer_timeout_seconds if spec.kind == "consumer" else self.api_timeout_seconds

    def reserved_concurrency_for(self, spec: topology.Function) -> int:
        return spec.reserved_concurrency if spec.reserved_concurrency is not None else self.reserved_concurrency

    def memory_for(self, spec: topology.Function) -> int:
        return spec.memory_mb if spec.memory_mb is not None else self.memory_mb


@dataclass(frozen=True)
class Network:
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_ids: Sequence[pulumi.Input[str]]


@dataclass(frozen=True)
class DatabaseAccess:
    """How application functions reach PostgreSQL: the proxy when there is one, else the instance."""

    host: pulumi.Input[str]
    via_proxy: bool
    # `arn:aws:rds-db:<region>:<account>:dbuser:<db-... or prx-... resource id>/`; the role name follows.
    connect_arn_prefix: pulumi.Input[str]
    # The migration invocation of this deploy. Whatever runs application code against the schema
    # (functions, their triggers, the API deployment) waits for it, so new code never meets an old
    # schema and a failed migration stops the deploy before any of them changes (docs/deploy.md).
    migrated: Sequence[pulumi.Resource] = ()

    def connect_arn(self, role: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.connect_arn_prefix, role)


@dataclass
class FunctionResources:
    function: aws.lambda_.Function
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    log_group: aws.cloudwatch.LogGroup
    spec: topology.Function
    extra: dict[str, Any] = field(default_factory=dict)


def database_environment(
    spec: topology.Function, runtime: LambdaRuntime, database: DatabaseAccess
) -> dict[str, pulumi.Input[str]]:
    """Where an application function finds the database; `function_environment` adds its login role."""
    return function_env.aws_database(
        database.host, via_proxy=database.via_proxy, sslmode=runtime.db_sslmode, sslrootcert=runtime.db_sslrootcert
    )


def create_function(
    parent: pulumi.Resource,
    prefix: str,
    spec: topology.Function,
    runtime: LambdaRuntime,
    network: Network | None,
    *,
    environment: Mapping[str, pulumi.Input[str]],
    bus_name: pulumi.Input[str] | None = None,
    cors_allow_origin: pulumi.Input[str] | None = None,
    statements: Sequence[Mapping[str, Any]] = (),
    depends_on: Sequence[pulumi.Resource] = (),
    fiscal_archive_bucket: pulumi.Input[str] | None = None,
    sefaz_certificate_secret: pulumi.Input[str] | None = None,
) -> FunctionResources:
    """Create `spec`'s function, named `<spec.name>-<env>`, with its own log group and role.

    The log group exists before the function (Lambda would otherwise create it on the first
    invocation, without retention, and a later create of ours would collide), and the function
    waits for its policy: Lambda checks the ENI permissions when a VPC function is created.

    A function is in the stack's private subnets (`network`) unless its topology says otherwise
    (`in_vpc=False`, the SEFAZ participant): then it gets no VPC config and no ENI actions, and
    passing a network for it, or none for a VPC function, is a mistake refused here.
    """
    if spec.in_vpc and network is None:
        raise ValueError(f"{spec.name} runs in the VPC: give it the stack's network")
    if not spec.in_vpc and network is not None:
        raise ValueError(f"{spec.name} runs outside the VPC (nfe/topology.py): it takes no network")
    opts = pulumi.ResourceOptions(parent=parent)
    physical = runtime.physical_name(spec.name)
    log_group = aws.cloudwatch.LogGroup(
        f"{prefix}-logs",
        name=f"/aws/lambda/{physical}",
        retention_in_days=runtime.log_retention_days,
        opts=opts,
    )
    role = aws.iam.Role(
        f"{prefix}-role",
        assume_role_policy=iam.assume_role_policy("lambda.amazonaws.com"),
        description=f"Execution role of {physical}",
        opts=opts,
    )
    policy = aws.iam.RolePolicy(
        f"{prefix}-policy",
        role=role.id,
        policy=iam.document([*iam.lambda_base_statements(log_group.arn, in_vpc=spec.in_vpc), *statements]),
        opts=opts,
    )
    # The one computation of a function's variables, shared with local mode's containers.
    variables = function_env.function_environment(
        spec,
        environment,
        bus_name,
        cors_allow_origin,
        runtime.outage_tolerance_seconds,
        runtime.emitente_json,
        fiscal_archive_bucket=fiscal_archive_bucket,
        sefaz_certificate_secret=sefaz_certificate_secret,
        sefaz_ca_bundle=runtime.sefaz_ca_bundle,
    )
    vpc_config = (
        {"subnet_ids": list(network.subnet_ids), "security_group_ids": list(network.security_group_ids)}
        if network is not None
        else None
    )
    function = aws.lambda_.Function(
        f"{prefix}-fn",
        name=physical,
        description=f"{spec.service} {spec.kind} ({spec.handler})",
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler=spec.handler,
        code=pulumi.FileArchive(runtime.code_paths[spec.name]),
        layers=list(runtime.layer_arns),
        role=role.arn,
        memory_size=runtime.memory_for(spec),
        timeout=runtime.timeout_for(spec),
        reserved_concurrent_executions=runtime.reserved_concurrency_for(spec),
        tracing_config={"mode": "Active"},
        logging_config={"log_format": "JSON", "log_group": log_group.name},
        vpc_config=vpc_config,
        environment={"variables": variables},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy, log_group, *depends_on]),
    )
    return FunctionResources(function=function, role=role, policy=policy, log_group=log_group, spec=spec)


def errors_alarm(
    parent: pulumi.Resource, prefix: str, resources: FunctionResources, alarm_topic_arn: pulumi.Input[str]
) -> aws.cloudwatch.MetricAlarm:
    """Any error of the function in a minute raises the alarm; consumers' retries show up here first."""
    return alarm_on_any(
        parent,
        f"{prefix}-errors-alarm",
        description=f"{resources.spec.name}: invocation errors",
        namespace="AWS/Lambda",
        metric_name="Errors",
        dimensions={"FunctionName": resources.function.name},
        statistic="Sum",
        period=60,
        alarm_topic_arn=alarm_topic_arn,
    )
