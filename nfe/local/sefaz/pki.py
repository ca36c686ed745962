"""The emulator's test PKI: a CA, the server's certificate and A1-like emitente certificates.

Generated on first use into a directory the caller owns (never committed: it holds private keys) and
reused while it is there. An emitente certificate carries its CNPJ the way ICP-Brasil's e-CNPJ does,
as an OtherName (OID 2.16.76.1.3.3) in SubjectAltName, so the emulator can compare it with the
emitente's CNPJ (rule 213) exactly as SEFAZ does; it is exported as PKCS#12 with a password, the form
an A1 certificate takes.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

OID_CNPJ = ObjectIdentifier("2.16.76.1.3.3")
DEFAULT_CNPJ = "11222333000181"
DEFAULT_NAME = "EMITENTE DE TESTE LTDA"
_VALIDITY = datetime.timedelta(days=3650)
_KEY_SIZE = 2048


@dataclass(frozen=True)
class Emitente:
    """One A1-like certificate: the PKCS#12 (with its password) and the same key and chain as PEM."""

    cnpj: str
    p12: Path
    password: str
    cert_pem: Path
    key_pem: Path


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    emitente: Emitente

    def issue(self, cnpj: str, name: str = DEFAULT_NAME, stem: str | None = None) -> Emitente:
        """Another emitente certificate from the same CA (a second CNPJ, or a filial's)."""
        return _issue_emitente(self, cnpj, name, stem or f"emitente-{cnpj}")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_SIZE)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ICP-Brasil (emulated, tests only)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey) -> x509.CertificateBuilder:
    start = _now() - datetime.timedelta(days=1)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _VALIDITY)
    )


def _key_usage(*, digital_signature: bool, non_repudiation: bool, key_encipherment: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def cnpj_other_name(cnpj: str) -> x509.OtherName:
    """The ICP-Brasil OtherName holding a CNPJ: its value is a DER OCTET STRING of the 14 characters."""
    value = cnpj.encode("ascii")
    return x509.OtherName(OID_CNPJ, bytes([0x04, len(value)]) + value)


def cnpj_from_certificate(cert: x509.Certificate) -> str | None:
    """The CNPJ in the certificate's ICP-Brasil OtherName (2.16.76.1.3.3), or None when it has none."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id != OID_CNPJ:
            continue
        der = other.value
        # OCTET STRING, PrintableString, UTF8String or IA5String with a short length: all seen in the wild.
        if len(der) >= 2 and der[0] in (0x04, 0x13, 0x0C, 0x16) and der[1] < 0x80:
            return der[2 : 2 + der[1]].decode("ascii", errors="replace").strip()
        return der.decode("ascii", errors="replace").strip()
    return None


def _create_ca(directory: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    name = _name("AC de teste do SEFAZ emulado")
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(digital_signature=False, non_repudiation=False, key_encipherment=False, ca=True), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(_cert_pem(cert))
    _write_private(directory / "ca.key", _key_pem(key))
    return cert, key


def _load_ca(pki: Pki) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return cert, key


def _create_server(directory: Path, ca: x509.Certificate, ca_key: rsa.RSAPrivateKey) -> None:
    key = _new_key()
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )
    cert = (
        _builder(_name("localhost"), ca.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(san, critical=False)
        .add_extension(
            _key_usage(digital_signature=True, non_repudiation=False, key_encipherment=True, ca=False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "server.pem").write_bytes(_cert_pem(cert))
    _write_private(directory / "server.key", _key_pem(key))


def _issue_emitente(pki: Pki | _Bootstrap, cnpj: str, name: str, stem: str) -> Emitente:
    directory = pki.directory
    p12_path = directory / f"{stem}.p12"
    meta_path = directory / f"{stem}.json"
    cert_path = directory / f"{stem}.pem"
    key_path = directory / f"{stem}.key"
    if p12_path.exists() and meta_path.exists() and cert_path.exists() and key_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return Emitente(meta["cnpj"], p12_path, meta["password"], cert_path, key_path)
    ca, ca_key = _load_ca(pki)  # type: ignore[arg-type]
    key = _new_key()
    cert = (
        _builder(_name(f"{name}:{cnpj}"), ca.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([cnpj_other_name(cnpj)]), critical=False)
        .add_extension(
            _key_usage(digital_signature=True, non_repudiation=True, key_encipherment=True, ca=False), critical=True
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    password = secrets.token_urlsafe(12)
    p12 = pkcs12.serialize_key_and_certificates(
        name=f"{name}:{cnpj}".encode(),
        key=key,
        cert=cert,
        cas=[ca],
        encryption_algorithm=serialization.BestAvailableEncryption(password.encode()),
    )
    _write_private(p12_path, p12)
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(_cert_pem(cert))
    _write_private(meta_path, json.dumps({"cnpj": cnpj, "password": password}).encode())
    return Emitente(cnpj, p12_path, password, cert_path, key_path)


@dataclass(frozen=True)
class _Bootstrap:
    directory: Path
    ca_cert: Path
    ca_key: Path


def ensure_pki(directory: str | Path, cnpj: str = DEFAULT_CNPJ, name: str = DEFAULT_NAME) -> Pki:
    """The PKI in `directory`: reused when its files are there, generated (once) when they are not."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key_path = root / "ca.pem", root / "ca.key"
    if not (ca_cert.exists() and ca_key_path.exists()):
        _create_ca(root)
    boot = _Bootstrap(root, ca_cert, ca_key_path)
    server_cert, server_key = root / "server.pem", root / "server.key"
    if not (server_cert.exists() and server_key.exists()):
        ca, ca_key = _load_ca(boot)  # type: ignore[arg-type]
        _create_server(root, ca, ca_key)
    emitente = _issue_emitente(boot, cnpj, name, "emitente")
    return Pki(root, ca_cert, ca_key_path, server_cert, server_key, emitente)
