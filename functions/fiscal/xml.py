"""The NF-e XML (modelo 55, leiaute 4.00): built from nfelib's bindings, validated against the official
schemas nfelib ships, signed through erpbrasil.assinatura, wrapped with its protocol in nfeProc.

Heavy (nfelib's bindings and lxml; signing also loads erpbrasil.assinatura and signxml, on first use):
import this module only where an XML is made or read, never in the API's functions.
"""

from __future__ import annotations

import base64
import functools
from decimal import Decimal
from pathlib import Path

import nfelib
from lxml import etree
from nfelib.nfe.bindings.v4_0.leiaute_nfe_v4_00 import (
    CofinsoutrCst,
    DestIndIedest,
    EmitCrt,
    Icmssn102Csosn,
    IdeIdDest,
    IdeIndFinal,
    IdeIndIntermed,
    IdeIndPres,
    IdeTpEmis,
    IdeTpImp,
    IdeTpNf,
    PisoutrCst,
    ProdIndTot,
    Tendereco,
    TenderEmi,
    TenderEmiCPais,
    TenderEmiXPais,
    TfinNfe,
    TinfRespTec,
    Tnfe,
    Torig,
    TprocEmi,
    TranspModFrete,
)
from nfelib.nfe.bindings.v4_0.nfe_v4_00 import Nfe
from nfelib.nfe.bindings.v4_0.tipos_basico_v4_00 import Tamb, TcodUfIbge, Tmod, Tuf, TufEmi
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig

from functions.fiscal import identifiers, tax

# The signer and the nfeProc live in `assinatura` (no nfelib there: the SEFAZ function's cold start);
# re-exported here, where callers have always found them.
from functions.fiscal.assinatura import (
    DS_NS,
    NFE_NS,
    VERSAO,
    Assinador,
    CertificadoInvalido,
    nfe_proc,
    sign,
)
from functions.fiscal.model import HOMOLOGACAO_XNOME, Ambiente, Destinatario, Endereco, Item, NotaFiscal

__all__ = [
    "DS_NS",
    "NFE_NS",
    "VERSAO",
    "Assinador",
    "CertificadoInvalido",
    "build_nfe",
    "nfe_proc",
    "sign",
    "to_xml",
    "validate",
]

# ide/verProc: the emitting application and its version.
VER_PROC = "nfe-saga 0.1.0"
CODIGO_PAIS_BRASIL = "1058"
SEM_PAGAMENTO = "90"

_SCHEMAS = Path(nfelib.__file__).parent / "nfe" / "schemas" / "v4_0"


def _parser() -> etree.XMLParser:
    # No entities, no network: the XML may come from outside (SEFAZ's answers, the archive). A parser
    # per call, since lxml parser objects must not be shared between threads (local mode runs some).
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


_C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"


