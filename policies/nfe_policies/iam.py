"""IAM: name the actions, scope the resources.

An Allow statement may not grant `*` or `service:*` (nor use NotAction / NotResource, which allow
everything else), and may name `"Resource": "*"` only when every action in it is one of the few
AWS documents on `*` (`ACTIONS_ONLY_ON_WILDCARD` below). Checked: managed policies, role/user/group policies
and a role's inline policies. Deny statements may be as broad as they like.

The allowlist is the pack's own, not imported from the program it checks: a pack that imported the
program's list would approve whatever that program declares, and under the Pulumi CLI the pack runs
in its own virtualenv, without the program. The program keeps its copy (`components.iam`), and a
test fails when the two differ.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import (
    IAM_GROUP_POLICY,
    IAM_POLICY,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    IAM_USER_POLICY,
    as_list,
    as_mapping,
    json_document,
)

# Actions an Allow statement may grant on "*": the ENI actions Lambda performs with the function's
# role to attach it to private subnets, which AWS documents on "*" (the AWS-managed
# AWSLambdaVPCAccessExecutionRole; the Describe actions have no resource type at all), and the
# X-Ray writes of active tracing, which have no resource type either.
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

POLICY_DOCUMENT_TYPES = (IAM_POLICY, IAM_ROLE_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY)
# IAM action names are case-insensitive.
WILDCARD_ONLY = frozenset(a.lower() for a in ACTIONS_ONLY_ON_WILDCARD)


def _documents(args: ResourceValidationArgs) -> list[tuple[str, Any]]:
    if args.resource_type in POLICY_DOCUMENT_TYPES:
        return [("policy", args.props.get("policy"))]
    if args.resource_type == IAM_ROLE:
        inline = [as_mapping(p) for p in as_list(args.props.get("inlinePolicies"))]
        return [(f"inline policy {p.get('name') or i}", p.get("policy")) for i, p in enumerate(inline)]
    return []


def statement_problems(document: Any) -> list[str]:
    problems = []
    for index, raw in enumerate(as_list(as_mapping(document).get("Statement"))):
        statement = as_mapping(raw)
        if statement.get("Effect") != "Allow":
            continue
        label = statement.get("Sid") or f"Statement[{index}]"
        actions = [str(a) for a in as_list(statement.get("Action"))]
        if "NotAction" in statement:
            problems.append(f"{label} allows NotAction, i.e. every other action")
        wildcards = [a for a in actions if a == "*" or a.endswith(":*")]
        if wildcards:
            problems.append(f"{label} allows wildcard action {', '.join(wildcards)}")
        if "NotResource" in statement:
            problems.append(f"{label} uses NotResource, i.e. every other resource")
        if "*" in [str(r) for r in as_list(statement.get("Resource"))]:
            unscoped = [a for a in actions if a.lower() not in WILDCARD_ONLY]
            if unscoped:
                problems.append(
                    f"{label} grants {', '.join(unscoped)} on '*'; only the few actions AWS documents on '*' may be "
                    f"(the pack's ACTIONS_ONLY_ON_WILDCARD)"
                )
    return problems


def iam_no_wildcard_actions(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for where, raw in _documents(args):
        try:
            document = json_document(raw)
        except ValueError as exc:
            report_violation(f"{where} is {exc}", None)
            continue
        for problem in statement_problems(document):
            report_violation(f"{where}: {problem}", None)


POLICIES = [
    ResourceValidationPolicy(
        name="iam-no-wildcard-actions",
        description="IAM policies name their actions and scope their resources (no '*' or 'service:*').",
        validate=iam_no_wildcard_actions,
    ),
]
