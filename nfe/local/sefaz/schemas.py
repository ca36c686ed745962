"""The official XSDs nfelib ships, compiled once each, for requests (225/215) and answers."""

from __future__ import annotations

import threading
from pathlib import Path

import nfelib
from lxml import etree

_ROOT = Path(nfelib.__file__).resolve().parent
_NFE = _ROOT / "nfe" / "schemas" / "v4_0"
_CANCEL = _ROOT / "nfe_evento_cancel" / "schemas" / "v1_0"

FILES: dict[str, Path] = {
    "enviNFe": _NFE / "enviNFe_v4.00.xsd",
    "retEnviNFe": _NFE / "retEnviNFe_v4.00.xsd",
    "procNFe": _NFE / "procNFe_v4.00.xsd",
    "consSitNFe": _NFE / "consSitNFe_v4.00.xsd",
    "retConsSitNFe": _NFE / "retConsSitNFe_v4.00.xsd",
    "consStatServ": _NFE / "consStatServ_v4.00.xsd",
    "retConsStatServ": _NFE / "retConsStatServ_v4.00.xsd",
    "inutNFe": _NFE / "inutNFe_v4.00.xsd",
    "retInutNFe": _NFE / "retInutNFe_v4.00.xsd",
    "procInutNFe": _NFE / "procInutNFe_v4.00.xsd",
    "envEvento": _CANCEL / "envEventoCancNFe_v1.00.xsd",
    "retEnvEvento": _CANCEL / "retEnvEventoCancNFe_v1.00.xsd",
    "procEventoNFe": _CANCEL / "procEventoCancNFe_v1.00.xsd",
}

_lock = threading.Lock()
_compiled: dict[str, etree.XMLSchema] = {}


def schema(name: str) -> etree.XMLSchema:
    with _lock:
        if name not in _compiled:
            _compiled[name] = etree.XMLSchema(etree.parse(str(FILES[name])))
        return _compiled[name]


def errors(name: str, element: etree._Element) -> list[str]:
    """Schema messages for `element` as a document of its own (empty when it is valid)."""
    document = etree.fromstring(etree.tostring(element))
    checker = schema(name)
    # An XMLSchema object keeps its error log per call; one lock keeps concurrent requests apart.
    with _lock:
        if checker.validate(document):
            return []
        return [f"{error.line}: {error.message}" for error in checker.error_log]
