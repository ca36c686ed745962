"""The emulator's test PKI: generated once, reused, and carrying the CNPJ as ICP-Brasil does."""

from __future__ import annotations

import socket
import ssl
import urllib.request
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree

from nfe.local.sefaz import SefazEmulator, cnpj_from_certificate, ensure_pki
from nfe.local.sefaz.pki import OID_CNPJ
from tests.helpers import sefaz_env
from tests.helpers import sefaz_nfe as h


def test_emitente_certificate_is_an_a1_with_the_cnpj_in_the_icp_brasil_other_name() -> None:
    # Given the session's PKI
    pki = ensure_pki(sefaz_env.pki_directory())
    # When the PKCS#12 is opened with its password
    key, cert, chain = pkcs12.load_key_and_certificates(pki.emitente.p12.read_bytes(), pki.emitente.password.encode())
    # Then it holds the key, the certificate with the CNPJ in OtherName 2.16.76.1.3.3, and the CA
    assert key is not None and cert is not None
    assert cnpj_from_certificate(cert) == "11222333000181"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [other.type_id for other in san.get_values_for_type(x509.OtherName)] == [OID_CNPJ]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    assert [c.subject for c in chain] == [ca.subject]
    cert.verify_directly_issued_by(ca)
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(pki.emitente.p12.read_bytes(), b"wrong password")


def test_certificates_without_the_other_name_have_no_cnpj() -> None:
    pki = ensure_pki(sefaz_env.pki_directory())
    server = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    assert cnpj_from_certificate(server) is None
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    assert cnpj_from_certificate(ca) is None
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)


def test_pki_is_reused_when_present_and_private_keys_are_not_world_readable(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path)
    files = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    second = ensure_pki(tmp_path)
    assert second == first
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == files
    for name in ("ca.key", "server.key", "emitente.key", "emitente.p12", "emitente.json"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, name
    other = first.issue(sefaz_env.OTHER_CNPJ)
    assert cnpj_from_certificate(x509.load_pem_x509_certificate(other.cert_pem.read_bytes())) == sefaz_env.OTHER_CNPJ
    assert first.issue(sefaz_env.OTHER_CNPJ) == other


def test_mutual_tls_refuses_a_client_without_a_certificate_and_accepts_the_emitente() -> None:
    with sefaz_env.running_emulator() as emulator:
        # Given a client that trusts the test CA but presents no certificate
        context = ssl.create_default_context(cafile=str(emulator.pki.ca_cert))
        # When it connects, Then the TLS handshake fails (TLS 1.3 reports it on the first read)
        with pytest.raises((ssl.SSLError, ConnectionError, requests.exceptions.SSLError)):
            session = requests.Session()
            session.trust_env = False
            session.get(f"{emulator.url}/_emulator/state", verify=str(emulator.pki.ca_cert), timeout=5)
        with (
            socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as raw,
            # The server's alert or its close, whichever the client reads first: never an HTTP answer.
            pytest.raises(ssl.SSLError, match=r"CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|EOF occurred"),
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"GET /_emulator/state HTTP/1.1\r\nHost: localhost\r\n\r\n")
            tls.recv(100)
        # And the emitente's certificate is accepted
        answer = h.SoapClient(emulator.url, emulator.pki).call("NFeStatusServico4", h.cons_stat())
        assert h.cstat(answer) == "107"


def test_a_certificate_from_another_ca_is_refused_unless_that_ca_is_trusted(tmp_path: Path) -> None:
    stranger = ensure_pki(tmp_path / "other-ca")
    with sefaz_env.running_emulator() as emulator:
        client = h.SoapClient(emulator.url, emulator.pki, emitente=stranger.emitente)
        with pytest.raises(requests.exceptions.RequestException):
            client.call("NFeStatusServico4", h.cons_stat())
    with sefaz_env.running_emulator(extra_ca=stranger.ca_cert) as emulator:
        client = h.SoapClient(emulator.url, emulator.pki, emitente=stranger.emitente)
        assert h.cstat(client.call("NFeStatusServico4", h.cons_stat())) == "107"


def test_emulator_refuses_unknown_uf_and_ambiente(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="UF"):
        SefazEmulator(tmp_path, uf="XX")
    with pytest.raises(ValueError, match="ambiente"):
        SefazEmulator(tmp_path, ambiente=3)


def test_a_client_holding_only_the_pkcs12_talks_soap_with_urllib(tmp_path: Path) -> None:
    # Given only what `nfe sefaz` prints: the PKCS#12, its password and the CA file
    with sefaz_env.running_emulator() as emulator:
        emitente = emulator.pki.emitente
        key, cert, _ = pkcs12.load_key_and_certificates(emitente.p12.read_bytes(), emitente.password.encode())
        assert key is not None and cert is not None
        pem = tmp_path / "client.pem"
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            + cert.public_bytes(serialization.Encoding.PEM)
        )
        context = ssl.create_default_context(cafile=str(emulator.pki.ca_cert))
        context.load_cert_chain(str(pem))
        # When it posts a SOAP 1.2 consStatServ with urllib
        body = h.SoapClient(emulator.url, emulator.pki).envelope("NFeStatusServico4", h.cons_stat())
        request = urllib.request.Request(  # noqa: S310 - an https URL of our own
            emulator.endpoint("NFeStatusServico4"),
            data=body,
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        )
        with urllib.request.urlopen(request, context=context, timeout=5) as response:  # noqa: S310 - https only
            answer = etree.fromstring(response.read())
        # Then the service answers 107
        ret = answer.find(f"{{{h.SOAP12}}}Body/{{{h.WSDL}NFeStatusServico4}}nfeResultMsg/{{{h.NFE}}}retConsStatServ")
        assert ret is not None and h.text(ret, "n:cStat") == "107"