def _dec(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


def _endereco_emit(endereco: Endereco) -> TenderEmi:
    return TenderEmi(
        xLgr=endereco.logradouro,
        nro=endereco.numero,
        xCpl=endereco.complemento,
        xBairro=endereco.bairro,
        cMun=endereco.codigo_municipio,
        xMun=endereco.municipio,
        UF=TufEmi(endereco.uf),
        CEP=endereco.cep,
        cPais=TenderEmiCPais(CODIGO_PAIS_BRASIL),
        xPais=TenderEmiXPais.BRASIL,
    )


def _endereco_dest(endereco: Endereco) -> Tendereco:
    return Tendereco(
        xLgr=endereco.logradouro,
        nro=endereco.numero,
        xCpl=endereco.complemento,
        xBairro=endereco.bairro,
        cMun=endereco.codigo_municipio,
        xMun=endereco.municipio,
        UF=Tuf(endereco.uf),
        CEP=endereco.cep,
        cPais=CODIGO_PAIS_BRASIL,
        xPais="BRASIL",
    )


def _dest(destinatario: Destinatario, ambiente: Ambiente) -> Tnfe.InfNfe.Dest:
    # Rule E04-20 (598): in homologação the name is a fixed literal; the real one stays out of the XML.
    nome = HOMOLOGACAO_XNOME if ambiente is Ambiente.HOMOLOGACAO else destinatario.nome
    return Tnfe.InfNfe.Dest(
        CNPJ=destinatario.cnpj,
        CPF=destinatario.cpf,
        xNome=nome,
        enderDest=_endereco_dest(destinatario.endereco),
        indIEDest=DestIndIedest(str(int(destinatario.indicador_ie))),
        IE=destinatario.ie,
        email=destinatario.email,
    )


def _det(nota: NotaFiscal, item: Item) -> Tnfe.InfNfe.Det:
    produto = item.produto
    impostos = tax.impostos_item(nota.emitente.crt, origem=produto.origem)
    quantidade = _dec(item.quantidade, 4)
    valor_unitario = _dec(item.valor_unitario, 10)
    Det = Tnfe.InfNfe.Det
    icms = Det.Imposto.Icms(
        ICMSSN102=Det.Imposto.Icms.Icmssn102(orig=Torig(str(impostos.orig)), CSOSN=Icmssn102Csosn(impostos.csosn))
    )
    pis = Det.Imposto.Pis(
        PISOutr=Det.Imposto.Pis.Pisoutr(
            CST=PisoutrCst(impostos.pis_cst),
            vBC=_dec(impostos.v_bc_pis, 2),
            pPIS=_dec(impostos.p_pis, 4),
            vPIS=_dec(impostos.v_pis, 2),
        )
    )
    cofins = Det.Imposto.Cofins(
        COFINSOutr=Det.Imposto.Cofins.Cofinsoutr(
            CST=CofinsoutrCst(impostos.cofins_cst),
            vBC=_dec(impostos.v_bc_cofins, 2),
            pCOFINS=_dec(impostos.p_cofins, 4),
            vCOFINS=_dec(impostos.v_cofins, 2),
        )
    )
    if (impostos.icms_grupo, impostos.pis_grupo, impostos.cofins_grupo) != ("ICMSSN102", "PISOutr", "COFINSOutr"):
        raise NotImplementedError(f"tax groups {impostos} have no XML mapping yet")  # pragma: no cover
    return Det(
        prod=Det.Prod(
            cProd=produto.codigo,
            cEAN=produto.gtin,
            xProd=produto.descricao,
            NCM=produto.ncm,
            CFOP=nota.cfop(item),
            uCom=produto.unidade,
            qCom=quantidade,
            vUnCom=valor_unitario,
            vProd=_dec(item.valor_total, 2),
            cEANTrib=produto.gtin,
            uTrib=produto.unidade,
            qTrib=quantidade,
            vUnTrib=valor_unitario,
            indTot=ProdIndTot("1"),
        ),
        imposto=Det.Imposto(ICMS=icms, PIS=pis, COFINS=cofins),
        nItem=str(item.numero),
    )


def _total(nota: NotaFiscal) -> Tnfe.InfNfe.Total:
    zero = "0.00"
    return Tnfe.InfNfe.Total(
        ICMSTot=Tnfe.InfNfe.Total.Icmstot(
            vBC=zero,
            vICMS=zero,
            vICMSDeson=zero,
            vFCP=zero,
            vBCST=zero,
            vST=zero,
            vFCPST=zero,
            vFCPSTRet=zero,
            vProd=_dec(nota.valor_produtos, 2),
            vFrete=zero,
            vSeg=zero,
            vDesc=zero,
            vII=zero,
            vIPI=zero,
            vIPIDevol=zero,
            vPIS=zero,
            vCOFINS=zero,
            vOutro=zero,
            vNF=_dec(nota.valor_total, 2),
        )
    )


def _pag(nota: NotaFiscal) -> Tnfe.InfNfe.Pag:
    # tPag 90 (the default, see model.NotaFiscal.forma_pagamento) says "sem pagamento" with vPag 0.00:
    # the saga does not know how the customer pays, and stating 01 (dinheiro) with vPag = vNF would
    # declare a payment nobody recorded. SEFAZ accepts 90 on modelo 55 (rule 865's exception; only the
    # NFC-e refuses it, 899). Any other tPag pays the whole vNF (865/866: not less, not more).
    forma = nota.forma_pagamento
    valor = Decimal("0.00") if forma == SEM_PAGAMENTO else nota.valor_total
    return Tnfe.InfNfe.Pag(detPag=[Tnfe.InfNfe.Pag.DetPag(tPag=forma, vPag=_dec(valor, 2))])


def build_nfe(nota: NotaFiscal) -> Nfe:
    """The NF-e as nfelib's binding (unsigned: Signature is added by `sign`)."""
    emitente = nota.emitente
    chave = nota.chave
    ind_pres = tax.IND_PRES_PADRAO
    ind_intermed = tax.ind_intermed(ind_pres)
    uf_emit, uf_dest = emitente.endereco.uf, nota.destinatario.endereco.uf
    ide = Tnfe.InfNfe.Ide(
        cUF=TcodUfIbge(f"{identifiers.codigo_uf(uf_emit):02d}"),
        cNF=nota.cnf,
        natOp=nota.nat_op,
        mod=Tmod("55"),
        serie=str(nota.serie),
        nNF=str(nota.numero),
        dhEmi=nota.dh_emi.isoformat(timespec="seconds"),
        tpNF=IdeTpNf("1"),  # saída
        idDest=IdeIdDest(str(tax.id_dest(uf_emit, uf_dest))),
        cMunFG=emitente.endereco.codigo_municipio,
        tpImp=IdeTpImp("1"),  # DANFE retrato
        tpEmis=IdeTpEmis(str(nota.tp_emis)),
        cDV=chave[-1],
        tpAmb=Tamb(str(int(nota.ambiente))),
        finNFe=TfinNfe("1"),  # normal
        indFinal=IdeIndFinal(str(tax.ind_final(nota.destinatario.indicador_ie))),
        indPres=IdeIndPres(str(ind_pres)),
        indIntermed=None if ind_intermed is None else IdeIndIntermed(str(ind_intermed)),
        procEmi=TprocEmi("0"),  # the emitente's own software
        verProc=VER_PROC,
    )
    emit = Tnfe.InfNfe.Emit(
        CNPJ=emitente.cnpj,
        xNome=emitente.razao_social,
        xFant=emitente.nome_fantasia,
        enderEmit=_endereco_emit(emitente.endereco),
        IE=emitente.ie,
        CRT=EmitCrt(str(emitente.crt)),
    )
    inf_cpl = tax.informacoes_complementares(emitente.crt)
    resp = nota.inf_resp_tec
    inf_nfe = Tnfe.InfNfe(
        ide=ide,
        emit=emit,
        dest=_dest(nota.destinatario, nota.ambiente),
        det=[_det(nota, item) for item in nota.items],
        total=_total(nota),
        transp=Tnfe.InfNfe.Transp(modFrete=TranspModFrete("9")),  # sem ocorrência de transporte
        pag=_pag(nota),
        infAdic=None if inf_cpl is None else Tnfe.InfNfe.InfAdic(infCpl=inf_cpl),
        infRespTec=None
        if resp is None
        else TinfRespTec(CNPJ=resp.cnpj, xContato=resp.contato, email=resp.email, fone=resp.fone),
        versao=VERSAO,
        Id="NFe" + chave,
    )
    return Nfe(infNFe=inf_nfe)


@functools.cache
def _serializer() -> XmlSerializer:
    # No indentation: SEFAZ refuses whitespace between tags (588) and it would be signed as content.
    # No XML declaration: the NFe goes inside enviNFe/nfeProc as it is.
    return XmlSerializer(config=SerializerConfig(indent=None, xml_declaration=False))


def to_xml(nota: NotaFiscal) -> str:
    """The unsigned NF-e as text (encode as UTF-8). Deterministic: same nota, same characters."""
    return _serializer().render(obj=build_nfe(nota), ns_map={None: NFE_NS})


@functools.cache
def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(_SCHEMAS / name)))


