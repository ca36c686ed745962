"""Forged and mangled JWTs for the authorizer's attack tests.

moto signs every user pool's tokens with one RSA key shipped in its package (`kid` "dummy"); with
it a test can sign exactly the token it needs (expired, an access token, another issuer) and prove
the authorizer refuses it for that reason alone, not for a bad signature.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey


def pool_key() -> RSAKey:
    """moto's Cognito signing key: a valid signature for any local user pool."""
    from moto.utilities.utils import load_resource

    return RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))


def other_key() -> RSAKey:
    """A key nobody published, under the same `kid` as the pool's."""
    return RSAKey.generate_key(2048, parameters={"kid": "dummy"})


def id_claims(issuer: str, email: str = "faturista@example.com", groups: list[str] | None = None) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": str(uuid.uuid4()),
        "aud": "console",
        "token_use": "id",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "email": email,
        "cognito:groups": groups if groups is not None else ["faturamento"],
    }


def sign(claims: dict[str, Any], key: RSAKey | None = None) -> str:
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, key or pool_key())


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def unsigned(claims: dict[str, Any]) -> str:
    """`alg: none`: the payload is whatever the attacker wants and the signature is empty."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def tampered(token: str, **changes: Any) -> str:
    """The token's payload changed, its original header and signature kept."""
    header, _, signature = token.split(".")
    return f"{header}.{_b64({**payload(token), **changes})}.{signature}"
