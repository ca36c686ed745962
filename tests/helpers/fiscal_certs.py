"""An A1-like test certificate, made at test time (no private key is ever committed).

Self-signed RSA 2048, KeyUsage digitalSignature + nonRepudiation, and the emitente's CNPJ in the
SubjectAltName OtherName 2.16.76.1.3.3 as ICP-Brasil certificates carry it (an OCTET STRING).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

ICP_BRASIL_CNPJ_OID = x509.ObjectIdentifier("2.16.76.1.3.3")
PASSWORD = "test-only-password"


@dataclass(frozen=True)
class TestCertificate:
    pkcs12: bytes
    password: str
    cert_pem: bytes
    cnpj: str


def _der_octet_string(value: bytes) -> bytes:
    assert len(value) < 128
    return bytes([0x04, len(value)]) + value


@cache
def certificate(cnpj: str = "11222333000181", *, expired: bool = False) -> TestCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ICP-Brasil de teste"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"EMPRESA DE TESTE LTDA:{cnpj}"),
        ]
    )
    now = datetime.now(UTC)
    not_before, not_after = (
        (now - timedelta(days=400), now - timedelta(days=35))
        if expired
        else (
            now - timedelta(days=1),
            now + timedelta(days=365),
        )
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.OtherName(ICP_BRASIL_CNPJ_OID, _der_octet_string(cnpj.encode()))]),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        b"a1-teste", key, cert, None, serialization.BestAvailableEncryption(PASSWORD.encode())
    )
    return TestCertificate(
        pkcs12=data, password=PASSWORD, cert_pem=cert.public_bytes(serialization.Encoding.PEM), cnpj=cnpj
    )
