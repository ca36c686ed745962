"""Signing NF-e documents (enveloped XMLDSig, the NF-e profile) and the nfeProc, without nfelib.

Split from `xml` so the SEFAZ function signs and assembles the nfeProc without importing nfelib's
bindings (about 170 ms of its cold start); `xml` re-exports everything here. Imports lxml, and
erpbrasil.assinatura (signxml) on first signature.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from lxml import etree

__all__ = ["DS_NS", "NFE_NS", "VERSAO", "Assinador", "CertificadoInvalido", "nfe_proc", "sign"]

NFE_NS = "http://www.portalfiscal.inf.br/nfe"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
VERSAO = "4.00"


def _parser() -> etree.XMLParser:
    # No entities, no network: the XML may come from outside (SEFAZ's answers, the archive). A parser
    # per call, since lxml parser objects must not be shared between threads (local mode runs some).
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


class CertificadoInvalido(ValueError):
    """The PKCS#12 could not be opened (wrong password, not a PKCS#12) or its certificate has expired."""


class Assinador:
    """The emitente's A1 certificate, opened once, signing NF-e.

    Opening a PKCS#12 runs its password's key derivation, most of the cost of a signature (about 34 ms
    of CPU for the tests' certificate, against under 1 ms for the signature itself); a warm SEFAZ
    function keeps one Assinador.
    """

    def __init__(self, pkcs12: bytes, password: str, aberto: tuple[Any, Any, Any] | None = None) -> None:
        """`aberto`: the same PKCS#12 already opened (key, certificate, chain), as the SEFAZ function's
        certificate loader keeps it: erpbrasil's Certificado then skips the key derivation (~30 ms)."""
        from erpbrasil.assinatura.certificado import Certificado
        from erpbrasil.assinatura.excecoes import CertificadoExpirado, CertificadoSenhaInvalida

        class _JaAberto(Certificado):  # type: ignore[misc]
            def _load_key_and_certificates(self) -> Any:
                return aberto or super()._load_key_and_certificates()

        try:
            # Certificado takes a path or base64 bytes; base64 keeps DER bytes from being read as a path.
            self._certificado = _JaAberto(arquivo=base64.b64encode(pkcs12), senha=password)
        except (CertificadoSenhaInvalida, CertificadoExpirado) as error:
            raise CertificadoInvalido(str(error)) from error

    @property
    def expira_em(self) -> datetime:
        expires: datetime = self._certificado.fim_validade
        return expires

    def sign(self, xml: str) -> str:
        """See `sign`."""
        return self.sign_element(xml, "NFe", "infNFe")

    def sign_element(self, xml: str, root_tag: str, signed_tag: str) -> str:
        """`xml`, a `root_tag` whose child `signed_tag` has an Id (both in the NF-e namespace), with that
        child signed in the profile `sign` describes and the Signature as the root's last child.

        The schemas of the evento (infEvento) and of the inutNFe (infInut) fix the same Signature as the
        NF-e's, so one signer serves the three.
        """
        from erpbrasil.assinatura.assinatura import Assinatura

        root = etree.fromstring(xml.encode(), _parser())
        inf = root.find(f"{{{NFE_NS}}}{signed_tag}")
        if root.tag != f"{{{NFE_NS}}}{root_tag}" or inf is None or not inf.get("Id"):
            raise ValueError(f"sign expects an {root_tag} whose {signed_tag} has an Id")
        if root.find(f"{{{DS_NS}}}Signature") is not None:
            raise ValueError(f"the {root_tag} is already signed")
        if datetime.now(UTC) > self.expira_em:
            raise CertificadoInvalido("Certificado Expirado: the certificate expired after it was opened")
        signed_text = Assinatura(self._certificado).assina_xml2(root, inf.get("Id"))
        signed = etree.fromstring(signed_text.encode(), _parser())
        # signxml wraps SignatureValue and X509Certificate at 64 columns. Neither is inside SignedInfo,
        # and base64 ignores line breaks, so removing them changes no signed byte while sparing SEFAZ's
        # check for edit characters in the message (588).
        for tag in ("SignatureValue", "X509Certificate"):
            for element in signed.iter(f"{{{DS_NS}}}{tag}"):
                element.text = "".join((element.text or "").split())
        return etree.tostring(signed, encoding=str)


def sign(xml: str, pkcs12: bytes, password: str) -> str:
    """The NF-e signed with the emitente's A1 certificate (PKCS#12 DER bytes and its password).

    Enveloped XMLDSig as the NF-e schema fixes it: C14N 1.0, RSA-SHA1, SHA-1, the enveloped-signature
    and C14N transforms, Reference #NFe<chave>, the certificate in KeyInfo, Signature in the default
    namespace (no ds: prefix) as NFe's last child. erpbrasil.assinatura is called directly rather than
    through nfelib's sign_xml, which prefers the CERT_FILE/CERT_PASSWORD environment to its arguments.
    Opens the PKCS#12 on every call; keep an `Assinador` to sign many.
    """
    return Assinador(pkcs12, password).sign(xml)


def nfe_proc(signed_nfe_xml: str, prot_nfe_xml: str) -> str:
    """nfeProc (versao 4.00): the signed NFe and SEFAZ's protNFe, as the archive and the DANFE want them.

    Put together with lxml, not through the bindings: re-serializing the signed NFe could change the
    bytes the signature covers.
    """
    nfe = etree.fromstring(signed_nfe_xml.encode(), _parser())
    prot = etree.fromstring(prot_nfe_xml.encode(), _parser())
    if nfe.tag != f"{{{NFE_NS}}}NFe" or nfe.find(f"{{{DS_NS}}}Signature") is None:
        raise ValueError("nfe_proc expects a signed NFe")
    if prot.tag != f"{{{NFE_NS}}}protNFe":
        raise ValueError("nfe_proc expects a protNFe")
    inf = nfe.find(f"{{{NFE_NS}}}infNFe")
    ch_nfe = prot.findtext(f"{{{NFE_NS}}}infProt/{{{NFE_NS}}}chNFe")
    if inf is None or inf.get("Id") != f"NFe{ch_nfe}":
        raise ValueError("the protNFe's chNFe is not this NFe's chave")
    proc = etree.Element(f"{{{NFE_NS}}}nfeProc", {"versao": VERSAO}, nsmap={None: NFE_NS})
    proc.append(nfe)
    proc.append(prot)
    etree.cleanup_namespaces(proc)
    return etree.tostring(proc, encoding=str)
