"""S3 storage: the fiscal archive keeps every NF-e document safe, and every bucket's requests are logged.

The fiscal archive bucket is the one whose name (`bucket` or `bucketPrefix`) starts with a prefix of
`archiveBucketPrefixes` (default `nfe-fiscal-archive-`): the pack imports nothing of the program, so
it finds the archive by the name the program gives it. Its settings live in separate resources
(pulumi-aws v7: BucketVersioning, BucketServerSideEncryptionConfiguration, ...), each tied to its
bucket by the `bucket` input's property dependency, which is known on a first preview too.

- `fiscal-archive-private`: owner-enforced object ownership (no ACLs) and a bucket policy denying
  requests without TLS (public access blocks are `s3-bucket-public-access-blocked`'s, for every bucket).
- `fiscal-archive-versioned`: versioning Enabled.
- `fiscal-archive-encrypted-with-cmk`: default encryption SSE-KMS with a key of this stack (a
  customer-managed key), not SSE-S3 nor the AWS-managed `aws/s3`.
- `fiscal-archive-object-lock`: Object Lock enabled on the bucket (only possible at creation) with a
  default retention; `requiredMode` (ANY by default; COMPLIANCE in prod's pack config) and
  `minRetentionDays` (1 by default; prod's config asks for 1,825).
- `s3-bucket-access-logging`: every bucket has server access logging, but a bucket that receives
  access logs (logging a log bucket into itself would log its own deliveries, forever).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .common import KMS_KEY, as_list, as_mapping, json_document, known, number, of_type

S3_BUCKET = "aws:s3/bucket:Bucket"
S3_BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKET_TYPES = (S3_BUCKET, S3_BUCKET_V2)
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
S3_OBJECT_LOCK = (
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
)
S3_LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
S3_OWNERSHIP = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
S3_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)

DEFAULT_ARCHIVE_PREFIXES = ["nfe-fiscal-archive-"]
DEFAULT_MIN_RETENTION_DAYS = 1
DAYS_PER_YEAR = 365


def _sources(resource: PolicyResource, key: str) -> list[PolicyResource]:
    """The resources an input's value came from (its property dependencies, else all dependencies)."""
    return list(resource.property_dependencies.get(key) or resource.dependencies)


def _buckets_of(resource: PolicyResource, key: str = "bucket") -> list[PolicyResource]:
    return [r for r in _sources(resource, key) if r.resource_type in BUCKET_TYPES]


def _settings(
    resources: Iterable[PolicyResource], types: Iterable[str], bucket: PolicyResource
) -> list[PolicyResource]:
    """The setting resources of these types that apply to `bucket`."""
    return [r for r in of_type(resources, *types) if any(b.urn == bucket.urn for b in _buckets_of(r))]


def _bucket_name(bucket: PolicyResource) -> str:
    return str(known(bucket.props, "bucket") or known(bucket.props, "bucketPrefix") or "")


def archive_buckets(args: StackValidationArgs) -> list[PolicyResource]:
    prefixes = [str(p) for p in as_list(args.get_config().get("archiveBucketPrefixes"))] or DEFAULT_ARCHIVE_PREFIXES
    return [b for b in of_type(args.resources, *BUCKET_TYPES) if _bucket_name(b).startswith(tuple(prefixes))]


