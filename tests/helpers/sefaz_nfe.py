"""Signed NF-e, events and inutilizações for the emulated SEFAZ's tests, and a mutual-TLS SOAP client.

Built from tests/fixtures/sefaz/nfe.xml (reference/nfe.md §5.1) and signed as nfelib's sign_xml signs
(erpbrasil.assinatura: C14N 1.0, RSA-SHA1, SHA-1, two transforms, no prefix). Nothing here comes from
functions/ or from the emulator: the chave's DV is computed again below, so a wrong DV in the emulator
cannot hide behind the same wrong DV in the fixture.
"""

from __future__ import annotations

import base64
import copy
import datetime
import functools
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from erpbrasil.assinatura.assinatura import Assinatura
from erpbrasil.assinatura.certificado import Certificado
from lxml import etree

from nfe.local.sefaz.pki import Emitente, Pki

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sefaz" / "nfe.xml"
NFE = "http://www.portalfiscal.inf.br/nfe"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSDL = "http://www.portalfiscal.inf.br/nfe/wsdl/"
HOMOLOGACAO = "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL"
BRT = datetime.timezone(datetime.timedelta(hours=-3))
_TEMPLATE = etree.parse(str(FIXTURE), etree.XMLParser(remove_comments=True)).getroot()


def q(tag: str) -> str:
    return f"{{{NFE}}}{tag}"


def dv(first43: str) -> int:
    total, weight = 0, 2
    for char in reversed(first43):
        total += (ord(char) - 48) * weight
        weight = 2 if weight == 9 else weight + 1
    rest = total % 11
    return 0 if rest < 2 else 11 - rest


def dh(moment: datetime.datetime) -> str:
    return moment.astimezone(BRT).replace(microsecond=0).isoformat()


def random_cnf(nnf: int) -> str:
    while True:
        cnf = f"{secrets.randbelow(10**8):08d}"
        if len(set(cnf)) > 2 and int(cnf) != nnf:
            return cnf


def _set(root: etree._Element, path: str, value: str) -> None:
    element = root.find(path, {"n": NFE})
    assert element is not None, path
    element.text = value


@dataclass
class Nota:
    element: etree._Element  # the NFe, unsigned
    chave: str

    def signed(self, emitente: Emitente) -> etree._Element:
        return sign(self.element, emitente, f"NFe{self.chave}")


def build_nfe(
    *,
    nnf: int,
    when: datetime.datetime,
    serie: int = 1,
    cnpj: str = "11222333000181",
    cuf: str = "35",
    tp_amb: str = "2",
    cnf: str | None = None,
    dest_cpf: str | None = "52998224725",
    dest_cnpj: str | None = None,
    dest_name: str = HOMOLOGACAO,
    cdv: int | None = None,
    chave_id: str | None = None,
    edit: Callable[[etree._Element], None] | None = None,
) -> Nota:
    """An NF-e whose chave is the concatenation of its fields (cdv/chave_id break that on purpose)."""
    root = copy.deepcopy(_TEMPLATE)
    cnf = cnf or random_cnf(nnf)
    _set(root, "n:infNFe/n:ide/n:cUF", cuf)
    _set(root, "n:infNFe/n:ide/n:cNF", cnf)
    _set(root, "n:infNFe/n:ide/n:serie", str(serie))
    _set(root, "n:infNFe/n:ide/n:nNF", str(nnf))
    _set(root, "n:infNFe/n:ide/n:dhEmi", dh(when))
    _set(root, "n:infNFe/n:ide/n:tpAmb", tp_amb)
    _set(root, "n:infNFe/n:emit/n:CNPJ", cnpj)
    dest = root.find("n:infNFe/n:dest", {"n": NFE})
    assert dest is not None
    document = dest[0]
    if dest_cnpj is not None:
        document.tag = q("CNPJ")
        document.text = dest_cnpj
    elif dest_cpf is not None:
        document.text = dest_cpf
    _set(root, "n:infNFe/n:dest/n:xNome", dest_name)
    aamm = dh(when)[2:4] + dh(when)[5:7]
    first43 = f"{cuf}{aamm}{cnpj}55{serie:03d}{nnf:09d}1{cnf}"
    digit = dv(first43) if cdv is None else cdv
    _set(root, "n:infNFe/n:ide/n:cDV", str(digit))
    chave = chave_id or f"{first43}{digit}"
    infnfe = root.find(q("infNFe"))
    assert infnfe is not None
    infnfe.set("Id", f"NFe{chave}")
    if edit is not None:
        edit(root)
    return Nota(root, chave)


