"""The XML of what follows an authorization: the evento de cancelamento (110111) and the inutilização of
números, built from nfelib's bindings, signed like the NF-e, validated against the schemas nfelib ships,
and wrapped with SEFAZ's answer in procEventoNFe / procInutNFe for the archive.

- Cancelamento (MOC 7.0 §5.9, reference/nfe.md §3.1): envEvento (versao 1.00) with one evento whose
  infEvento has Id "ID" + 110111 + chave + nSeqEvento (2 digits); nSeqEvento is always 1 (594 otherwise),
  so a cancelamento can be registered once and a second one meets 573.
- Inutilização (MOC 7.0 §5.3, reference/nfe.md §2): inutNFe (versao 4.00), infInut Id "ID" + cUF + ano(2)
  + CNPJ + mod + série(3) + nNFIni(9) + nNFFin(9); archived as ProcInutNFe (the schema's capital P).

Schemas: `nfe_evento_cancel/schemas/v1_0` (eventoCancNFe, envEventoCancNFe, procEventoCancNFe, with
detEvento checked again against e110111_v1.00.xsd as SEFAZ checks an event's own schema) and
`nfe/schemas/v4_0` (inutNFe, procInutNFe). The cancelamento schema 1.00 takes numeric CNPJ and chave
only: an alphanumeric CNPJ fails its validation here rather than at SEFAZ.

Heavy (nfelib's bindings and lxml; signing loads erpbrasil.assinatura on first use): the SEFAZ function
imports it, the API never does (`limits` has the checks the API needs).
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path

import nfelib
from lxml import etree
from nfelib.nfe.bindings.v4_0.inut_nfe_v4_00 import InutNfe
from nfelib.nfe.bindings.v4_0.leiaute_inut_nfe_v4_00 import InfInutXServ, TinutNfe
from nfelib.nfe.bindings.v4_0.tipos_basico_v4_00 import Tamb, TcodUfIbge, Tmod
from nfelib.nfe_evento_cancel.bindings.v1_0.evento_canc_nfe_v1_00 import Evento
from nfelib.nfe_evento_cancel.bindings.v1_0.leiaute_evento_canc_nfe_v1_00 import (
    DetEventoDescEvento,
    DetEventoVersao,
    InfEventoTpEvento,
    InfEventoVerEvento,
    Tevento,
)
from nfelib.nfe_evento_cancel.bindings.v1_0.tipos_basico_v1_03 import Tamb as TambEvento
from nfelib.nfe_evento_cancel.bindings.v1_0.tipos_basico_v1_03 import TcorgaoIbge

from functions.fiscal import limits
from functions.fiscal.chave import MODELO_NFE, parse_chave
from functions.fiscal.identifiers import CODIGO_UF, normalizar_cnpj, normalizar_uf
from functions.fiscal.xml import DS_NS, NFE_NS, Assinador, _parser, _placeholder_signature, _serializer

__all__ = [
    "N_SEQ_CANCELAMENTO",
    "PROC_INUT_NFE",
    "TP_EVENTO_CANCELAMENTO",
    "VERSAO_EVENTO",
    "VERSAO_INUTILIZACAO",
    "build_cancelamento",
    "build_inutilizacao",
    "cancelamento_assinado",
    "cancelamento_xml",
    "env_evento",
    "id_evento",
    "id_inutilizacao",
    "inutilizacao_assinada",
    "inutilizacao_xml",
    "proc_evento_nfe",
    "proc_inut_nfe",
    "validate",
]

TP_EVENTO_CANCELAMENTO = "110111"
N_SEQ_CANCELAMENTO = 1  # P15-10: a cancelamento other than 1 is 594
VERSAO_EVENTO = "1.00"
VERSAO_INUTILIZACAO = "4.00"
DESC_CANCELAMENTO = "Cancelamento"
# The root the official procInutNFe_v4.00.xsd declares (see `proc_inut_nfe`).
PROC_INUT_NFE = "ProcInutNFe"

_CANCEL_SCHEMAS = Path(nfelib.__file__).parent / "nfe_evento_cancel" / "schemas" / "v1_0"
_NFE_SCHEMAS = Path(nfelib.__file__).parent / "nfe" / "schemas" / "v4_0"
# Root element -> its schema (the whole document is checked against it).
_SCHEMA_OF = {
    "evento": _CANCEL_SCHEMAS / "eventoCancNFe_v1.00.xsd",
    "envEvento": _CANCEL_SCHEMAS / "envEventoCancNFe_v1.00.xsd",
    "procEventoNFe": _CANCEL_SCHEMAS / "procEventoCancNFe_v1.00.xsd",
    "retEnvEvento": _CANCEL_SCHEMAS / "retEnvEventoCancNFe_v1.00.xsd",
    "inutNFe": _NFE_SCHEMAS / "inutNFe_v4.00.xsd",
    PROC_INUT_NFE: _NFE_SCHEMAS / "procInutNFe_v4.00.xsd",
    "retInutNFe": _NFE_SCHEMAS / "retInutNFe_v4.00.xsd",
}
_DET_EVENTO_SCHEMA = _CANCEL_SCHEMAS / "e110111_v1.00.xsd"
# Unsigned documents are validated with a placeholder Signature after this child (see `validate`).
_SIGNED_CHILD = {"evento": "infEvento", "inutNFe": "infInut"}


def _q(tag: str) -> str:
    return f"{{{NFE_NS}}}{tag}"


# ---- identifiers ----------------------------------------------------------------------------------------


def id_evento(chave: str, tp_evento: str = TP_EVENTO_CANCELAMENTO, n_seq_evento: int = N_SEQ_CANCELAMENTO) -> str:
    """infEvento's Id: "ID" + tpEvento + chave + nSeqEvento in two digits (572 when it does not match)."""
    if not 1 <= n_seq_evento <= 20:
        raise ValueError("nSeqEvento is 1 to 20")
    return f"ID{tp_evento}{parse_chave(chave).chave}{n_seq_evento:02d}"


