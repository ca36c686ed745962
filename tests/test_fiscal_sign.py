"""Signing: the NF-e profile of XMLDSig, verified by libxmlsec1 (python-xmlsec), independently of the signer."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
import xmlsec
from lxml import etree
from nfelib.nfe.bindings.v4_0.nfe_v4_00 import Nfe

from functions.fiscal.xml import DS_NS, NFE_NS, Assinador, CertificadoInvalido, nfe_proc, sign, to_xml, validate
from tests.helpers.fiscal_certs import certificate
from tests.helpers.fiscal_notas import nota, prot_nfe

C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
NS = {"n": NFE_NS, "ds": DS_NS}


def _verify(xml: str, cert_pem: bytes) -> None:
    """Raise xmlsec.Error unless the (first) Signature verifies with this certificate's key."""
    root = etree.fromstring(xml.encode())
    xmlsec.tree.add_ids(root, ["Id"])
    node = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
    assert node is not None
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    ctx.verify(node)


@pytest.fixture(scope="module")
def signed() -> str:
    cert = certificate()
    return sign(to_xml(nota()), cert.pkcs12, cert.password)


def test_libxmlsec1_verifies_the_signature(signed: str) -> None:
    _verify(signed, certificate().cert_pem)


def test_one_byte_of_vnf_changed_breaks_it(signed: str) -> None:
    # Given the signed XML / When one byte of vNF changes (315.30 -> 315.31)
    assert signed.count("<vNF>315.30</vNF>") == 1
    tampered = signed.replace("<vNF>315.30</vNF>", "<vNF>315.31</vNF>")
    # Then libxmlsec1 refuses it
    with pytest.raises(xmlsec.Error):
        _verify(tampered, certificate().cert_pem)


def test_another_key_does_not_verify(signed: str) -> None:
    with pytest.raises(xmlsec.Error):
        _verify(signed, certificate("11444777000161").cert_pem)


def test_the_signature_has_the_nfe_profile(signed: str) -> None:
    root = etree.fromstring(signed.encode())
    n = nota()
    # Signature is NFe's last child, in the default xmldsig namespace: no prefix anywhere.
    assert root[-1].tag == f"{{{DS_NS}}}Signature"
    assert "ds:" not in signed and "xmlns:ds" not in signed
    signed_info = root.find("ds:Signature/ds:SignedInfo", NS)
    assert signed_info is not None

    def algorithm(path: str) -> list[str | None]:
        return [e.get("Algorithm") for e in signed_info.findall(path, NS)]

    assert algorithm("ds:CanonicalizationMethod") == [C14N]
    assert algorithm("ds:SignatureMethod") == [DS_NS + "rsa-sha1"]
    assert algorithm("ds:Reference/ds:Transforms/ds:Transform") == [DS_NS + "enveloped-signature", C14N]
    assert algorithm("ds:Reference/ds:DigestMethod") == [DS_NS + "sha1"]
    assert [r.get("URI") for r in signed_info.findall("ds:Reference", NS)] == ["#NFe" + n.chave]
    certs = root.findall("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert len(certs) == 1
    # The certificate is the signer's (DER equal), written without line breaks.
    der = base64.b64decode(certs[0].text or "")
    from cryptography import x509

    assert x509.load_der_x509_certificate(der) == x509.load_pem_x509_certificate(certificate().cert_pem)
    assert "\n" not in signed


def test_the_digest_is_sha1_of_the_canonical_infnfe(signed: str) -> None:
    # A second, library-free look at the digest: C14N 1.0 of infNFe (the enveloped transform removes
    # nothing there, Signature being its sibling), serialized from a fresh document rooted at infNFe
    # so no subtree-c14n quirk applies.
    root = etree.fromstring(signed.encode())
    inf = root.find("n:infNFe", NS)
    assert inf is not None
    canonical = etree.tostring(etree.ElementTree(etree.fromstring(etree.tostring(inf))), method="c14n")
    digest = base64.b64encode(hashlib.sha1(canonical).digest()).decode()  # noqa: S324 - the NF-e fixes SHA-1
    assert root.findtext("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", namespaces=NS) == digest


def test_signed_xml_is_schema_valid_as_it_is(signed: str) -> None:
    assert validate(signed) == []
    # nfelib's own validation (no placeholder involved): nothing missing once signed.
    assert Nfe.schema_validation(signed) == []


def test_signing_is_deterministic() -> None:
    cert = certificate()
    xml = to_xml(nota())
    assert sign(xml, cert.pkcs12, cert.password) == sign(xml, cert.pkcs12, cert.password)


def test_environment_certificate_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # nfelib's sign_xml prefers CERT_FILE/CERT_PASSWORD to its arguments; sign() must not.
    monkeypatch.setenv("CERT_FILE", "/nonexistent/cert.pfx")
    monkeypatch.setenv("CERT_PASSWORD", "wrong")
    cert = certificate()
    _verify(sign(to_xml(nota()), cert.pkcs12, cert.password), cert.cert_pem)


def test_bad_certificates_are_refused() -> None:
    cert = certificate()
    xml = to_xml(nota())
    with pytest.raises(CertificadoInvalido):
        sign(xml, cert.pkcs12, "not-the-password")
    expired = certificate(expired=True)
    with pytest.raises(CertificadoInvalido, match="Expirado"):
        sign(xml, expired.pkcs12, expired.password)
    with pytest.raises(ValueError, match="already signed"):
        sign(sign(xml, cert.pkcs12, cert.password), cert.pkcs12, cert.password)


def test_nfe_proc_is_valid_and_keeps_the_signature(signed: str) -> None:
    chave = nota().chave
    digest = etree.fromstring(signed.encode()).findtext(".//ds:DigestValue", namespaces=NS) or ""
    proc = nfe_proc(signed, prot_nfe(chave, digest))
    assert validate(proc) == []
    root = etree.fromstring(proc.encode())
    assert root.tag == f"{{{NFE_NS}}}nfeProc" and root.get("versao") == "4.00"
    assert [child.tag for child in root] == [f"{{{NFE_NS}}}NFe", f"{{{NFE_NS}}}protNFe"]
    assert root.findtext("n:protNFe/n:infProt/n:digVal", namespaces=NS) == digest
    _verify(proc, certificate().cert_pem)


def test_nfe_proc_refuses_a_protocol_of_another_nfe(signed: str) -> None:
    other = "42210775277525000178550030000266631762885493"
    with pytest.raises(ValueError, match="chNFe is not this NFe's chave"):
        nfe_proc(signed, prot_nfe(other, base64.b64encode(bytes(20)).decode()))
    with pytest.raises(ValueError, match="signed NFe"):
        nfe_proc(to_xml(nota()), prot_nfe(nota().chave, base64.b64encode(bytes(20)).decode()))


def test_an_assinador_signs_many_with_one_opened_certificate() -> None:
    cert = certificate()
    assinador = Assinador(cert.pkcs12, cert.password)
    for numero in (7, 8):
        xml = to_xml(nota(numero=numero))
        signed = assinador.sign(xml)
        _verify(signed, cert.cert_pem)
        assert signed == sign(xml, cert.pkcs12, cert.password)
    assert assinador.expira_em > datetime.now(UTC)
