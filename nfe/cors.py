"""The API's CORS answers, declared once: components/rest_api.py deploys them (MOCK preflights and
the DEFAULT_4XX/5XX gateway responses) and local mode's gateway (nfe/local/gateway.py) sends them.

The console itself calls the API on its own origin (the distribution's `/api/*` behaviour, local
mode's `/api/*`), where the browser asks no CORS question. These answers are for one other origin,
a team's existing app during a migration: one allowed origin, from stack config
(`nfe:api.corsAllowOrigin`), by default the console's own origin; never `*`.
"""

from __future__ import annotations

from nfe import topology

# Request headers a browser may send: the API's own (Authorization carries the Cognito ID token,
# Idempotency-Key makes a POST safe to repeat) and the SigV4 ones API Gateway's console lists.
ALLOW_HEADERS = (
    "Content-Type",
    "Authorization",
    "X-Amz-Date",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "Idempotency-Key",
)
# Response headers a script may read besides the CORS-safelisted ones: throttling's Retry-After,
# the request id to quote in a support request, and which of API Gateway's errors it was.
EXPOSE_HEADERS = ("Retry-After", "X-Amzn-RequestId", "X-Amzn-ErrorType")
# Browsers cache a preflight this long (seconds); Chromium caps it at 7200.
MAX_AGE_SECONDS = 600


def allow_headers() -> str:
    return ",".join(ALLOW_HEADERS)


def expose_headers() -> str:
    return ",".join(EXPOSE_HEADERS)


def methods_by_path() -> dict[str, list[str]]:
    """Each API resource path and the methods its preflight allows (its routes' and OPTIONS)."""
    found: dict[str, set[str]] = {}
    for route in topology.ROUTES:
        found.setdefault(route.path, set()).add(route.method)
    return {path: sorted(methods | {"OPTIONS"}) for path, methods in sorted(found.items())}


def preflight_headers(path: str, origin: str | None) -> dict[str, str]:
    """What a resource's MOCK OPTIONS integration answers (API Gateway resource path, `{id}` style).

    `origin` None: no other origin is allowed, and the answer names none."""
    return {
        "Access-Control-Allow-Headers": allow_headers(),
        "Access-Control-Allow-Methods": ",".join(methods_by_path()[path]),
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        **({"Access-Control-Allow-Origin": origin} if origin else {}),
    }


def gateway_response_headers(origin: str | None) -> dict[str, str]:
    """What API Gateway's own errors (DEFAULT_4XX, DEFAULT_5XX: 401, 403, 413, 429, 502...) carry."""
    return {
        "Access-Control-Allow-Headers": allow_headers(),
        "Access-Control-Expose-Headers": expose_headers(),
        **({"Access-Control-Allow-Origin": origin} if origin else {}),
    }


def static(value: str) -> str:
    """A static value in an API Gateway header mapping: single-quoted."""
    return f"'{value}'"
