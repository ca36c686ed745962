"""The account-wide settings an app stack relies on, and the check that they are there.

API Gateway's CloudWatch role (`aws.apigateway.Account`) and the CloudWatch Logs resource policy
that lets EventBridge write to log groups are one setting per account and region (resource
policies: at most 10 per region, not raisable). An app stack that set them would fight every
other stack in the account over them, and destroying it would pull them from the others. They
live in the account project (account/, deployed once per account and region), which records what
it set in an SSM parameter; every app stack reads that parameter first and stops, saying what to
run, when it is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# Written by account/__main__.py (its copy of these names is checked against these by a test).
BOOTSTRAP_PARAMETER = "/nfe/account/bootstrap"
BOOTSTRAP_VERSION = 1
# The log groups the account's EventBridge resource policy admits: every stack's bus log.
EVENT_LOG_GROUP_PATTERN = "/aws/events/nfe-events-*"


class BootstrapMissing(pulumi.RunError):
    """The account project has not been deployed in this account and region (or is too old)."""


@dataclass(frozen=True)
class AccountBootstrap:
    version: int
    api_gateway_cloudwatch_role_arn: str
    events_log_policy_name: str
    events_log_group_pattern: str


def _how_to_fix(region: str) -> str:
    return (
        f"deploy the account project once for this account and region first: "
        f"`cd account && pulumi stack init {region} && pulumi config set aws:region {region} && pulumi up` "
        "(README, Deploy step 1)"
    )


def require_bootstrap(region: str) -> AccountBootstrap:
    """Read the account project's record; stop the program with what to run when it is missing.

    An invoke, so it runs during `pulumi preview` too: a preview in an account without the
    bootstrap fails here, before planning anything that would fail later at `up`.
    """
    try:
        parameter = aws.ssm.get_parameter(name=BOOTSTRAP_PARAMETER)
    except Exception as exc:  # the provider raises a plain Exception for ParameterNotFound
        raise BootstrapMissing(
            f"this account has no nfe account settings in {region} (SSM parameter {BOOTSTRAP_PARAMETER}: "
            f"{str(exc).splitlines()[0][:200]}); {_how_to_fix(region)}"
        ) from None
    try:
        record = json.loads(parameter.value)
        bootstrap = AccountBootstrap(
            version=int(record["version"]),
            api_gateway_cloudwatch_role_arn=str(record["apiGatewayCloudWatchRoleArn"]),
            events_log_policy_name=str(record["eventsLogPolicyName"]),
            events_log_group_pattern=str(record["eventsLogGroupPattern"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BootstrapMissing(
            f"SSM parameter {BOOTSTRAP_PARAMETER} in {region} is not an nfe account record ({exc}); "
            f"{_how_to_fix(region)}"
        ) from None
    if bootstrap.version < BOOTSTRAP_VERSION:
        raise BootstrapMissing(
            f"the account settings in {region} are version {bootstrap.version}, this program needs "
            f"{BOOTSTRAP_VERSION}; {_how_to_fix(region)}"
        )
    if bootstrap.events_log_group_pattern != EVENT_LOG_GROUP_PATTERN:
        raise BootstrapMissing(
            f"the account's EventBridge log policy admits {bootstrap.events_log_group_pattern}, not "
            f"{EVENT_LOG_GROUP_PATTERN}; {_how_to_fix(region)}"
        )
    return bootstrap
