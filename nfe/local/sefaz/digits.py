"""Check digits as SEFAZ computes them: the chave's mod-11 DV, CNPJ (numeric and alphanumeric) and CPF.

The emulator's own copies, on purpose: it judges the code under test, and a check shared with that
code would prove nothing.
"""

from __future__ import annotations

import re

_CNPJ = re.compile(r"^[0-9A-Z]{12}[0-9]{2}$")
_CPF = re.compile(r"^[0-9]{11}$")


def _value(char: str) -> int:
    # NT Conjunta 2025.001: letters of the alphanumeric CNPJ count as their ASCII code minus 48.
    return ord(char) - 48


def chave_dv(first43: str) -> int:
    """MOC 7.0 §2.2.6.2: weights 2..9 from the right, DV = 11 - (sum mod 11), 0 when the rest is 0 or 1."""
    total = 0
    weight = 2
    for char in reversed(first43):
        total += _value(char) * weight
        weight = 2 if weight == 9 else weight + 1
    rest = total % 11
    return 0 if rest < 2 else 11 - rest


def chave_valid(chave: str) -> bool:
    return len(chave) == 44 and chave[-1].isdigit() and chave_dv(chave[:43]) == int(chave[-1])


def _cnpj_digit(body: str) -> int:
    weights = [*range(len(body) - 7, 1, -1), *range(9, 1, -1)][-len(body) :]
    total = sum(_value(char) * weight for char, weight in zip(body, weights, strict=True))
    rest = total % 11
    return 0 if rest < 2 else 11 - rest


def cnpj_valid(cnpj: str) -> bool:
    if not _CNPJ.match(cnpj) or len(set(cnpj)) == 1:
        return False
    first = _cnpj_digit(cnpj[:12])
    second = _cnpj_digit(cnpj[:12] + str(first))
    return cnpj[12:] == f"{first}{second}"


def cpf_valid(cpf: str) -> bool:
    if not _CPF.match(cpf) or len(set(cpf)) == 1:
        return False
    digits = [int(char) for char in cpf]
    for size in (9, 10):
        total = sum(digit * weight for digit, weight in zip(digits[:size], range(size + 1, 1, -1), strict=True))
        check = (total * 10) % 11 % 10
        if check != digits[size]:
            return False
    return True
