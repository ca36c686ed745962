"""XMLDSig as SEFAZ checks it: the NF-e profile (298), the digest and value by libxmlsec1 (297), the signer.

Verification uses python-xmlsec, never the signing library: a signer checked by its own verifier
would prove nothing (and signxml's verifier has refused valid NF-e signatures: signxml #275).
"""

from __future__ import annotations

import base64

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
RSA_SHA1 = f"{DS}rsa-sha1"
SHA1 = f"{DS}sha1"
ENVELOPED = f"{DS}enveloped-signature"
_NS = {"ds": DS}


def standalone(element: etree._Element) -> etree._Element:
    """`element` as a document of its own, without the declarations of namespaces it does not use
    (lxml copies every namespace in scope, e.g. the SOAP envelope's, into the copy's root)."""
    document = etree.fromstring(etree.tostring(element))
    etree.cleanup_namespaces(document)
    return document


def signature_of(signed: etree._Element) -> etree._Element | None:
    """The Signature that must be the direct child of the signed document (NFe, evento, inutNFe)."""
    found = signed.find(f"{{{DS}}}Signature")
    return found


def profile_errors(signed: etree._Element, reference_id: str) -> str | None:
    """Why the signature is not the NF-e profile (C14N 1.0, RSA-SHA1, SHA-1, the two transforms, one
    Reference to the signed element's Id, one certificate, no prefix), or None when it is."""
    sig = signature_of(signed)
    if sig is None:
        return "Signature ausente"
    for element in sig.iter():
        if isinstance(element.tag, str) and element.prefix is not None:
            return "prefixo de namespace na assinatura"
    algorithms = [
        ("ds:SignedInfo/ds:CanonicalizationMethod/@Algorithm", C14N),
        ("ds:SignedInfo/ds:SignatureMethod/@Algorithm", RSA_SHA1),
    ]
    for path, expected in algorithms:
        if sig.xpath(path, namespaces=_NS) != [expected]:
            return f"{path} deve ser {expected}"
    references = sig.xpath("ds:SignedInfo/ds:Reference", namespaces=_NS)
    if len(references) != 1:
        return "exatamente uma Reference"
    reference = references[0]
    if reference.get("URI") != f"#{reference_id}":
        return f"Reference URI deve ser #{reference_id}"
    transforms = reference.xpath("ds:Transforms/ds:Transform/@Algorithm", namespaces=_NS)
    if transforms != [ENVELOPED, C14N]:
        return "Transforms devem ser enveloped-signature e C14N 1.0"
    if reference.xpath("ds:DigestMethod/@Algorithm", namespaces=_NS) != [SHA1]:
        return "DigestMethod deve ser SHA-1"
    if len(sig.xpath("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=_NS)) != 1:
        return "KeyInfo deve ter um X509Certificate"
    return None


def certificate(signed: etree._Element) -> x509.Certificate | None:
    sig = signature_of(signed)
    if sig is None:
        return None
    texts = sig.xpath("ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()", namespaces=_NS)
    if len(texts) != 1:
        return None
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(str(texts[0]).split())))
    except ValueError:
        return None


def digest_value(signed: etree._Element) -> str | None:
    values = signed.xpath("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue/text()", namespaces=_NS)
    return str(values[0]).strip() if values else None


def verify(signed: etree._Element) -> bool:
    """Digest and SignatureValue checked by libxmlsec1 against the certificate in KeyInfo.

    `signed` is taken out into a document of its own, as SEFAZ does with each NF-e of a lote: the
    inclusive C14N of the signed element must not see the namespaces of the SOAP envelope around it.
    """
    cert = certificate(signed)
    if cert is None:
        return False
    document = standalone(signed)
    sig = signature_of(document)
    if sig is None:
        return False
    xmlsec.tree.add_ids(document, ["Id"])
    pem = cert.public_bytes(serialization.Encoding.PEM)
    try:
        context = xmlsec.SignatureContext()
        context.key = xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
        context.verify(sig)
    except xmlsec.Error:
        return False
    return True
