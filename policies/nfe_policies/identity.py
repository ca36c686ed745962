"""Identity: only signed-in callers reach an API, and the user directory is as strict as Cognito's defaults.

- Every REST API method but the preflights (OPTIONS) and an explicit allow-list of public paths
  (`publicPaths`, by default `/health`) has an authorizer: `authorization` other than NONE. A
  method's path is found through the graph (its `resourceId` came from an API Gateway resource or
  the API's root; each resource's `parentId` from its parent), so the policy decides on a first
  preview too, when no resource id is known yet.
- A Cognito user pool's password policy is no weaker than Cognito's default (8 characters, lower
  and upper case, a digit and a symbol, temporary passwords valid 7 days). Given a `passwordPolicy`,
  Cognito takes any requirement left out of it as off, so an absent flag counts as false.
- A user pool has deletion protection on (advisory; mandatory where the stack's policy config says
  so: prod). Deleting a pool deletes every user in it.
- No Cognito identity pool admits unauthenticated (guest) identities: they get AWS credentials
  without signing in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .common import as_list, as_mapping, number, of_type

APIGW_METHOD = "aws:apigateway/method:Method"
APIGW_RESOURCE = "aws:apigateway/resource:Resource"
APIGW_REST_API = "aws:apigateway/restApi:RestApi"
COGNITO_USER_POOL = "aws:cognito/userPool:UserPool"
COGNITO_IDENTITY_POOL = "aws:cognito/identityPool:IdentityPool"

DEFAULT_PUBLIC_PATHS = ["/health"]
# Cognito's default password policy (Cognito developer guide, "Password requirements").
DEFAULT_MIN_PASSWORD_LENGTH = 8
DEFAULT_TEMPORARY_PASSWORD_DAYS = 7
REQUIRED_CLASSES = ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols")
_AUTHORIZER_TYPES_NEEDING_ID = ("COGNITO_USER_POOLS", "CUSTOM")


def _sources(resource: PolicyResource, key: str, types: Iterable[str]) -> list[PolicyResource]:
    """The resources of these types a property's value came from (its property dependencies,
    else the resource's direct dependencies)."""
    wanted = set(types)
    sources = resource.property_dependencies.get(key) or resource.dependencies
    return [s for s in sources if s.resource_type in wanted]


def resource_path(method: PolicyResource, _depth: int = 0) -> str | None:
    """The API path a method (or an API Gateway resource) sits on, `/api/v1/notas/{id}`; None if unknowable."""
    key = "resourceId" if method.resource_type == APIGW_METHOD else "parentId"
    if method.resource_type == APIGW_RESOURCE:
        try:
            path = method.props.get("path")
        except UnknownValueError:
            path = None
        if isinstance(path, str) and path.startswith("/"):
            return path
    parents = _sources(method, key, (APIGW_RESOURCE, APIGW_REST_API))
    if len(parents) != 1 or _depth > 32:
        return None
    parent = parents[0]
    if parent.resource_type == APIGW_REST_API:
        base = ""  # the API's root resource
    else:
        found = resource_path(parent, _depth + 1)
        if found is None:
            return None
        base = found.rstrip("/")
    if method.resource_type == APIGW_METHOD:
        return base or "/"
    part = method.props.get("pathPart")
    return f"{base}/{part}" if isinstance(part, str) else None


def apigateway_method_authorized(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    public = {str(p) for p in as_list(args.get_config().get("publicPaths"))} or set(DEFAULT_PUBLIC_PATHS)
    for method in of_type(args.resources, APIGW_METHOD):
        http_method = str(method.props.get("httpMethod") or "").upper()
        if http_method == "OPTIONS":
            continue  # preflights carry no credentials by design (Fetch standard, CORS)
        authorization = str(method.props.get("authorization") or "NONE").upper()
        if authorization != "NONE":
            if authorization in _AUTHORIZER_TYPES_NEEDING_ID and not method.props.get("authorizerId"):
                report_violation(f"{http_method} has authorization {authorization} but no authorizerId", method.urn)
            continue
        path = resource_path(method)
        if path in public:
            continue
        where = path if path is not None else "a path this policy cannot determine"
        report_violation(
            f"{http_method} {where} has authorization NONE; only {sorted(public)} may be public (config publicPaths)",
            method.urn,
        )


def cognito_password_policy(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != COGNITO_USER_POOL:
        return
    if args.props.get("passwordPolicy") is None:
        return  # Cognito's default applies
    policy = as_mapping(args.props.get("passwordPolicy"))
    length = number(policy.get("minimumLength"))
    if length is None or length < DEFAULT_MIN_PASSWORD_LENGTH:
        report_violation(
            f"passwordPolicy.minimumLength is {policy.get('minimumLength')}; at least "
            f"{DEFAULT_MIN_PASSWORD_LENGTH} (Cognito's default)",
            None,
        )
    off = [name for name in REQUIRED_CLASSES if policy.get(name) is not True]
    if off:
        report_violation(f"passwordPolicy does not set {', '.join(off)} (Cognito's default requires each)", None)
    days = number(policy.get("temporaryPasswordValidityDays"))
    if days is not None and days > DEFAULT_TEMPORARY_PASSWORD_DAYS:
        report_violation(
            f"passwordPolicy.temporaryPasswordValidityDays is {days:g}; at most {DEFAULT_TEMPORARY_PASSWORD_DAYS}",
            None,
        )


def cognito_deletion_protection(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != COGNITO_USER_POOL:
        return
    if args.props.get("deletionProtection") != "ACTIVE":
        report_violation("deletionProtection is not ACTIVE: deleting the pool would delete every user", None)


def cognito_no_guest_identities(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != COGNITO_IDENTITY_POOL:
        return
    if args.props.get("allowUnauthenticatedIdentities") is True:
        report_violation("allowUnauthenticatedIdentities is true: guests get AWS credentials without signing in", None)


def _schema(**properties: Any) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)


POLICIES = [
    StackValidationPolicy(
        name="apigateway-method-authorized",
        description="Every REST API method but OPTIONS and the public allow-list (/health) has an authorizer.",
        validate=apigateway_method_authorized,
        config_schema=_schema(
            publicPaths={"type": "array", "items": {"type": "string"}, "default": DEFAULT_PUBLIC_PATHS}
        ),
    ),
    ResourceValidationPolicy(
        name="cognito-password-policy",
        description="Cognito user pools' password policy is no weaker than Cognito's default.",
        validate=cognito_password_policy,
    ),
    ResourceValidationPolicy(
        name="cognito-deletion-protection",
        description="Cognito user pools have deletion protection (mandatory where the stack's config says so: prod).",
        validate=cognito_deletion_protection,
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
    ResourceValidationPolicy(
        name="cognito-no-guest-identities",
        description="Cognito identity pools do not allow unauthenticated (guest) identities.",
        validate=cognito_no_guest_identities,
    ),
]
