"""GitHub Actions' way into this account: its OIDC provider, and per app stack a deploy role and a
read-only role (README "CI/CD"). No static keys exist anywhere.

Trust (a condition on `sub` and `aud` of GitHub's token, as configure-aws-credentials' README asks):
- deploy role of a stack: `repo:<owner>/<name>:ref:refs/heads/<branch>` (main's push workflow),
  or, for a stack named in `githubEnvironments` (prod by default), only
  `repo:<owner>/<name>:environment:<stack>`: a job GitHub ran after the environment's reviewers approved.
- read-only role of a stack: the repository's pull requests and its main branch (previews, drift).

IAM is global, so the roles exist once per account: set `nfe-account:githubRepository` on one region's
stack only (unset, nothing here is created). An account that already has GitHub's OIDC provider
passes its ARN as `githubOidcProviderArn` (IAM allows one provider per URL).

Wildcards: the deploy role creates and changes every resource type of the app stacks, so it is
granted each of their services whole (`DEPLOY_SERVICES`, why for each below), in this region only,
with IAM limited to this account's roles and policies and denied on the CI roles and the provider
themselves (a deploy cannot widen its own trust). The read-only role reads: `Describe*`, `Get*` and
`List*` of the same services, minus the data reads listed in `READ_ONLY_DENIED` and objects outside the
console's bucket and the state bucket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_AUDIENCE = "sts.amazonaws.com"
ROLE_PREFIX = "nfe-github"

# The services of the app stacks' resource types (pulumi-aws module -> IAM service prefix), each
# granted whole to the deploy role: the provider calls a different set of actions per resource
# version and per property, and a missing one fails a deploy half-way. tests/test_account_project.py
# checks that they cover every resource type of both stacks, so a type of a new service needs a line here.
DEPLOY_SERVICES: Mapping[str, str] = {
    "apigateway": "REST API, stages, deployments, account-level settings read by the stage",
    "cloudfront": "the console's distribution, functions, cache and headers policies, OAC",
    "cloudwatch": "alarms and the dashboard",
    "cognito-idp": "the user pool, its client and groups",
    "ec2": "VPC, subnets, security groups and rules, endpoints, the admin prefix list",
    "events": "the bus, its archive, rules and targets (pulumi-aws module cloudwatch/event*)",
    "kms": "the database key and its alias, the fiscal archive's key",
    "lambda": "functions, layers, permissions, event source mappings, the migrator's invocation",
    "logs": "log groups (pulumi-aws module cloudwatch/logGroup)",
    "rds": "the instance, parameter and subnet groups, RDS Proxy",
    "s3": "the console's bucket, the fiscal archive and the access-log buckets, their settings and objects "
    "(s3:* includes s3:BypassGovernanceRetention, which dev's destroy needs for the archive's governance lock)",
    "schemas": "the bus's schema discoverer",
    "secretsmanager": "the RDS-managed master secret the instance creates, and the certificate secret",
    "sns": "the alarm topic",
    "sqs": "queues, DLQs and their policies",
    "ssm": "the account project's bootstrap record, read by every app stack",
}
# pulumi-aws modules (or type prefixes) whose IAM service prefix is not the module's name.
TYPE_SERVICES: Mapping[str, str] = {
    "aws:cloudwatch/event": "events",
    "aws:cloudwatch/log": "logs",
    "aws:cognito/": "cognito-idp",
    "aws:vpc/": "ec2",
}
# Global services: their actions are requested in us-east-1 whatever the stack's region.
GLOBAL_SERVICES = ("cloudfront",)
# Reads the read-only role may not make although they are Get*/List*/Describe*: they return data,
# not configuration (secret values, parameters' past values, log lines). Refresh needs none of them.
READ_ONLY_DENIED = (
    "secretsmanager:GetSecretValue",
    "ssm:GetParameterHistory",
    "logs:GetLogEvents",
    "logs:GetLogRecord",
    "logs:GetQueryResults",
)
# Objects are data too, except the console's files, which refresh reads (HeadObject needs
# s3:GetObject) and which are public through CloudFront anyway; StaticSite names its bucket so.
CONSOLE_BUCKETS = "nfe-console-*"
# Verb wildcards the read-only role grants, per service, and why. IAM matches action names without
# regard to case, so `apigateway:Get*` is API Gateway's `apigateway:GET`, its one read action.
READ_ONLY_VERBS = {
    "Describe*": "refresh reads every resource's configuration",
    "Get*": "refresh reads every resource's configuration",
    "List*": "refresh lists tags, versions, targets and attachments",
}


@dataclass(frozen=True)
class GitHubCiArgs:
    repository: str  # owner/name
    region: str
    account: str
    partition: str = "aws"
    stacks: tuple[str, ...] = ("dev", "prod")
    # Stacks whose deploy role only a job in the GitHub environment of the same name may assume.
    environments: tuple[str, ...] = ("prod",)
    branch: str = "main"
    oidc_provider_arn: str | None = None
    # A self-managed backend (`pulumi login s3://<bucket>`) and its secrets key, when used.
    state_bucket: str | None = None
    state_kms_key_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


def _repo_subject(args: GitHubCiArgs, rest: str) -> str:
    return f"repo:{args.repository}:{rest}"


def deploy_subjects(args: GitHubCiArgs, stack: str) -> list[str]:
    if stack in args.environments:
        return [_repo_subject(args, f"environment:{stack}")]
    return [_repo_subject(args, f"ref:refs/heads/{args.branch}")]


def read_only_subjects(args: GitHubCiArgs) -> list[str]:
    return [_repo_subject(args, "pull_request"), _repo_subject(args, f"ref:refs/heads/{args.branch}")]


def trust_policy(provider_arn: str, subjects: list[str]) -> dict[str, Any]:
    host = GITHUB_OIDC_URL.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActionsOfThisRepository",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{host}:aud": GITHUB_AUDIENCE, f"{host}:sub": subjects},
                },
            }
        ],
    }


def _state_statements(args: GitHubCiArgs, write: bool) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    if args.state_bucket:
        bucket = f"arn:{args.partition}:s3:::{args.state_bucket}"
        actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] if write else ["s3:GetObject"]
        statements += [
            {"Sid": "StateBucketList", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket]},
            {"Sid": "StateObjects", "Effect": "Allow", "Action": actions, "Resource": [f"{bucket}/*"]},
        ]
        if not write:
            # A self-managed backend locks the stack for `pulumi refresh`, --preview-only included
            # (pulumi/pulumi pkg/backend/diy/backend.go, Refresh), which the drift check runs.
            statements.append(
                {
                    "Sid": "StateLocks",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:DeleteObject"],
                    "Resource": [f"{bucket}/.pulumi/locks/*"],
                }
            )
    if args.state_kms_key_arn:
        statements.append(
            {
                "Sid": "StateSecrets",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt"] if write else ["kms:Decrypt"],
                "Resource": [args.state_kms_key_arn],
            }
        )
    return statements


def _protected(args: GitHubCiArgs) -> list[str]:
    iam = f"arn:{args.partition}:iam::{args.account}"
    host = GITHUB_OIDC_URL.removeprefix("https://")
    return [f"{iam}:role/{ROLE_PREFIX}-*", f"{iam}:oidc-provider/{host}", f"{iam}:role/nfe-apigateway-cloudwatch-*"]


def deploy_policy(args: GitHubCiArgs) -> dict[str, Any]:
    regional = sorted(s for s in DEPLOY_SERVICES if s not in GLOBAL_SERVICES)
    iam = f"arn:{args.partition}:iam::{args.account}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StackServicesInThisRegion",
                "Effect": "Allow",
                "Action": [f"{service}:*" for service in regional],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": args.region}},
            },
            {
                "Sid": "GlobalStackServices",
                "Effect": "Allow",
                "Action": [f"{service}:*" for service in GLOBAL_SERVICES],
                "Resource": "*",
            },
            {
                "Sid": "StackRolesAndPolicies",
                "Effect": "Allow",
                "Action": ["iam:*"],
                "Resource": [f"{iam}:role/*", f"{iam}:policy/*"],
            },
            {
                "Sid": "NotTheCiRolesNorTheAccountSettings",
                "Effect": "Deny",
                "Action": ["iam:*"],
                "Resource": _protected(args),
            },
            {"Sid": "WhoAmI", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
            *_state_statements(args, write=True),
        ],
    }


def read_only_policy(args: GitHubCiArgs) -> dict[str, Any]:
    services = [*sorted(DEPLOY_SERVICES), "iam"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadStackConfiguration",
                "Effect": "Allow",
                "Action": [f"{service}:{verb}" for service in services for verb in READ_ONLY_VERBS],
                "Resource": "*",
            },
            {"Sid": "NoDataReads", "Effect": "Deny", "Action": list(READ_ONLY_DENIED), "Resource": "*"},
            {
                "Sid": "NoObjectReadsButTheConsoleAndTheState",
                "Effect": "Deny",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "NotResource": [
                    f"arn:{args.partition}:s3:::{CONSOLE_BUCKETS}/*",
                    *([f"arn:{args.partition}:s3:::{args.state_bucket}/*"] if args.state_bucket else []),
                ],
            },
            *_state_statements(args, write=False),
        ],
    }


def service_of(type_token: str) -> str:
    """The IAM service prefix that manages a pulumi-aws type: aws:cloudwatch/eventRule:EventRule -> events."""
    for prefix, service in TYPE_SERVICES.items():
        if type_token.startswith(prefix):
            return service
    return type_token.split(":")[1].split("/")[0]


def wildcard_actions(document: Mapping[str, Any]) -> set[str]:
    """Every action with a `*` in an Allow statement of `document`."""
    found: set[str] = set()
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"]
        found |= {a for a in ([actions] if isinstance(actions, str) else actions) if "*" in a}
    return found


def justified_wildcards() -> set[str]:
    """The wildcards the module docstring and the constants above justify, and nothing else."""
    read_services = [*sorted(DEPLOY_SERVICES), "iam"]
    return (
        {f"{s}:*" for s in DEPLOY_SERVICES}
        | {"iam:*"}
        | {f"{s}:{verb}" for s in read_services for verb in READ_ONLY_VERBS}
    )


def _trust_json(provider_arn: pulumi.Input[str], subjects: list[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(provider_arn).apply(lambda arn: json.dumps(trust_policy(arn, subjects)))


def create_github_ci(args: GitHubCiArgs) -> dict[str, pulumi.Output[str]]:
    """The provider (unless given) and the roles; returns the role ARNs by name for the exports."""
    if args.oidc_provider_arn:
        provider_arn: pulumi.Input[str] = args.oidc_provider_arn
    else:
        # Protected: other workloads of the account may come to rely on the one provider per URL.
        provider = aws.iam.OpenIdConnectProvider(
            "github-oidc",
            url=GITHUB_OIDC_URL,
            client_id_lists=[GITHUB_AUDIENCE],
            tags=args.tags,
            opts=pulumi.ResourceOptions(protect=True),
        )
        provider_arn = provider.arn
    exports: dict[str, pulumi.Output[str]] = {}
    roles = [(f"{stack}-deploy", deploy_subjects(args, stack), deploy_policy(args)) for stack in args.stacks]
    roles += [(f"{stack}-read", read_only_subjects(args), read_only_policy(args)) for stack in args.stacks]
    for name, subjects, policy in roles:
        role = aws.iam.Role(
            f"github-{name}",
            name=f"{ROLE_PREFIX}-{name}",
            description=f"GitHub Actions of {args.repository}: {name} (README CI/CD)",
            assume_role_policy=_trust_json(provider_arn, subjects),
            max_session_duration=3600,
            tags=args.tags,
        )
        aws.iam.RolePolicy(f"github-{name}-policy", role=role.id, policy=json.dumps(policy))
        exports[name] = role.arn
    return exports
