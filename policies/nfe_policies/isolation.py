"""Isolation: the one function outside the VPC, what it may not reach, and the secret only it may read.

Every function runs in the stack's private subnets (no NAT, no route out) except the SEFAZ participant,
which needs the internet and no database. Three policies keep that shape:

- `lambda-in-vpc` (resource): a Lambda function has a `vpcConfig` with subnets, unless its name is one
  of `outsideVpcFunctions` (default `sefaz-autorizador`; physical names add `-<stack>`).
- `no-database-access-outside-vpc` (stack): no policy of the role of a function outside the VPC grants
  `rds-db:connect` (nor a wildcard that covers it): a function reachable from the internet's side never
  logs in to the database, whatever its network path would allow.
- `sefaz-certificate-readers` (stack): only the roles of the functions named in `certificateReaders`
  (default `sefaz-autorizador`) are granted `secretsmanager:GetSecretValue` on the SEFAZ certificate's
  secret, and no secret resource policy allows it to anyone. The secret is the one tagged
  `nfe:secret=sefaz-certificate`, or named with a prefix of `certificateNamePrefixes` (default
  `nfe-sefaz-certificado-`): the pack imports nothing of the program, so it finds the secret by what
  the program sets on it (a test keeps both copies equal).

A grant is read from the role's own policies (`aws:iam/rolePolicy`, the role's `inlinePolicies`,
customer-managed policies attached to it in the stack), and for the certificate from every IAM
document of the stack (managed, user and group policies too). On a first preview the documents embed
ARNs that do not exist yet; these policies then follow the graph: a document whose value came from the
database (its instance or proxy) may grant a connection to it, and one whose value came from the
certificate's secret may grant reading it. That errs on the side of refusing, and decides on a preview.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .common import (
    IAM_GROUP_POLICY,
    IAM_POLICY,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    IAM_USER_POLICY,
    LAMBDA_FUNCTION,
    RDS_INSTANCE,
    RDS_PROXY,
    SECRETS_MANAGER_SECRET,
    as_list,
    as_mapping,
    json_document,
    known,
    of_type,
)

IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"  # noqa: S105 (a type token)
RDS_CLUSTER = "aws:rds/cluster:Cluster"
DATABASE_TYPES = (RDS_INSTANCE, RDS_PROXY, RDS_CLUSTER)

DEFAULT_OUTSIDE_VPC_FUNCTIONS = ["sefaz-autorizador"]
DEFAULT_CERTIFICATE_READERS = ["sefaz-autorizador"]
DEFAULT_CERTIFICATE_NAME_PREFIXES = ["nfe-sefaz-certificado-"]
CERTIFICATE_TAG = {"nfe:secret": "sefaz-certificate"}
CONNECT = "rds-db:connect"
READ_SECRET = "secretsmanager:GetSecretValue"  # noqa: S105 (an IAM action)


# --- names --------------------------------------------------------------------------------------------


def named(name: str, allowed: Iterable[str]) -> bool:
    """A function's physical name is one of `allowed`, alone or with its stack's suffix (`-dev`)."""
    return any(name == a or re.fullmatch(rf"{re.escape(a)}-[a-z0-9]+", name) for a in allowed)


def _strings(value: Any) -> list[str]:
    return [str(v) for v in as_list(value)]


# --- IAM documents -----------------------------------------------------------------------------------


def _iam_match(pattern: str, value: str) -> bool:
    """IAM's `*` and `?` wildcards; actions are case-insensitive."""
    return fnmatch.fnmatchcase(value, pattern)


def grants(document: Any, action: str, resource: str | None = None) -> list[str]:
    """The Allow statements (by Sid or index) of a document that grant `action`, on `resource` when
    given (None: on anything). NotAction and NotResource grant what they do not name."""
    found = []
    for index, raw in enumerate(as_list(as_mapping(document).get("Statement"))):
        statement = as_mapping(raw)
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            covered = not any(_iam_match(a.lower(), action.lower()) for a in _strings(statement.get("NotAction")))
        else:
            covered = any(_iam_match(a.lower(), action.lower()) for a in _strings(statement.get("Action")))
        if not covered:
            continue
        if resource is not None:
            if "NotResource" in statement:
                if any(_iam_match(r, resource) for r in _strings(statement.get("NotResource"))):
                    continue
            elif not any(_iam_match(r, resource) for r in _strings(statement.get("Resource"))):
                continue
        found.append(str(statement.get("Sid") or f"Statement[{index}]"))
    return found


