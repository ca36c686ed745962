"""The emulator's own check digits against published vectors (reference/nfe.md §1.2)."""

from __future__ import annotations

import pytest

from nfe.local.sefaz import digits


@pytest.mark.parametrize(
    "chave",
    [
        "52060433009911002506550120000007800267301615",  # the MOC's worked example (sum 644, DV 5)
        "42210775277525000178550030000266631762885493",  # a real authorized NF-e in nfelib's samples
        "35200159594315000157550010000000012062777161",  # nfelib's README sample
        "13181017921427000125650010000000309887251170",  # remainder 0 -> DV 0
        "35260911222333000181550010000001231456789060",  # remainder 1 -> DV 0
    ],
)
def test_chave_dv_accepts_published_keys_and_refuses_every_other_digit(chave: str) -> None:
    assert digits.chave_valid(chave)
    for other in "0123456789":
        if other != chave[-1]:
            assert not digits.chave_valid(chave[:43] + other)


def test_cnpj_cpf_check_digits_including_the_alphanumeric_cnpj() -> None:
    assert digits.cnpj_valid("11222333000181") and not digits.cnpj_valid("11222333000182")
    assert digits.cnpj_valid("12ABC34501DE35") and not digits.cnpj_valid("12ABC34501DE36")  # NT 2025.001's example
    assert not digits.cnpj_valid("00000000000000") and not digits.cnpj_valid("1122233300018")
    assert digits.cpf_valid("52998224725") and not digits.cpf_valid("52998224726")
    assert not digits.cpf_valid("11111111111") and not digits.cpf_valid("5299822472A")
