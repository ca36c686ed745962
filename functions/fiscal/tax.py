"""Tax rules per regime: what each item declares (ICMS, PIS, COFINS), its CFOP, and the nota's indicators.

One module a team extends when it supports another regime: add the regime to SUPPORTED_REGIMES and a
branch to `impostos_item`. Pure data, no nfelib: `xml.py` turns these values into the schema's groups.

Simples Nacional (CRT 1) is supported: the company pays ICMS, PIS and COFINS inside the DAS, so the
NF-e declares no tax amounts on the items.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum

__all__ = [
    "CFOP_VENDA_INTERESTADUAL",
    "CFOP_VENDA_INTERNA",
    "IND_PRES_PADRAO",
    "SUPPORTED_REGIMES",
    "Crt",
    "ImpostosItem",
    "IndicadorIe",
    "RegimeNaoSuportado",
    "cfop_item",
    "exigir_regime_suportado",
    "id_dest",
    "impostos_item",
    "ind_final",
    "ind_intermed",
    "informacoes_complementares",
]


class Crt(IntEnum):
    """Código de Regime Tributário (emit/CRT)."""

    SIMPLES_NACIONAL = 1
    SIMPLES_NACIONAL_EXCESSO_SUBLIMITE = 2
    REGIME_NORMAL = 3
    MEI = 4


class IndicadorIe(IntEnum):
    """dest/indIEDest."""

    CONTRIBUINTE = 1
    ISENTO = 2
    NAO_CONTRIBUINTE = 9


SUPPORTED_REGIMES: frozenset[Crt] = frozenset({Crt.SIMPLES_NACIONAL})

# Sales of goods bought or made by the emitente: 5102 inside its UF, 6102 to another UF (Convênio
# s/nº de 1970, CFOP table). A caller can give another CFOP per item.
CFOP_VENDA_INTERNA = "5102"
CFOP_VENDA_INTERESTADUAL = "6102"

# indPres 1 (presencial): a real SEFAZ accepts it without indIntermed. 2, 3, 4 and 9 require
# indIntermed (rule B25c-10 -> 434); a team selling remotely sets 9 here and `ind_intermed` then
# answers 0 (operação sem intermediador), which `xml.py` writes.
IND_PRES_PADRAO = 1
_IND_PRES_COM_INTERMED = frozenset({2, 3, 4, 9})

ZERO = Decimal("0.00")


class RegimeNaoSuportado(ValueError):
    """The emitente's CRT has no tax rules here yet."""


def exigir_regime_suportado(crt: int) -> Crt:
    """The CRT as a Crt, or RegimeNaoSuportado naming it (a ValueError, so pydantic reports the field)."""
    try:
        regime = Crt(crt)
    except ValueError:
        raise RegimeNaoSuportado(f"CRT {crt} is not a Código de Regime Tributário (1, 2, 3 or 4)") from None
    if regime not in SUPPORTED_REGIMES:
        supported = ", ".join(f"{r.value} ({r.name})" for r in sorted(SUPPORTED_REGIMES))
        raise RegimeNaoSuportado(f"CRT {regime.value} ({regime.name}) is not supported yet; supported: {supported}")
    return regime


@dataclass(frozen=True, slots=True)
class ImpostosItem:
    """What one item declares. Amounts are Decimal with 2 places; None means the tag is absent.

    icms_grupo names the schema's group (ICMSSN102, ...); pis_grupo/cofins_grupo likewise (PISOutr,
    PISNT, ...). With PISOutr/COFINSOutr the base and rate are sent as vBC/pPIS (zero here).
    """

    icms_grupo: str
    orig: int
    csosn: str
    pis_grupo: str
    pis_cst: str
    cofins_grupo: str
    cofins_cst: str
    v_bc_pis: Decimal = ZERO
    p_pis: Decimal = Decimal("0.0000")
    v_pis: Decimal = ZERO
    v_bc_cofins: Decimal = ZERO
    p_cofins: Decimal = Decimal("0.0000")
    v_cofins: Decimal = ZERO