@dataclass
class Document:
    """One IAM policy document of the stack, where it is and whom it applies to."""

    owner: PolicyResource  # the resource that carries it
    where: str  # "policy", "inline policy x"
    key: str  # the owner's property holding it (for the graph, when its value is unknown)
    value: Any  # the parsed document; None when unknown (a preview)
    roles: list[PolicyResource]  # the roles it applies to ([] for a user or group policy)

    def sources(self) -> list[PolicyResource]:
        """The resources its value came from (the engine's property dependencies, else all)."""
        return list(self.owner.property_dependencies.get(self.key) or self.owner.dependencies)


def _referenced(resource: PolicyResource, key: str, candidates: list[PolicyResource]) -> list[PolicyResource]:
    """The candidates a property names: by the graph (known on a preview), else by name, id or ARN."""
    urns = {r.urn for r in resource.property_dependencies.get(key) or []}
    if urns:
        return [c for c in candidates if c.urn in urns]
    try:
        value = resource.props.get(key)
    except UnknownValueError:
        urns = {r.urn for r in resource.dependencies}
        return [c for c in candidates if c.urn in urns]
    if value is None:
        return []
    idents = {str(v) for v in as_list(value)}
    return [c for c in candidates if idents & {str(v) for k in ("name", "arn") if (v := known(c.props, k))}]


def _parse(raw: Any) -> Any:
    try:
        return json_document(raw)
    except ValueError:
        return {}  # unreadable JSON grants nothing; iam-no-wildcard-actions reports it


def documents(resources: list[PolicyResource]) -> list[Document]:
    """Every IAM policy document of the stack, with the roles it applies to."""
    roles = of_type(resources, IAM_ROLE)
    managed = of_type(resources, IAM_POLICY)
    found: list[Document] = []
    for policy in of_type(resources, IAM_ROLE_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY):
        try:
            value = _parse(policy.props.get("policy"))
        except UnknownValueError:
            value = None
        applies = _referenced(policy, "role", roles) if policy.resource_type == IAM_ROLE_POLICY else []
        found.append(Document(policy, "policy", "policy", value, applies))
    for role in roles:
        try:
            inline = [as_mapping(p) for p in as_list(role.props.get("inlinePolicies"))]
        except UnknownValueError:
            inline = []
        for index, entry in enumerate(inline):
            try:
                value = _parse(entry.get("policy"))
            except UnknownValueError:
                value = None
            where = f"inline policy {entry.get('name') or index}"
            found.append(Document(role, where, "inlinePolicies", value, [role]))
    attachments = of_type(resources, IAM_ROLE_POLICY_ATTACHMENT)
    for policy in managed:
        try:
            value = _parse(policy.props.get("policy"))
        except UnknownValueError:
            value = None
        attached = [
            role
            for attachment in attachments
            if policy in _referenced(attachment, "policyArn", managed)
            for role in _referenced(attachment, "role", roles)
        ]
        found.append(Document(policy, "policy", "policy", value, attached))
    return found


def function_role(function: PolicyResource, roles: list[PolicyResource]) -> list[PolicyResource]:
    return _referenced(function, "role", roles)


# --- lambda-in-vpc --------------------------------------------------------------------------------------


def in_vpc(props: Mapping[str, Any]) -> bool:
    """A `vpcConfig` with subnets. Subnet ids unknown on a preview are subnets all the same."""
    try:
        config = as_mapping(props.get("vpcConfig"))
    except UnknownValueError:
        return True
    try:
        return bool(as_list(config.get("subnetIds")))
    except UnknownValueError:
        return True


