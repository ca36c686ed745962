"""Local mode's Cognito authorizer: what API Gateway's `COGNITO_USER_POOLS` authorizer does, locally.

For a method with this authorizer and no OAuth scopes, API Gateway takes the token from the
`Authorization` header (the bare token, or `Bearer <token>`), verifies its RS256 signature against
the pool's JWKS, requires the pool as issuer, an ID token (`token_use` "id"; an access token needs
method scopes, which our methods don't have) and an `exp` in the future; otherwise it answers 401
`{"message": "Unauthorized"}` itself and the function never runs. The claims of a token it admits
reach the function in `requestContext.authorizer.claims` with every value a string: arrays joined
with commas (`cognito:groups` "a,b"), `exp`/`iat` as dates, other numbers and booleans as text.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

ALGORITHMS = ("RS256",)  # Cognito signs with RS256 only; `none` and HMAC never verify
_DATE_CLAIMS = ("exp", "iat")


class Unauthorized(Exception):
    """Why a request was refused; the client only ever sees API Gateway's bare 401."""


def token_from_header(value: str | None) -> str:
    if value is None or not value.strip():
        raise Unauthorized("no Authorization header")
    token = value.strip()
    scheme, _, rest = token.partition(" ")
    if scheme.lower() == "bearer":
        token = rest.strip()
    if not token or " " in token:
        raise Unauthorized("Authorization header is not a token")
    return token


def render_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """The claims as API Gateway hands them to a REST API's Lambda proxy integration."""
    rendered: dict[str, str] = {}
    for name, value in claims.items():
        if name in _DATE_CLAIMS and isinstance(value, int | float):
            rendered[name] = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
        elif isinstance(value, bool):
            rendered[name] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            rendered[name] = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            rendered[name] = json.dumps(value, separators=(",", ":"))
        else:
            rendered[name] = str(value)
    return rendered


def fetch_jwks(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback emulator URL)
        return dict(json.loads(response.read()))


class CognitoAuthorizer:
    def __init__(
        self,
        issuer: str,
        jwks_url: str,
        *,
        clock: Callable[[], float] = time.time,
        fetch: Callable[[str], dict[str, Any]] = fetch_jwks,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.clock = clock
        self._fetch = fetch
        self._keys: KeySet | None = None
        self._lock = threading.Lock()

    def _key_set(self) -> KeySet:
        with self._lock:
            if self._keys is None:
                self._keys = KeySet.import_key_set(self._fetch(self.jwks_url))  # type: ignore[arg-type]
            return self._keys

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if API Gateway would admit it; Unauthorized (with the reason) if not."""
        try:
            decoded = jwt.decode(token, self._key_set(), algorithms=list(ALGORITHMS))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise Unauthorized(f"token does not verify: {type(exc).__name__}") from exc
        claims = dict(decoded.claims)
        if claims.get("iss") != self.issuer:
            raise Unauthorized("token was issued by another user pool")
        if claims.get("token_use") != "id":
            raise Unauthorized("not an ID token")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= self.clock():
            raise Unauthorized("token expired")
        return claims

    def authorize(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The rendered claims for the request's Authorization header (any case), or Unauthorized."""
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        return render_claims(self.verify(token_from_header(value)))
