"""The emitente's A1 certificate from Secrets Manager, read once per container and never logged.

The secret is one JSON document, `{"pkcs12": "<base64 of the .pfx/.p12 file>", "password": "..."}`:
one secret rather than two because the file and its password change together (a renewed A1 comes with
its own password), and one `PutSecretValue` replaces both at once, so a reader never meets the new
file with the old password; it is also one resource for the policy that only the SEFAZ function may read.

Cached per container for `max_age_seconds` (default one hour): a warm function does not call Secrets
Manager per nota, and a renewed certificate is picked up within the hour without a deploy. The value is
kept in a `CertificadoA1` whose repr hides the file and the password, so a stray log line or traceback
shows neither. `expira_em` is exposed for the expiry alarm. boto3 is imported only when no client is
given, at the first read, never at module import (cold start, and unit tests run without AWS).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = ["CertificadoA1", "CertificadoInvalido", "SecretsClient", "carregar_certificado", "esquecer", "ler_segredo"]

DEFAULT_MAX_AGE_SECONDS = 3600.0


class CertificadoInvalido(ValueError):
    """The secret is not the documented JSON, or its PKCS#12 does not open with its password."""


class SecretsClient(Protocol):
    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CertificadoA1:
    pkcs12: bytes = field(repr=False)
    password: str = field(repr=False)
    subject: str
    expira_em: datetime
    # The opened PKCS#12 (key, certificate, chain): opening it runs the password's key derivation
    # (about 30 ms), so the TLS context reuses this one instead of opening the file again.
    aberto: Any = field(default=None, repr=False, compare=False)

    def dias_restantes(self, agora: datetime | None = None) -> float:
        """Days until the certificate expires (negative once expired): the alarm's metric."""
        return (self.expira_em - (agora or datetime.now(UTC))).total_seconds() / 86400


def ler_segredo(secret_string: str) -> CertificadoA1:
    """Parse the secret's JSON and open the PKCS#12 once, to check the password and read the expiry.

    Error messages name what is wrong, never the values.
    """
    from cryptography.hazmat.primitives.serialization import pkcs12 as p12

    try:
        document = json.loads(secret_string)
    except ValueError:
        raise CertificadoInvalido('the secret is not JSON {"pkcs12": base64, "password": ...}') from None
    if not isinstance(document, dict) or set(document) != {"pkcs12", "password"}:
        raise CertificadoInvalido('the secret must hold exactly the keys "pkcs12" (base64) and "password"')
    password = document["password"]
    if not isinstance(password, str) or not isinstance(document["pkcs12"], str):
        raise CertificadoInvalido('"pkcs12" and "password" must be strings')
    try:
        data = base64.b64decode(document["pkcs12"], validate=True)
    except (binascii.Error, ValueError):
        raise CertificadoInvalido('"pkcs12" is not base64') from None
    try:
        _key, certificate, _chain = p12.load_key_and_certificates(data, password.encode())
    except ValueError:
        raise CertificadoInvalido("the PKCS#12 does not open with the secret's password") from None
    if certificate is None or _key is None:
        raise CertificadoInvalido("the PKCS#12 holds no certificate and private key")
    return CertificadoA1(
        pkcs12=data,
        password=password,
        subject=certificate.subject.rfc4514_string(),
        expira_em=certificate.not_valid_after_utc,
        aberto=(_key, certificate, _chain),
    )


_lock = threading.Lock()
_cache: dict[str, tuple[float, CertificadoA1]] = {}


def carregar_certificado(
    secret_id: str,
    *,
    client: SecretsClient | None = None,
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    clock: Any = time.monotonic,
) -> CertificadoA1:
    """The A1 in secret `secret_id` (name or ARN), from this container's cache when younger than
    `max_age_seconds`."""
    now = clock()
    with _lock:
        cached = _cache.get(secret_id)
        if cached is not None and now - cached[0] < max_age_seconds:
            return cached[1]
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    response = client.get_secret_value(SecretId=secret_id)
    secret = response.get("SecretString")
    if not isinstance(secret, str):
        raise CertificadoInvalido(f"secret {secret_id} has no SecretString (the JSON document is expected)")
    certificado = ler_segredo(secret)
    with _lock:
        _cache[secret_id] = (now, certificado)
    return certificado


def esquecer() -> None:
    """Drop the cached certificates (tests; a function told its certificate was rotated)."""
    with _lock:
        _cache.clear()
