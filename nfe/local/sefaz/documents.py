"""What the rules read from each message, taken out of the XML once (after the schema passed)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from nfe.local.sefaz import signature

NFE = "http://www.portalfiscal.inf.br/nfe"
_NS = {"n": NFE}


def q(tag: str) -> str:
    return f"{{{NFE}}}{tag}"


def value(element: etree._Element, path: str) -> str:
    found = element.find(path, _NS)
    return "" if found is None or found.text is None else found.text.strip()


def decimal(element: etree._Element, path: str) -> Decimal:
    try:
        return Decimal(value(element, path) or "0")
    except InvalidOperation:
        return Decimal(0)


def moment(text: str) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@dataclass
class NFeFacts:
    element: etree._Element  # the NFe
    id: str
    chave: str
    cuf: str
    cnf: str
    mod: str
    serie: str
    nnf: str
    dh_emi: str
    tp_emis: str
    cdv: str
    tp_amb: str
    emit_cnpj: str
    emit_cpf: str
    dest_cnpj: str
    dest_cpf: str
    dest_xnome: str
    has_dest: bool
    item_vprod: list[Decimal]
    total: dict[str, Decimal]
    digest: str

    @property
    def emitente(self) -> str:
        return self.emit_cnpj or self.emit_cpf.zfill(14)

    @property
    def destinatario(self) -> str:
        return self.dest_cnpj or self.dest_cpf

    @property
    def emitted(self) -> datetime.datetime | None:
        return moment(self.dh_emi)


_TOTALS = [
    "vBC",
    "vICMS",
    "vICMSDeson",
    "vFCP",
    "vBCST",
    "vST",
    "vFCPST",
    "vFCPSTRet",
    "vProd",
    "vFrete",
    "vSeg",
    "vDesc",
    "vII",
    "vIPI",
    "vIPIDevol",
    "vPIS",
    "vCOFINS",
    "vOutro",
    "vNF",
]


def nfe_facts(nfe: etree._Element) -> NFeFacts:
    inf = nfe.find(q("infNFe"))
    assert inf is not None  # the schema requires it
    ident = inf.get("Id", "")
    ide = "n:infNFe/n:ide/n:"
    return NFeFacts(
        element=nfe,
        id=ident,
        chave=ident[3:],
        cuf=value(nfe, ide + "cUF"),
        cnf=value(nfe, ide + "cNF"),
        mod=value(nfe, ide + "mod"),
        serie=value(nfe, ide + "serie"),
        nnf=value(nfe, ide + "nNF"),
        dh_emi=value(nfe, ide + "dhEmi"),
        tp_emis=value(nfe, ide + "tpEmis"),
        cdv=value(nfe, ide + "cDV"),
        tp_amb=value(nfe, ide + "tpAmb"),
        emit_cnpj=value(nfe, "n:infNFe/n:emit/n:CNPJ"),
        emit_cpf=value(nfe, "n:infNFe/n:emit/n:CPF"),
        dest_cnpj=value(nfe, "n:infNFe/n:dest/n:CNPJ"),
        dest_cpf=value(nfe, "n:infNFe/n:dest/n:CPF"),
        dest_xnome=value(nfe, "n:infNFe/n:dest/n:xNome"),
        has_dest=nfe.find("n:infNFe/n:dest", _NS) is not None,
        item_vprod=[decimal(det, "n:prod/n:vProd") for det in nfe.iterfind("n:infNFe/n:det", _NS)],
        total={name: decimal(nfe, f"n:infNFe/n:total/n:ICMSTot/n:{name}") for name in _TOTALS},
        digest=signature.digest_value(nfe) or "",
    )


@dataclass
class EventoFacts:
    element: etree._Element  # the evento
    id: str
    corgao: str
    tp_amb: str
    cnpj: str
    cpf: str
    chave: str
    dh_evento: str
    tp_evento: str
    n_seq_evento: str
    ver_evento: str
    nprot: str
    x_just: str

    @property
    def autor(self) -> str:
        return self.cnpj or self.cpf.zfill(14)


def evento_facts(evento: etree._Element) -> EventoFacts:
    inf = evento.find(q("infEvento"))
    assert inf is not None
    base = "n:infEvento/n:"
    return EventoFacts(
        element=evento,
        id=inf.get("Id", ""),
        corgao=value(evento, base + "cOrgao"),
        tp_amb=value(evento, base + "tpAmb"),
        cnpj=value(evento, base + "CNPJ"),
        cpf=value(evento, base + "CPF"),
        chave=value(evento, base + "chNFe"),
        dh_evento=value(evento, base + "dhEvento"),
        tp_evento=value(evento, base + "tpEvento"),
        n_seq_evento=value(evento, base + "nSeqEvento"),
        ver_evento=value(evento, base + "verEvento"),
        nprot=value(evento, base + "detEvento/n:nProt"),
        x_just=value(evento, base + "detEvento/n:xJust"),
    )


@dataclass
class InutFacts:
    element: etree._Element  # the inutNFe
    id: str
    tp_amb: str
    cuf: str
    ano: str
    cnpj: str
    mod: str
    serie: str
    ini: int
    fin: int
    x_just: str


def inut_facts(inut: etree._Element) -> InutFacts:
    inf = inut.find(q("infInut"))
    assert inf is not None
    base = "n:infInut/n:"
    return InutFacts(
        element=inut,
        id=inf.get("Id", ""),
        tp_amb=value(inut, base + "tpAmb"),
        cuf=value(inut, base + "cUF"),
        ano=value(inut, base + "ano"),
        cnpj=value(inut, base + "CNPJ"),
        mod=value(inut, base + "mod"),
        serie=value(inut, base + "serie"),
        ini=int(value(inut, base + "nNFIni") or 0),
        fin=int(value(inut, base + "nNFFin") or 0),
        x_just=value(inut, base + "xJust"),
    )