@functools.cache
def _certificado(p12: Path, password: str) -> Certificado:
    # Opening a PKCS#12 costs a key derivation; nfelib's sign_xml does it on every call.
    return Certificado(base64.b64encode(p12.read_bytes()), password)


def sign(element: etree._Element, emitente: Emitente, doc_id: str) -> etree._Element:
    """Sign as nfelib's sign_xml does (erpbrasil.assinatura's assina_xml2), with the A1 opened once."""
    # nfelib prefers CERT_FILE / CERT_PASSWORD from the environment to its arguments: keep them unset.
    assert "CERT_FILE" not in os.environ and "CERT_PASSWORD" not in os.environ
    document = etree.fromstring(etree.tostring(element))
    signed = Assinatura(_certificado(emitente.p12, emitente.password)).assina_xml2(document, doc_id)
    return etree.fromstring(signed.encode() if isinstance(signed, str) else signed)


def envi_nfe(*nfes: etree._Element, ind_sinc: str = "1", id_lote: str = "1") -> etree._Element:
    envi = etree.Element(q("enviNFe"), nsmap={None: NFE}, versao="4.00")
    etree.SubElement(envi, q("idLote")).text = id_lote
    etree.SubElement(envi, q("indSinc")).text = ind_sinc
    for nfe in nfes:
        envi.append(copy.deepcopy(nfe))
    return envi


def cons_sit(chave: str, tp_amb: str = "2") -> etree._Element:
    cons = etree.Element(q("consSitNFe"), nsmap={None: NFE}, versao="4.00")
    etree.SubElement(cons, q("tpAmb")).text = tp_amb
    etree.SubElement(cons, q("xServ")).text = "CONSULTAR"
    etree.SubElement(cons, q("chNFe")).text = chave
    return cons


def cons_stat(cuf: str = "35", tp_amb: str = "2") -> etree._Element:
    cons = etree.Element(q("consStatServ"), nsmap={None: NFE}, versao="4.00")
    etree.SubElement(cons, q("tpAmb")).text = tp_amb
    etree.SubElement(cons, q("cUF")).text = cuf
    etree.SubElement(cons, q("xServ")).text = "STATUS"
    return cons


def cancelamento(
    emitente: Emitente,
    *,
    chave: str,
    nprot: str,
    when: datetime.datetime,
    cnpj: str | None = None,
    seq: int = 1,
    xjust: str = "Pedido cancelado pelo cliente antes do envio",
    tp_amb: str = "2",
    corgao: str = "35",
    event_id: str | None = None,
) -> etree._Element:
    """An envEvento with one signed cancelamento (110111)."""
    evento = etree.Element(q("evento"), nsmap={None: NFE}, versao="1.00")
    ident = event_id or f"ID110111{chave}{seq:02d}"
    inf = etree.SubElement(evento, q("infEvento"), Id=ident)
    for tag, value in (
        ("cOrgao", corgao),
        ("tpAmb", tp_amb),
        ("CNPJ", cnpj or emitente.cnpj),
        ("chNFe", chave),
        ("dhEvento", dh(when)),
        ("tpEvento", "110111"),
        ("nSeqEvento", str(seq)),
        ("verEvento", "1.00"),
    ):
        etree.SubElement(inf, q(tag)).text = value
    det = etree.SubElement(inf, q("detEvento"), versao="1.00")
    etree.SubElement(det, q("descEvento")).text = "Cancelamento"
    etree.SubElement(det, q("nProt")).text = nprot
    etree.SubElement(det, q("xJust")).text = xjust
    signed = sign(evento, emitente, ident)
    env = etree.Element(q("envEvento"), nsmap={None: NFE}, versao="1.00")
    etree.SubElement(env, q("idLote")).text = "1"
    env.append(signed)
    return env


