"""CNPJ (numeric and alphanumeric), CPF, GTIN, NCM, CEP, IBGE codes and UF siglas."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nfelib.nfe.bindings.v4_0.tipos_basico_v4_00 import TcodUfIbge, Tuf

from functions.fiscal.identifiers import (
    CODIGO_UF,
    SEM_GTIN,
    SIGLA_UF,
    cnpj_valido,
    codigo_municipio_valido,
    codigo_uf,
    digito_gtin,
    digitos_cnpj,
    gtin_valido,
    normalizar_cep,
    normalizar_cnpj,
    normalizar_codigo_municipio,
    normalizar_cpf,
    normalizar_documento_fiscal,
    normalizar_gtin,
    normalizar_ncm,
    normalizar_uf,
)


def test_uf_table_matches_the_official_schema() -> None:
    # The XSD's enumerations (through nfelib's bindings) are the independent source.
    assert {f"{code:02d}" for code in CODIGO_UF.values()} == {e.value for e in TcodUfIbge}
    assert set(CODIGO_UF) == {e.value for e in Tuf} - {"EX"}
    assert len(CODIGO_UF) == 27
    assert (codigo_uf("sp"), codigo_uf("SC"), codigo_uf("DF"), SIGLA_UF[52]) == (35, 42, 53, "GO")


@pytest.mark.parametrize(
    ("value", "cnpj"),
    [
        ("11.222.333/0001-81", "11222333000181"),
        ("75277525000178", "75277525000178"),  # the emitente of nfelib's authorized sample
        # The Receita Federal's example of an alphanumeric CNPJ: A..Z count ord(c) - 48.
        ("12.ABC.345/01DE-35", "12ABC34501DE35"),
        ("12abc34501de35", "12ABC34501DE35"),
    ],
)
def test_cnpj_normalises(value: str, cnpj: str) -> None:
    assert normalizar_cnpj(value) == cnpj
    assert cnpj_valido(cnpj)


def test_alphanumeric_cnpj_digits_by_hand() -> None:
    # 12ABC34501DE: values 1,2,17,18,19,3,4,5,0,1,20,21 x weights 5,4,3,2,9,8,7,6,5,4,3,2 = 459,
    # 459 mod 11 = 8 -> 3; then with the 3 and weights 6..2: 424 mod 11 = 6 -> 5.
    assert digitos_cnpj("12ABC34501DE") == "35"
    assert not cnpj_valido("12ABC34501DE36")
    assert not cnpj_valido("12abc34501de35")  # the canonical form is uppercase


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("11.222.333/0001-80", "check digits"),
        ("12ABC34501DE53", "check digits"),
        ("1122233300018", "14 characters, got 13"),
        ("11_222_333/0001-81", "only 0-9, A-Z"),
        ("00000000000000", "check digits"),
    ],
)
def test_bad_cnpj_says_why(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalizar_cnpj(value)


def test_cpf_and_documento() -> None:
    assert normalizar_cpf("529.982.247-25") == "52998224725"
    with pytest.raises(ValueError, match="check digits"):
        normalizar_cpf("529.982.247-24")
    assert normalizar_documento_fiscal("529.982.247-25") == "52998224725"
    assert normalizar_documento_fiscal("12.ABC.345/01DE-35") == "12ABC34501DE35"
    with pytest.raises(ValueError, match=r"CPF \(11 digits\) or a CNPJ"):
        normalizar_documento_fiscal("1234")


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=12, max_size=12))
def test_any_alphanumeric_base_with_its_digits_is_valid_and_a_changed_digit_is_not(base: str) -> None:
    cnpj = base + digitos_cnpj(base)
    if len(set(cnpj)) > 1:
        assert cnpj_valido(cnpj)
    wrong = str((int(cnpj[-1]) + 1) % 10)
    assert not cnpj_valido(cnpj[:-1] + wrong)


@pytest.mark.parametrize(
    "gtin",
    [
        "7891000315507",  # GTIN-13 (Brazilian prefix 789)
        "96385074",  # GTIN-8
        "036000291452",  # GTIN-12 (UPC-A)
        "17891000315504",  # GTIN-14
    ],
)
def test_known_gtins(gtin: str) -> None:
    assert gtin_valido(gtin)
    assert normalizar_gtin(gtin) == gtin
    bad = gtin[:-1] + str((int(gtin[-1]) + 1) % 10)
    assert not gtin_valido(bad)
    with pytest.raises(ValueError, match="check digit"):
        normalizar_gtin(bad)


def test_gtin_absent_is_sem_gtin_and_wrong_lengths_are_refused() -> None:
    assert normalizar_gtin(None) == normalizar_gtin("") == normalizar_gtin("sem gtin") == SEM_GTIN
    assert digito_gtin("789100031550") == 7
    for bad in ("1234567", "1234567890", "12345678901234567", "78910003155OX"):
        with pytest.raises(ValueError, match="8, 12, 13 or 14 digits"):
            normalizar_gtin(bad)


def test_ncm_cep() -> None:
    assert normalizar_ncm("8471.30.12") == "84713012"
    assert normalizar_cep("01310-100") == "01310100"
    for bad in ("847130", "8471301A", "847130121"):
        with pytest.raises(ValueError, match="NCM must have 8 digits"):
            normalizar_ncm(bad)
    with pytest.raises(ValueError, match="CEP must have 8 digits"):
        normalizar_cep("0131010")


def test_municipio_and_uf() -> None:
    assert normalizar_codigo_municipio("3550308", "SP") == "3550308"  # São Paulo
    assert normalizar_codigo_municipio("4202404") == "4202404"  # Blumenau
    with pytest.raises(ValueError, match="belongs to SP, not to RJ"):
        normalizar_codigo_municipio("3550308", "rj")
    with pytest.raises(ValueError, match="7 digits"):
        normalizar_codigo_municipio("355030")
    with pytest.raises(ValueError, match="does not start with a UF"):
        normalizar_codigo_municipio("9999999")
    assert not codigo_municipio_valido("3550308", "XX")
    assert normalizar_uf(" sc ") == "SC"
    with pytest.raises(ValueError, match="unknown UF"):
        normalizar_uf("EX")