def impostos_item(crt: int, *, origem: int) -> ImpostosItem:
    """The tax groups of one item sold under the emitente's regime."""
    regime = exigir_regime_suportado(crt)
    if not 0 <= origem <= 8:
        raise ValueError(f"origem must be 0-8, got {origem}")
    if regime is Crt.SIMPLES_NACIONAL:
        # ICMS: CSOSN 102, "tributada pelo Simples Nacional sem permissão de crédito" (rule 590/591:
        # CRT 1 takes CSOSN groups only). PIS/COFINS: an accounting decision the team may change here.
        # Both PISOutr/COFINSOutr CST 99 and PISNT/COFINSNT (04-09) pass the schema; CST 99 "outras
        # operações" with zero base, rate and value is what Simples Nacional emitters usually declare,
        # since the contribution is paid in the DAS, not on the document, while the NT CSTs (07 isenta,
        # 08 sem incidência, ...) each assert a specific legal exemption that a plain sale does not have.
        return ImpostosItem(
            icms_grupo="ICMSSN102",
            orig=origem,
            csosn="102",
            pis_grupo="PISOutr",
            pis_cst="99",
            cofins_grupo="COFINSOutr",
            cofins_cst="99",
        )
    raise RegimeNaoSuportado(f"CRT {regime.value} has no tax rules yet")  # pragma: no cover


def informacoes_complementares(crt: int) -> str | None:
    """Text for infAdic/infCpl that the regime asks every nota to carry.

    Simples Nacional: the expressions of Resolução CGSN 140/2018 art. 59 (as commonly printed by
    emitters; the exact wording is the accountant's call).
    """
    regime = exigir_regime_suportado(crt)
    if regime is Crt.SIMPLES_NACIONAL:
        return (
            "DOCUMENTO EMITIDO POR ME OU EPP OPTANTE PELO SIMPLES NACIONAL. NAO GERA DIREITO A CREDITO FISCAL DE IPI."
        )
    return None  # pragma: no cover


def id_dest(uf_emitente: str, uf_destinatario: str) -> int:
    """ide/idDest: 1 operação interna, 2 interestadual (3, exterior, is not supported)."""
    return 1 if uf_emitente.upper() == uf_destinatario.upper() else 2


def cfop_item(uf_emitente: str, uf_destinatario: str, cfop: str | None = None) -> str:
    """The item's CFOP: the one given, else 5102 in the emitente's UF and 6102 across UFs.

    A given CFOP must agree with idDest: 5xxx internal, 6xxx interstate (SEFAZ refuses the mix; the
    rejections are 521/523 in the common cStat tables, not checked against the MOC here).
    """
    interna = id_dest(uf_emitente, uf_destinatario) == 1
    if cfop is None:
        return CFOP_VENDA_INTERNA if interna else CFOP_VENDA_INTERESTADUAL
    if len(cfop) != 4 or not cfop.isascii() or not cfop.isdigit():
        raise ValueError(f"CFOP must have 4 digits, got {cfop!r}")
    expected = "5" if interna else "6"
    if cfop[0] != expected:
        where = "in the emitente's UF" if interna else "in another UF"
        raise ValueError(f"CFOP {cfop} does not fit a destinatário {where}: it must start with {expected}")
    return cfop


def ind_final(indicador_ie: int) -> int:
    """ide/indFinal: 1 (consumidor final) for a não contribuinte (indIEDest 9; rule 696), else 0."""
    return 1 if IndicadorIe(indicador_ie) is IndicadorIe.NAO_CONTRIBUINTE else 0


def ind_intermed(ind_pres: int) -> int | None:
    """ide/indIntermed: 0 (sem intermediador) when indPres requires it, else absent."""
    return 0 if ind_pres in _IND_PRES_COM_INTERMED else None