def id_inutilizacao(*, uf: str, ano: int, cnpj: str, serie: int, de: int, ate: int) -> str:
    """infInut's Id (XSD `ID[0-9]{41}`; 502 when it does not match the fields)."""
    cuf = CODIGO_UF[normalizar_uf(uf)]
    return f"ID{cuf:02d}{_ano2(ano)}{normalizar_cnpj(cnpj)}{MODELO_NFE:02d}{serie:03d}{de:09d}{ate:09d}"


def _ano2(ano: int) -> str:
    # infInut's ano is two digits (TAno); a four-digit year is asked for so that 26 cannot mean 1926.
    if not 2000 <= ano <= 2099:
        raise ValueError("ano is the four-digit year of the números, 2000-2099 (the XML keeps its last two digits)")
    return f"{ano % 100:02d}"


# ---- cancelamento (evento 110111) -------------------------------------------------------------------------


def build_cancelamento(
    *, chave: str, n_prot: str, justificativa: str, ambiente: int, dh_evento: datetime | None = None
) -> Evento:
    """The evento de cancelamento of the NF-e `chave`, unsigned (nfelib's binding).

    cOrgao is the chave's cUF (the authorizer of the emitente's UF), CNPJ the chave's emitente (the author
    must be the emitente: 574), nProt the authorization's protocol (222 when it differs), dhEvento
    `dh_evento` (default now) in the emitente UF's offset, as dhEmi is written.
    """
    parsed = parse_chave(chave)
    if len(n_prot) != 15 or not n_prot.isdigit():
        raise ValueError("nProt (the authorization's protocol) is 15 digits")
    if int(ambiente) not in (1, 2):
        raise ValueError("ambiente must be 1 (produção) or 2 (homologação)")
    when = limits.hora_local(parsed.uf, dh_evento)
    det = Tevento.InfEvento.DetEvento(
        descEvento=DetEventoDescEvento.CANCELAMENTO,
        nProt=n_prot,
        xJust=limits.normalizar_justificativa(justificativa),
        versao=DetEventoVersao.VALUE_1_00,
    )
    inf = Tevento.InfEvento(
        cOrgao=TcorgaoIbge(parsed.cuf),
        tpAmb=TambEvento(str(int(ambiente))),
        CNPJ=parsed.cnpj,
        chNFe=parsed.chave,
        dhEvento=when.isoformat(timespec="seconds"),
        tpEvento=InfEventoTpEvento.VALUE_110111,
        nSeqEvento=str(N_SEQ_CANCELAMENTO),
        verEvento=InfEventoVerEvento.VALUE_1_00,
        detEvento=det,
        Id=id_evento(parsed.chave),
    )
    return Evento(infEvento=inf, versao=VERSAO_EVENTO)


