"""API Gateway: every stage is throttled and writes access logs; API functions finish before the gateway gives up.

A REST API stage (`aws.apigateway.Stage`) is throttled by a `MethodSettings` resource for that stage
with `methodPath` `*/*` (the stage-wide setting); an HTTP API stage (`aws.apigatewayv2.Stage`) by its
own `defaultRouteSettings`. Usage plans are not counted: they throttle only clients with API keys.

An API function is a Lambda function some integration invokes: a REST integration's `uri` (the
function's invoke ARN) or an HTTP API integration's `integrationUri` names it. API Gateway stops
waiting after the integration's `timeoutMilliseconds` (REST: 29 s by default, the most it allows
without a quota increase; HTTP API: 30 s) and answers 504 while the function keeps running, so the
function's own timeout must be below it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import (
    APIGW_INTEGRATION,
    APIGW_METHOD_SETTINGS,
    APIGW_STAGE,
    APIGW_V2_INTEGRATION,
    APIGW_V2_STAGE,
    LAMBDA_DEFAULT_TIMEOUT_SECONDS,
    LAMBDA_FUNCTION,
    as_mapping,
    number,
    number_or,
    of_type,
    show,
)
from .graph import names_function, referents

STAGE_WIDE = "*/*"
# Integration timeouts when `timeoutMilliseconds` is unset, by the property naming the function.
INTEGRATION_DEFAULT_TIMEOUT_MS = {APIGW_INTEGRATION: 29_000, APIGW_V2_INTEGRATION: 30_000}
FUNCTION_REFERENCE = {APIGW_INTEGRATION: "uri", APIGW_V2_INTEGRATION: "integrationUri"}


def _throttled(settings: Mapping[str, Any]) -> bool:
    rate = number(settings.get("throttlingRateLimit"))
    burst = number(settings.get("throttlingBurstLimit"))
    # -1 is API Gateway's "no limit of our own" (the account-level limit applies).
    return rate is not None and burst is not None and rate > 0 and burst > 0


def apigateway_throttling(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    method_settings = of_type(args.resources, APIGW_METHOD_SETTINGS)
    for stage in of_type(args.resources, APIGW_STAGE):
        rest_api, stage_name = stage.props.get("restApi"), stage.props.get("stageName")
        stage_wide = [
            as_mapping(m.props.get("settings"))
            for m in method_settings
            if m.props.get("restApi") == rest_api
            and m.props.get("stageName") == stage_name
            and m.props.get("methodPath") == STAGE_WIDE
        ]
        if not any(_throttled(s) for s in stage_wide):
            report_violation(
                f"stage {stage_name} has no '*/*' MethodSettings with throttling rate and burst limits",
                stage.urn,
            )
    for stage in of_type(args.resources, APIGW_V2_STAGE):
        if not _throttled(as_mapping(stage.props.get("defaultRouteSettings"))):
            report_violation("defaultRouteSettings sets no throttling rate and burst limits", stage.urn)


def apigateway_access_logging(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (APIGW_STAGE, APIGW_V2_STAGE):
        return
    settings = as_mapping(args.props.get("accessLogSettings"))
    if not settings.get("destinationArn") or not settings.get("format"):
        report_violation("accessLogSettings needs a destinationArn and a format", None)


def api_function_timeout(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    functions = of_type(args.resources, LAMBDA_FUNCTION)
    # The tightest integration limit each API function is held to, and the integration setting it.
    limits: dict[str, tuple[float, str]] = {}
    for integration in of_type(args.resources, APIGW_INTEGRATION, APIGW_V2_INTEGRATION):
        kind = integration.resource_type
        targets = referents(integration, FUNCTION_REFERENCE[kind], functions, names_function)
        if not targets:
            continue
        limit = number_or(integration.props.get("timeoutMilliseconds"), INTEGRATION_DEFAULT_TIMEOUT_MS[kind]) / 1000
        for function in targets:
            if function.urn not in limits or limit < limits[function.urn][0]:
                limits[function.urn] = (limit, integration.name)
    for function in functions:
        if function.urn not in limits:
            continue
        limit, integration_name = limits[function.urn]
        timeout = number_or(function.props.get("timeout"), LAMBDA_DEFAULT_TIMEOUT_SECONDS)
        if timeout >= limit:
            report_violation(
                f"timeout {show(timeout)} s is not below the {show(limit)} s limit of its API Gateway "
                f"integration {integration_name}: the client gets a 504 while the function keeps running",
                function.urn,
            )


POLICIES = [
    StackValidationPolicy(
        name="apigateway-throttling",
        description="Every API Gateway stage has stage-wide throttling (rate and burst limits).",
        validate=apigateway_throttling,
    ),
    ResourceValidationPolicy(
        name="apigateway-access-logging",
        description="Every API Gateway stage writes access logs.",
        validate=apigateway_access_logging,
    ),
    StackValidationPolicy(
        name="api-function-timeout",
        description="Lambda functions behind API Gateway time out below their integration's limit (29 s).",
        validate=api_function_timeout,
    ),
]
