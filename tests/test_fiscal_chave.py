"""The chave de acesso: published vectors, a real authorized NF-e, and the cNF SEFAZ accepts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import nfelib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from functions.fiscal.chave import (
    CNF_RECUSADOS,
    chave_valida,
    cnf_recusado,
    compor_chave,
    digito_chave,
    gerar_cnf,
    parse_chave,
)

NS = {"n": "http://www.portalfiscal.inf.br/nfe"}
SAMPLES = Path(nfelib.__file__).parent / "nfe" / "samples" / "v4_0" / "leiauteNFe"
# The MOC's weights read left to right over the 43 positions (reference/nfe.md §1.2): written out
# by hand rather than generated, so the test does not share the implementation's loop.
MOC_WEIGHTS = "4329876543298765432987654329876543298765432"


def _weighted_sum(chave43: str) -> int:
    return sum(int(c) * int(w) for c, w in zip(chave43, MOC_WEIGHTS, strict=True))


@pytest.mark.parametrize(
    ("chave", "weighted_sum", "dv"),
    [
        # MOC 7.0 §2.2.6.2, its own worked example: sum 644, remainder 6, DV 5.
        ("52060433009911002506550120000007800267301615", 644, 5),
        # A real production NF-e authorized by SEFAZ/SC (cStat 100), shipped in nfelib's samples.
        ("42210775277525000178550030000266631762885493", 844, 3),
        # nfelib README sample.
        ("35200159594315000157550010000000012062777161", 582, 1),
        # An NFC-e key whose remainder is 0 (DV 0).
        ("13181017921427000125650010000000309887251170", 693, 0),
        # Constructed: remainder 1 (DV 0), and remainder 2 (DV 9).
        ("35260911222333000181550010000001231456789060", 628, 0),
        ("35260911222333000181550010000001231456789019", 618, 9),
    ],
)
def test_published_vectors_have_the_documented_sum_and_dv(chave: str, weighted_sum: int, dv: int) -> None:
    # Given a vector from the reference / Then the hand-written weights give its sum, and our DV agrees
    assert _weighted_sum(chave[:43]) == weighted_sum
    assert digito_chave(chave[:43]) == dv == int(chave[43])
    assert chave_valida(chave)


@pytest.mark.parametrize(
    "filename",
    [
        "42210775277525000178550030000266631762885493-procNFe.xml",
        "42211275277525000178550030000276771368212013-procNFe.xml",
        "42220575277525000178550030000292481295366801-procNFe.xml",
        # Not the README sample NFe3520...161.xml: its Id lacks "NFe" and its tpEmis (1) is not the
        # key's (2), so it is no golden vector for composition (its key's DV is still checked above).
    ],
)
def test_composing_the_fields_of_a_real_nfe_gives_its_own_id_and_cdv(filename: str) -> None:
    # Given an NF-e written by another emitter (three of them authorized by SEFAZ)
    root = etree.parse(str(SAMPLES / filename)).getroot()
    inf = root.find(".//n:infNFe", NS)
    assert inf is not None

    def text(path: str) -> str:
        value = inf.findtext(path, namespaces=NS)
        assert value is not None, path
        return value

    # When the chave is composed from ide and emit
    chave = compor_chave(
        cuf=int(text("n:ide/n:cUF")),
        dh_emi=datetime.fromisoformat(text("n:ide/n:dhEmi")),
        cnpj=text("n:emit/n:CNPJ"),
        serie=int(text("n:ide/n:serie")),
        numero=int(text("n:ide/n:nNF")),
        tp_emis=int(text("n:ide/n:tpEmis")),
        cnf=text("n:ide/n:cNF"),
        modelo=int(text("n:ide/n:mod")),
    )
    # Then it is the document's own Id and its cDV, and the protocol's chNFe when there is one
    assert "NFe" + chave == inf.get("Id")
    assert chave[-1] == text("n:ide/n:cDV")
    ch_nfe = root.findtext(".//n:protNFe/n:infProt/n:chNFe", namespaces=NS)
    if ch_nfe is not None:
        assert ch_nfe == chave


def test_parse_splits_the_fields() -> None:
    parsed = parse_chave("NFe42210775277525000178550030000266631762885493")
    assert (parsed.cuf, parsed.aamm, parsed.cnpj, parsed.modelo) == ("42", "2107", "75277525000178", "55")
    assert (parsed.serie, parsed.numero, parsed.tp_emis, parsed.cnf, parsed.dv) == (
        "003",
        "000026663",
        "1",
        "76288549",
        "3",
    )
    assert parsed.uf == "SC"
    assert parsed.formatada == "4221 0775 2775 2500 0178 5500 3000 0266 6317 6288 5493"


@pytest.mark.parametrize(
    ("chave", "message"),
    [
        ("42210775277525000178550030000266631762885494", "check digit 4 does not match"),
        ("4221077527752500017855003000026663176288549", "44 positions"),
        ("99210775277525000178550030000266631762885493", "cUF 99"),
        ("42211375277525000178550030000266631762885493", "no month 13"),
        ("4221077527752500017855003000026663176288549X", "44 positions"),
    ],
)
def test_parse_says_what_is_wrong(chave: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_chave(chave)
    assert not chave_valida(chave)


def test_alphanumeric_cnpj_positions_count_ord_minus_48() -> None:
    # Given a chave whose CNPJ is alphanumeric (12ABC34501DE35, the Receita's published example)
    chave43 = "352609" + "12ABC34501DE35" + "55" + "001" + "000000123" + "1" + "24681357"
    assert len(chave43) == 43
    # Then the DV counts A=17, B=18, ... (sum 906, remainder 4, DV 7: worked out once outside this code)
    values = [ord(c) - 48 for c in chave43]
    assert values[8:11] == [17, 18, 19]
    assert sum(v * int(w) for v, w in zip(values, MOC_WEIGHTS, strict=True)) == 906
    assert digito_chave(chave43) == 7
    assert parse_chave(chave43 + "7").cnpj == "12ABC34501DE35"


def test_compor_uses_the_month_of_dhemi_in_its_own_offset() -> None:
    # 2026-01-01 01:00 at -03:00 is still December in UTC: the chave says 2601 (as the XML's dhEmi).
    dh = datetime.fromisoformat("2026-01-01T01:00:00-03:00")
    chave = compor_chave(cuf=35, dh_emi=dh, cnpj="11222333000181", serie=1, numero=123, tp_emis=1, cnf="45678901")
    assert chave[2:6] == "2601"
    assert chave.startswith("352601112223330001815500100000012314567890")


@pytest.mark.parametrize("cnf", sorted(CNF_RECUSADOS))
def test_every_listed_cnf_is_refused(cnf: str) -> None:
    assert cnf_recusado(cnf, numero=1)


def test_the_refused_set_is_exactly_rule_b03_10() -> None:
    # Rule B03-10's list, written out: ten repeated digits and ten ascending runs.
    repeated = {"00000000", "11111111", "22222222", "33333333", "44444444"}
    repeated |= {"55555555", "66666666", "77777777", "88888888", "99999999"}
    runs = {"12345678", "23456789", "34567890", "45678901", "56789012"}
    runs |= {"67890123", "78901234", "89012345", "90123456", "01234567"}
    assert repeated | runs == CNF_RECUSADOS


def test_cnf_equal_to_nnf_is_refused() -> None:
    assert cnf_recusado("00000123", numero=123)
    assert not cnf_recusado("00000124", numero=123)
    assert cnf_recusado("1234567", numero=1)  # not 8 digits


@settings(max_examples=300)
@given(st.integers(min_value=1, max_value=999_999_999))
def test_generated_cnf_is_never_refused(numero: int) -> None:
    cnf = gerar_cnf(numero)
    assert len(cnf) == 8 and cnf.isdigit()
    assert cnf not in CNF_RECUSADOS
    assert int(cnf) != numero


def test_generated_cnf_skips_a_refused_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a CSPRNG that first draws refused values (a run, the nNF itself), then a good one
    draws = iter([12345678, 42, 11111111, 24681357])
    monkeypatch.setattr("functions.fiscal.chave.secrets.randbelow", lambda _n: next(draws))
    # Then the first acceptable draw is the cNF
    assert gerar_cnf(42) == "24681357"


def test_generated_cnf_is_spread_out() -> None:
    # Not a proof of randomness: 200 draws from 10^8 values repeat with probability ~2e-4.
    assert len({gerar_cnf(1) for _ in range(200)}) == 200


@given(
    st.sampled_from([11, 35, 42, 52, 53]),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=12, max_size=12),
    st.integers(0, 999),
    st.integers(1, 999_999_999),
    st.integers(1, 9),
    st.text(alphabet="0123456789", min_size=8, max_size=8),
)
def test_composed_chaves_parse_back(
    cuf: int, dh: datetime, cnpj_base: str, serie: int, numero: int, tp_emis: int, cnf: str
) -> None:
    cnpj = cnpj_base + "00"
    chave = compor_chave(cuf=cuf, dh_emi=dh, cnpj=cnpj, serie=serie, numero=numero, tp_emis=tp_emis, cnf=cnf)
    parsed = parse_chave(chave)
    assert (int(parsed.cuf), parsed.cnpj, int(parsed.serie), int(parsed.numero)) == (cuf, cnpj, serie, numero)
    assert (parsed.aamm, int(parsed.tp_emis), parsed.cnf) == (f"{dh:%y%m}", tp_emis, cnf)
    # Any other last digit is refused.
    for other in "0123456789":
        if other != chave[-1]:
            assert not chave_valida(chave[:-1] + other)
