"""The NF-e XML: built from nfelib's bindings, valid against the official schemas, totals and chave right."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from nfelib.nfe.bindings.v4_0.nfe_v4_00 import Nfe
from xsdata.formats.dataclass.parsers import XmlParser

from functions.fiscal.chave import cnf_recusado
from functions.fiscal.identifiers import CODIGO_UF, digitos_cnpj
from functions.fiscal.model import HOMOLOGACAO_XNOME, NotaFiscal
from functions.fiscal.xml import NFE_NS, to_xml, validate
from functions.shared.documents import _cpf_digit
from tests.helpers.fiscal_notas import DESTINATARIO, EMITENTE, nota, nota_json

NS = {"n": NFE_NS}
MOC_WEIGHTS = "4329876543298765432987654329876543298765432"


def _dv_ok(chave: str) -> bool:
    # Independent of functions.fiscal.chave: the MOC's weights written out, letters as ord(c) - 48.
    total = sum((ord(c) - 48) * int(w) for c, w in zip(chave[:43], MOC_WEIGHTS, strict=True))
    remainder = total % 11
    return int(chave[43]) == (0 if remainder < 2 else 11 - remainder)


def _tree(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode())


def _text(root: etree._Element, path: str) -> str:
    value = root.findtext(path, namespaces=NS)
    assert value is not None, path
    return value


def test_the_xml_is_valid_and_carries_the_chave() -> None:
    n = nota()
    xml = to_xml(n)
    assert validate(xml) == []
    root = _tree(xml)
    inf = root.find("n:infNFe", NS)
    assert inf is not None
    assert inf.get("Id") == "NFe" + n.chave
    assert _dv_ok(n.chave)
    assert _text(root, "n:infNFe/n:ide/n:cDV") == n.chave[-1]
    assert _text(root, "n:infNFe/n:ide/n:cNF") == n.chave[35:43]
    assert not xml.startswith("<?xml")
    assert ">\n" not in xml and "> <" not in xml  # no whitespace between tags (rule 588)


def test_totals_add_up() -> None:
    root = _tree(to_xml(nota()))
    v_prods = [Decimal(v) for v in root.xpath("//n:det/n:prod/n:vProd/text()", namespaces=NS)]
    assert v_prods == [Decimal("299.80"), Decimal("15.50")]
    assert Decimal(_text(root, ".//n:ICMSTot/n:vProd")) == sum(v_prods) == Decimal("315.30")
    assert Decimal(_text(root, ".//n:ICMSTot/n:vNF")) == Decimal("315.30")
    assert _text(root, ".//n:pag/n:detPag/n:tPag") == "90"
    assert _text(root, ".//n:pag/n:detPag/n:vPag") == "0.00"
    assert _text(root, ".//n:transp/n:modFrete") == "9"


def test_a_known_payment_pays_the_whole_vnf() -> None:
    root = _tree(to_xml(nota(formaPagamento="15")))
    assert _text(root, ".//n:pag/n:detPag/n:tPag") == "15"
    assert _text(root, ".//n:pag/n:detPag/n:vPag") == _text(root, ".//n:ICMSTot/n:vNF") == "315.30"


def test_simples_nacional_items_and_indicators() -> None:
    root = _tree(to_xml(nota()))
    det = root.find("n:infNFe/n:det", NS)
    assert det is not None
    assert _text(det, "n:imposto/n:ICMS/n:ICMSSN102/n:CSOSN") == "102"
    assert _text(det, "n:imposto/n:ICMS/n:ICMSSN102/n:orig") == "0"
    assert _text(det, "n:imposto/n:PIS/n:PISOutr/n:CST") == "99"
    assert _text(det, "n:imposto/n:COFINS/n:COFINSOutr/n:vCOFINS") == "0.00"
    assert _text(det, "n:prod/n:CFOP") == "6102"  # SP -> RJ
    assert _text(det, "n:prod/n:cEAN") == _text(det, "n:prod/n:cEANTrib") == "7891000315507"
    assert root.xpath("//n:det[@nItem='2']/n:prod/n:cEAN/text()", namespaces=NS) == ["SEM GTIN"]
    ide = root.find("n:infNFe/n:ide", NS)
    assert ide is not None
    assert [_text(ide, f"n:{t}") for t in ("idDest", "indFinal", "indPres", "tpAmb", "mod")] == [
        "2",
        "1",
        "1",
        "2",
        "55",
    ]
    assert ide.find("n:indIntermed", NS) is None
    assert "SIMPLES NACIONAL" in _text(root, ".//n:infAdic/n:infCpl")


def test_internal_sale_to_a_contribuinte() -> None:
    destinatario = {
        **DESTINATARIO,
        "documento": "11.444.777/0001-61",
        "indicadorIe": 1,
        "ie": "123456789",
        "endereco": {**EMITENTE["endereco"], "complemento": None},
    }
    root = _tree(to_xml(nota(destinatario=destinatario)))
    assert validate(etree.tostring(root, encoding=str)) == []
    assert root.xpath("//n:det/n:prod/n:CFOP/text()", namespaces=NS) == ["5102", "5102"]
    assert _text(root, ".//n:ide/n:idDest") == "1"
    assert _text(root, ".//n:ide/n:indFinal") == "0"
    assert _text(root, ".//n:dest/n:CNPJ") == "11444777000161"
    assert _text(root, ".//n:dest/n:IE") == "123456789"


def test_homologacao_hides_the_name_and_producao_shows_it() -> None:
    homologacao = _tree(to_xml(nota()))
    assert _text(homologacao, ".//n:dest/n:xNome") == HOMOLOGACAO_XNOME
    assert "João" not in etree.tostring(homologacao, encoding=str)
    producao = _tree(to_xml(nota(emitente={**EMITENTE, "ambiente": 1})))
    assert _text(producao, ".//n:dest/n:xNome") == "João da Silva"
    assert _text(producao, ".//n:ide/n:tpAmb") == "1"


def test_deterministic_byte_for_byte() -> None:
    first = to_xml(nota())
    again = to_xml(NotaFiscal.model_validate(nota_json()))
    reloaded = to_xml(NotaFiscal.model_validate_json(nota().model_dump_json(by_alias=True)))
    assert first.encode() == again.encode() == reloaded.encode()


def test_nfelib_reads_back_what_was_written() -> None:
    xml = to_xml(nota())
    parsed = XmlParser().from_string(xml, Nfe)
    assert parsed.infNFe.ide.nNF == "123"
    assert parsed.infNFe.emit.CNPJ == "11222333000181"
    assert [d.prod.xProd for d in parsed.infNFe.det] == [
        "Cadeira de escritório modelo 1",
        "Cadeira de escritório modelo 2",
    ]


def test_validate_reports_real_errors_and_only_skips_the_missing_signature() -> None:
    root = _tree(to_xml(nota()))
    ncm = root.find(".//n:det/n:prod/n:NCM", NS)
    assert ncm is not None
    ncm.text = "1234567"
    errors = validate(etree.tostring(root, encoding=str))
    assert len(errors) == 1 and "NCM" in errors[0], errors
    # nfelib's own validation of the unsigned document: the only complaint is the missing Signature.
    raw = Nfe.schema_validation(to_xml(nota()))
    assert len(raw) == 1 and "Signature" in raw[0], raw
    assert validate("<NFe") and validate("<other/>")


# A property over generated notas: every valid one gives a schema-valid XML with a right chave.
_LATIN1 = st.characters(
    codec="latin-1", exclude_categories=("Cc", "Cs"), exclude_characters="\x7f\x80\x81\x8d\x8f\x90\x9d\xa0"
)


def _texto(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(_LATIN1, min_size=min_size, max_size=max_size).map(str.strip).filter(lambda s: len(s) >= min_size)


@st.composite
def _endereco(draw: st.DrawFn) -> dict[str, Any]:
    uf = draw(st.sampled_from(sorted(CODIGO_UF)))
    return {
        "logradouro": draw(_texto(2, 60)),
        "numero": draw(_texto(1, 60)),
        "complemento": draw(st.none() | _texto(1, 60)),
        "bairro": draw(_texto(2, 60)),
        "codigoMunicipio": f"{CODIGO_UF[uf]:02d}{draw(st.integers(0, 99999)):05d}",
        "municipio": draw(_texto(2, 60)),
        "uf": uf,
        "cep": f"{draw(st.integers(0, 99_999_999)):08d}",
    }


@st.composite
def _cnpj(draw: st.DrawFn) -> str:
    base = draw(
        st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=12, max_size=12).filter(lambda s: s != s[0] * 12)
    )
    return base + digitos_cnpj(base)


@st.composite
def _cpf(draw: st.DrawFn) -> str:
    base = draw(st.text("0123456789", min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1))
    first = _cpf_digit(base)
    return base + str(first) + str(_cpf_digit(base + str(first)))


@st.composite
def _nota(draw: st.DrawFn) -> dict[str, Any]:
    indicador = draw(st.sampled_from([1, 2, 9]))
    destinatario = {
        "documento": draw(_cnpj() | _cpf()),
        "nome": draw(_texto(2, 60)),
        "endereco": draw(_endereco()),
        "indicadorIe": indicador,
        # An IE is required for 1, optional for 9 (não contribuinte with an IE), absent for 2.
        "ie": None
        if indicador == 2 or (indicador == 9 and draw(st.booleans()))
        else str(draw(st.integers(10, 10**14 - 1))),
        "email": draw(st.none() | st.just("compras@example.com.br")),
    }
    emitente = {
        **EMITENTE,
        "cnpj": draw(_cnpj()),
        "razaoSocial": draw(_texto(2, 60)),
        "nomeFantasia": draw(st.none() | _texto(1, 60)),
        "endereco": draw(_endereco()),
        "ambiente": draw(st.sampled_from([1, 2])),
    }
    count = draw(st.integers(1, 5))
    items = [
        {
            "numero": n,
            "produto": {
                "codigo": draw(_texto(1, 60)),
                "descricao": draw(_texto(1, 120)),
                "ncm": f"{draw(st.integers(0, 99_999_999)):08d}",
                "unidade": draw(_texto(1, 6)),
                "origem": draw(st.integers(0, 8)),
                "gtin": draw(st.sampled_from([None, "7891000315507", "96385074", "036000291452"])),
            },
            "quantidade": str(draw(st.decimals(Decimal("0.0001"), Decimal("99999"), places=4))),
            "valorUnitario": str(draw(st.decimals(Decimal("0.0000000001"), Decimal("999999"), places=10))),
        }
        for n in range(1, count + 1)
    ]
    numero = draw(st.integers(1, 999_999_999))
    offset = timezone(timedelta(hours=draw(st.integers(-5, -2))))
    dh = draw(st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31))).replace(tzinfo=offset)
    # Hypothesis likes boundaries (00000000): draws SEFAZ refuses are filtered out, not left to the model.
    cnf = draw(st.integers(0, 99_999_999).map(lambda v: f"{v:08d}").filter(lambda c: not cnf_recusado(c, numero)))
    return {
        "emitente": emitente,
        "destinatario": destinatario,
        "numero": numero,
        "serie": draw(st.integers(0, 889)),
        "dhEmi": dh.isoformat(),
        "cnf": cnf,
        "natOp": draw(_texto(1, 60)),
        "formaPagamento": draw(st.sampled_from(["90", "01", "15", "17"])),
        "items": items,
    }


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_nota())
def test_every_valid_nota_gives_a_valid_xml_and_a_right_chave(data: dict[str, Any]) -> None:
    # Given a nota drawn within the model's rules (the model must accept every draw)
    n = NotaFiscal.model_validate(data)
    # When its XML is built / Then it validates against the official schema and its chave is right
    xml = to_xml(n)
    assert validate(xml) == []
    root = _tree(xml)
    inf = root.find("n:infNFe", NS)
    assert inf is not None
    chave = (inf.get("Id") or "")[3:]
    assert chave == n.chave and _dv_ok(chave)
    assert chave[:2] == _text(root, ".//n:ide/n:cUF")
    assert chave[2:6] == datetime.fromisoformat(_text(root, ".//n:ide/n:dhEmi")).strftime("%y%m")
    assert chave[6:20] == _text(root, ".//n:emit/n:CNPJ")
    assert int(chave[22:25]) == int(_text(root, ".//n:ide/n:serie"))
    assert int(chave[25:34]) == int(_text(root, ".//n:ide/n:nNF"))
    v_prod = sum(Decimal(v) for v in root.xpath("//n:det/n:prod/n:vProd/text()", namespaces=NS))
    assert Decimal(_text(root, ".//n:ICMSTot/n:vProd")) == v_prod == Decimal(_text(root, ".//n:ICMSTot/n:vNF"))


def test_aware_datetime_in_utc_is_written_with_its_offset() -> None:
    n = nota(dhEmi=datetime(2026, 12, 6, 13, 30, tzinfo=UTC).isoformat())
    assert _text(_tree(to_xml(n)), ".//n:ide/n:dhEmi") == "2026-12-06T13:30:00+00:00"


def test_the_xml_module_leaves_signing_and_pdf_libraries_unloaded() -> None:
    # Faturamento builds XML but never signs nor renders in the same call: those load on first use.
    code = (
        "import sys; import functions.fiscal.xml; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
        "('signxml', 'brazilfiscalreport', 'fpdf', 'qrcode', 'barcode') or m.startswith('erpbrasil.')}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_inf_resp_tec_when_given() -> None:
    resp = {
        "cnpj": "11.444.777/0001-61",
        "contato": "Equipe Fiscal",
        "email": "fiscal@example.com",
        "fone": "1130000000",
    }
    root = _tree(to_xml(nota(infRespTec=resp)))
    assert validate(etree.tostring(root, encoding=str)) == []
    assert _text(root, ".//n:infRespTec/n:CNPJ") == "11444777000161"
    assert _text(root, ".//n:infRespTec/n:xContato") == "Equipe Fiscal"
    assert _tree(to_xml(nota())).find(".//n:infRespTec", NS) is None


def test_a_remote_ind_pres_brings_ind_intermed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A team that sells remotely changes tax.IND_PRES_PADRAO to 9; rule B25c-10 then needs indIntermed.
    monkeypatch.setattr("functions.fiscal.tax.IND_PRES_PADRAO", 9)
    xml = to_xml(nota())
    assert validate(xml) == []
    root = _tree(xml)
    assert (_text(root, ".//n:ide/n:indPres"), _text(root, ".//n:ide/n:indIntermed")) == ("9", "0")


def test_alphanumeric_cnpj_emitente() -> None:
    n = nota(emitente={**EMITENTE, "cnpj": "12.ABC.345/01DE-35"})
    xml = to_xml(n)
    assert validate(xml) == []
    assert n.chave[6:20] == "12ABC34501DE35" and _dv_ok(n.chave)
