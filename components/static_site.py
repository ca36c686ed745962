"""StaticSite: a built single-page app in a private S3 bucket behind CloudFront, and `/api/*` to the API.

The browser talks to one origin. `/api/*` goes to the REST API's stage uncached, every method,
every viewer header but Host (API Gateway answers 403 to a foreign Host), so `Authorization` and
`Idempotency-Key` reach it. Everything else is read from the bucket through Origin Access Control;
the bucket blocks all public access and lets only this distribution read it.

How a new version reaches users: Angular names every script and stylesheet by its content hash,
so those are cached a year as immutable and never change under a URL; HTML (and config.json) is
`no-cache`, so the next navigation fetches the new index.html, which names the new assets. No
invalidation is needed (they are billed per path past 1,000 a month and take minutes); assets
of the previous version are kept (retained on delete) for tabs still running it.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

# AWS managed policies (CloudFront developer guide, "Use managed cache policies" and "Use managed
# origin request policies"): the IDs are the same in every account.
CACHING_DISABLED_POLICY_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_POLICY_ID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
# Angular's output hashing: `main-YVTM4FOR.js`, `chunk-WTJPK3TS.js`, `styles-EI2YARYJ.css`.
HASHED_ASSET = re.compile(r"-[A-Z0-9]{8}\.(?:js|mjs|css)$")
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# The runtime config the console reads at start (frontend/src/app/core/config.ts).
RUNTIME_CONFIG_KEY = "config.json"
MIN_TLS = "TLSv1.2_2021"
HSTS_SECONDS = 63_072_000  # two years, as hstspreload.org asks
ACCESS_LOG_PREFIX = "console/"


@dataclass(frozen=True)
class StaticSiteArgs:
    environment: str
    region: str
    # The built app: index.html at its root (Angular's dist/<app>/browser).
    dist_dir: Path
    # The REST API the `/api/*` behaviour reaches: its id (not the stage's URL, so the API's CORS
    # answers may name this distribution without a cycle) and the stage the paths are under.
    rest_api_id: pulumi.Input[str]
    stage_name: str
    # Written to config.json: where the API and the user pool are (RuntimeConfig in the console).
    runtime_config: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    custom_domain: str | None = None
    certificate_arn: str | None = None
    web_acl_arn: str | None = None
    price_class: str = "PriceClass_All"
    # The stack's access-logs bucket (FiscalArchive.access_logs_target): the bucket's server access
    # logs go there, under `console/`, beside the archive's, with one retention for both.
    access_log_bucket: pulumi.Input[str] | None = None


def cache_control(key: str) -> str:
    return IMMUTABLE if HASHED_ASSET.search(key) else NO_CACHE


def content_type(key: str) -> str:
    guessed, _ = mimetypes.guess_type(key)
    if key.endswith((".js", ".mjs")):
        return "text/javascript"
    if guessed and (guessed.startswith("text/") or guessed in ("application/json", "image/svg+xml")):
        return f"{guessed}; charset=utf-8"
    return guessed or "application/octet-stream"


def site_files(dist_dir: Path) -> list[str]:
    """Every file of the build, as object keys; the build's own config.json gives way to the stack's."""
    return sorted(
        p.relative_to(dist_dir).as_posix()
        for p in dist_dir.rglob("*")
        if p.is_file() and p.relative_to(dist_dir).as_posix() != RUNTIME_CONFIG_KEY
    )


def prerendered_routes(keys: list[str]) -> list[str]:
    """Routes with a page of their own (`notas/index.html` -> `/notas`), as Angular prerenders them."""
    return sorted("/" + key.removesuffix("/index.html") for key in keys if key.endswith("/index.html"))


def router_function_code(routes: list[str]) -> str:
    """A viewer-request CloudFront Function: a route goes to its prerendered page, else to index.html.

    Not custom error responses (403/404 -> index.html): those apply to every behaviour, and would
    turn the API's own 403 and 404 answers into the app's HTML.
    """
    return (
        "var ROUTES = " + json.dumps(routes) + ";\n"
        "function handler(event) {\n"
        "  var request = event.request;\n"
        "  var uri = request.uri;\n"
        "  var last = uri.substring(uri.lastIndexOf('/') + 1);\n"
        "  if (last.indexOf('.') !== -1) { return request; }\n"
        "  var route = uri.length > 1 && uri.endsWith('/') ? uri.slice(0, -1) : uri;\n"
        "  request.uri = ROUTES.indexOf(route) !== -1 ? route + '/index.html' : '/index.html';\n"
        "  return request;\n"
        "}\n"
    )


def content_security_policy(region: str) -> str:
    """Fits the console: its own scripts only, component styles Angular inserts at runtime, the API
    on this origin and Cognito's endpoint for sign-in; no framing, no plugins."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' https://cognito-idp.{region}.amazonaws.com",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class StaticSite(pulumi.ComponentResource):
    url: pulumi.Output[str]
    domain_name: pulumi.Output[str]

    def __init__(self, name: str, args: StaticSiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nfe:index:StaticSite", name, None, opts)
        self.args = args
        self._prefix = name
        self.bucket = self._create_bucket()
        self.distribution = self._create_distribution()
        self._create_bucket_policy()
        self._create_objects()
        self.domain_name = self.distribution.domain_name
        host = args.custom_domain or self.distribution.domain_name
        self.origin = pulumi.Output.concat("https://", host)
        self.url = pulumi.Output.concat(self.origin, "/")
        self.register_outputs(
            {"url": self.url, "bucketName": self.bucket.bucket, "distributionId": self.distribution.id}
        )

    def _opts(self, **kwargs: object) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)  # type: ignore[arg-type]

    def _create_bucket(self) -> aws.s3.Bucket:
        name, env = self._prefix, self.args.environment
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket_prefix=f"nfe-{name}-{env}-", opts=self._opts())
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._opts(),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=self._opts(),
        )
        # SSE-S3: CloudFront's OAC reads SSE-KMS objects only with a key policy naming the
        # distribution, for no gain on public web assets.
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=self._opts(),
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=self._opts(),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-old-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": 30},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=self._opts(),
        )
        if self.args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logging",
                bucket=bucket.id,
                target_bucket=self.args.access_log_bucket,
                target_prefix=ACCESS_LOG_PREFIX,
                opts=self._opts(),
            )
        return bucket

    def _create_distribution(self) -> aws.cloudfront.Distribution:
        args, name = self.args, self._prefix
        oac = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            name=f"nfe-{name}-{args.environment}",
            description="CloudFront reads the site bucket, signed (SigV4)",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=self._opts(),
        )
        self.oac = oac
        keys = site_files(args.dist_dir) if args.dist_dir.is_dir() else []
        self.router = aws.cloudfront.Function(
            f"{name}-router",
            name=f"nfe-{name}-{args.environment}-router",
            runtime="cloudfront-js-2.0",
            comment="Routes go to their prerendered page, else to index.html",
            code=router_function_code(prerendered_routes(keys)),
            publish=True,
            opts=self._opts(),
        )
        self.headers_policy = aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-security-headers",
            name=f"nfe-{name}-{args.environment}-security-headers",
            comment="HSTS, CSP, nosniff, no framing, referrer policy",
            security_headers_config={
                "strict_transport_security": {
                    "access_control_max_age_sec": HSTS_SECONDS,
                    "include_subdomains": True,
                    "override": True,
                },
                "content_security_policy": {
                    "content_security_policy": content_security_policy(args.region),
                    "override": True,
                },
                "content_type_options": {"override": True},
                "frame_options": {"frame_option": "DENY", "override": True},
                "referrer_policy": {"referrer_policy": "strict-origin-when-cross-origin", "override": True},
            },
            opts=self._opts(),
        )
        # Honours each object's Cache-Control (min TTL 0, so `no-cache` HTML is revalidated every time).
        self.site_cache_policy = aws.cloudfront.CachePolicy(
            f"{name}-site-cache",
            name=f"nfe-{name}-{args.environment}-site",
            comment="Object Cache-Control decides; compressed variants cached apart",
            min_ttl=0,
            default_ttl=86_400,
            max_ttl=31_536_000,
            parameters_in_cache_key_and_forwarded_to_origin={
                "cookies_config": {"cookie_behavior": "none"},
                "headers_config": {"header_behavior": "none"},
                "query_strings_config": {"query_string_behavior": "none"},
                "enable_accept_encoding_gzip": True,
                "enable_accept_encoding_brotli": True,
            },
            opts=self._opts(),
        )
        api_domain = pulumi.Output.concat(args.rest_api_id, ".execute-api.", args.region, ".amazonaws.com")
        # The *.cloudfront.net certificate's security policy is fixed by CloudFront (TLSv1, clients
        # negotiate their newest); a custom domain gets its own certificate and TLS 1.2 at least.
        certificate: dict[str, object] = {"cloudfront_default_certificate": True}
        if args.certificate_arn:
            certificate = {
                "acm_certificate_arn": args.certificate_arn,
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": MIN_TLS,
            }
        return aws.cloudfront.Distribution(
            f"{name}-distribution",
            enabled=True,
            comment=f"nfe {name} ({args.environment})",
            aliases=[args.custom_domain] if args.custom_domain else None,
            default_root_object="index.html",
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=args.price_class,
            web_acl_id=args.web_acl_arn,
            origins=[
                {
                    "origin_id": "site",
                    "domain_name": self.bucket.bucket_regional_domain_name,
                    "origin_access_control_id": oac.id,
                },
                {
                    "origin_id": "api",
                    "domain_name": api_domain,
                    "origin_path": f"/{args.stage_name}",
                    "custom_origin_config": {
                        "http_port": 80,
                        "https_port": 443,
                        "origin_protocol_policy": "https-only",
                        "origin_ssl_protocols": ["TLSv1.2"],
                        # Below the API's 29 s integration limit would cut answers short.
                        "origin_read_timeout": 30,
                    },
                },
            ],
            default_cache_behavior={
                "target_origin_id": "site",
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                "cached_methods": ["GET", "HEAD"],
                "compress": True,
                "cache_policy_id": self.site_cache_policy.id,
                "response_headers_policy_id": self.headers_policy.id,
                "function_associations": [{"event_type": "viewer-request", "function_arn": self.router.arn}],
            },
            ordered_cache_behaviors=[
                {
                    "path_pattern": "/api/*",
                    "target_origin_id": "api",
                    "viewer_protocol_policy": "https-only",
                    "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                    "cached_methods": ["GET", "HEAD"],
                    "compress": True,
                    # Caching disabled, so the managed all-viewer policy may forward Authorization.
                    "cache_policy_id": CACHING_DISABLED_POLICY_ID,
                    "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST_POLICY_ID,
                    "response_headers_policy_id": self.headers_policy.id,
                }
            ],
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=certificate,
            opts=self._opts(),
        )

    def _create_bucket_policy(self) -> None:
        name = self._prefix
        policy = pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "CloudFrontReadsThroughOac",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudfront.amazonaws.com"},
                        "Action": "s3:GetObject",
                        "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
                        "Condition": {"StringEquals": {"AWS:SourceArn": self.distribution.arn}},
                    },
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                ],
            }
        )
        aws.s3.BucketPolicy(f"{name}-bucket-policy", bucket=self.bucket.id, policy=policy, opts=self._opts())

    def _create_objects(self) -> None:
        args, name = self.args, self._prefix
        keys = site_files(args.dist_dir) if args.dist_dir.is_dir() else []
        for key in keys:
            hashed = bool(HASHED_ASSET.search(key))
            aws.s3.BucketObjectv2(
                f"{name}-file-{key}",
                bucket=self.bucket.id,
                key=key,
                source=pulumi.FileAsset(str(args.dist_dir / key)),
                content_type=content_type(key),
                cache_control=cache_control(key),
                # A tab still running the previous version lazy-loads its own chunks.
                opts=self._opts(retain_on_delete=hashed),
            )
        aws.s3.BucketObjectv2(
            f"{name}-file-{RUNTIME_CONFIG_KEY}",
            bucket=self.bucket.id,
            key=RUNTIME_CONFIG_KEY,
            content=pulumi.Output.json_dumps(dict(args.runtime_config)),
            content_type="application/json; charset=utf-8",
            cache_control=NO_CACHE,
            opts=self._opts(),
        )
