"""CPF and CNPJ: normalisation to digits and check-digit validation (Receita Federal's modulo 11).

The CNPJ check digits also cover the alphanumeric CNPJ (NT Conjunta 2025.001): its first twelve
positions may be 0-9 or A-Z, each worth ord(c) - 48, so a digit keeps its value and the arithmetic
of the numeric CNPJ is unchanged. normalizar_documento (the API's) still takes digits only.
"""

from __future__ import annotations

import re

CPF_LENGTH = 11
CNPJ_LENGTH = 14
# Digits with the usual punctuation: 123.456.789-09, 11.222.333/0001-81, or digits only.
_ALLOWED = re.compile(r"^[0-9./\- ]+$")
_CNPJ_WEIGHTS = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
# Twelve base positions of 0-9 or A-Z, then two check digits (the XSD's TCnpj pattern).
_CNPJ_SHAPE = re.compile(r"^[0-9A-Z]{12}[0-9]{2}$")


def _cpf_digit(digits: str) -> int:
    # Weights run from len+1 down to 2 over the digits so far.
    total = sum(int(d) * w for d, w in zip(digits, range(len(digits) + 1, 1, -1), strict=True))
    remainder = (total * 10) % 11
    return 0 if remainder == 10 else remainder


def _cnpj_digit(digits: str) -> int:
    weights = _CNPJ_WEIGHTS[-len(digits) :]
    # ord(c) - 48: '0'..'9' are 0..9 and 'A'..'Z' are 17..42 (NT 2025.001).
    remainder = sum((ord(d) - 48) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def cpf_valido(digits: str) -> bool:
    if len(digits) != CPF_LENGTH or not digits.isdigit() or len(set(digits)) == 1:
        return False
    first = _cpf_digit(digits[:9])
    second = _cpf_digit(digits[:9] + str(first))
    return digits[9:] == f"{first}{second}"


def cnpj_valido(digits: str) -> bool:
    """A CNPJ of 14 characters, numeric or alphanumeric (uppercase), whose check digits match."""
    if not _CNPJ_SHAPE.match(digits) or len(set(digits)) == 1:
        return False
    first = _cnpj_digit(digits[:12])
    second = _cnpj_digit(digits[:12] + str(first))
    return digits[12:] == f"{first}{second}"


def normalizar_documento(value: str) -> str:
    """The documento as digits only; ValueError (with a message for the API client) when invalid.

    Sequences of one repeated digit (000.000.000-00, ...) satisfy the arithmetic but are not issued,
    so they are refused as well.
    """
    if not _ALLOWED.match(value):
        raise ValueError("documento must contain only digits and the separators . / -")
    digits = re.sub(r"\D", "", value)
    if len(digits) == CPF_LENGTH:
        if not cpf_valido(digits):
            raise ValueError("invalid CPF: check digits do not match")
        return digits
    if len(digits) == CNPJ_LENGTH:
        if not cnpj_valido(digits):
            raise ValueError("invalid CNPJ: check digits do not match")
        return digits
    raise ValueError(f"documento must have 11 (CPF) or 14 (CNPJ) digits, got {len(digits)}")
