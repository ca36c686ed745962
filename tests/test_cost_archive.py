"""The cost review prices the fiscal archive: its storage through the lifecycle, its requests and the
KMS requests they make, the access-logs bucket, and the S3 gateway endpoint at $0."""

from __future__ import annotations

from typing import Any

import pytest

from nfe.config import load_stack_file
from nfe.cost import estimate
from nfe.cost.archive import BUCKET, DAYS_PER_MONTH, LOG_RECORD_BYTES
from nfe.cost.hosting import ORIGIN_FETCH_SHARE
from tests.test_cost_estimator import ROOT, config, res

ARCHIVE = {"bucketPrefix": "nfe-fiscal-archive-dev-", "objectLockEnabled": True}
LOGS = {"bucketPrefix": "nfe-access-logs-dev-"}
USAGE = {
    "notasPerMonth": 100_000,
    "fiscalArchiveGbPerMonth": 6,
    "fiscalArchiveObjectsPerNota": 3,
    "fiscalArchiveReadsPerNota": 1,
    "fiscalArchiveAvgObjectKb": 20,
    "consoleRequests": 500_000,
}


def lines(inputs: dict[str, Any], usage: dict[str, Any] | None = None, **stack: Any) -> dict[str, float]:
    result = estimate([res(BUCKET, "bucket", inputs)], config(usage={**USAGE, **(usage or {})}, **stack))
    assert not result.unpriced, result.unpriced
    return {item.dimension: item.monthly for item in result.items}


def test_small_objects_stay_in_standard_and_are_priced_at_the_retention_horizon() -> None:
    # Given dev's lock (a day: priced after the one-year minimum) and 20 KB objects
    found = lines(ARCHIVE)
    # Then 6 GB x 12 months in STANDARD, no transition (S3 moves nothing under 128 KB)
    assert found["storage"] == pytest.approx(6 * 12 * 0.023)
    assert "storage-ia" not in found and "transitions-ia" not in found
    # 300,000 PUTs at $0.005/1,000, 100,000 GETs at $0.0004/1,000, 400,000 KMS requests at $0.03/10,000
    assert found["put-requests"] == pytest.approx(1.50)
    assert found["get-requests"] == pytest.approx(0.04)
    assert found["kms-requests"] == pytest.approx(1.20)
    # prod's five years: 60.8 months held
    prod = lines(ARCHIVE, fiscalArchive={"objectLockMode": "COMPLIANCE", "retentionDays": 1825})
    assert prod["storage"] == pytest.approx(6 * 1825 / DAYS_PER_MONTH * 0.023)


def test_large_objects_follow_the_lifecycle_into_cheaper_classes() -> None:
    # Given objects of 200 KB and a five-year lock
    five_years = {"objectLockMode": "COMPLIANCE", "retentionDays": 1825}
    found = lines(ARCHIVE, {"fiscalArchiveAvgObjectKb": 200}, fiscalArchive=five_years)
    horizon = 1825 / DAYS_PER_MONTH
    standard, ia = 30 / DAYS_PER_MONTH, 60 / DAYS_PER_MONTH
    # Then the first 30 days in STANDARD, days 30-90 in STANDARD_IA, the rest in GLACIER_IR
    assert found["storage"] == pytest.approx(6 * standard * 0.023)
    assert found["storage-ia"] == pytest.approx(6 * ia * 0.0125)
    assert found["storage-glacier-ir"] == pytest.approx(6 * (horizon - standard - ia) * 0.004)
    # And each object is transitioned twice: $0.01 and $0.02 per 1,000
    assert found["transitions-ia"] == pytest.approx(300_000 / 1000 * 0.01)
    assert found["transitions-glacier-ir"] == pytest.approx(300_000 / 1000 * 0.02)
    # Cheaper than keeping them all in STANDARD
    all_standard = 6 * horizon * 0.023
    assert found["storage"] + found["storage-ia"] + found["storage-glacier-ir"] < all_standard


def test_the_logs_bucket_bills_the_storage_of_every_logged_request() -> None:
    found = lines(LOGS, fiscalArchive={"logRetentionDays": 90})
    records = 300_000 + 100_000 + 500_000 * ORIGIN_FETCH_SHARE
    gb_month = records * LOG_RECORD_BYTES / 1024**3 * 90 / DAYS_PER_MONTH
    assert found == {"log-storage": pytest.approx(gb_month * 0.023)}


def test_any_other_bucket_is_still_the_consoles() -> None:
    found = lines({"bucketPrefix": "nfe-console-dev-"}, {"consoleStorageGb": 2})
    assert found["storage"] == pytest.approx(2 * 0.023) and "get-requests" in found


def test_no_cited_sa_east_1_request_rate_leaves_the_archive_unpriced() -> None:
    stack: dict[str, Any] = {"region": "sa-east-1", "network": {"availabilityZoneIds": ["sae1-az1", "sae1-az2"]}}
    result = estimate([res(BUCKET, "bucket", ARCHIVE)], config(usage=USAGE, **stack))
    assert [u.resource for u in result.unpriced] == ["bucket"]
    assert "s3.requests.put" in result.unpriced[0].reason
    # The gateway endpoint is free there too
    gateway = res("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"})
    endpoint = estimate([gateway], config(**stack))
    assert not endpoint.unpriced and [i.monthly for i in endpoint.items] == [0.0]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stacks_archive_keys_endpoint_and_logs_are_priced(stack: str) -> None:
    from nfe.cost.estimator import estimate as run
    from nfe.plan import plan

    stack_config = load_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    result = run(plan(stack).resources, stack_config)  # type: ignore[arg-type]
    priced = {(i.resource, i.dimension): i.monthly for i in result.items}
    for dimension in ("storage", "put-requests", "get-requests", "kms-requests"):
        assert ("fiscal-archive-bucket", dimension) in priced
    assert priced[("fiscal-archive-logs-bucket", "log-storage")] > 0
    assert priced[("fiscal-archive-key", "key")] == pytest.approx(1.00)
    assert priced[("database-s3-endpoint", "endpoint")] == 0.0
    assert not [u for u in result.unpriced if u.type.startswith(("aws:s3/", "aws:kms/", "aws:ec2/"))]
