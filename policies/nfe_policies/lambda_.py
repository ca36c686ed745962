"""Lambda functions: bounded concurrency, no secrets in plain environment variables, tracing, Graviton.

The plaintext-secret rule: a variable whose *name* says it holds a secret (PASSWORD, SECRET, TOKEN,
API_KEY, ...) must hold a reference, i.e. an ARN (Secrets Manager, SSM, KMS), never a literal; so
`DB_SECRET_ARN=arn:aws:secretsmanager:...` passes and `DB_SECRET_ARN=hunter2` does not. A variable
whose *value* has the shape of a credential (an AWS access key id, a private key, a URL with a
password, a JWT, a vendor token) fails whatever its name. Messages never repeat the value.
"""

from __future__ import annotations

import itertools
import re

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from .common import LAMBDA_FUNCTION, as_list, as_mapping, number

SENSITIVE_WORDS = frozenset(
    {"PASSWORD", "PASSWD", "PASS", "PWD", "SECRET", "TOKEN", "APIKEY", "CREDENTIAL", "CREDENTIALS"}
)
# KEY alone names ids and prefixes too (KMS_KEY_ID, S3_KEY_PREFIX); these qualifiers make it a credential.
SENSITIVE_KEY_QUALIFIERS = frozenset({"API", "PRIVATE", "ACCESS", "SECRET", "SIGNING", "ENCRYPTION"})
ARN = re.compile(r"^arn:aws[a-z-]*:")
CREDENTIAL_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a URL with an embedded password", re.compile(r"://[^/\s:@]+:[^/\s@]+@")),
    ("a JSON web token", re.compile(r"\beyJ[\w-]+\.eyJ[\w-]+\.")),
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36}|github_pat_\w{20,})")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[\w-]{10,}")),
    ("a Stripe live key", re.compile(r"\b[sr]k_live_\w{16,}")),
)


def sensitive_name(name: str) -> bool:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name.upper()) if w]
    if SENSITIVE_WORDS.intersection(words):
        return True
    return any(a in SENSITIVE_KEY_QUALIFIERS and b == "KEY" for a, b in itertools.pairwise(words))


def credential_shape(value: str) -> str | None:
    for label, pattern in CREDENTIAL_SHAPES:
        if pattern.search(value):
            return label
    return None


def lambda_no_plaintext_secrets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LAMBDA_FUNCTION:
        return
    variables = as_mapping(as_mapping(args.props.get("environment")).get("variables"))
    for name in variables:
        try:
            value = str(variables[name] or "")
        except UnknownValueError:
            # Computed by another resource, so not a literal in the program; `pulumi up` sees it known.
            continue
        shape = credential_shape(value)
        if shape:
            report_violation(f"environment variable {name} holds {shape}", None)
        elif sensitive_name(name) and value and not ARN.match(value):
            report_violation(
                f"environment variable {name} looks like a secret and holds a literal, not an ARN: "
                "keep it in Secrets Manager or SSM and pass the ARN",
                None,
            )


def lambda_reserved_concurrency(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LAMBDA_FUNCTION:
        return
    reserved = number(args.props.get("reservedConcurrentExecutions"))
    if reserved is None or reserved < 0:
        report_violation(
            "reservedConcurrentExecutions is unset: one function could take the account's concurrency", None
        )
    elif reserved == 0:
        report_violation("reservedConcurrentExecutions is 0, which throttles every invocation", None)


def lambda_tracing(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LAMBDA_FUNCTION:
        return
    mode = as_mapping(args.props.get("tracingConfig")).get("mode")
    if mode != "Active":
        report_violation(f"tracingConfig.mode is {mode or 'unset'}, not Active: no X-Ray traces", None)


def lambda_arm64(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LAMBDA_FUNCTION:
        return
    architectures = [str(a) for a in as_list(args.props.get("architectures"))] or ["x86_64"]
    if architectures != ["arm64"]:
        report_violation(f"architectures is {architectures}: arm64 costs about 20% less per GB-second", None)


POLICIES = [
    ResourceValidationPolicy(
        name="lambda-reserved-concurrency",
        description="Lambda functions reserve a bounded concurrency.",
        validate=lambda_reserved_concurrency,
    ),
    ResourceValidationPolicy(
        name="lambda-no-plaintext-secrets",
        description="Lambda environment variables hold no passwords, keys or tokens, only references to them.",
        validate=lambda_no_plaintext_secrets,
    ),
    ResourceValidationPolicy(
        name="lambda-tracing",
        description="Lambda functions have active X-Ray tracing.",
        validate=lambda_tracing,
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
    ResourceValidationPolicy(
        name="lambda-arm64",
        description="Lambda functions run on arm64 (Graviton).",
        validate=lambda_arm64,
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
]
