"""For tests of functions/sefaz: signed notas the emulator accepts, a transmissor that records and injects
faults around the real client, canned SEFAZ answers, and an xmlsec check of an nfeProc's signature.

The notas come from tests/helpers/fiscal_notas.py (the fiscal core's own builder) with the emulator's
emitente (CNPJ 11222333000181, SP, homologação), a fresh número and cNF, and dhEmi a minute before the
emulator's clock; they are signed with functions.fiscal.xml.Assinador and the emulator's client PKCS#12.
"""

from __future__ import annotations

import base64
import datetime
import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from functions.fiscal.chave import gerar_cnf
from functions.fiscal.model import NotaFiscal
from functions.fiscal.xml import Assinador, to_xml
from functions.sefaz.client import SefazClient
from functions.sefaz.outcome import NFE_NS, SefazTimeout
from nfe.local.sefaz import SefazEmulator
from tests.helpers import fiscal_notas

BRT = datetime.timezone(datetime.timedelta(hours=-3))
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
_numeros = itertools.count(1000)


@functools.cache
def _assinador(p12: str, password: str) -> Assinador:
    return Assinador(Path(p12).read_bytes(), password)


@dataclass(frozen=True)
class Assinada:
    nota: NotaFiscal
    xml: str

    @property
    def chave(self) -> str:
        return self.nota.chave


def nota_assinada(emulator: SefazEmulator, *, numero: int | None = None, **overrides: object) -> Assinada:
    """A NotaFiscal for the emulator's emitente, signed with its certificate."""
    info = emulator.info()
    assert info["cnpj"] == "11222333000181" and info["uf"] == "SP" and info["tpAmb"] == "2"
    numero = numero if numero is not None else next(_numeros)
    when = emulator.now().astimezone(BRT).replace(microsecond=0) - datetime.timedelta(minutes=1)
    values: dict[str, object] = {"numero": numero, "cnf": gerar_cnf(numero), "dhEmi": when.isoformat()}
    values.update(overrides)
    nota = fiscal_notas.nota(**values)
    return Assinada(nota, _assinador(info["clientPkcs12"], info["clientPassword"]).sign(to_xml(nota)))


def client_for(emulator: SefazEmulator, **options: object) -> SefazClient:
    info = emulator.info()
    options.setdefault("ca_file", info["caFile"])
    options.setdefault("pkcs12", Path(info["clientPkcs12"]).read_bytes())
    options.setdefault("password", info["clientPassword"])
    return SefazClient.para(uf="SP", ambiente=2, base_url=info["url"], **options)  # type: ignore[arg-type]


@dataclass
class Gravador:
    """A Transmissor around another that records each call and can fail chosen ones.

    `falhas` maps a call's ordinal among its kind ("autorizar", 1) to what happens instead:
    "timeout-antes" raises SefazTimeout without calling (the request never arrived), "timeout-depois"
    calls and then raises SefazTimeout (SEFAZ processed it, the answer was lost).
    """

    inner: object
    falhas: dict[tuple[str, int], str] = field(default_factory=dict)
    chamadas: list[str] = field(default_factory=list)

    def _call(self, kind: str, action: Callable[[], etree._Element]) -> etree._Element:
        self.chamadas.append(kind)
        falha = self.falhas.get((kind, self.chamadas.count(kind)))
        if falha == "timeout-antes":
            raise SefazTimeout(f"injected: {kind} timed out before reaching SEFAZ")
        answer = action()
        if falha == "timeout-depois":
            raise SefazTimeout(f"injected: {kind} reached SEFAZ, its answer was lost")
        return answer

    def autorizar(self, signed_nfe_xml: str, id_lote: str) -> etree._Element:
        return self._call("autorizar", lambda: self.inner.autorizar(signed_nfe_xml, id_lote))  # type: ignore[attr-defined]

    def consultar(self, chave: str) -> etree._Element:
        return self._call("consultar", lambda: self.inner.consultar(chave))  # type: ignore[attr-defined]


# ---- canned answers, for the flow's unit tests ---------------------------------------------------------


