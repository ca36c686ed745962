"""functions/sefaz/certificate.py: the A1 from a Secrets Manager JSON secret, cached per container, never
shown, its expiry exposed; with a fake Secrets Manager client (no AWS, no boto3)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from functions.sefaz import certificate
from functions.sefaz.certificate import CertificadoInvalido, carregar_certificado, ler_segredo
from tests.helpers import fiscal_certs

SECRET_ID = "nfe/dev/emitente-a1"


class FakeSecrets:
    def __init__(self, secrets: dict[str, Any]) -> None:
        self.secrets = secrets
        self.calls: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:
        self.calls.append(SecretId)
        value = self.secrets[SecretId]
        return value if isinstance(value, dict) else {"SecretString": value, "Name": SecretId}


def _secret(p12: bytes, password: str) -> str:
    return json.dumps({"pkcs12": base64.b64encode(p12).decode(), "password": password})


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    certificate.esquecer()
    yield
    certificate.esquecer()


def test_reads_the_json_secret_and_exposes_the_expiry() -> None:
    cert = fiscal_certs.certificate()
    secrets = FakeSecrets({SECRET_ID: _secret(cert.pkcs12, cert.password)})
    loaded = carregar_certificado(SECRET_ID, client=secrets)
    assert (loaded.pkcs12, loaded.password) == (cert.pkcs12, cert.password)
    _, x509_cert, _ = pkcs12.load_key_and_certificates(cert.pkcs12, cert.password.encode())
    assert x509_cert is not None and loaded.expira_em == x509_cert.not_valid_after_utc
    assert 360 < loaded.dias_restantes() < 366
    assert loaded.dias_restantes(loaded.expira_em + timedelta(days=2)) == pytest.approx(-2)
    assert "11222333000181" in loaded.subject


def test_cached_per_container_until_max_age() -> None:
    cert = fiscal_certs.certificate()
    secrets = FakeSecrets(
        {SECRET_ID: _secret(cert.pkcs12, cert.password), "other": _secret(cert.pkcs12, cert.password)}
    )
    now = [100.0]
    first = carregar_certificado(SECRET_ID, client=secrets, clock=lambda: now[0])
    now[0] += 3599
    assert carregar_certificado(SECRET_ID, client=secrets, clock=lambda: now[0]) is first
    assert secrets.calls == [SECRET_ID]
    carregar_certificado("other", client=secrets, clock=lambda: now[0])
    now[0] += 2
    carregar_certificado(SECRET_ID, client=secrets, clock=lambda: now[0])
    assert secrets.calls == [SECRET_ID, "other", SECRET_ID]


def test_never_shows_the_file_or_the_password() -> None:
    cert = fiscal_certs.certificate()
    loaded = ler_segredo(_secret(cert.pkcs12, cert.password))
    shown = repr(loaded) + str(loaded)
    assert cert.password not in shown and base64.b64encode(cert.pkcs12).decode()[:40] not in shown
    assert "expira_em" in shown
    with pytest.raises(CertificadoInvalido) as raised:
        ler_segredo(_secret(cert.pkcs12, "wrong-password-1234"))
    assert "wrong-password-1234" not in str(raised.value) and raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("not json", "not JSON"),
        (json.dumps({"pkcs12": "AAAA"}), "exactly the keys"),
        (json.dumps({"pkcs12": "AAAA", "password": "x", "extra": 1}), "exactly the keys"),
        (json.dumps({"pkcs12": 1, "password": "x"}), "must be strings"),
        (json.dumps({"pkcs12": "***", "password": "x"}), "not base64"),
        (json.dumps({"pkcs12": "AAAA", "password": "x"}), "does not open"),
    ],
)
def test_a_malformed_secret_says_what_is_wrong(secret: str, message: str) -> None:
    with pytest.raises(CertificadoInvalido, match=message):
        ler_segredo(secret)


def test_a_binary_secret_is_refused() -> None:
    secrets = FakeSecrets({SECRET_ID: {"SecretBinary": b"..."}})
    with pytest.raises(CertificadoInvalido, match="no SecretString"):
        carregar_certificado(SECRET_ID, client=secrets)


def test_an_expired_certificate_still_loads_so_the_alarm_can_say_so() -> None:
    cert = fiscal_certs.certificate(expired=True)
    loaded = ler_segredo(_secret(cert.pkcs12, cert.password))
    assert loaded.expira_em < datetime.now(UTC) and loaded.dias_restantes() < 0


def test_importing_the_package_loads_neither_boto3_nor_the_emulator() -> None:
    code = (
        "import sys\n"
        "import functions.sefaz.authorize, functions.sefaz.certificate, functions.sefaz.client\n"
        "import functions.sefaz.endpoints, functions.sefaz.outcome\n"
        "loaded = [m for m in sys.modules if m in ('boto3', 'botocore', 'nfe', 'requests') or m.startswith('nfe.')]\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
