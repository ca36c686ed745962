"""API Gateway: every stage is throttled and writes access logs.

A REST API stage (`aws.apigateway.Stage`) is throttled by a `MethodSettings` resource for that stage
with `methodPath` `*/*` (the stage-wide setting); an HTTP API stage (`aws.apigatewayv2.Stage`) by its
own `defaultRouteSettings`. Usage plans are not counted: they throttle only clients with API keys.
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

from .common import APIGW_METHOD_SETTINGS, APIGW_STAGE, APIGW_V2_STAGE, as_mapping, number, of_type

STAGE_WIDE = "*/*"


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
]