def _denies_plain_http(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    condition = as_mapping(as_mapping(statement.get("Condition")).get("Bool"))
    return str(condition.get("aws:SecureTransport", "")).lower() == "false"


def fiscal_archive_private(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for bucket in archive_buckets(args):
        ownership = _settings(args.resources, S3_OWNERSHIP, bucket)
        rules = [as_mapping(known(o.props, "rule")) for o in ownership]
        if not any(rule.get("objectOwnership") == "BucketOwnerEnforced" for rule in rules):
            report_violation(
                f"{bucket.name}: object ownership is not BucketOwnerEnforced (ACLs still apply)", bucket.urn
            )
        tls_only = False
        for policy in _settings(args.resources, S3_POLICY, bucket):
            try:
                # Read through the proxy: a document unknown until apply (it names the bucket's ARN)
                # makes the policy "can't run during preview" rather than a false violation.
                document = json_document(policy.props.get("policy"))
            except ValueError:
                continue
            statements = (as_mapping(s) for s in as_list(as_mapping(document).get("Statement")))
            tls_only = tls_only or any(_denies_plain_http(s) for s in statements)
        if not tls_only:
            report_violation(
                f"{bucket.name}: no bucket policy denies requests without TLS (aws:SecureTransport)", bucket.urn
            )


def fiscal_archive_versioned(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for bucket in archive_buckets(args):
        statuses = [
            as_mapping(known(v.props, "versioningConfiguration")).get("status")
            for v in _settings(args.resources, S3_VERSIONING, bucket)
        ]
        if "Enabled" not in statuses:
            report_violation(f"{bucket.name}: versioning is not Enabled", bucket.urn)


def fiscal_archive_encrypted_with_cmk(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for bucket in archive_buckets(args):
        configs = _settings(args.resources, S3_ENCRYPTION, bucket)
        ok = False
        for config in configs:
            keys_in_stack = [r for r in _sources(config, "rules") if r.resource_type == KMS_KEY]
            for rule in (as_mapping(r) for r in as_list(known(config.props, "rules"))):
                default = as_mapping(rule.get("applyServerSideEncryptionByDefault"))
                algorithm = default.get("sseAlgorithm")
                try:
                    key = default.get("kmsMasterKeyId")
                except UnknownValueError:
                    key = None  # the key's ARN, unknown on a first preview
                literal_cmk = isinstance(key, str) and ":key/" in key
                # That the key comes from a KMS key of the stack is known on a first preview too.
                if algorithm in ("aws:kms", "aws:kms:dsse") and (keys_in_stack or literal_cmk):
                    ok = True
        if not ok:
            report_violation(
                f"{bucket.name}: default encryption is not SSE-KMS with a customer-managed key of this stack",
                bucket.urn,
            )


def _retention_days(retention: Mapping[str, Any]) -> float | None:
    days, years = number(retention.get("days")), number(retention.get("years"))
    if days is None and years is None:
        return None
    return (days or 0) + (years or 0) * DAYS_PER_YEAR


def fiscal_archive_object_lock(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    required = None if config.get("requiredMode") in (None, "ANY") else config.get("requiredMode")
    minimum = number(config.get("minRetentionDays")) or DEFAULT_MIN_RETENTION_DAYS
    for bucket in archive_buckets(args):
        if known(bucket.props, "objectLockEnabled") is not True:
            report_violation(
                f"{bucket.name}: objectLockEnabled is not true (Object Lock is set at creation only)", bucket.urn
            )
            continue
        locks = _settings(args.resources, S3_OBJECT_LOCK, bucket)
        retentions = [as_mapping(as_mapping(known(lock.props, "rule")).get("defaultRetention")) for lock in locks]
        retentions = [r for r in retentions if r]
        if not retentions:
            report_violation(
                f"{bucket.name}: no Object Lock default retention: new versions would not be locked", bucket.urn
            )
            continue
        for retention in retentions:
            mode = retention.get("mode")
            if required and mode != required:
                report_violation(
                    f"{bucket.name}: Object Lock mode is {mode}, this stack requires {required}", bucket.urn
                )
            days = _retention_days(retention)
            if days is None or days < minimum:
                shown = "unset" if days is None else f"{days:g} days"
                report_violation(
                    f"{bucket.name}: default retention is {shown}, this stack requires at least {minimum:g} days",
                    bucket.urn,
                )


def _logged_via_bucket_props(bucket: PolicyResource) -> bool:
    # The deprecated inline form (`logging`/`loggings` on the bucket itself) counts too.
    return any(as_list(known(bucket.props, key)) for key in ("logging", "loggings"))


def s3_bucket_access_logging(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    loggings = of_type(args.resources, *S3_LOGGING)
    logged = {b.urn for logging in loggings for b in _buckets_of(logging)}
    targets = {b.urn for logging in loggings for b in _buckets_of(logging, "targetBucket")}
    for bucket in of_type(args.resources, *BUCKET_TYPES):
        if bucket.urn in logged or bucket.urn in targets or _logged_via_bucket_props(bucket):
            continue
        report_violation(f"{bucket.name}: no server access logging (aws.s3.BucketLogging)", bucket.urn)


_PREFIXES = {"type": "array", "items": {"type": "string"}, "default": DEFAULT_ARCHIVE_PREFIXES}


def _schema(**extra: Any) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={"archiveBucketPrefixes": _PREFIXES, **extra})


POLICIES = [
    StackValidationPolicy(
        name="fiscal-archive-private",
        description="The fiscal archive bucket owns its objects (no ACLs) and refuses requests without TLS.",
        validate=fiscal_archive_private,
        config_schema=_schema(),
    ),
    StackValidationPolicy(
        name="fiscal-archive-versioned",
        description="The fiscal archive bucket is versioned.",
        validate=fiscal_archive_versioned,
        config_schema=_schema(),
    ),
    StackValidationPolicy(
        name="fiscal-archive-encrypted-with-cmk",
        description="The fiscal archive bucket encrypts with SSE-KMS under a customer-managed key of the stack.",
        validate=fiscal_archive_encrypted_with_cmk,
        config_schema=_schema(),
    ),
    StackValidationPolicy(
        name="fiscal-archive-object-lock",
        description="The fiscal archive bucket has Object Lock with a default retention (COMPLIANCE where required).",
        validate=fiscal_archive_object_lock,
        config_schema=_schema(
            requiredMode={"type": "string", "enum": ["ANY", "GOVERNANCE", "COMPLIANCE"], "default": "ANY"},
            minRetentionDays={"type": "number", "minimum": 1, "default": DEFAULT_MIN_RETENTION_DAYS},
        ),
    ),
    StackValidationPolicy(
        name="s3-bucket-access-logging",
        description="Every S3 bucket has server access logging, but the buckets that receive access logs.",
        validate=s3_bucket_access_logging,
    ),
]