def inutilizacao(
    emitente: Emitente,
    *,
    ano: int,
    serie: int,
    ini: int,
    fin: int,
    cnpj: str | None = None,
    xjust: str = "Numeros nao utilizados por falha do sistema",
    tp_amb: str = "2",
    cuf: str = "35",
    inut_id: str | None = None,
) -> etree._Element:
    cnpj = cnpj or emitente.cnpj
    ident = inut_id or f"ID{cuf}{ano:02d}{cnpj}55{serie:03d}{ini:09d}{fin:09d}"
    inut = etree.Element(q("inutNFe"), nsmap={None: NFE}, versao="4.00")
    inf = etree.SubElement(inut, q("infInut"), Id=ident)
    for tag, value in (
        ("tpAmb", tp_amb),
        ("xServ", "INUTILIZAR"),
        ("cUF", cuf),
        ("ano", f"{ano:02d}"),
        ("CNPJ", cnpj),
        ("mod", "55"),
        ("serie", str(serie)),
        ("nNFIni", str(ini)),
        ("nNFFin", str(fin)),
        ("xJust", xjust),
    ):
        etree.SubElement(inf, q(tag)).text = value
    return sign(inut, emitente, ident)


class SoapClient:
    """SOAP 1.2 over HTTPS with the emitente's certificate, as a SEFAZ participant talks."""

    def __init__(self, url: str, pki: Pki, emitente: Emitente | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.pki = pki
        self.emitente = emitente or pki.emitente
        self.timeout = timeout
        self.session = requests.Session()
        # REQUESTS_CA_BUNDLE in the environment would otherwise replace session.verify (requests #3829).
        self.session.trust_env = False
        self.session.cert = (str(self.emitente.cert_pem), str(self.emitente.key_pem))
        self.session.verify = str(pki.ca_cert)

    def envelope(self, service: str, body: etree._Element) -> bytes:
        env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"soap": SOAP12})
        soap_body = etree.SubElement(env, f"{{{SOAP12}}}Body")
        dados = etree.SubElement(soap_body, f"{{{WSDL}{service}}}nfeDadosMsg", nsmap={None: f"{WSDL}{service}"})
        dados.append(copy.deepcopy(body))
        return etree.tostring(env, xml_declaration=True, encoding="UTF-8")

    def raw(self, service: str, data: bytes, timeout: float | None = None) -> requests.Response:
        return self.session.post(
            f"{self.url}/ws/{service}",
            data=data,
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
            timeout=timeout or self.timeout,
        )

    def call(self, service: str, body: etree._Element, timeout: float | None = None) -> etree._Element:
        """The answer inside nfeResultMsg (retEnviNFe, retConsSitNFe, ...)."""
        response = self.raw(service, self.envelope(service, body), timeout)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/soap+xml")
        envelope = etree.fromstring(response.content)
        result = envelope.find(f"{{{SOAP12}}}Body/{{{WSDL}{service}}}nfeResultMsg")
        assert result is not None, response.text
        return result[0]


def text(element: etree._Element, path: str) -> str:
    found = element.find(path.replace("n:", f"{{{NFE}}}"))
    assert found is not None and found.text is not None, (path, etree.tostring(element))
    return found.text


def cstat(element: etree._Element) -> str:
    """The most specific cStat: the NF-e's or event's when the answer has one, else the lote's.
    A consulta's own cStat is the situation (101 for a cancelled NF-e whose protNFe still says 100)."""
    if etree.QName(element).localname == "retConsSitNFe":
        return text(element, "n:cStat")
    for path in ("n:protNFe/n:infProt/n:cStat", "n:retEvento/n:infEvento/n:cStat", "n:infInut/n:cStat", "n:cStat"):
        found = element.find(path.replace("n:", f"{{{NFE}}}"))
        if found is not None and found.text:
            return found.text
    raise AssertionError(etree.tostring(element))
