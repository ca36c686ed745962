"""The chave de acesso (44 positions) of an NF-e: composition, check digit, parsing and the cNF.

MOC 7.0 §2.2.6: cUF(2) AAMM(4) CNPJ(14) mod(2) serie(3) nNF(9) tpEmis(1) cNF(8) cDV(1).
Pure and cheap to import: no nfelib, no lxml.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from functions.fiscal.identifiers import SIGLA_UF

__all__ = [
    "CHAVE_LENGTH",
    "CNF_RECUSADOS",
    "ChaveAcesso",
    "chave_valida",
    "cnf_recusado",
    "compor_chave",
    "digito_chave",
    "gerar_cnf",
    "parse_chave",
]

CHAVE_LENGTH = 44
MODELO_NFE = 55
# The XSD's TChNFe: positions 7-18 may be letters (alphanumeric CNPJ), everything else digits.
_CHAVE = re.compile(r"^[0-9]{6}[0-9A-Z]{12}[0-9]{26}$")
_CHAVE_SEM_DV = re.compile(r"^[0-9]{6}[0-9A-Z]{12}[0-9]{25}$")

# Rule B03-10 (NT 2019.001, cStat 897): the cNF may not be one digit repeated, one of these ascending
# runs, nor equal to the nNF.
CNF_RECUSADOS: frozenset[str] = frozenset(
    {str(d) * 8 for d in range(10)}
    | {
        "12345678",
        "23456789",
        "34567890",
        "45678901",
        "56789012",
        "67890123",
        "78901234",
        "89012345",
        "90123456",
        "01234567",
    }
)


def digito_chave(chave43: str) -> int:
    """The MOC's modulo-11 check digit of the first 43 positions.

    Weights 2..9, repeated, from the rightmost position leftwards; DV = 11 - (sum mod 11), and 0 when
    the remainder is 0 or 1. A letter (alphanumeric CNPJ) counts ord(c) - 48, as in the CNPJ's own
    check digits: NT 2025.001 applies that to the CNPJ; applying it to the chave is an inference.
    """
    if not _CHAVE_SEM_DV.match(chave43):
        raise ValueError("the chave without its DV must be 43 positions: 6 digits, 12 of 0-9/A-Z, 25 digits")
    total = sum((ord(c) - 48) * (2 + i % 8) for i, c in enumerate(reversed(chave43)))
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def cnf_recusado(cnf: str, numero: int) -> bool:
    """True when SEFAZ would refuse this cNF for a nota with this nNF (rule B03-10 -> 897)."""
    if not re.fullmatch(r"[0-9]{8}", cnf):
        return True
    return cnf in CNF_RECUSADOS or int(cnf) == numero


def gerar_cnf(numero: int) -> str:
    """A random 8-digit cNF from the OS's CSPRNG (MOC: "sequência totalmente aleatória"), never refused."""
    while True:
        cnf = f"{secrets.randbelow(100_000_000):08d}"
        if not cnf_recusado(cnf, numero):
            return cnf


def compor_chave(
    *,
    cuf: int,
    dh_emi: datetime,
    cnpj: str,
    serie: int,
    numero: int,
    tp_emis: int,
    cnf: str,
    modelo: int = MODELO_NFE,
) -> str:
    """The 44-position chave; AAMM is the year and month of dhEmi as written (its own UTC offset)."""
    if cuf not in SIGLA_UF:
        raise ValueError(f"cUF {cuf} is not a UF's IBGE code")
    if not re.fullmatch(r"[0-9A-Z]{12}[0-9]{2}", cnpj):
        raise ValueError("cnpj must be 14 characters (12 of 0-9/A-Z, then 2 digits)")
    if not 0 <= serie <= 999:
        raise ValueError("serie must be within 0-999")
    if not 1 <= numero <= 999_999_999:
        raise ValueError("numero must be within 1-999999999")
    if not 1 <= tp_emis <= 9:
        raise ValueError("tpEmis must be one digit 1-9")
    if not re.fullmatch(r"[0-9]{8}", cnf):
        raise ValueError("cNF must be 8 digits")
    if not 0 <= modelo <= 99:
        raise ValueError("modelo must be two digits")
    sem_dv = f"{cuf:02d}{dh_emi:%y%m}{cnpj}{modelo:02d}{serie:03d}{numero:09d}{tp_emis}{cnf}"
    return sem_dv + str(digito_chave(sem_dv))


@dataclass(frozen=True, slots=True)
class ChaveAcesso:
    """A chave split into its fields (all as the chave writes them, zero-padded)."""

    chave: str
    cuf: str
    aamm: str
    cnpj: str
    modelo: str
    serie: str
    numero: str
    tp_emis: str
    cnf: str
    dv: str

    @property
    def uf(self) -> str:
        return SIGLA_UF[int(self.cuf)]

    @property
    def formatada(self) -> str:
        """In groups of four, as the DANFE prints it."""
        return " ".join(self.chave[i : i + 4] for i in range(0, CHAVE_LENGTH, 4))


def parse_chave(chave: str) -> ChaveAcesso:
    """Split and verify a chave: shape, cUF, month, and the check digit. ValueError says what is wrong."""
    value = chave.strip()
    if value.startswith("NFe"):
        value = value[3:]
    if not _CHAVE.match(value):
        raise ValueError("a chave has 44 positions: 6 digits, 12 of 0-9/A-Z (CNPJ), 26 digits")
    if int(value[:2]) not in SIGLA_UF:
        raise ValueError(f"cUF {value[:2]} is not a UF's IBGE code")
    if not 1 <= int(value[4:6]) <= 12:
        raise ValueError(f"AAMM {value[2:6]} has no month {value[4:6]}")
    expected = digito_chave(value[:43])
    if int(value[43]) != expected:
        raise ValueError(f"check digit {value[43]} does not match the chave (expected {expected})")
    return ChaveAcesso(
        chave=value,
        cuf=value[0:2],
        aamm=value[2:6],
        cnpj=value[6:20],
        modelo=value[20:22],
        serie=value[22:25],
        numero=value[25:34],
        tp_emis=value[34],
        cnf=value[35:43],
        dv=value[43],
    )


def chave_valida(chave: str) -> bool:
    try:
        parse_chave(chave)
    except ValueError:
        return False
    return True
