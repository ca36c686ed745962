"""The DANFE: what the page says (número, série, chave, items), and that a preview says it is one."""

from __future__ import annotations

import re
from typing import Any

import pytest
from lxml import etree

from functions.fiscal.danfe import PREVIEW_TEXT, is_authorized, render_danfe
from functions.fiscal.xml import DS_NS, nfe_proc, sign, to_xml
from tests.helpers.fiscal_certs import certificate
from tests.helpers.fiscal_notas import EMITENTE, N_PROT, item, nota, prot_nfe
from tests.helpers.fiscal_pdf import pdf_text, pdf_text_lines


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


def _signed(**overrides: Any) -> str:
    cert = certificate()
    return sign(to_xml(nota(**overrides)), cert.pkcs12, cert.password)


def _authorized(**overrides: Any) -> str:
    signed = _signed(**overrides)
    digest = etree.fromstring(signed.encode()).findtext(f".//{{{DS_NS}}}DigestValue") or ""
    tp_amb = 1 if overrides.get("emitente", EMITENTE)["ambiente"] == 1 else 2
    return nfe_proc(signed, prot_nfe(nota(**overrides).chave, digest, tp_amb=tp_amb))


def test_preview_shows_numero_serie_chave_and_items() -> None:
    # Given an unsigned NF-e in homologação / When its DANFE is rendered
    n = nota()
    pdf = render_danfe(to_xml(n))
    lines = pdf_text_lines(pdf)
    text = "\n".join(lines)
    # Then it is a PDF that names the nota, its chave in groups of four, and each item
    assert pdf.startswith(b"%PDF-")
    assert "Nº 000.000.123" in lines and "SÉRIE 1" in lines
    assert " ".join(n.chave[i : i + 4] for i in range(0, 44, 4)) in lines
    for code, description, total in [
        ("SKU-001", "Cadeira de escritório modelo 1", "299,80"),
        ("SKU-002", "Cadeira de escritório modelo 2", "15,50"),
    ]:
        assert code in lines and description in lines and total in lines
    assert "315,30" in lines  # vNF
    # And it says it is a preview, beside the homologação watermark and name
    assert PREVIEW_TEXT in lines
    assert "SEM VALOR FISCAL" in lines
    assert "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL" in text


def test_producao_before_authorization_is_still_a_preview() -> None:
    producao = {**EMITENTE, "ambiente": 1}
    xml = _signed(emitente=producao)
    assert not is_authorized(xml)
    lines = pdf_text_lines(render_danfe(xml))
    assert PREVIEW_TEXT in lines
    assert "SEM VALOR FISCAL" in lines  # no protocol: the library's watermark too
    assert "João da Silva" in lines


def test_authorized_in_producao_has_the_protocol_and_no_preview_note() -> None:
    proc = _authorized(emitente={**EMITENTE, "ambiente": 1})
    assert is_authorized(proc)
    text = pdf_text(render_danfe(proc))
    assert PREVIEW_TEXT not in text
    assert "SEM VALOR FISCAL" not in text
    assert N_PROT in text


def test_a_rejected_protocol_is_not_an_authorization() -> None:
    signed = _signed()
    digest = etree.fromstring(signed.encode()).findtext(f".//{{{DS_NS}}}DigestValue") or ""
    proc = nfe_proc(signed, prot_nfe(nota().chave, digest, c_stat="110"))
    assert not is_authorized(proc)
    assert PREVIEW_TEXT in pdf_text(render_danfe(proc))


def test_every_page_of_a_long_preview_says_so() -> None:
    items = [item(n) for n in range(1, 61)]
    pdf = render_danfe(to_xml(nota(items=items)))
    pages = _pages(pdf)
    assert pages >= 2
    lines = pdf_text_lines(pdf)
    assert lines.count(PREVIEW_TEXT) == pages
    assert all(f"SKU-{n:03d}" in lines for n in range(1, 61))


@pytest.mark.parametrize("authorized", [False, True])
def test_same_xml_same_pdf_bytes(authorized: bool) -> None:
    xml = _authorized() if authorized else to_xml(nota())
    assert render_danfe(xml) == render_danfe(xml)


def test_alphanumeric_cnpj_on_the_page() -> None:
    n = nota(emitente={**EMITENTE, "cnpj": "12ABC34501DE35"})
    lines = pdf_text_lines(render_danfe(to_xml(n)))
    assert "12.ABC.345/01DE-35" in lines
    assert " ".join(n.chave[i : i + 4] for i in range(0, 44, 4)) in lines
