"""Deploy order: no new code goes live before the migrations of the same deploy have run.

The migration is a deploy-time `aws.lambda_.Invocation` of the migrator function. Everything that
starts application code (every other Lambda function, every event source mapping, every EventBridge
target or EventBridge Scheduler schedule that invokes one of those functions) and everything that
routes traffic to it (API Gateway deployments and stages, REST and HTTP) must wait for it, directly
or through other resources. Then a failed migration stops the deploy before any of them changes, and
no function serves a schema its migrations have not reached. Read from the dependency graph, which
is known on a first preview.

A stack without an invocation has no migrations to wait for and passes. A stack with several waits
for every one of them: this is the fail-closed reading, and one migrator per stack is the design.
"""

from __future__ import annotations

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy

from .common import (
    APIGW_DEPLOYMENT,
    APIGW_STAGE,
    APIGW_V2_DEPLOYMENT,
    APIGW_V2_STAGE,
    EVENT_SOURCE_MAPPING,
    EVENT_TARGET,
    LAMBDA_FUNCTION,
    LAMBDA_INVOCATION,
    SCHEDULER_SCHEDULE,
    as_mapping,
    of_type,
)
from .graph import Dependencies, names_function, referents

ROUTING = (APIGW_DEPLOYMENT, APIGW_STAGE, APIGW_V2_DEPLOYMENT, APIGW_V2_STAGE)


def _kind(resource: PolicyResource) -> str:
    """The type token's last part (`EventSourceMapping`), for messages."""
    return resource.resource_type.rsplit(":", 1)[-1]


def gated_resources(resources: list[PolicyResource], migrators: set[str]) -> list[PolicyResource]:
    """What must wait for the migration: application code and whatever starts it or routes to it."""
    functions = [f for f in of_type(resources, LAMBDA_FUNCTION) if f.urn not in migrators]
    gated = list(functions)
    gated += of_type(resources, EVENT_SOURCE_MAPPING)
    gated += [t for t in of_type(resources, EVENT_TARGET) if referents(t, "arn", functions, names_function)]
    gated += [
        s
        for s in of_type(resources, SCHEDULER_SCHEDULE)
        if referents(s, "target", functions, names_function, pick=lambda t: as_mapping(t).get("arn"))
    ]
    gated += of_type(resources, *ROUTING)
    return gated


def code_waits_for_migrations(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    invocations = of_type(args.resources, LAMBDA_INVOCATION)
    if not invocations:
        return
    functions = of_type(args.resources, LAMBDA_FUNCTION)
    migrators = {f.urn for i in invocations for f in referents(i, "functionName", functions, names_function)}
    graph = Dependencies()
    for resource in gated_resources(args.resources, migrators):
        waited = graph.of(resource)
        missing = [i.name for i in invocations if i.urn not in waited]
        if missing:
            report_violation(
                f"{_kind(resource)} {resource.name} does not wait for the migration {', '.join(missing)}: "
                "it can go live before the schema it needs, and stay live when the migration fails "
                "(give it depends_on the invocation)",
                resource.urn,
            )


POLICIES = [
    StackValidationPolicy(
        name="code-waits-for-migrations",
        description=(
            "Application functions, their triggers and the API deployment and stage depend on the "
            "migration invocation of the same deploy."
        ),
        validate=code_waits_for_migrations,
    ),
]