def cancelamento_xml(
    *, chave: str, n_prot: str, justificativa: str, ambiente: int, dh_evento: datetime | None = None
) -> str:
    """The unsigned evento as text (see `build_cancelamento`)."""
    evento = build_cancelamento(
        chave=chave, n_prot=n_prot, justificativa=justificativa, ambiente=ambiente, dh_evento=dh_evento
    )
    return _serializer().render(obj=evento, ns_map={None: NFE_NS})


def cancelamento_assinado(
    assinador: Assinador,
    *,
    chave: str,
    n_prot: str,
    justificativa: str,
    ambiente: int,
    dh_evento: datetime | None = None,
) -> str:
    """The evento de cancelamento, signed (infEvento, the NF-e's XMLDSig profile) and schema-valid.

    ValueError when the schema refuses it: a bad argument the checks above let through is found here,
    not by SEFAZ (215).
    """
    xml = cancelamento_xml(
        chave=chave, n_prot=n_prot, justificativa=justificativa, ambiente=ambiente, dh_evento=dh_evento
    )
    return _signed_and_valid(assinador, xml, "evento", "infEvento")


def env_evento(signed_evento_xml: str, id_lote: str) -> etree._Element:
    """envEvento (versao 1.00) with the one signed evento, for `SefazClient.evento`.

    Built with lxml around the parsed evento, as enviNFe is: re-serializing through the bindings could
    change bytes the signature covers.
    """
    if not (1 <= len(id_lote) <= 15 and id_lote.isdigit()):
        raise ValueError("idLote is 1 to 15 digits")
    evento = _signed_root(signed_evento_xml, "evento")
    env = etree.Element(_q("envEvento"), {"versao": VERSAO_EVENTO}, nsmap={None: NFE_NS})
    etree.SubElement(env, _q("idLote")).text = id_lote
    env.append(evento)
    etree.cleanup_namespaces(env)
    return env


def proc_evento_nfe(evento_xml: str, ret_evento_xml: str) -> str:
    """procEventoNFe (versao 1.00): the signed evento and SEFAZ's retEvento, as the archive keeps them.

    Put together with lxml, not the bindings, so the signed evento keeps its bytes (as `xml.nfe_proc`).
    """
    evento = _signed_root(evento_xml, "evento")
    ret = etree.fromstring(ret_evento_xml.encode(), _parser())
    if ret.tag != _q("retEvento"):
        raise ValueError("proc_evento_nfe expects a retEvento")
    chave = evento.findtext(f"{_q('infEvento')}/{_q('chNFe')}")
    tp_evento = evento.findtext(f"{_q('infEvento')}/{_q('tpEvento')}")
    if ret.findtext(f"{_q('infEvento')}/{_q('chNFe')}") != chave:
        raise ValueError("the retEvento's chNFe is not the evento's")
    if ret.findtext(f"{_q('infEvento')}/{_q('tpEvento')}") not in (None, tp_evento):
        raise ValueError("the retEvento's tpEvento is not the evento's")
    proc = etree.Element(_q("procEventoNFe"), {"versao": VERSAO_EVENTO}, nsmap={None: NFE_NS})
    proc.append(evento)
    proc.append(ret)
    etree.cleanup_namespaces(proc)
    return etree.tostring(proc, encoding=str)


