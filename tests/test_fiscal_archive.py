"""The fiscal archive under Pulumi's mocks (both stacks), its config, and local mode's bucket.

Given the program run offline for each stack, the tests read the FiscalArchive's resources with
engine property names: a private, TLS-only, versioned bucket under SSE-KMS with its own rotating
key, Object Lock from creation with the stack's retention (COMPLIANCE five years in prod, GOVERNANCE
a day in dev), a lifecycle to cheaper classes, access logs to a logs bucket S3 may deliver to; the
S3 gateway endpoint in the private route table, limited to the archive; Faturamento's two functions
with the bucket's name and grants scoped to `nfe/*` and the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.fiscal_archive import OBJECT_PREFIX
from nfe import function_env, topology
from nfe.config import ConfigError, StackConfig, load_stack_file, parse
from nfe.mockrun import ACCOUNT_ID, PlanResult, ResourceRecord
from nfe.plan import plan

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "aws:s3/bucket:Bucket"
FUNCTION = "aws:lambda/function:Function"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ARCHIVE_FUNCTIONS = {"faturamento-api", "sefaz-autorizador"}


@dataclass
class Stack:
    name: str
    config: StackConfig
    result: PlanResult

    def record(self, name: str) -> ResourceRecord:
        return self.result.by_name(name)

    def settings(self, type_token: str, bucket: ResourceRecord) -> list[ResourceRecord]:
        """The resources of a type whose `bucket` input came from this bucket."""
        return [
            r
            for r in self.result.of_type(type_token)
            if bucket.urn in r.options.get("propertyDependencies", {}).get("bucket", [])
        ]

    def one_setting(self, type_token: str, bucket: ResourceRecord) -> dict[str, Any]:
        (found,) = self.settings(type_token, bucket)
        return found.inputs

    @property
    def bucket(self) -> ResourceRecord:
        return self.record("fiscal-archive-bucket")

    @property
    def logs(self) -> ResourceRecord:
        return self.record("fiscal-archive-logs-bucket")

    @property
    def key(self) -> ResourceRecord:
        return self.record("fiscal-archive-key")


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    name = request.param
    yield Stack(name, load_stack_file(ROOT / f"Pulumi.{name}.yaml"), plan(name))


# -- the bucket ----------------------------------------------------------------------------------------


def test_one_archive_bucket_per_stack_named_uniquely_and_exported(stack: Stack) -> None:
    # Bucket names are global: a prefix, and S3's unique suffix (as the console's bucket)
    assert stack.bucket.inputs["bucketPrefix"] == f"nfe-fiscal-archive-{stack.name}-"
    assert "bucket" not in stack.bucket.inputs
    assert stack.result.outputs["fiscalArchiveBucket"] == stack.bucket.state["bucket"]
    assert stack.bucket.parent == stack.record("fiscal-archive").urn
    assert stack.record("fiscal-archive").type == "nfe:index:FiscalArchive"


def test_the_archive_is_private_and_tls_only(stack: Stack) -> None:
    block = stack.one_setting("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", stack.bucket)
    assert all(
        block[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = stack.one_setting("aws:s3/bucketOwnershipControls:BucketOwnershipControls", stack.bucket)
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    policy = json.loads(stack.one_setting("aws:s3/bucketPolicy:BucketPolicy", stack.bucket)["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    arn = stack.bucket.state["arn"]
    assert statements["TlsOnly"] == {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    # A put asking for another encryption or another key is refused; nothing is allowed to anyone
    assert statements["OnlyTheArchiveKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }
    assert statements["OnlyTheArchiveKeyId"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": stack.key.state["arn"]}
    }
    assert all(s["Effect"] == "Deny" for s in policy["Statement"])


def test_versioned_and_encrypted_with_its_own_rotating_key(stack: Stack) -> None:
    versioning = stack.one_setting("aws:s3/bucketVersioning:BucketVersioning", stack.bucket)
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    encryption = stack.one_setting(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", stack.bucket
    )
    assert encryption["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": stack.key.state["arn"]},
            "bucketKeyEnabled": True,
        }
    ]
    # Its own key, not the database's: rotation on, AWS's default key policy (the account root)
    assert stack.key.state["arn"] != stack.record("database-key").state["arn"]
    assert stack.key.inputs["enableKeyRotation"] is True
    assert stack.key.inputs["deletionWindowInDays"] == 30
    assert "policy" not in stack.key.inputs
    alias = stack.record("fiscal-archive-key-alias").inputs
    assert alias["name"] == f"alias/nfe-fiscal-archive-{stack.name}"


EXPECTED_LOCK = {"dev": ("GOVERNANCE", 1), "prod": ("COMPLIANCE", 1825)}


def test_object_lock_from_creation_with_the_stack_retention(stack: Stack) -> None:
    assert stack.bucket.inputs["objectLockEnabled"] is True
    lock = stack.one_setting("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", stack.bucket)
    mode, days = EXPECTED_LOCK[stack.name]
    assert lock["objectLockEnabled"] == "Enabled"
    assert lock["rule"] == {"defaultRetention": {"mode": mode, "days": days}}
    assert (stack.config.fiscal_archive.object_lock_mode, stack.config.fiscal_archive.retention_days) == (mode, days)
    # The lock is written after versioning, which it needs
    versioning = stack.settings("aws:s3/bucketVersioning:BucketVersioning", stack.bucket)[0]
    lock_record = stack.settings("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", stack.bucket)[0]
    assert versioning.urn in lock_record.options["dependencies"]


def test_dev_can_be_torn_down_and_prod_keeps_its_archive(stack: Stack) -> None:
    # dev: GOVERNANCE, and force_destroy empties the bucket on destroy (bypassing governance);
    # prod: COMPLIANCE cannot be bypassed, so the buckets and the key outlive the stack
    for record in (stack.bucket, stack.logs):
        assert record.inputs["forceDestroy"] is (stack.name == "dev")
    for record in (stack.bucket, stack.logs, stack.key):
        assert record.options["retainOnDelete"] is (stack.name == "prod"), record.name


def test_lifecycle_moves_current_and_noncurrent_versions_to_cheaper_classes(stack: Stack) -> None:
    lifecycle = stack.one_setting("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", stack.bucket)
    (rule,) = lifecycle["rules"]
    steps = [{"storageClass": "STANDARD_IA", "days": 30}, {"storageClass": "GLACIER_IR", "days": 90}]
    assert rule["status"] == "Enabled" and rule["filter"] == {}
    assert rule["transitions"] == steps
    assert rule["noncurrentVersionTransitions"] == [
        {"storageClass": s["storageClass"], "noncurrentDays": s["days"]} for s in steps
    ]
    # Nothing expires, and objects under 128 KB stay where they are (AWS's default minimum)
    assert "expiration" not in rule and "noncurrentVersionExpiration" not in rule
    assert lifecycle["transitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"


def test_access_logs_go_to_a_private_logs_bucket_that_expires_them(stack: Stack) -> None:
    logs = stack.logs
    assert logs.inputs["bucketPrefix"] == f"nfe-access-logs-{stack.name}-"
    logging = stack.one_setting("aws:s3/bucketLogging:BucketLogging", stack.bucket)
    (logging_record,) = stack.settings("aws:s3/bucketLogging:BucketLogging", stack.bucket)
    assert logs.urn in logging_record.options["propertyDependencies"]["targetBucket"]
    assert logging["targetPrefix"] == "fiscal-archive/"
    # The console's bucket logs there too
    console = stack.record("console-bucket")
    console_logging = stack.one_setting("aws:s3/bucketLogging:BucketLogging", console)
    assert console_logging["targetBucket"] == logging["targetBucket"]
    assert console_logging["targetPrefix"] == "console/"
    # Private, SSE-S3 (log delivery refuses SSE-KMS targets), expiring
    block = stack.one_setting("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", logs)
    assert all(block[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"))
    ownership = stack.one_setting("aws:s3/bucketOwnershipControls:BucketOwnershipControls", logs)
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    encryption = stack.one_setting(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", logs
    )
    assert encryption["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    lifecycle = stack.one_setting("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", logs)
    assert lifecycle["rules"][0]["expiration"] == {"days": stack.config.fiscal_archive.log_retention_days}
    # Log delivery by S3's logging principal, from this account's buckets of this stack only
    policy = json.loads(stack.one_setting("aws:s3/bucketPolicy:BucketPolicy", logs)["policy"])
    delivery = next(s for s in policy["Statement"] if s["Sid"] == "S3ServerAccessLogsDelivery")
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject" and delivery["Resource"] == f"{logs.state['arn']}/*"
    assert delivery["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::nfe-*-{stack.name}-*"},
    }
    for source in (stack.bucket, console):
        assert source.state["bucket"].startswith(("nfe-fiscal-archive-", "nfe-console-"))
    # The loggings wait for that policy
    policy_urn = stack.settings("aws:s3/bucketPolicy:BucketPolicy", logs)[0].urn
    for bucket in (stack.bucket, console):
        (record,) = stack.settings("aws:s3/bucketLogging:BucketLogging", bucket)
        assert policy_urn in record.options["propertyDependencies"]["targetBucket"]


# -- the network -------------------------------------------------------------------------------------


def test_s3_gateway_endpoint_in_the_private_route_table_limited_to_the_archive(stack: Stack) -> None:
    (endpoint,) = [e for e in stack.result.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"]
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    route_table = stack.record("database-private-routes")
    assert len(endpoint.inputs["routeTableIds"]) == 1
    assert route_table.urn in endpoint.options["propertyDependencies"]["routeTableIds"]
    # Every private subnet uses that table
    associations = stack.result.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    subnets = stack.result.of_type("aws:ec2/subnet:Subnet")
    assert len(associations) == len(subnets) == len(stack.config.network.availability_zone_ids)
    for association in associations:
        assert route_table.urn in association.options["propertyDependencies"]["routeTableId"]
    # Its policy admits the archive's documents and nothing else
    policy = json.loads(endpoint.inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == "*"
    assert statement["Action"] == ["s3:PutObject", "s3:GetObject"]
    assert statement["Resource"] == [f"{stack.bucket.state['arn']}/{OBJECT_PREFIX}*"]


# -- the functions -----------------------------------------------------------------------------------


def _statements(stack: Stack, function: ResourceRecord) -> list[dict[str, Any]]:
    role_urn = function.options["propertyDependencies"]["role"][0]
    (policy,) = [
        p
        for p in stack.result.of_type("aws:iam/rolePolicy:RolePolicy")
        if role_urn in p.options["propertyDependencies"].get("role", [])
    ]
    return list(json.loads(policy.inputs["policy"])["Statement"])


def test_faturamento_functions_get_the_bucket_and_grants_scoped_to_it(stack: Stack) -> None:
    bucket_name, bucket_arn = stack.bucket.state["bucket"], stack.bucket.state["arn"]
    key_arn = stack.key.state["arn"]
    for spec in topology.FUNCTIONS:
        functions = [f for f in stack.result.of_type(FUNCTION) if f.inputs["name"] == f"{spec.name}-{stack.name}"]
        if not functions:
            continue
        (function,) = functions
        variables = function.inputs["environment"]["variables"]
        statements = _statements(stack, function)
        archive = [s for s in statements if s.get("Sid", "").startswith("FiscalArchive")]
        if spec.name in ARCHIVE_FUNCTIONS:
            assert variables[topology.ENV_FISCAL_ARCHIVE_BUCKET] == bucket_name
            assert sorted((tuple(s["Action"]), tuple(s["Resource"])) for s in archive) == sorted(
                [
                    (("s3:PutObject", "s3:GetObject"), (f"{bucket_arn}/nfe/*",)),
                    (("kms:GenerateDataKey", "kms:Decrypt"), (key_arn,)),
                ]
            )
        else:
            assert topology.ENV_FISCAL_ARCHIVE_BUCKET not in variables, spec.name
            assert archive == [], spec.name
            assert not any(a.startswith("s3:") for s in statements for a in s["Action"]), spec.name


def test_one_environment_computation_for_the_stack_and_local_mode() -> None:
    for spec in topology.FUNCTIONS:
        env = function_env.function_environment(spec, {}, fiscal_archive_bucket="nfe-fiscal-archive-local")
        expected = spec.name in ("faturamento-api", "sefaz-autorizador")
        assert function_env.uses_fiscal_archive(spec) is expected
        assert (env.get(topology.ENV_FISCAL_ARCHIVE_BUCKET) == "nfe-fiscal-archive-local") is expected
        assert topology.ENV_FISCAL_ARCHIVE_BUCKET not in function_env.function_environment(spec, {})
    assert {s.name for s in topology.FUNCTIONS if function_env.uses_fiscal_archive(s)} == ARCHIVE_FUNCTIONS


# -- config --------------------------------------------------------------------------------------------


def _stack_values(environment: str, **extra: Any) -> dict[str, Any]:
    values = load_stack_file(ROOT / f"Pulumi.{environment}.yaml").model_dump(by_alias=True, exclude_none=True)
    values.pop("region", None)
    values.pop("fiscalArchive", None)
    values.update(extra)
    return values


def test_prod_defaults_to_compliance_five_years_dev_to_governance_a_day() -> None:
    prod = parse(_stack_values("prod"))
    assert (prod.fiscal_archive.object_lock_mode, prod.fiscal_archive.retention_days) == ("COMPLIANCE", 1825)
    partial = parse(_stack_values("prod", fiscalArchive={"logRetentionDays": 30}))
    assert (partial.fiscal_archive.object_lock_mode, partial.fiscal_archive.retention_days) == ("COMPLIANCE", 1825)
    dev = parse(_stack_values("dev"))
    assert (dev.fiscal_archive.object_lock_mode, dev.fiscal_archive.retention_days) == ("GOVERNANCE", 1)


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        ({"objectLockMode": "LEGAL_HOLD"}, "nfe:fiscalArchive.objectLockMode must be one of"),
        ({"retentionDays": 0}, "nfe:fiscalArchive.retentionDays must be between 1 and 36500, got 0"),
        ({"transitionToIaDays": 10}, "nfe:fiscalArchive.transitionToIaDays must be between 30 and 36500"),
        ({"transitionToIaDays": 30, "transitionToGlacierDays": 45}, "nfe:fiscalArchive transitionToGlacierDays (45)"),
        ({"logRetentionDays": 0}, "nfe:fiscalArchive.logRetentionDays must be between 1 and 3650"),
        ({"retention": 5}, "nfe:fiscalArchive.retention is not a known setting"),
    ],
)
def test_a_bad_archive_setting_names_its_key(archive: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(_stack_values("dev", fiscalArchive=archive))
    assert any(message in problem for problem in raised.value.problems), raised.value.problems


# -- local mode ----------------------------------------------------------------------------------------


def test_local_mode_emulator_holds_the_locked_archive_bucket() -> None:
    from nfe.local import emulator
    from nfe.local.system import LOCAL_FUNCTIONS, container_environment

    # An environment of its own: moto's backends live as long as the test process, where other tests
    # may have made local mode's bus already.
    aws = emulator.start("archive")
    try:
        s3 = aws.client("s3")
        assert aws.fiscal_archive_bucket == "nfe-fiscal-archive-local"
        assert s3.get_bucket_versioning(Bucket=aws.fiscal_archive_bucket)["Status"] == "Enabled"
        lock = s3.get_object_lock_configuration(Bucket=aws.fiscal_archive_bucket)["ObjectLockConfiguration"]
        assert lock["ObjectLockEnabled"] == "Enabled"
        assert lock["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"
        # A document written there is locked: its version cannot be deleted without a bypass
        written = s3.put_object(Bucket=aws.fiscal_archive_bucket, Key="nfe/teste.xml", Body=b"<NFe/>")
        head = s3.head_object(Bucket=aws.fiscal_archive_bucket, Key="nfe/teste.xml")
        assert head["ObjectLockMode"] == "GOVERNANCE"
        with pytest.raises(s3.exceptions.ClientError):
            s3.delete_object(Bucket=aws.fiscal_archive_bucket, Key="nfe/teste.xml", VersionId=written["VersionId"])
        # Faturamento's containers get its name, through the stack's own computation
        for fn in LOCAL_FUNCTIONS:
            env = container_environment(fn, aws, "127.0.0.1:2000", "host=127.0.0.1 port=5432 dbname=nfe")
            expected = aws.fiscal_archive_bucket if fn.name in ARCHIVE_FUNCTIONS else None
            assert env.get(topology.ENV_FISCAL_ARCHIVE_BUCKET) == expected, fn.name
            assert env["AWS_ENDPOINT_URL"] == aws.endpoint_url
    finally:
        aws.stop()