def _placeholder_signature(nfe: etree._Element, signed_tag: str = "infNFe") -> None:
    """Append a Signature that satisfies the schema (fixed algorithms, base64 values) but signs nothing.

    The XSD requires Signature as NFe's last child. Validating an unsigned NF-e with this stand-in checks
    every other element and attribute; the real signature is checked by whoever verifies it (xmlsec).
    The evento (infEvento) and the inutNFe (infInut) have the same Signature in the same place.
    """
    inf = nfe.find(f"{{{NFE_NS}}}{signed_tag}")
    uri = "#" + (inf.get("Id", "") if inf is not None else "")

    def ds(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
        element = etree.SubElement(parent, f"{{{DS_NS}}}{tag}", attrs)
        element.text = text
        return element

    signature = etree.SubElement(nfe, f"{{{DS_NS}}}Signature", nsmap={None: DS_NS})
    signed_info = ds(signature, "SignedInfo")
    ds(signed_info, "CanonicalizationMethod", Algorithm=_C14N)
    ds(signed_info, "SignatureMethod", Algorithm=DS_NS + "rsa-sha1")
    reference = ds(signed_info, "Reference", URI=uri)
    transforms = ds(reference, "Transforms")
    ds(transforms, "Transform", Algorithm=DS_NS + "enveloped-signature")
    ds(transforms, "Transform", Algorithm=_C14N)
    ds(reference, "DigestMethod", Algorithm=DS_NS + "sha1")
    ds(reference, "DigestValue", base64.b64encode(bytes(20)).decode())
    ds(signature, "SignatureValue", base64.b64encode(bytes(256)).decode())
    ds(ds(ds(signature, "KeyInfo"), "X509Data"), "X509Certificate", base64.b64encode(bytes(32)).decode())


def validate(xml: str | bytes) -> list[str]:
    """Schema errors of an NFe (signed or not) or an nfeProc; [] when valid.

    An unsigned NFe is validated with a placeholder Signature (see `_placeholder_signature`), so the
    missing signature is the one thing not reported; a signed one is validated as it is.
    """
    try:
        root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml, _parser())
    except etree.XMLSyntaxError as error:
        return [f"not well-formed XML: {error}"]
    if root.tag == f"{{{NFE_NS}}}NFe":
        schema = _schema("nfe_v4.00.xsd")
        if root.find(f"{{{DS_NS}}}Signature") is None:
            _placeholder_signature(root)
    elif root.tag == f"{{{NFE_NS}}}nfeProc":
        schema = _schema("procNFe_v4.00.xsd")
    else:
        return [f"root element is {root.tag}, expected {{{NFE_NS}}}NFe or nfeProc"]
    if schema.validate(root):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]
