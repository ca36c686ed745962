"""The storage policies (policies/nfe_policies/storage.py), each with a passing and a violating stack,
and both stacks' fiscal archive and buckets passing them (prod under its COMPLIANCE config)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nfe.mockrun import ResourceRecord
from nfe.policy_runner import load_config
from tests.test_policies import PACK, resource, violations

BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY = "aws:kms/key:Key"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/abcd"


def archive(**inputs: Any) -> ResourceRecord:
    return resource(BUCKET, "archive", {"bucketPrefix": "nfe-fiscal-archive-dev-", "objectLockEnabled": True, **inputs})


def of(bucket: ResourceRecord, type_: str, name: str, inputs: dict[str, Any], **deps: list[str]) -> ResourceRecord:
    """A bucket setting whose `bucket` input came from `bucket` (and other inputs from `deps`)."""
    record = resource(type_, name, {"bucket": f"{bucket.name}-id", **inputs})
    record.options["propertyDependencies"] = {"bucket": [bucket.urn], **deps}
    return record


def tls_policy(bucket: ResourceRecord, deny_http: bool = True) -> ResourceRecord:
    statement: dict[str, Any] = {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*"}
    statement["Condition"] = {"Bool": {"aws:SecureTransport": "false" if deny_http else "true"}}
    return of(bucket, POLICY, f"{bucket.name}-policy", {"policy": json.dumps({"Statement": [statement]})})


def test_the_archive_is_owner_enforced_and_tls_only() -> None:
    bucket = archive()
    owner = of(bucket, OWNERSHIP, "own", {"rule": {"objectOwnership": "BucketOwnerEnforced"}})
    assert violations("fiscal-archive-private", bucket, owner, tls_policy(bucket)) == []
    # ACLs still on, and a policy that denies nothing over plain HTTP
    acls = of(bucket, OWNERSHIP, "own", {"rule": {"objectOwnership": "ObjectWriter"}})
    assert violations("fiscal-archive-private", bucket, acls, tls_policy(bucket, deny_http=False)) == [
        "archive: object ownership is not BucketOwnerEnforced (ACLs still apply)",
        "archive: no bucket policy denies requests without TLS (aws:SecureTransport)",
    ]
    # Another bucket (not the archive's name) is not this policy's business
    other = resource(BUCKET, "site", {"bucketPrefix": "nfe-console-dev-"})
    assert violations("fiscal-archive-private", other) == []


def test_the_archive_is_versioned() -> None:
    bucket = archive()
    on = of(bucket, VERSIONING, "v", {"versioningConfiguration": {"status": "Enabled"}})
    assert violations("fiscal-archive-versioned", bucket, on) == []
    suspended = of(bucket, VERSIONING, "v", {"versioningConfiguration": {"status": "Suspended"}})
    assert "versioning is not Enabled" in violations("fiscal-archive-versioned", bucket, suspended)[0]
    assert len(violations("fiscal-archive-versioned", bucket)) == 1


def _sse(bucket: ResourceRecord, algorithm: str, key: str | None, key_record: ResourceRecord | None) -> ResourceRecord:
    default: dict[str, Any] = {"sseAlgorithm": algorithm}
    if key:
        default["kmsMasterKeyId"] = key
    deps = {"rules": [key_record.urn]} if key_record else {}
    return of(bucket, ENCRYPTION, "sse", {"rules": [{"applyServerSideEncryptionByDefault": default}]}, **deps)


def test_the_archive_is_encrypted_with_a_customer_managed_key_of_the_stack() -> None:
    bucket, key = archive(), resource(KEY, "archive-key", {}, {"arn": KEY_ARN})
    assert violations("fiscal-archive-encrypted-with-cmk", bucket, key, _sse(bucket, "aws:kms", KEY_ARN, key)) == []
    # SSE-S3, and the AWS-managed aws/s3 key, are not
    for sse in (_sse(bucket, "AES256", None, None), _sse(bucket, "aws:kms", "alias/aws/s3", None)):
        found = violations("fiscal-archive-encrypted-with-cmk", bucket, sse)
        assert found == ["archive: default encryption is not SSE-KMS with a customer-managed key of this stack"]


def _lock(bucket: ResourceRecord, mode: str, **retention: int) -> ResourceRecord:
    rule = {"defaultRetention": {"mode": mode, **retention}}
    return of(bucket, LOCK, "lock", {"objectLockEnabled": "Enabled", "rule": rule})


def test_object_lock_with_a_default_retention_and_the_required_mode() -> None:
    bucket = archive()
    governance = _lock(bucket, "GOVERNANCE", days=1)
    assert violations("fiscal-archive-object-lock", bucket, governance) == []
    # prod's config: COMPLIANCE for 1,825 days at least
    prod = {"requiredMode": "COMPLIANCE", "minRetentionDays": 1825}
    assert violations("fiscal-archive-object-lock", bucket, _lock(bucket, "COMPLIANCE", years=5), **prod) == []
    assert violations("fiscal-archive-object-lock", bucket, governance, **prod) == [
        "archive: Object Lock mode is GOVERNANCE, this stack requires COMPLIANCE",
        "archive: default retention is 1 days, this stack requires at least 1825 days",
    ]
    # A bucket created without Object Lock, or without a default retention
    unlocked = archive(objectLockEnabled=False)
    assert "objectLockEnabled is not true" in violations("fiscal-archive-object-lock", unlocked)[0]
    assert "no Object Lock default retention" in violations("fiscal-archive-object-lock", bucket)[0]


def test_every_bucket_has_access_logging_but_the_log_bucket() -> None:
    site, logs = resource(BUCKET, "site"), resource(BUCKET, "logs")
    logging = of(site, LOGGING, "site-logging", {"targetBucket": "logs-id", "targetPrefix": "console/"})
    logging.options["propertyDependencies"]["targetBucket"] = [logs.urn]
    assert violations("s3-bucket-access-logging", site, logs, logging) == []
    # Without its BucketLogging both are reported (the logs bucket receives nothing then)
    assert violations("s3-bucket-access-logging", site, logs) == [
        "site: no server access logging (aws.s3.BucketLogging)",
        "logs: no server access logging (aws.s3.BucketLogging)",
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stacks_buckets_pass_and_would_fail_without_their_settings(stack: str) -> None:
    from nfe.plan import plan
    from nfe.policy_runner import PACK_DIR

    records = plan(stack).resources
    settings, _ = load_config(PACK, PACK_DIR / "config" / f"{stack}.json")
    lock_config = settings["fiscal-archive-object-lock"].properties
    storage = [
        "fiscal-archive-private",
        "fiscal-archive-versioned",
        "fiscal-archive-encrypted-with-cmk",
        "s3-bucket-access-logging",
    ]
    for name in storage:
        assert violations(name, *records) == [], name
    assert violations("fiscal-archive-object-lock", *records, **lock_config) == []
    if stack == "prod":
        assert lock_config["requiredMode"] == "COMPLIANCE" and lock_config["minRetentionDays"] == 1825
    # Without the console's BucketLogging, its bucket is caught
    without = [r for r in records if r.name != "console-access-logging"]
    assert violations("s3-bucket-access-logging", *without) == [
        "console-bucket: no server access logging (aws.s3.BucketLogging)"
    ]
    # A dev-like GOVERNANCE archive would fail prod's config
    if stack == "dev":
        prod_like = {"requiredMode": "COMPLIANCE", "minRetentionDays": 1825}
        assert len(violations("fiscal-archive-object-lock", *records, **prod_like)) == 2
