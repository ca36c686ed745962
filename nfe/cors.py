"""The API's CORS answers, declared once: components/rest_api.py deploys them (MOCK preflights and
the DEFAULT_4XX/5XX gateway responses) and local mode's gateway (nfe/local/gateway.py) sends them.

The console itself calls the API on its own origin (the distribution's `/api/*` behaviour, local
mode's `/api/*`), where the browser asks no CORS question. These answers are for one other origin,
a team's existing app during a migration: one allowed origin, from stack config
(`nfe:api.corsAllowOrigin`), by default the console's own origin; never `*`.
"""

from __future__ import annotations

from functions.shared.cors import ALLOW_HEADERS, EXPOSE_HEADERS, MAX_AGE_SECONDS
from nfe import topology

# The lists themselves are the functions' (their answers carry them too).


__all__ = ["ALLOW_HEADERS", "EXPOSE_HEADERS", "MAX_AGE_SECONDS"]


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
