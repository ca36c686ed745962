"""Static hosting: S3 buckets stay private, CloudFront serves over HTTPS only, reads S3 origins through
Origin Access Control and, on a custom certificate, negotiates TLS 1.2 or newer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import as_list, as_mapping, json_document, known

S3_BUCKET = "aws:s3/bucket:Bucket"
S3_BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
CLOUDFRONT_DISTRIBUTION = "aws:cloudfront/distribution:Distribution"

BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
SECURE_VIEWER_POLICIES = ("redirect-to-https", "https-only")
WEAK_ORIGIN_PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1")


def _bucket_of(block: PolicyResource) -> list[PolicyResource]:
    """The bucket a public access block applies to: its `bucket` input's source, else its dependencies."""
    sources = block.property_dependencies.get("bucket") or block.dependencies
    return [r for r in sources if r.resource_type in (S3_BUCKET, S3_BUCKET_V2)]


def s3_public_access_blocked(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    blocked: set[str] = set()
    for block in (r for r in args.resources if r.resource_type == S3_PUBLIC_ACCESS_BLOCK):
        off = [flag for flag in BLOCK_FLAGS if known(block.props, flag) is False or flag not in block.props]
        if off:
            report_violation(f"{block.name}: {', '.join(off)} not true", block.urn)
            continue
        blocked |= {bucket.urn for bucket in _bucket_of(block)}
    for bucket in (r for r in args.resources if r.resource_type in (S3_BUCKET, S3_BUCKET_V2)):
        if bucket.urn not in blocked:
            report_violation(f"{bucket.name}: no public access block with all four settings on", bucket.urn)


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    aws = as_mapping(principal).get("AWS")
    return "*" in as_list(aws)


def s3_bucket_policy_not_public(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != S3_BUCKET_POLICY:
        return
    try:
        document = json_document(known(args.props, "policy"))
    except ValueError as exc:
        report_violation(f"policy is {exc}", None)
        return
    for statement in as_list(as_mapping(document).get("Statement")):
        statement = as_mapping(statement)
        if statement.get("Effect") == "Allow" and _public_principal(statement.get("Principal")):
            report_violation(f"statement {statement.get('Sid') or '(no Sid)'} allows anyone (Principal '*')", None)


def _behaviours(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    default = as_mapping(known(props, "defaultCacheBehavior"))
    return [default, *(as_mapping(b) for b in as_list(known(props, "orderedCacheBehaviors")))]


def cloudfront_https_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CLOUDFRONT_DISTRIBUTION:
        return
    for behaviour in _behaviours(args.props):
        policy = behaviour.get("viewerProtocolPolicy")
        if policy not in SECURE_VIEWER_POLICIES:
            where = behaviour.get("pathPattern") or "default behaviour"
            report_violation(f"{where}: viewerProtocolPolicy {policy!r} lets viewers use HTTP", None)
    for origin in (as_mapping(o) for o in as_list(known(args.props, "origins"))):
        custom = as_mapping(origin.get("customOriginConfig"))
        if custom and custom.get("originProtocolPolicy") != "https-only":
            report_violation(
                f"origin {origin.get('originId')}: originProtocolPolicy {custom.get('originProtocolPolicy')!r} "
                "sends requests over HTTP",
                None,
            )


def _is_s3_origin(origin: Mapping[str, Any]) -> bool:
    domain = str(origin.get("domainName") or "")
    # REST endpoints (bucket.s3.amazonaws.com, bucket.s3.<region>.amazonaws.com); a website endpoint
    # (s3-website) is a custom origin and cannot use OAC at all.
    return bool(origin.get("s3OriginConfig")) or (".s3." in f".{domain}" and "s3-website" not in domain)


def cloudfront_s3_origin_oac(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CLOUDFRONT_DISTRIBUTION:
        return
    for origin in (as_mapping(o) for o in as_list(known(args.props, "origins"))):
        if not _is_s3_origin(origin):
            continue
        name = origin.get("originId")
        if as_mapping(origin.get("s3OriginConfig")).get("originAccessIdentity"):
            report_violation(f"origin {name}: reads S3 through a legacy origin access identity, not OAC", None)
        if not origin.get("originAccessControlId"):
            report_violation(f"origin {name}: S3 origin without an origin access control", None)


def cloudfront_tls_minimum(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CLOUDFRONT_DISTRIBUTION:
        return
    certificate = as_mapping(known(args.props, "viewerCertificate"))
    # The *.cloudfront.net default certificate's policy is CloudFront's own; a custom one sets it.
    if certificate.get("acmCertificateArn") or certificate.get("iamCertificateId"):
        version = str(certificate.get("minimumProtocolVersion") or "TLSv1")
        if not version.startswith(("TLSv1.2_", "TLSv1.3_")):
            report_violation(f"viewerCertificate.minimumProtocolVersion {version} is below TLS 1.2", None)
    for origin in (as_mapping(o) for o in as_list(known(args.props, "origins"))):
        weak = [
            p
            for p in as_list(as_mapping(origin.get("customOriginConfig")).get("originSslProtocols"))
            if p in WEAK_ORIGIN_PROTOCOLS
        ]
        if weak:
            report_violation(f"origin {origin.get('originId')}: originSslProtocols allow {', '.join(weak)}", None)


POLICIES = [
    StackValidationPolicy(
        name="s3-bucket-public-access-blocked",
        description="Every S3 bucket has a public access block with all four settings on.",
        validate=s3_public_access_blocked,
    ),
    ResourceValidationPolicy(
        name="s3-bucket-policy-not-public",
        description="No bucket policy allows anyone (Principal '*').",
        validate=s3_bucket_policy_not_public,
    ),
    ResourceValidationPolicy(
        name="cloudfront-https-only",
        description="CloudFront viewers are sent to HTTPS or refused HTTP; custom origins are reached over HTTPS.",
        validate=cloudfront_https_only,
    ),
    ResourceValidationPolicy(
        name="cloudfront-s3-origin-oac",
        description="CloudFront reads S3 origins through Origin Access Control, not a legacy OAI or anonymously.",
        validate=cloudfront_s3_origin_oac,
    ),
    ResourceValidationPolicy(
        name="cloudfront-tls-minimum",
        description="A distribution on its own certificate negotiates TLS 1.2+; origins refuse SSLv3, TLS 1.0, 1.1.",
        validate=cloudfront_tls_minimum,
    ),
]