def _el(parent: etree._Element | None, tag: str, text: str | None = None) -> etree._Element:
    element = (
        etree.Element(f"{{{NFE_NS}}}{tag}", nsmap={None: NFE_NS})
        if parent is None
        else etree.SubElement(parent, f"{{{NFE_NS}}}{tag}")
    )
    element.text = text
    return element


def prot_nfe(parent: etree._Element | None, chave: str, c_stat: int, n_prot: str | None = None) -> etree._Element:
    prot = _el(parent, "protNFe")
    prot.set("versao", "4.00")
    inf = _el(prot, "infProt")
    _el(inf, "tpAmb", "2")
    _el(inf, "verAplic", "TESTE")
    _el(inf, "chNFe", chave)
    _el(inf, "dhRecbto", "2026-12-06T10:30:05-03:00")
    if n_prot is not None:
        _el(inf, "nProt", n_prot)
        _el(inf, "digVal", base64.b64encode(bytes(20)).decode())
    _el(inf, "cStat", str(c_stat))
    _el(inf, "xMotivo", f"motivo {c_stat}")
    return prot


def ret_envi_nfe(chave: str, c_stat: int, *, lote_c_stat: int = 104, n_prot: str | None = None) -> etree._Element:
    ret = _el(None, "retEnviNFe")
    ret.set("versao", "4.00")
    for tag, text in (("tpAmb", "2"), ("verAplic", "TESTE"), ("cStat", str(lote_c_stat))):
        _el(ret, tag, text)
    _el(ret, "xMotivo", f"lote {lote_c_stat}")
    _el(ret, "cUF", "35")
    if lote_c_stat == 104:
        prot_nfe(ret, chave, c_stat, n_prot)
    return ret


def ret_cons_sit(
    chave: str, c_stat: int, *, n_prot: str | None = None, prot_c_stat: int | None = None
) -> etree._Element:
    ret = _el(None, "retConsSitNFe")
    ret.set("versao", "4.00")
    for tag, text in (("tpAmb", "2"), ("verAplic", "TESTE"), ("cStat", str(c_stat))):
        _el(ret, tag, text)
    _el(ret, "xMotivo", f"situação {c_stat}")
    _el(ret, "cUF", "35")
    _el(ret, "dhRecbto", "2026-12-06T10:31:00-03:00")
    _el(ret, "chNFe", chave)
    if n_prot is not None:
        prot_nfe(ret, chave, prot_c_stat or c_stat, n_prot)
    return ret


@dataclass
class Roteiro:
    """A Transmissor that plays canned answers (or raises) in order, per kind, and records the calls."""

    autorizacoes: list[etree._Element | Exception]
    consultas: list[etree._Element | Exception]
    chamadas: list[str] = field(default_factory=list)

    def _next(self, kind: str, queue: list[etree._Element | Exception]) -> etree._Element:
        self.chamadas.append(kind)
        assert queue, f"unexpected {kind} (calls so far: {self.chamadas})"
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def autorizar(self, signed_nfe_xml: str, id_lote: str) -> etree._Element:
        return self._next("autorizar", self.autorizacoes)

    def consultar(self, chave: str) -> etree._Element:
        return self._next("consultar", self.consultas)


# ---- signature ----------------------------------------------------------------------------------------


def xmlsec_verifica(nfe_proc_xml: str) -> bool:
    """libxmlsec1 (python-xmlsec) verifies the NFe's signature inside an nfeProc with the certificate
    in its KeyInfo: the NFe is taken out into a document of its own, as SEFAZ checks it."""
    proc = etree.fromstring(nfe_proc_xml.encode())
    nfe = proc.find(f"{{{NFE_NS}}}NFe")
    assert nfe is not None
    document = etree.fromstring(etree.tostring(nfe))
    etree.cleanup_namespaces(document)
    inf = document.find(f"{{{NFE_NS}}}infNFe")
    signature = document.find(f"{{{DS_NS}}}Signature")
    assert inf is not None and signature is not None
    xmlsec.tree.add_ids(document, ["Id"])
    der = base64.b64decode("".join(signature.findtext(f".//{{{DS_NS}}}X509Certificate", "").split()))
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
    try:
        context.verify(signature)
    except xmlsec.Error:
        return False
    return True
