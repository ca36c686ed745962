"""CPF/CNPJ check digits: known documents, and properties over generated ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.shared.documents import _cnpj_digit, _cpf_digit, cnpj_valido, cpf_valido, normalizar_documento


@pytest.mark.parametrize(
    ("value", "digits"),
    [
        ("529.982.247-25", "52998224725"),
        ("52998224725", "52998224725"),
        ("11.222.333/0001-81", "11222333000181"),
        ("11222333000181", "11222333000181"),
        (" 11.222.333/0001-81", "11222333000181"),
    ],
)
def test_known_documents_normalise_to_digits(value: str, digits: str) -> None:
    assert normalizar_documento(value) == digits


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("529.982.247-24", "invalid CPF"),
        ("11.222.333/0001-80", "invalid CNPJ"),
        ("000.000.000-00", "invalid CPF"),
        ("11111111111111", "invalid CNPJ"),
        ("1234", "11 (CPF) or 14 (CNPJ) digits, got 4"),
        ("529_982_247_25", "only digits"),
        ("", "only digits"),
    ],
)
def test_invalid_documents_say_why(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        normalizar_documento(value)


def _with_cpf_digits(base: str) -> str:
    first = _cpf_digit(base)
    return base + str(first) + str(_cpf_digit(base + str(first)))


def _with_cnpj_digits(base: str) -> str:
    first = _cnpj_digit(base)
    return base + str(first) + str(_cnpj_digit(base + str(first)))


digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1), digits)
def test_cpf_with_computed_digits_is_valid_and_any_other_last_digit_is_not(base: str, other: str) -> None:
    # Given nine digits completed with their check digits / Then valid; change the last one / Then invalid
    cpf = _with_cpf_digits(base)
    assert cpf_valido(cpf)
    if other != cpf[-1]:
        assert not cpf_valido(cpf[:-1] + other)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12).filter(lambda s: len(set(s)) > 1), digits)
def test_cnpj_with_computed_digits_is_valid_and_any_other_last_digit_is_not(base: str, other: str) -> None:
    cnpj = _with_cnpj_digits(base)
    assert cnpj_valido(cnpj)
    if other != cnpj[-1]:
        assert not cnpj_valido(cnpj[:-1] + other)
