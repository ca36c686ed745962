"""The cost review prices the console's hosting: CloudFront requests, data out and its router function
(with their always-free allowance under --free-tier), and the site bucket's storage and GETs."""

from __future__ import annotations

from typing import Any

import pytest

from nfe.config import load_stack_file
from nfe.cost import estimate
from nfe.cost.hosting import BUCKET, DISTRIBUTION, ORIGIN_FETCH_SHARE
from tests.test_cost_estimator import ROOT, config, res

SITE = {
    "defaultCacheBehavior": {
        "viewerProtocolPolicy": "redirect-to-https",
        "functionAssociations": [{"eventType": "viewer-request"}],
    },
    "orderedCacheBehaviors": [{"pathPattern": "/api/*", "viewerProtocolPolicy": "https-only"}],
}
USAGE = {"consoleRequests": 2_000_000, "consoleDataOutGb": 50, "apiRequests": 1_000_000}


def lines(resource_type: str, inputs: dict[str, Any], free_tier: bool = False, **stack: Any) -> dict[str, float]:
    stack.setdefault("usage", USAGE)
    result = estimate([res(resource_type, "site", inputs)], config(**stack), free_tier=free_tier)
    assert not result.unpriced, result.unpriced
    return {item.basis.split(":", 1)[0]: item.monthly for item in result.items if item.resource == "site"}


def test_distribution_bills_requests_with_the_api_data_out_and_its_function() -> None:
    found = lines(DISTRIBUTION, SITE)
    # Every API call passes through /api/*, so it is a CloudFront request too
    assert found["requests"] == pytest.approx(3_000_000 / 10_000 * 0.01)
    assert found["data-out"] == pytest.approx(50 * 0.085)
    assert found["functions"] == pytest.approx(2_000_000 / 1_000_000 * 0.10)
    without_api = lines(DISTRIBUTION, {**SITE, "orderedCacheBehaviors": []})
    assert without_api["requests"] == pytest.approx(2_000_000 / 10_000 * 0.01)


def test_free_tier_takes_the_always_free_allowance_off() -> None:
    found = lines(DISTRIBUTION, SITE, free_tier=True)
    # 1 TB out, 10M requests and 2M function invocations a month are free
    assert found == {"requests": 0, "data-out": 0, "functions": 0}
    big = {"consoleRequests": 20_000_000, "consoleDataOutGb": 1_124, "apiRequests": 1_000_000}
    stack = config(usage=big)
    result = estimate([res(DISTRIBUTION, "site", SITE)], stack, free_tier=True)
    monthly = {i.basis.split(":", 1)[0]: i.monthly for i in result.items}
    assert monthly["requests"] == pytest.approx(11_000_000 / 10_000 * 0.01)
    assert monthly["data-out"] == pytest.approx(100 * 0.085)
    assert monthly["functions"] == pytest.approx(18_000_000 / 1_000_000 * 0.10)


def test_bucket_bills_storage_and_the_edges_gets() -> None:
    found = lines(BUCKET, {}, usage={**USAGE, "consoleStorageGb": 2})
    assert found["storage"] == pytest.approx(2 * 0.023)
    assert found["get-requests"] == pytest.approx(2_000_000 * ORIGIN_FETCH_SHARE / 1_000_000 * 0.40)


def test_south_american_edges_bill_their_own_rates() -> None:
    stack: dict[str, Any] = {"region": "sa-east-1", "network": {"availabilityZoneIds": ["sae1-az1", "sae1-az2"]}}
    found = lines(DISTRIBUTION, SITE, **stack)
    assert found["requests"] == pytest.approx(3_000_000 / 10_000 * 0.022)
    assert found["data-out"] == pytest.approx(50 * 0.110)
    # No cited S3 request rate for sa-east-1: the bucket is reported unpriced, never counted as zero
    result = estimate([res(BUCKET, "site", {})], config(usage=USAGE, **stack))
    assert [u.resource for u in result.unpriced] == ["site"]


def test_the_stacks_console_is_priced_and_nothing_of_it_is_unpriced() -> None:
    from nfe.cost.estimator import estimate as run
    from nfe.plan import plan

    dev = load_stack_file(ROOT / "Pulumi.dev.yaml")
    result = run(plan("dev").resources, dev)  # type: ignore[arg-type]
    priced = {i.type for i in result.items}
    assert {DISTRIBUTION, BUCKET} <= priced
    assert not [u for u in result.unpriced if u.type.startswith(("aws:cloudfront/", "aws:s3/"))]
