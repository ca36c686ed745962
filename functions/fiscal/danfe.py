"""The DANFE (PDF) of an NF-e, rendered from its XML by BrazilFiscalReport.

Before SEFAZ authorizes the NF-e (no protNFe with cStat 100/150) the DANFE is only a preview: it may
not accompany goods (Ajuste SINIEF 12/09: the DANFE carries the authorization protocol), so every page
says so in a footer stamp, besides the library's own "SEM VALOR FISCAL" watermark (drawn whenever the
protocol is missing or tpAmb is 2). Heavy (BrazilFiscalReport, fpdf2, qrcode, python-barcode): import
it only where a DANFE is rendered.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from brazilfiscalreport.danfe import Danfe, DanfeConfig, FooterStamp

__all__ = ["AUTHORIZED_CSTAT", "PREVIEW_TEXT", "is_authorized", "render_danfe"]

PREVIEW_TEXT = "PRÉ-VISUALIZAÇÃO - SEM PROTOCOLO DE AUTORIZAÇÃO"
# Autorizado o uso (100), autorizado fora de prazo (150).
AUTHORIZED_CSTAT = frozenset({"100", "150"})
_NFE = "{http://www.portalfiscal.inf.br/nfe}"


def is_authorized(xml: str) -> bool:
    """True for an nfeProc whose protNFe says the NF-e was authorized."""
    root = ET.fromstring(xml)  # noqa: S314 - see the import
    c_stat = root.findtext(f"{_NFE}protNFe/{_NFE}infProt/{_NFE}cStat")
    return c_stat in AUTHORIZED_CSTAT


def _dh_emi(xml: str) -> datetime | None:
    root = ET.fromstring(xml)  # noqa: S314 - see the import
    text = root.findtext(f".//{_NFE}ide/{_NFE}dhEmi")
    return datetime.fromisoformat(text) if text else None


def render_danfe(xml: str, *, cancelada: bool = False) -> bytes:
    """The DANFE as PDF bytes, from an NFe (signed or not) or an nfeProc.

    Not authorized -> the preview stamp on every page; `cancelada` (SEFAZ registered its cancelamento)
    -> BrazilFiscalReport's CANCELADA watermark. The PDF's creation date is the nota's dhEmi, so the
    same XML renders to the same bytes (the archive can tell a re-render from a change).
    """
    preview = not is_authorized(xml)
    config = DanfeConfig(
        footer_stamp=FooterStamp(text=PREVIEW_TEXT) if preview else FooterStamp(),
        watermark_cancelled=cancelada,
    )
    danfe = Danfe(xml=xml, config=config)
    danfe.set_creation_date(_dh_emi(xml) or datetime(2000, 1, 1, tzinfo=UTC))
    return bytes(danfe.output())
