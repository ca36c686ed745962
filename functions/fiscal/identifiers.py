"""Identifiers an NF-e carries: CNPJ (numeric and alphanumeric), CPF, GTIN, NCM, CEP, IBGE codes, UF.

Pure functions over strings, cheap to import (no nfelib, no lxml): the API validates with them too.
Each `normalizar_*` returns the canonical form the XML carries, or raises ValueError with a message
fit for an API client; each `*_valido` answers without raising.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from functions.shared.documents import _cnpj_digit, cnpj_valido, cpf_valido

__all__ = [
    "CODIGO_UF",
    "SEM_GTIN",
    "SIGLA_UF",
    "UFS",
    "cnpj_valido",
    "codigo_municipio_valido",
    "codigo_uf",
    "cpf_valido",
    "digito_gtin",
    "digitos_cnpj",
    "gtin_valido",
    "normalizar_cep",
    "normalizar_cnpj",
    "normalizar_codigo_municipio",
    "normalizar_cpf",
    "normalizar_documento_fiscal",
    "normalizar_gtin",
    "normalizar_ncm",
    "normalizar_uf",
]

# IBGE's code of each of the 27 federative units (the XSD's TCodUfIBGE), by sigla.
CODIGO_UF: MappingProxyType[str, int] = MappingProxyType(
    {
        "RO": 11,
        "AC": 12,
        "AM": 13,
        "RR": 14,
        "PA": 15,
        "AP": 16,
        "TO": 17,
        "MA": 21,
        "PI": 22,
        "CE": 23,
        "RN": 24,
        "PB": 25,
        "PE": 26,
        "AL": 27,
        "SE": 28,
        "BA": 29,
        "MG": 31,
        "ES": 32,
        "RJ": 33,
        "SP": 35,
        "PR": 41,
        "SC": 42,
        "RS": 43,
        "MS": 50,
        "MT": 51,
        "GO": 52,
        "DF": 53,
    }
)
SIGLA_UF: MappingProxyType[int, str] = MappingProxyType({code: sigla for sigla, code in CODIGO_UF.items()})
UFS: frozenset[str] = frozenset(CODIGO_UF)

# cEAN / cEANTrib of a product without a GTIN (the XSD allows this literal).
SEM_GTIN = "SEM GTIN"
GTIN_LENGTHS = (8, 12, 13, 14)

_SEPARATORS = re.compile(r"[.\-/ ]")
_CNPJ_INPUT = re.compile(r"^[0-9A-Za-z.\-/ ]+$")


def _strip_separators(value: str) -> str:
    return _SEPARATORS.sub("", value.strip())


def digitos_cnpj(base: str) -> str:
    """The two check digits of a 12-character CNPJ base (0-9 or A-Z, uppercase)."""
    if not re.fullmatch(r"[0-9A-Z]{12}", base):
        raise ValueError("a CNPJ base is 12 characters of 0-9 or A-Z")
    first = _cnpj_digit(base)
    return f"{first}{_cnpj_digit(base + str(first))}"


def normalizar_cnpj(value: str) -> str:
    """The CNPJ as 14 uppercase characters (numeric or alphanumeric), check digits verified."""
    if not _CNPJ_INPUT.match(value):
        raise ValueError("CNPJ must contain only 0-9, A-Z and the separators . / -")
    cnpj = _strip_separators(value).upper()
    if len(cnpj) != 14:
        raise ValueError(f"CNPJ must have 14 characters, got {len(cnpj)}")
    if not cnpj_valido(cnpj):
        raise ValueError("invalid CNPJ: check digits do not match")
    return cnpj


def normalizar_cpf(value: str) -> str:
    """The CPF as 11 digits, check digits verified."""
    if not re.fullmatch(r"[0-9.\- ]+", value):
        raise ValueError("CPF must contain only digits and the separators . -")
    cpf = _strip_separators(value)
    if len(cpf) != 11:
        raise ValueError(f"CPF must have 11 digits, got {len(cpf)}")
    if not cpf_valido(cpf):
        raise ValueError("invalid CPF: check digits do not match")
    return cpf


def normalizar_documento_fiscal(value: str) -> str:
    """A CPF (11 digits) or a CNPJ (14 characters, alphanumeric allowed), normalised and verified."""
    compact = _strip_separators(value)
    if len(compact) == 11 and compact.isascii() and compact.isdigit():
        return normalizar_cpf(value)
    if len(compact) == 14:
        return normalizar_cnpj(value)
    raise ValueError(f"documento must be a CPF (11 digits) or a CNPJ (14 characters), got {len(compact)}")


def digito_gtin(body: str) -> int:
    """GS1 check digit of a GTIN body: weights 3, 1, 3, ... from the right, then up to a multiple of 10."""
    if not (body.isascii() and body.isdigit()):
        raise ValueError("a GTIN body is digits only")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_valido(value: str) -> bool:
    return (
        len(value) in GTIN_LENGTHS and value.isascii() and value.isdigit() and digito_gtin(value[:-1]) == int(value[-1])
    )


def normalizar_gtin(value: str | None) -> str:
    """GTIN-8/12/13/14 with its check digit verified; SEM GTIN when absent (None, empty or the literal)."""
    if value is None or not value.strip() or value.strip().upper() == SEM_GTIN:
        return SEM_GTIN
    gtin = _strip_separators(value)
    if len(gtin) not in GTIN_LENGTHS or not (gtin.isascii() and gtin.isdigit()):
        raise ValueError("GTIN must have 8, 12, 13 or 14 digits")
    if not gtin_valido(gtin):
        raise ValueError("invalid GTIN: check digit does not match")
    return gtin


def normalizar_ncm(value: str) -> str:
    """NCM as 8 digits (rule 777 refuses an incomplete one); dots allowed on input (8471.30.12)."""
    ncm = _strip_separators(value)
    if len(ncm) != 8 or not (ncm.isascii() and ncm.isdigit()):
        raise ValueError("NCM must have 8 digits")
    return ncm


def normalizar_cep(value: str) -> str:
    """CEP as 8 digits (01310-100 -> 01310100)."""
    cep = _strip_separators(value)
    if len(cep) != 8 or not (cep.isascii() and cep.isdigit()):
        raise ValueError("CEP must have 8 digits")
    return cep


def normalizar_uf(value: str) -> str:
    """One of the 27 UF siglas, uppercase (EX, the exterior, is not accepted: no export yet)."""
    uf = value.strip().upper()
    if uf not in CODIGO_UF:
        raise ValueError(f"unknown UF {value!r}: expected one of the 27 siglas")
    return uf


def codigo_uf(uf: str) -> int:
    """IBGE code of a UF sigla (SP -> 35)."""
    return CODIGO_UF[normalizar_uf(uf)]


def normalizar_codigo_municipio(value: str, uf: str | None = None) -> str:
    """IBGE município code: 7 digits whose first two are a UF's code (that of `uf` when given)."""
    code = value.strip()
    if len(code) != 7 or not (code.isascii() and code.isdigit()):
        raise ValueError("codigoMunicipio must have 7 digits (IBGE)")
    prefix = int(code[:2])
    if prefix not in SIGLA_UF:
        raise ValueError(f"codigoMunicipio {code} does not start with a UF's IBGE code")
    if uf is not None and prefix != codigo_uf(uf):
        raise ValueError(f"codigoMunicipio {code} belongs to {SIGLA_UF[prefix]}, not to {uf.strip().upper()}")
    return code


def codigo_municipio_valido(value: str, uf: str | None = None) -> bool:
    try:
        normalizar_codigo_municipio(value, uf)
    except (ValueError, KeyError):
        return False
    return True
