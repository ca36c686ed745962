"""The hosting policies (policies/nfe_policies/hosting.py), each with a passing and a violating case,
and both stacks' StaticSite passing all of them."""

from __future__ import annotations

import json
from typing import Any

from nfe.mockrun import ResourceRecord
from tests.test_policies import only, resource, violations

BUCKET = "aws:s3/bucket:Bucket"
BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
ALL_ON = dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)


def block_of(bucket: ResourceRecord, **flags: bool) -> ResourceRecord:
    record = resource(BLOCK, f"{bucket.name}-block", {"bucket": f"{bucket.name}-id", **ALL_ON, **flags})
    record.options["propertyDependencies"] = {"bucket": [bucket.urn]}
    return record


def test_every_bucket_blocks_public_access() -> None:
    site, logs = resource(BUCKET, "site"), resource(BUCKET, "logs")
    assert violations("s3-bucket-public-access-blocked", site, block_of(site)) == []
    # A bucket without a block, and one whose block leaves a setting off
    assert only(violations("s3-bucket-public-access-blocked", site, block_of(site), logs)).startswith("logs:")
    found = violations("s3-bucket-public-access-blocked", site, block_of(site, restrictPublicBuckets=False))
    assert found == [
        "site-block: restrictPublicBuckets not true",
        "site: no public access block with all four settings on",
    ]


def bucket_policy(principal: Any) -> ResourceRecord:
    statement = {"Sid": "Read", "Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "*"}
    return resource(BUCKET_POLICY, "policy", {"policy": json.dumps({"Statement": [statement]})})


def test_no_bucket_policy_allows_anyone() -> None:
    assert violations("s3-bucket-policy-not-public", bucket_policy({"Service": "cloudfront.amazonaws.com"})) == []
    assert "allows anyone" in only(violations("s3-bucket-policy-not-public", bucket_policy("*")))
    assert "allows anyone" in only(violations("s3-bucket-policy-not-public", bucket_policy({"AWS": ["*"]})))


def distribution(
    viewer: str = "redirect-to-https",
    api_viewer: str = "https-only",
    origin_protocol: str = "https-only",
    s3_origin: dict[str, Any] | None = None,
    certificate: dict[str, Any] | None = None,
    origin_ssl: list[str] | None = None,
) -> ResourceRecord:
    site = s3_origin if s3_origin is not None else {"originAccessControlId": "oac-1"}
    return resource(
        DISTRIBUTION,
        "site",
        {
            "origins": [
                {"originId": "site", "domainName": "nfe-site.s3.us-east-1.amazonaws.com", **site},
                {
                    "originId": "api",
                    "domainName": "abc.execute-api.us-east-1.amazonaws.com",
                    "customOriginConfig": {
                        "originProtocolPolicy": origin_protocol,
                        "originSslProtocols": origin_ssl or ["TLSv1.2"],
                        "httpPort": 80,
                        "httpsPort": 443,
                    },
                },
            ],
            "defaultCacheBehavior": {"targetOriginId": "site", "viewerProtocolPolicy": viewer},
            "orderedCacheBehaviors": [
                {"pathPattern": "/api/*", "targetOriginId": "api", "viewerProtocolPolicy": api_viewer}
            ],
            "viewerCertificate": certificate or {"cloudfrontDefaultCertificate": True},
        },
    )


def test_distribution_allows_no_http() -> None:
    assert violations("cloudfront-https-only", distribution()) == []
    assert "default behaviour" in only(violations("cloudfront-https-only", distribution(viewer="allow-all")))
    assert "/api/*" in only(violations("cloudfront-https-only", distribution(api_viewer="allow-all")))
    assert "over HTTP" in only(violations("cloudfront-https-only", distribution(origin_protocol="match-viewer")))


def test_s3_origins_use_origin_access_control() -> None:
    assert violations("cloudfront-s3-origin-oac", distribution()) == []
    assert "without an origin access control" in only(
        violations("cloudfront-s3-origin-oac", distribution(s3_origin={}))
    )
    legacy = distribution(
        s3_origin={"s3OriginConfig": {"originAccessIdentity": "origin-access-identity/cloudfront/E1"}}
    )
    assert violations("cloudfront-s3-origin-oac", legacy) == [
        "origin site: reads S3 through a legacy origin access identity, not OAC",
        "origin site: S3 origin without an origin access control",
    ]


def test_custom_certificates_negotiate_tls_1_2_or_newer() -> None:
    acm = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    good = {"acmCertificateArn": acm, "sslSupportMethod": "sni-only", "minimumProtocolVersion": "TLSv1.2_2021"}
    assert violations("cloudfront-tls-minimum", distribution(certificate=good)) == []
    # The default certificate's policy is CloudFront's own
    assert violations("cloudfront-tls-minimum", distribution()) == []
    weak = {**good, "minimumProtocolVersion": "TLSv1.1_2016"}
    assert "below TLS 1.2" in only(violations("cloudfront-tls-minimum", distribution(certificate=weak)))
    unset = {"acmCertificateArn": acm, "sslSupportMethod": "sni-only"}
    assert "TLSv1 is below" in only(violations("cloudfront-tls-minimum", distribution(certificate=unset)))
    assert "TLSv1.1" in only(violations("cloudfront-tls-minimum", distribution(origin_ssl=["TLSv1.1", "TLSv1.2"])))


def test_the_stacks_site_passes_and_would_fail_without_its_public_access_block() -> None:
    from nfe.plan import plan

    records = plan("dev").resources
    hosting = [r for r in records if r.type in (BUCKET, BLOCK, BUCKET_POLICY, DISTRIBUTION)]
    for name in ("s3-bucket-policy-not-public", "cloudfront-https-only", "cloudfront-s3-origin-oac"):
        assert violations(name, *hosting) == [], name
    assert violations("cloudfront-tls-minimum", *hosting) == []
    assert violations("s3-bucket-public-access-blocked", *hosting) == []
    without_block = [r for r in hosting if r.type != BLOCK]
    found = violations("s3-bucket-public-access-blocked", *without_block)
    # Every bucket of the stack is caught: the console's and the fiscal archive's two
    assert sorted(m.split(":")[0] for m in found) == [
        "console-bucket",
        "fiscal-archive-bucket",
        "fiscal-archive-logs-bucket",
    ]
