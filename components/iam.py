"""IAM policy building blocks shared by every component.

Every statement names its resources by ARN. The only statements on `*` are those whose actions AWS
does not scope to a resource at all; they are listed once, here. The policy pack keeps its own copy
(it imports nothing of the program it checks) and a test keeps the two equal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

# Actions AWS grants only on `"Resource": "*"`: the VPC ENI actions Lambda needs to attach a function
# to private subnets (AWSLambdaVPCAccessExecutionRole v3) and the X-Ray writes of active tracing.
ACTIONS_ONLY_ON_WILDCARD: frozenset[str] = frozenset(
    {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
)

VPC_ENI_ACTIONS: tuple[str, ...] = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
XRAY_WRITE_ACTIONS: tuple[str, ...] = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
SQS_CONSUME_ACTIONS: tuple[str, ...] = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
)
LOG_WRITE_ACTIONS: tuple[str, ...] = ("logs:CreateLogStream", "logs:PutLogEvents")


def statement(
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    *,
    sid: str | None = None,
    principal: Mapping[str, Any] | None = None,
    condition: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One Allow statement; refuses a wildcard action and a `*` resource outside the allowlist."""
    for action in actions:
        if "*" in action:
            raise ValueError(f"IAM action {action!r} is a wildcard; name the actions")
    if "*" in resources and not set(actions) <= ACTIONS_ONLY_ON_WILDCARD:
        raise ValueError(f"only {sorted(ACTIONS_ONLY_ON_WILDCARD)} may be granted on '*', got {sorted(actions)}")
    result: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": list(resources)}
    if sid:
        result["Sid"] = sid
    if principal is not None:
        result["Principal"] = dict(principal)
    if condition is not None:
        result["Condition"] = dict(condition)
    return result


def document(statements: Sequence[Mapping[str, Any]]) -> pulumi.Output[str]:
    """A policy document as JSON; ARNs inside may be Outputs."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def lambda_base_statements(log_group_arn: pulumi.Input[str], in_vpc: bool) -> list[dict[str, Any]]:
    """What every function needs: write its own log group, send traces, and (in a VPC) manage its ENIs."""
    statements = [
        statement(LOG_WRITE_ACTIONS, [pulumi.Output.concat(log_group_arn, ":*")], sid="OwnLogGroup"),
        statement(XRAY_WRITE_ACTIONS, ["*"], sid="XRayWrites"),
    ]
    if in_vpc:
        statements.append(statement(VPC_ENI_ACTIONS, ["*"], sid="VpcNetworkInterfaces"))
    return statements
