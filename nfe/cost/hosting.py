"""The web console's hosting: CloudFront (requests, data out, its viewer-request function) and the
site bucket (storage, the edge's GETs to it).

Quantities come from `usage`: `consoleRequests` and `consoleDataOutGb` are what browsers fetch of the
console itself; every API call also passes through the distribution's `/api/*` behaviour, so
`apiRequests` adds to CloudFront's requests (the API's bytes stay priced on the REST API, an upper
bound: behind CloudFront they would leave at CloudFront's lower rate). The always-free allowance
(1 TB out, 10,000,000 requests, 2,000,000 function invocations a month) comes off under
`--free-tier`. Rates are the United States edge group in us-east-1's table and the South America
group in sa-east-1's: where the stack's users are (docs/cost.md). Objects, the origin access
control and the cache and headers policies cost nothing by themselves.
"""

from __future__ import annotations

from nfe.cost.pricing import Charge, PricingContext, Resource, get, items

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
BUCKET = "aws:s3/bucket:Bucket"
# Share of the console's requests that reach the bucket: hashed assets are cached a year at the edge,
# while index.html and config.json (no-cache) are revalidated on every page load.
ORIGIN_FETCH_SHARE = 0.3


def _has_api_behaviour(resource: Resource) -> bool:
    behaviours = items(resource, "orderedCacheBehaviors")
    patterns = [str(get(resource, f"orderedCacheBehaviors[{i}].pathPattern", "")) for i in range(len(behaviours))]
    return any(p.startswith("/api/") for p in patterns)


def price_distribution(resource: Resource, ctx: PricingContext) -> list[Charge]:
    usage = ctx.config.usage
    requests = usage.console_requests + (usage.api_requests if _has_api_behaviour(resource) else 0)
    through = requests > usage.console_requests
    how = "usage.consoleRequests" + (" + usage.apiRequests (/api/* passes through)" if through else "")
    charges = [
        Charge("requests", requests, "cloudfront.requests.https", note=how, free_pool="freeTier.cloudfront.requests"),
        Charge(
            "data-out",
            usage.console_data_out_gb,
            "cloudfront.dataout",
            note="usage.consoleDataOutGb; origin fetches from S3 and API Gateway are free",
            free_pool="freeTier.cloudfront.dataout",
        ),
    ]
    functions = items(resource, "defaultCacheBehavior.functionAssociations")
    if functions:
        charges.append(
            Charge(
                "functions",
                usage.console_requests * len(functions),
                "cloudfront.functions.invocations",
                note="the router runs on every request of the default behaviour",
                free_pool="freeTier.cloudfront.functions",
            )
        )
    return charges


def price_bucket(resource: Resource, ctx: PricingContext) -> list[Charge]:
    usage = ctx.config.usage
    return [
        Charge(
            "storage",
            usage.console_storage_gb,
            "s3.storage.standard",
            note="usage.consoleStorageGb, versions kept 30 days",
        ),
        Charge(
            "get-requests",
            usage.console_requests * ORIGIN_FETCH_SHARE,
            "s3.requests.get",
            derivation=f"{usage.console_requests:,} x {ORIGIN_FETCH_SHARE}",
            note="the edge's fetches: HTML revalidated, hashed assets cached",
        ),
    ]


PRICERS = {DISTRIBUTION: price_distribution, BUCKET: price_bucket}