def lambda_in_vpc(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LAMBDA_FUNCTION:
        return
    if in_vpc(args.props):
        return
    allowed = _strings(args.get_config().get("outsideVpcFunctions")) or DEFAULT_OUTSIDE_VPC_FUNCTIONS
    name = str(args.props.get("name") or args.name)
    if not named(name, allowed):
        report_violation(
            f"{name} runs outside the VPC (no vpcConfig subnets): only {', '.join(allowed)} may; every other "
            "function belongs in the private subnets, with the database and the endpoints",
            None,
        )


# --- no-database-access-outside-vpc --------------------------------------------------------------------


def no_database_access_outside_vpc(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = list(args.resources)
    roles = of_type(resources, IAM_ROLE)
    all_documents = documents(resources)
    for function in of_type(resources, LAMBDA_FUNCTION):
        if in_vpc(function.props):
            continue
        name = str(known(function.props, "name") or function.name)
        for role in function_role(function, roles):
            for document in (d for d in all_documents if role in d.roles):
                if document.value is None:
                    databases = [s.name for s in document.sources() if s.resource_type in DATABASE_TYPES]
                    if databases:
                        report_violation(
                            f"{document.owner.name} ({document.where}) of {name}'s role is built from the "
                            f"database ({', '.join(databases)}): it may grant {CONNECT} to a function outside the "
                            "VPC (unknown until apply)",
                            document.owner.urn,
                        )
                    continue
                statements = grants(document.value, CONNECT)
                if statements:
                    report_violation(
                        f"{document.owner.name} ({document.where}, {', '.join(statements)}) grants {CONNECT} to "
                        f"the role of {name}, which runs outside the VPC: a function reachable from the internet's "
                        "side never logs in to the database",
                        document.owner.urn,
                    )


# --- sefaz-certificate-readers --------------------------------------------------------------------------


def certificate_secrets(resources: list[PolicyResource], prefixes: list[str]) -> list[PolicyResource]:
    found = []
    for secret in of_type(resources, SECRETS_MANAGER_SECRET):
        tags = as_mapping(known(secret.props, "tags"))
        tagged = all(tags.get(k) == v for k, v in CERTIFICATE_TAG.items())
        name = str(known(secret.props, "name") or known(secret.props, "namePrefix") or "")
        if tagged or (name and name.startswith(tuple(prefixes))):
            found.append(secret)
    return found


def _reads(document: Document, secret: PolicyResource) -> list[str] | None:
    """The statements of a document granting GetSecretValue on the secret (None: no grant)."""
    arn = known(secret.props, "arn")
    if document.value is None or arn is None:
        # A document or an ARN unknown until apply: the graph says whether it names this secret, and
        # a known document granting the action on "*" reads every secret.
        if document.value is not None and grants(document.value, READ_SECRET, "*"):
            return grants(document.value, READ_SECRET, "*")
        return ["(unknown until apply)"] if secret in document.sources() else None
    found = grants(document.value, READ_SECRET, str(arn))
    return found or None


def sefaz_certificate_readers(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    readers = _strings(config.get("certificateReaders")) or DEFAULT_CERTIFICATE_READERS
    prefixes = _strings(config.get("certificateNamePrefixes")) or DEFAULT_CERTIFICATE_NAME_PREFIXES
    resources = list(args.resources)
    secrets = certificate_secrets(resources, prefixes)
    if not secrets:
        return
    roles = of_type(resources, IAM_ROLE)
    allowed = {
        role.urn
        for function in of_type(resources, LAMBDA_FUNCTION)
        if named(str(known(function.props, "name") or function.name), readers)
        for role in function_role(function, roles)
    }
    for document in documents(resources):
        for secret in secrets:
            statements = _reads(document, secret)
            if statements is None:
                continue
            strangers = [r.name for r in document.roles if r.urn not in allowed]
            if document.roles and not strangers:
                continue
            grantee = ", ".join(strangers) if strangers else f"whoever {document.owner.name} is attached to"
            report_violation(
                f"{document.owner.name} ({document.where}, {', '.join(statements)}) grants {READ_SECRET} on the "
                f"SEFAZ certificate's secret {secret.name} to {grantee}: only the role of "
                f"{', '.join(readers)} may read the emitente's A1",
                document.owner.urn,
            )
    for policy in of_type(resources, SECRET_POLICY):
        targets = _referenced(policy, "secretArn", secrets)
        if not targets:
            continue
        try:
            value = _parse(policy.props.get("policy"))
        except UnknownValueError:
            continue  # its principals name roles by ARN; at the end of `up` it is judged known
        statements = grants(value, READ_SECRET)
        if statements:
            report_violation(
                f"{policy.name} ({', '.join(statements)}) allows {READ_SECRET} on the SEFAZ certificate's secret "
                f"{targets[0].name} in its resource policy: grant it in the reader's role policy only",
                policy.urn,
            )


POLICIES = [
    ResourceValidationPolicy(
        name="lambda-in-vpc",
        description="Lambda functions run in the VPC's private subnets, but the few named outside it (the SEFAZ one).",
        validate=lambda_in_vpc,
        config_schema=PolicyConfigSchema(
            properties={
                "outsideVpcFunctions": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": DEFAULT_OUTSIDE_VPC_FUNCTIONS,
                }
            }
        ),
    ),
    StackValidationPolicy(
        name="no-database-access-outside-vpc",
        description="A function outside the VPC is not granted rds-db:connect by its role's policies.",
        validate=no_database_access_outside_vpc,
    ),
    StackValidationPolicy(
        name="sefaz-certificate-readers",
        description="Only the SEFAZ function's role may read the emitente's certificate secret.",
        validate=sefaz_certificate_readers,
        config_schema=PolicyConfigSchema(
            properties={
                "certificateReaders": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": DEFAULT_CERTIFICATE_READERS,
                },
                "certificateNamePrefixes": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": DEFAULT_CERTIFICATE_NAME_PREFIXES,
                },
            }
        ),
    ),
]