# ---- inutilização -----------------------------------------------------------------------------------------


def build_inutilizacao(
    *, cnpj: str, uf: str, ambiente: int, serie: int, de: int, ate: int, ano: int, justificativa: str
) -> InutNfe:
    """The pedido de inutilização of números `de` to `ate` of `serie` (modelo 55), unsigned (nfelib's binding).

    The checks SEFAZ would make on the request alone (224 de > ate, 201 more than 10,000, série 0-999,
    números 1-999,999,999) raise ValueError here; whether a número was used (241) or already inutilizado
    (256/563) only SEFAZ and the numbering's records know. `ano` (four digits) is the year of the
    números; SEFAZ refuses a future one (453) or one before 2006 (454).
    """
    cnpj = normalizar_cnpj(cnpj)
    sigla = normalizar_uf(uf)
    if int(ambiente) not in (1, 2):
        raise ValueError("ambiente must be 1 (produção) or 2 (homologação)")
    if not 0 <= serie <= 999:
        raise ValueError("série is 0 to 999")
    if not (1 <= de <= 999_999_999 and 1 <= ate <= 999_999_999):
        raise ValueError("números are 1 to 999999999")
    if de > ate:
        raise ValueError(f"the range starts after it ends ({de} > {ate}); SEFAZ would answer 224")
    if ate - de + 1 > limits.MAX_NUMEROS_INUTILIZACAO:
        raise ValueError(f"{ate - de + 1} números in one inutilização; at most {limits.MAX_NUMEROS_INUTILIZACAO} (201)")
    inf = TinutNfe.InfInut(
        tpAmb=Tamb(str(int(ambiente))),
        xServ=InfInutXServ.INUTILIZAR,
        cUF=TcodUfIbge(f"{CODIGO_UF[sigla]:02d}"),
        ano=_ano2(ano),
        CNPJ=cnpj,
        mod=Tmod(str(MODELO_NFE)),
        serie=str(serie),
        nNFIni=str(de),
        nNFFin=str(ate),
        xJust=limits.normalizar_justificativa(justificativa),
        Id=id_inutilizacao(uf=sigla, ano=ano, cnpj=cnpj, serie=serie, de=de, ate=ate),
    )
    return InutNfe(infInut=inf, versao=VERSAO_INUTILIZACAO)


def inutilizacao_xml(
    *, cnpj: str, uf: str, ambiente: int, serie: int, de: int, ate: int, ano: int, justificativa: str
) -> str:
    """The unsigned inutNFe as text (see `build_inutilizacao`)."""
    inut = build_inutilizacao(
        cnpj=cnpj, uf=uf, ambiente=ambiente, serie=serie, de=de, ate=ate, ano=ano, justificativa=justificativa
    )
    return _serializer().render(obj=inut, ns_map={None: NFE_NS})


def inutilizacao_assinada(
    assinador: Assinador,
    *,
    cnpj: str,
    uf: str,
    ambiente: int,
    serie: int,
    de: int,
    ate: int,
    ano: int,
    justificativa: str,
) -> str:
    """The inutNFe, signed (infInut, the NF-e's XMLDSig profile) and schema-valid; ValueError otherwise."""
    xml = inutilizacao_xml(
        cnpj=cnpj, uf=uf, ambiente=ambiente, serie=serie, de=de, ate=ate, ano=ano, justificativa=justificativa
    )
    return _signed_and_valid(assinador, xml, "inutNFe", "infInut")


