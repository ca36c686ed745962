"""What SEFAZ allows for the events and inutilizações of an NF-e, checkable without nfelib or lxml.

The API refuses a bad cancel request before anything is sent (422 / 409) with these, and the XML
builders in `eventos` apply the same ones, so the two cannot disagree. Facts: reference/nfe.md §2
(inutilização, at most 10,000 números) and §3.1 (cancelamento: xJust 15-255, 24 h, rule 501).
Cheap to import: no nfelib, no lxml.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from functions.fiscal.identifiers import UFS

__all__ = [
    "MAX_NUMEROS_INUTILIZACAO",
    "PRAZO_CANCELAMENTO",
    "XJUST_MAX",
    "XJUST_MIN",
    "cancelamento_permitido_ate",
    "fuso_horario",
    "hora_local",
    "normalizar_justificativa",
]

# TJust (xJust of the cancelamento's detEvento and of infInut): 15 to 255 characters.
XJUST_MIN = 15
XJUST_MAX = 255
# Ajuste SINIEF 07/05 cláusula décima segunda: 24 hours after the Autorização de Uso (SEFAZ: 501 after).
PRAZO_CANCELAMENTO = timedelta(hours=24)
# Rule of NFeInutilizacao4: more than 10,000 números in one request is 201.
MAX_NUMEROS_INUTILIZACAO = 10_000

# Standard time of each UF (Brazil has kept no daylight saving time since 2019); every other UF is on
# Brasília time. dhEmi and dhEvento carry the emitente's offset (TDateTimeUTC allows any whole hour).
_UTC_OFFSET_HOURS = {"AC": -5, "AM": -4, "RO": -4, "RR": -4, "MT": -4, "MS": -4}
_BRASILIA_UTC_OFFSET_HOURS = -3

_WHITESPACE = re.compile(r"\s+")


def fuso_horario(uf: str) -> timezone:
    """The UF's UTC offset as a fixed timezone (the one its documents are written in)."""
    sigla = uf.strip().upper()
    if sigla not in UFS:
        raise ValueError(f"unknown UF {uf!r}")
    return timezone(timedelta(hours=_UTC_OFFSET_HOURS.get(sigla, _BRASILIA_UTC_OFFSET_HOURS)))


def hora_local(uf: str, now: datetime | None = None) -> datetime:
    """`now` (default: the current time) in the UF's offset, to the second, as dhEvento wants it."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must carry its UTC offset")
    return moment.astimezone(fuso_horario(uf)).replace(microsecond=0)


def normalizar_justificativa(texto: str) -> str:
    """xJust as SEFAZ takes it, or ValueError saying why not.

    Blank runs (line breaks and tabs included) become one space and the ends are trimmed: the schema's
    TString allows no control characters and no blank at either end, and a line break typed in a form
    is not worth a refusal. Then 15 to 255 characters, each printable Latin-1 (U+0020-U+007E and
    U+00A0-U+00FF), as the XSD allows.
    """
    value = _WHITESPACE.sub(" ", texto).strip()
    if not XJUST_MIN <= len(value) <= XJUST_MAX:
        raise ValueError(f"justificativa must have {XJUST_MIN} to {XJUST_MAX} characters (has {len(value)})")
    refused = sorted({char for char in value if not (0x20 <= ord(char) <= 0x7E or 0xA0 <= ord(char) <= 0xFF)})
    if refused:
        shown = ", ".join(repr(char) for char in refused)
        raise ValueError(f"justificativa has characters SEFAZ does not accept: {shown} (Latin-1 printable only)")
    return value


def cancelamento_permitido_ate(dh_recbto: datetime) -> datetime:
    """The last moment SEFAZ accepts the cancelamento of an NF-e authorized at `dh_recbto` (its protNFe's
    dhRecbto, with offset). After it SEFAZ answers 501 and only an NF-e de estorno undoes the operation."""
    if dh_recbto.tzinfo is None:
        raise ValueError("dh_recbto must carry its UTC offset")
    return dh_recbto + PRAZO_CANCELAMENTO
