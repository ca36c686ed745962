"""The caller of an API request, and the one group check every route goes through.

API Gateway's `COGNITO_USER_POOLS` authorizer has already verified the ID token (signature, issuer,
expiry) before a function runs; the function reads the token's claims from
`requestContext.authorizer.claims`, in the shape a REST API passes them: every value a string.
`cognito:groups`, an array in the token, arrives flattened: `"faturamento,estoque"` for most
callers, and `"[faturamento estoque]"` in some (that bracketed, space-separated form is how API
Gateway renders arrays elsewhere, and callers have met it here too). Both are accepted, and so is a
real JSON list. `exp` and `iat` arrive as dates (`"Tue Apr 04 18:39:39 UTC 2023"`); nothing here
reads them.

The check is a global middleware of every resolver (`functions.shared.api.new_resolver`): it looks
the matched route up in `functions.shared.access.ROUTES` by method and resource, so which group may
call a route is declared once, next to the route, and not in each handler. Powertools runs its
request validation before any middleware, so the answers it makes for a malformed request (422,
400, 413, 415) ask `refusal` first (functions.shared.api): a caller outside the group gets its
403 whatever the body, and learns nothing about the route's input from its validation errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from functions.shared.access import route_for
from functions.shared.errors import Forbidden, NotSignedIn
from functions.shared.events import Ator

GROUPS_CLAIM = "cognito:groups"
_CONTEXT_KEY = "caller"
_SEPARATORS = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class Caller:
    sub: str  # the user's immutable id in the pool
    email: str
    groups: frozenset[str]


def parse_groups(value: Any) -> frozenset[str]:
    """`cognito:groups` in any form API Gateway passes it: "a,b", "[a b]", "a", a list, or absent."""
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple):
        return frozenset(str(v).strip() for v in value if str(v).strip())
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return frozenset(part for part in _SEPARATORS.split(text) if part)


def caller_from_claims(claims: dict[str, Any] | None) -> Caller | None:
    if not claims or not claims.get("sub"):
        return None
    return Caller(
        sub=str(claims["sub"]),
        email=str(claims.get("email") or ""),
        groups=parse_groups(claims.get(GROUPS_CLAIM)),
    )


def refusal(event: APIGatewayProxyEvent) -> NotSignedIn | Forbidden | None:
    """Why this request may not reach its route, or None when it may (public, or the right group)."""
    route = route_for(event.http_method, event.resource)
    if route is not None and route.public:
        return None
    caller = caller_from_claims(event.request_context.authorizer.claims)
    if caller is None:
        # Only reachable around API Gateway (a direct invoke, a misconfigured method): fail closed.
        return NotSignedIn("sign in to call this API")
    # No declared route: the resolver's 404 answers (API Gateway has a method only for declared
    # routes, and a test holds every resolver route to a declaration).
    if route is not None and not route.allows(caller.groups):
        wanted = ", ".join(sorted(route.groups))
        return Forbidden(f"{event.http_method} {event.resource} needs one of the groups: {wanted}")
    return None


def authorize(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Admit the request if its route is public or the caller is in one of the route's groups."""
    event = app.current_event
    refused = refusal(event)
    if refused is not None:
        raise refused
    caller = caller_from_claims(event.request_context.authorizer.claims)
    if caller is not None:
        app.append_context(**{_CONTEXT_KEY: caller})
    return next_middleware(app)


def current_caller(app: APIGatewayRestResolver) -> Caller:
    """The caller `authorize` admitted; routes pass it to the logic that records who did what."""
    caller = app.context.get(_CONTEXT_KEY)
    if not isinstance(caller, Caller):
        raise NotSignedIn("sign in to call this API")
    return caller


def install(app: APIGatewayRestResolver) -> Callable[..., Any]:
    app.use(middlewares=[authorize])
    return authorize


def current_actor(app: APIGatewayRestResolver) -> Ator:
    """The caller as the audit columns and the events record them."""
    caller = current_caller(app)
    return Ator(sub=caller.sub, email=caller.email)
