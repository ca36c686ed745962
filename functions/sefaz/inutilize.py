"""Inutilizar a range of números at SEFAZ (NFeInutilizacao4) with one effect however often it is asked.

Unlike an event, a pedido de inutilização can be sent again safely: SEFAZ answers the same range a second
time with 563 and the earlier protocol (MOC 7.0 §5.3), which is the outcome the first send would have
had. So after a timeout or an unknown outcome the same signed pedido is sent once more; a second failure
raises SefazIndisponivel (a DependencyUnavailable) for the caller to retry later, which again meets 563
if the range was inutilizado meanwhile. At most two sends per call; nothing loops.

Whether a número of the range was used (241) is SEFAZ's check here; refusing such a range before asking,
from the numbering's own records, is the caller's.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Protocol

from lxml import etree

from functions.sefaz.outcome import Classe, InutilizacaoOutcome, SefazIndisponivel, classificar_inutilizacao

if TYPE_CHECKING:
    from functions.fiscal.assinatura import Assinador

__all__ = ["TransmissorInutilizacao", "inutilizar"]

_NFE = "{http://www.portalfiscal.inf.br/nfe}"


class TransmissorInutilizacao(Protocol):
    def inutilizar(self, inut_nfe: etree._Element) -> etree._Element: ...


def inutilizar(
    client: TransmissorInutilizacao,
    assinador: Assinador,
    *,
    cnpj: str,
    uf: str,
    ambiente: int,
    serie: int,
    de: int,
    ate: int,
    ano: int,
    justificativa: str,
) -> InutilizacaoOutcome:
    """SEFAZ's decision about inutilizar números `de` to `ate` (inclusive) of `serie`, modelo 55.

    `ano` is the four-digit year of the números (infInut keeps two digits); `cnpj` and `uf` are the
    emitente's; `ambiente` must be the client's (SEFAZ answers 252 otherwise). Returns HOMOLOGADA (102, or
    563 with the earlier nProt) with `proc_inut_xml`, the procInutNFe to archive; REJEITADA (241 a número
    was used, 256 part of the range already inutilizado, 453/454 the year, ...); or DUPLICADA (563
    without a protocol). Raises SefazIndisponivel when SEFAZ is down or the outcome is still unknown,
    and ValueError, before anything is sent, for a range SEFAZ would refuse on its face (224, 201) or a
    justificativa outside 15-255 characters.
    """
    from functions.fiscal.eventos import inutilizacao_assinada, proc_inut_nfe

    signed = inutilizacao_assinada(
        assinador,
        cnpj=cnpj,
        uf=uf,
        ambiente=ambiente,
        serie=serie,
        de=de,
        ate=ate,
        ano=ano,
        justificativa=justificativa,
    )
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    message = etree.fromstring(signed.encode(), parser)
    try:
        answer = client.inutilizar(message)
    except SefazIndisponivel:
        # Processed or not, the same pedido again is safe: a range already inutilizado answers 563.
        answer = client.inutilizar(message)
    # An unreadable answer or 108/109 raises SefazIndisponivel here: the caller's next attempt sends the
    # same range, which meets 563 if this one was processed after all.
    sent_cnpj = message.findtext(f"{_NFE}infInut/{_NFE}CNPJ")
    outcome = classificar_inutilizacao(answer, cnpj=sent_cnpj, serie=serie, de=de, ate=ate)
    if outcome.classe is Classe.HOMOLOGADA and outcome.ret_inut_xml is not None:
        return dataclasses.replace(outcome, proc_inut_xml=proc_inut_nfe(signed, outcome.ret_inut_xml))
    return outcome
