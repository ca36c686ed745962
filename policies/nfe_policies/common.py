"""Reading resource properties the way the engine hands them to a policy pack.

Properties arrive as pulumi-policy's unknown-checking proxies: mappings and sequences that are not
`dict` or `list`, whose numbers are floats (the wire format has only doubles) and whose items raise
`UnknownValueError` when a value is not known yet (during preview; the policy is then reported as
not runnable rather than passed). These helpers keep the validators short without hiding either fact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

# Every policy module guards on these type tokens (pulumi-aws v7 engine names).
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
RDS_PROXY = "aws:rds/proxy:Proxy"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
KMS_KEY = "aws:kms/key:Key"
SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_REDRIVE_POLICY = "aws:sqs/redrivePolicy:RedrivePolicy"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
EVENT_ARCHIVE = "aws:cloudwatch/eventArchive:EventArchive"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
APIGW_STAGE = "aws:apigateway/stage:Stage"
APIGW_METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
APIGW_V2_STAGE = "aws:apigatewayv2/stage:Stage"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
IAM_ROLE = "aws:iam/role:Role"
LAMBDA_INVOCATION = "aws:lambda/invocation:Invocation"
SCHEDULER_SCHEDULE = "aws:scheduler/schedule:Schedule"
APIGW_DEPLOYMENT = "aws:apigateway/deployment:Deployment"
APIGW_INTEGRATION = "aws:apigateway/integration:Integration"
APIGW_V2_DEPLOYMENT = "aws:apigatewayv2/deployment:Deployment"
APIGW_V2_INTEGRATION = "aws:apigatewayv2/integration:Integration"
SUBNET = "aws:ec2/subnet:Subnet"
RDS_PROXY_DEFAULT_TARGET_GROUP = "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
SECRETS_MANAGER_SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 (a type token)
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

# What AWS uses when a program leaves a Lambda function's timeout unset.
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3


def as_list(value: Any) -> list[Any]:
    """A property that may be absent, a scalar or a sequence, as a list."""
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def number(value: Any) -> float | None:
    """A numeric property (a float on the wire, sometimes a string in hand-written JSON)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def number_or(value: Any, default: float) -> float:
    """A numeric property, or what AWS (or the policy's config schema) uses when it is unset."""
    found = number(value)
    return default if found is None else found


def show(value: float | None) -> str:
    """90.0 -> "90" for messages."""
    if value is None:
        return "unset"
    return str(int(value)) if float(value).is_integer() else str(value)


def json_document(value: Any) -> Any:
    """A property the provider takes as a JSON string (IAM and redrive policies), parsed.

    Returns None when the property is absent; raises ValueError when it is not JSON.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from None
    return value


def of_type(resources: Iterable[PolicyResource], *type_tokens: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in type_tokens]


def declares(props: Mapping[str, Any], key: str) -> bool:
    """Whether a property is set (not null), known or not.

    `key in props` would read the value, and the proxy raises for an unknown one; iterating the
    keys does not, and an unknown value is a set one.
    """
    if not any(k == key for k in props):
        return False
    try:
        return props[key] is not None
    except UnknownValueError:
        return True


def known(props: Mapping[str, Any], key: str) -> Any:
    """A property's value, or None when it is unset or not known yet (a preview)."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None