def proc_inut_nfe(inut_xml: str, ret_inut_xml: str) -> str:
    """ProcInutNFe (versao 4.00): the signed inutNFe and SEFAZ's retInutNFe, assembled with lxml.

    Its root element is written `ProcInutNFe`, capital P: the official procInutNFe_v4.00.xsd declares
    that name (nfelib's binding and sped-nfe write it so too), unlike nfeProc and procEventoNFe.
    """
    inut = _signed_root(inut_xml, "inutNFe")
    ret = etree.fromstring(ret_inut_xml.encode(), _parser())
    if ret.tag != _q("retInutNFe"):
        raise ValueError("proc_inut_nfe expects a retInutNFe")
    asked = inut.find(_q("infInut"))
    answered = ret.find(_q("infInut"))
    assert asked is not None  # _signed_root checked it
    if answered is None:
        raise ValueError("the retInutNFe has no infInut")
    for tag in ("CNPJ", "serie", "nNFIni", "nNFFin"):
        if answered.findtext(_q(tag)) not in (None, asked.findtext(_q(tag))):
            raise ValueError(f"the retInutNFe's {tag} is not the inutNFe's")
    proc = etree.Element(_q(PROC_INUT_NFE), {"versao": VERSAO_INUTILIZACAO}, nsmap={None: NFE_NS})
    proc.append(inut)
    proc.append(ret)
    etree.cleanup_namespaces(proc)
    return etree.tostring(proc, encoding=str)


# ---- signing and validation -------------------------------------------------------------------------------


def _signed_root(xml: str, root_tag: str) -> etree._Element:
    root = etree.fromstring(xml.encode(), _parser())
    signed_child = _SIGNED_CHILD[root_tag]
    if root.tag != _q(root_tag) or root.find(_q(signed_child)) is None:
        raise ValueError(f"expected an {root_tag} with its {signed_child}")
    if root.find(f"{{{DS_NS}}}Signature") is None:
        raise ValueError(f"the {root_tag} is not signed")
    return root


def _signed_and_valid(assinador: Assinador, xml: str, root_tag: str, signed_tag: str) -> str:
    problems = validate(xml)
    if problems:
        raise ValueError(f"the {root_tag} does not satisfy its schema: {'; '.join(problems)}")
    signed = assinador.sign_element(xml, root_tag, signed_tag)
    problems = validate(signed)
    if problems:  # pragma: no cover - the signer writes the schema's fixed profile
        raise ValueError(f"the signed {root_tag} does not satisfy its schema: {'; '.join(problems)}")
    return signed


@functools.cache
def _schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


def _errors(schema: etree.XMLSchema, document: etree._Element) -> list[str]:
    if schema.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


def validate(xml: str | bytes) -> list[str]:
    """Schema errors of an evento de cancelamento (signed or not), envEvento, procEventoNFe, retEnvEvento,
    inutNFe (signed or not), ProcInutNFe (see `proc_inut_nfe`) or retInutNFe; [] when valid.

    An unsigned evento or inutNFe is checked with a placeholder Signature (as `xml.validate` does for an
    NFe). Each detEvento is checked again against e110111_v1.00.xsd, the event's own schema.
    """
    try:
        root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml, _parser())
    except etree.XMLSyntaxError as error:
        return [f"not well-formed XML: {error}"]
    name = etree.QName(root).localname
    if etree.QName(root).namespace != NFE_NS or name not in _SCHEMA_OF:
        return [f"root element is {root.tag}, expected one of {sorted(_SCHEMA_OF)} in {NFE_NS}"]
    if name in _SIGNED_CHILD and root.find(f"{{{DS_NS}}}Signature") is None:
        _placeholder_signature(root, _SIGNED_CHILD[name])
    problems = _errors(_schema(_SCHEMA_OF[name]), root)
    for det in root.iter(_q("detEvento")):
        alone = etree.fromstring(etree.tostring(det), _parser())
        problems += [f"detEvento: {p}" for p in _errors(_schema(_DET_EVENTO_SCHEMA), alone)]
    return problems
