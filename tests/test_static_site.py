"""The console's hosting under Pulumi's mocks: both stacks' StaticSite, read property by property.

Given the program run offline for a stack (a small built site in a temporary folder as
nfe:frontend.distDir), then each test reads the recorded resources with engine property names.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from components.static_site import (
    ALL_VIEWER_EXCEPT_HOST_POLICY_ID,
    CACHING_DISABLED_POLICY_ID,
    IMMUTABLE,
    NO_CACHE,
    prerendered_routes,
    router_function_code,
)
from nfe import cors
from nfe.mockrun import PlanResult, ResourceRecord
from nfe.plan import plan

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/nfe/1234"


def built_site(root: Path) -> Path:
    dist = root / "browser"
    (dist / "ajuda").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><nfe-root></nfe-root>")
    (dist / "ajuda" / "index.html").write_text("<!doctype html><p>Ajuda</p>")
    (dist / "main-ABCD1234.js").write_text("console.log(1)")
    (dist / "styles-EFGH5678.css").write_text("body{}")
    (dist / "favicon.svg").write_text("<svg/>")
    (dist / "config.json").write_text("{}")  # the build's own, replaced by the stack's
    return dist


@pytest.fixture(scope="module", params=["dev", "prod"])
def result(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PlanResult:
    dist = built_site(tmp_path_factory.mktemp("site"))
    return plan(request.param, config={"nfe:frontend": json.dumps({"distDir": str(dist)})})


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> PlanResult:
    dist = built_site(tmp_path_factory.mktemp("site"))
    frontend = {"distDir": str(dist), "customDomain": "nfe.example.com", "certificateArn": CERTIFICATE}
    return plan(
        "prod",
        config={
            "nfe:frontend": json.dumps({**frontend, "webAclArn": WEB_ACL}),
            "nfe:api": json.dumps({"corsAllowOrigin": "https://legado.example.com"}),
        },
    )


def one(result: PlanResult, type_token: str) -> ResourceRecord:
    records = result.of_type(type_token)
    if len(records) > 1:
        # The console's own (the fiscal archive has buckets of its own: tests/test_fiscal_archive.py).
        records = [r for r in records if r.name.startswith("console-")]
    (record,) = records
    return record


def mock_id(record: ResourceRecord) -> str:
    """The id nfe.mockrun's mocks give a resource (its name and a digest of type and name)."""
    digest = hashlib.sha1(f"{record.type}/{record.name}".encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{record.name}-{digest}"


def by_origin(distribution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["originId"]: o for o in distribution["origins"]}


def test_the_bucket_is_private_encrypted_versioned_and_tls_only(result: PlanResult) -> None:
    block = one(result, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    encryption = one(result, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    versioning = one(result, "aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    ownership = one(result, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"  # no ACLs at all
    statements = json.loads(one(result, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    distribution = one(result, DISTRIBUTION)
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    # Only this distribution reads, and only objects: no public principal is ever allowed.
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert allow["Condition"] == {"StringEquals": {"AWS:SourceArn": distribution.state["arn"]}}
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and deny["Action"] == "s3:*"


def test_the_site_origin_reads_the_bucket_through_origin_access_control(result: PlanResult) -> None:
    distribution = one(result, DISTRIBUTION).inputs
    oac = one(result, "aws:cloudfront/originAccessControl:OriginAccessControl")
    assert oac.inputs["originAccessControlOriginType"] == "s3"
    assert oac.inputs["signingBehavior"] == "always" and oac.inputs["signingProtocol"] == "sigv4"
    site = by_origin(distribution)["site"]
    bucket = one(result, "aws:s3/bucket:Bucket")
    assert site["domainName"] == bucket.state["bucketRegionalDomainName"]
    assert site["originAccessControlId"] == mock_id(oac)
    assert "s3OriginConfig" not in site  # the legacy origin access identity is not used
    assert result.of_type("aws:cloudfront/originAccessIdentity:OriginAccessIdentity") == []


def test_api_paths_go_to_the_stage_uncached_with_every_method_and_no_host(result: PlanResult) -> None:
    distribution = one(result, DISTRIBUTION).inputs
    api = by_origin(distribution)["api"]
    rest_api = one(result, "aws:apigateway/restApi:RestApi")
    assert api["domainName"] == f"{mock_id(rest_api)}.execute-api.us-east-1.amazonaws.com"
    assert api["originPath"] == f"/{result.stack}"
    assert api["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert api["customOriginConfig"]["originSslProtocols"] == ["TLSv1.2"]
    (behaviour,) = distribution["orderedCacheBehaviors"]
    assert behaviour["pathPattern"] == "/api/*" and behaviour["targetOriginId"] == "api"
    assert set(behaviour["allowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
    assert behaviour["cachePolicyId"] == CACHING_DISABLED_POLICY_ID
    # AllViewerExceptHostHeader: Authorization and Idempotency-Key reach the API, Host does not.
    assert behaviour["originRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_POLICY_ID


def test_viewers_use_https_http2_and_3_compressed(result: PlanResult) -> None:
    distribution = one(result, DISTRIBUTION).inputs
    behaviours = [distribution["defaultCacheBehavior"], *distribution["orderedCacheBehaviors"]]
    assert {b["viewerProtocolPolicy"] for b in behaviours} <= {"redirect-to-https", "https-only"}
    assert all(b["compress"] is True for b in behaviours)
    assert distribution["httpVersion"] == "http2and3"
    assert distribution["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert "webAclId" not in distribution and "aliases" not in distribution


def test_every_response_carries_the_security_headers(result: PlanResult) -> None:
    distribution = one(result, DISTRIBUTION).inputs
    policy = one(result, "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
    behaviours = [distribution["defaultCacheBehavior"], *distribution["orderedCacheBehaviors"]]
    assert {b["responseHeadersPolicyId"] for b in behaviours} == {mock_id(policy)}
    headers = policy.inputs["securityHeadersConfig"]
    assert headers["strictTransportSecurity"]["accessControlMaxAgeSec"] >= 31_536_000
    csp = headers["contentSecurityPolicy"]["contentSecurityPolicy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "connect-src 'self' https://cognito-idp.us-east-1.amazonaws.com" in csp
    assert headers["contentTypeOptions"]["override"] is True
    assert headers["frameOptions"]["frameOption"] == "DENY"
    assert headers["referrerPolicy"]["referrerPolicy"] == "strict-origin-when-cross-origin"


def test_hashed_assets_are_immutable_html_is_not_cached(result: PlanResult) -> None:
    objects = {o.inputs["key"]: o for o in result.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert set(objects) == {
        "index.html",
        "ajuda/index.html",
        "main-ABCD1234.js",
        "styles-EFGH5678.css",
        "favicon.svg",
        "config.json",
    }
    assert objects["main-ABCD1234.js"].inputs["cacheControl"] == IMMUTABLE
    assert objects["main-ABCD1234.js"].inputs["contentType"] == "text/javascript"
    assert objects["styles-EFGH5678.css"].inputs["cacheControl"] == IMMUTABLE
    assert objects["index.html"].inputs["cacheControl"] == NO_CACHE
    assert objects["index.html"].inputs["contentType"] == "text/html; charset=utf-8"
    assert objects["favicon.svg"].inputs["contentType"].startswith("image/svg+xml")
    # The previous version's chunks stay for tabs still running it.
    assert objects["main-ABCD1234.js"].options["retainOnDelete"] is True
    assert objects["index.html"].options["retainOnDelete"] is False
    config = json.loads(objects["config.json"].inputs["content"])
    assert config["apiBaseUrl"] == "" and config["region"] == "us-east-1"
    (client,) = result.of_type("aws:cognito/userPoolClient:UserPoolClient")
    assert config["userPoolClientId"] == mock_id(client)
    site_cache = one(result, "aws:cloudfront/cachePolicy:CachePolicy").inputs
    assert site_cache["minTtl"] == 0  # so no-cache is honoured at the edge
    assert one(result, DISTRIBUTION).inputs["defaultCacheBehavior"]["cachePolicyId"] == (
        mock_id(one(result, "aws:cloudfront/cachePolicy:CachePolicy"))
    )


def test_routes_resolve_to_their_prerendered_page_else_to_index_html(result: PlanResult) -> None:
    function = one(result, "aws:cloudfront/function:Function").inputs
    assert function["runtime"] == "cloudfront-js-2.0"
    assert '["/ajuda"]' in function["code"]
    association = one(result, DISTRIBUTION).inputs["defaultCacheBehavior"]["functionAssociations"]
    assert association[0]["eventType"] == "viewer-request"
    # No custom error responses: they would replace the API's own 403/404 bodies with HTML.
    assert "customErrorResponses" not in one(result, DISTRIBUTION).inputs


def route(code: str, uri: str) -> str:
    """Runs the router function's logic as CloudFront would, translated line for line."""
    routes = json.loads(code.split("var ROUTES = ", 1)[1].split(";", 1)[0])
    last = uri[uri.rfind("/") + 1 :]
    if "." in last:
        return uri
    path = uri[:-1] if len(uri) > 1 and uri.endswith("/") else uri
    return path + "/index.html" if path in routes else "/index.html"


def test_router_function_maps_paths() -> None:
    code = router_function_code(prerendered_routes(["index.html", "entrar/index.html", "main-ABCD1234.js"]))
    assert route(code, "/entrar") == "/entrar/index.html"
    assert route(code, "/entrar/") == "/entrar/index.html"
    assert route(code, "/notas/123") == "/index.html"
    assert route(code, "/main-ABCD1234.js") == "/main-ABCD1234.js"
    assert route(code, "/") == "/index.html"


def test_the_apis_cors_answers_name_the_distribution_by_default(result: PlanResult) -> None:
    distribution = one(result, DISTRIBUTION)
    origin = f"'https://{distribution.state['domainName']}'"
    responses = result.of_type("aws:apigateway/integrationResponse:IntegrationResponse")
    assert responses and all(
        r.inputs["responseParameters"]["method.response.header.Access-Control-Allow-Origin"] == origin
        for r in responses
    )
    for gateway in result.of_type("aws:apigateway/response:Response"):
        params = gateway.inputs["responseParameters"]
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == origin
        assert params["gatewayresponse.header.Access-Control-Expose-Headers"] == cors.static(cors.expose_headers())
    deployment = one(result, "aws:apigateway/deployment:Deployment")
    assert deployment.inputs["triggers"]["corsOrigin"] == origin.strip("'")
    assert result.outputs["consoleUrl"] == f"https://{distribution.state['domainName']}/"


def test_custom_domain_waf_and_configured_origin(custom: PlanResult) -> None:
    distribution = one(custom, DISTRIBUTION).inputs
    assert distribution["aliases"] == ["nfe.example.com"]
    assert distribution["viewerCertificate"] == {
        "acmCertificateArn": CERTIFICATE,
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2021",
    }
    assert distribution["webAclId"] == WEB_ACL
    responses = custom.of_type("aws:apigateway/integrationResponse:IntegrationResponse")
    allowed = {r.inputs["responseParameters"]["method.response.header.Access-Control-Allow-Origin"] for r in responses}
    assert allowed == {"'https://legado.example.com'"}
    assert custom.outputs["consoleUrl"] == "https://nfe.example.com/"
