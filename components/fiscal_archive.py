"""FiscalArchive: the bucket that keeps every NF-e document, locked for the tax law's period.

One bucket per stack holds each nota's XML, nfeProc, procEventoNFe and DANFE under `nfe/`. It is
private (public access blocked, BucketOwnerEnforced), TLS-only, versioned, encrypted with a KMS key
of its own, logged to an access-logs bucket, and under Object Lock from its creation (Object Lock
cannot be turned on later without AWS Support): every object version gets the stack's default
retention, COMPLIANCE for five years in prod, GOVERNANCE for a day in dev (docs/fiscal-archive.md
says why, and how each stack is torn down). A lifecycle moves older versions to cheaper classes.

The key is the archive's own, not the database's: the archive outlives the stack in prod (a
COMPLIANCE-locked object cannot be deleted, so the bucket and the key that decrypts it are retained
when the stack is destroyed), while the database key goes with the database; and only the archive's
readers and writers are named in grants on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components import iam

# The prefix every NF-e document is written under; the functions' grants reach nothing else.
OBJECT_PREFIX = "nfe/"
# S3 refuses to delete an incomplete upload's parts only by lifecycle; a day is plenty for an XML.
ABORT_MULTIPART_DAYS = 1
# Below 128 KB S3 does not transition an object (the lifecycle's default minimum since 2024), which
# is what we want: STANDARD_IA and GLACIER_IR bill every object as at least 128 KB.
TRANSITION_MINIMUM = "all_storage_classes_128K"
KEY_DELETION_WINDOW_DAYS = 30
# Where in the logs bucket each bucket's access logs go.
ACCESS_LOG_PREFIX = "fiscal-archive/"

ObjectLockMode = Literal["GOVERNANCE", "COMPLIANCE"]


def bucket_prefix(environment: str) -> str:
    """`nfe-fiscal-archive-dev-`: S3 appends a unique suffix (bucket names are global)."""
    return f"nfe-fiscal-archive-{environment}-"


def logs_bucket_prefix(environment: str) -> str:
    return f"nfe-access-logs-{environment}-"


@dataclass(frozen=True)
class FiscalArchiveArgs:
    environment: str
    object_lock_mode: ObjectLockMode
    retention_days: int
    transition_to_ia_days: int = 30
    transition_to_glacier_days: int = 90
    log_retention_days: int = 90


@dataclass(frozen=True)
class FiscalArchiveAccess:
    """What a function needs to use the archive: the bucket's name and ARN and the key's ARN."""

    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]

    def objects_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.bucket_arn, "/", OBJECT_PREFIX, "*")

    def statements(self) -> list[dict[str, Any]]:
        """Write and read NF-e documents, nothing else: no delete, no listing, no other prefix.

        S3 encrypts each object under the archive key as the caller, so the writer needs
        GenerateDataKey and a reader Decrypt on that key (and only that key).
        """
        return [
            iam.statement(["s3:PutObject", "s3:GetObject"], [self.objects_arn()], sid="FiscalArchiveDocuments"),
            iam.statement(["kms:GenerateDataKey", "kms:Decrypt"], [self.key_arn], sid="FiscalArchiveKey"),
        ]


class FiscalArchive(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    key: aws.kms.Key
    logs_bucket: aws.s3.Bucket
    access: FiscalArchiveAccess
    access_logs_target: pulumi.Output[str]

    def __init__(self, name: str, args: FiscalArchiveArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nfe:index:FiscalArchive", name, None, opts)
        self.args = args
        self._prefix = name
        # COMPLIANCE-locked objects cannot be deleted before their retention ends, so neither can
        # the bucket: `pulumi destroy` leaves it (and the key its objects need) in the account.
        # GOVERNANCE-locked ones can, by a principal allowed s3:BypassGovernanceRetention, which is
        # what force_destroy does when the stack is destroyed (dev).
        self._retained = args.object_lock_mode == "COMPLIANCE"
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self._account_id = identity.account_id
        self._partition = partition.partition
        self.key = self._create_key()
        self.logs_bucket = self._create_logs_bucket()
        self.bucket = self._create_bucket()
        self.access = FiscalArchiveAccess(
            bucket_name=self.bucket.bucket, bucket_arn=self.bucket.arn, key_arn=self.key.arn
        )
        self.register_outputs(
            {
                "bucketName": self.bucket.bucket,
                "keyArn": self.key.arn,
                "logsBucketName": self.logs_bucket.bucket,
            }
        )

    def _opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _kept(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options of what must survive the stack when its objects are COMPLIANCE-locked."""
        return self._opts(retain_on_delete=self._retained, **kwargs)

    # -- key ------------------------------------------------------------------------------------

    def _create_key(self) -> aws.kms.Key:
        name, env = self._prefix, self.args.environment
        key = aws.kms.Key(
            f"{name}-key",
            description=f"nfe {env}: the fiscal archive's objects (SSE-KMS)",
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            # No policy: AWS's default key policy, which admits the account root (kms:* on this key),
            # so IAM policies grant its use (the functions' roles name it) as for the database key.
            opts=self._kept(),
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/nfe-fiscal-archive-{env}", target_key_id=key.key_id, opts=self._opts()
        )
        return key

    # -- shared bucket settings -----------------------------------------------------------------

    def _private(self, suffix: str, bucket: aws.s3.Bucket) -> list[pulumi.Resource]:
        """Public access blocked and ACLs off (the bucket owner owns every object)."""
        block = aws.s3.BucketPublicAccessBlock(
            f"{self._prefix}-{suffix}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._opts(),
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{self._prefix}-{suffix}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=self._opts(),
        )
        return [block, ownership]

    @staticmethod
    def _tls_only(bucket: aws.s3.Bucket) -> dict[str, Any]:
        return {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }

    # -- access logs ------------------------------------------------------------------------------

    def _create_logs_bucket(self) -> aws.s3.Bucket:
        name, args = self._prefix, self.args
        bucket = aws.s3.Bucket(
            f"{name}-logs-bucket",
            bucket_prefix=logs_bucket_prefix(args.environment),
            force_destroy=not self._retained,
            opts=self._kept(),
        )
        self._private("logs", bucket)
        # SSE-S3: S3 server access logging cannot deliver to a bucket whose default encryption is SSE-KMS.
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-logs-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=self._opts(),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-logs-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-access-logs",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": args.log_retention_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS},
                }
            ],
            opts=self._opts(),
        )
        # With BucketOwnerEnforced, ACL grants to the log delivery group are refused: S3's logging
        # service principal is admitted by the bucket policy instead (S3 user guide, "Permissions for
        # log delivery"), only for this account's buckets of this stack (`nfe-<what>-<env>-...`).
        source_arns = pulumi.Output.concat("arn:", self._partition, ":s3:::nfe-*-", args.environment, "-*")
        policy = pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "S3ServerAccessLogsDelivery",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": pulumi.Output.concat(bucket.arn, "/*"),
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": self._account_id},
                            "ArnLike": {"aws:SourceArn": source_arns},
                        },
                    },
                    self._tls_only(bucket),
                ],
            }
        )
        logs_policy = aws.s3.BucketPolicy(f"{name}-logs-policy", bucket=bucket.id, policy=policy, opts=self._opts())
        # The logs bucket's name once S3 will accept deliveries into it: what a BucketLogging of any
        # of the stack's buckets targets (the console's too), so it waits for the policy.
        self.access_logs_target = pulumi.Output.all(bucket.id, logs_policy.id).apply(lambda values: str(values[0]))
        return bucket

    # -- the archive ------------------------------------------------------------------------------

    def _create_bucket(self) -> aws.s3.Bucket:
        name, args = self._prefix, self.args
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=bucket_prefix(args.environment),
            # Only at creation: S3 enables versioning with it, and it cannot be turned off.
            object_lock_enabled=True,
            force_destroy=not self._retained,
            opts=self._kept(),
        )
        private = self._private("archive", bucket)
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=self._opts(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": self.key.arn,
                    },
                    # S3 asks KMS for a bucket-level key now and then instead of a data key per
                    # object: fewer KMS requests, the same key.
                    "bucket_key_enabled": True,
                }
            ],
            opts=self._opts(),
        )
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-object-lock",
            bucket=bucket.id,
            object_lock_enabled="Enabled",
            rule={"default_retention": {"mode": args.object_lock_mode, "days": args.retention_days}},
            opts=self._opts(depends_on=[versioning]),
        )
        transitions = [
            ("STANDARD_IA", args.transition_to_ia_days),
            ("GLACIER_IR", args.transition_to_glacier_days),
        ]
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            transition_default_minimum_object_size=TRANSITION_MINIMUM,
            # Nothing expires: the lock says how long a version must stay, the accountant how long
            # the team keeps it after that.
            rules=[
                {
                    "id": "cheaper-classes-with-age",
                    "status": "Enabled",
                    "filter": {},
                    "transitions": [{"storage_class": c, "days": d} for c, d in transitions],
                    "noncurrent_version_transitions": [
                        {"storage_class": c, "noncurrent_days": d} for c, d in transitions
                    ],
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS},
                }
            ],
            opts=self._opts(depends_on=[versioning]),
        )
        key_id_condition = "s3:x-amz-server-side-encryption-aws-kms-key-id"
        policy = pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    self._tls_only(bucket),
                    # A put that names no encryption gets the bucket's default (this key); one that
                    # asks for SSE-S3 or another key is refused, so every version is under this key.
                    {
                        "Sid": "OnlyTheArchiveKey",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": pulumi.Output.concat(bucket.arn, "/*"),
                        "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
                    },
                    {
                        "Sid": "OnlyTheArchiveKeyId",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": pulumi.Output.concat(bucket.arn, "/*"),
                        "Condition": {"StringNotEqualsIfExists": {key_id_condition: self.key.arn}},
                    },
                ],
            }
        )
        aws.s3.BucketPolicy(f"{name}-policy", bucket=bucket.id, policy=policy, opts=self._opts(depends_on=private))
        aws.s3.BucketLogging(
            f"{name}-access-logging",
            bucket=bucket.id,
            target_bucket=self.access_logs_target,
            target_prefix=ACCESS_LOG_PREFIX,
            opts=self._opts(),
        )
        return bucket


def gateway_endpoint_policy(bucket_arns: Sequence[pulumi.Input[str]]) -> pulumi.Output[str]:
    """An S3 gateway endpoint's policy admitting only the NF-e documents of these buckets.

    Every S3 request from the private subnets goes through the endpoint (there is no other way out),
    so a function cannot write to any other bucket, its own account's or anyone's.
    """
    resources = [pulumi.Output.concat(arn, "/", OBJECT_PREFIX, "*") for arn in bucket_arns]
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "FiscalArchiveDocumentsOnly",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:PutObject", "s3:GetObject"],
                    "Resource": resources,
                }
            ],
        }
    )
