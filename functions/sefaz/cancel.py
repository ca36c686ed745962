"""Cancel one authorized NF-e at SEFAZ (evento 110111) so that one cancel request registers one event.

SEFAZ registers the cancelamento once (nSeqEvento is always 1) and answers a second one 573, so, as for
the authorization, the danger is acting on a guess, not a resend. The rule is `authorize.autorizar_nfe`'s:
- after a timeout or any unknown outcome (no answer, HTTP 5xx, an unreadable one), and on every redelivery
  of the message (`tentativa_anterior=True`), consult by chave (NFeConsultaProtocolo4) before sending:
  situação 101/151/155 means the cancelamento is registered, and the consulta carries its procEventoNFe;
  anything else allows one send;
- on 573 (the event was registered by an earlier send whose answer was lost) consult and never resend;
  when the consulta does not show it cancelled, the DUPLICADA outcome goes back for an operator;
- a consulta that itself fails raises SefazIndisponivel (a DependencyUnavailable): the message backs off
  and the next delivery starts again with a consulta.
At most two sends and three consultas per call; nothing loops. The evento is built and signed once per
call, so a resend inside the call is the same bytes.

A pure function of its client: `TransmissorEvento` is any object with `ambiente`, `evento` and
`consultar`, so tests inject faults around the real client.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from lxml import etree

from functions.sefaz.authorize import id_lote_de
from functions.sefaz.outcome import (
    Classe,
    EventoOutcome,
    SefazIndisponivel,
    cancelamento_da_consulta,
    classificar_evento,
)

if TYPE_CHECKING:
    from functions.fiscal.assinatura import Assinador

__all__ = ["TransmissorEvento", "cancelar_nfe"]


class TransmissorEvento(Protocol):
    @property
    def ambiente(self) -> int: ...

    def evento(self, env_evento: etree._Element) -> etree._Element: ...

    def consultar(self, chave: str) -> etree._Element: ...


def _registrado(client: TransmissorEvento, chave: str) -> EventoOutcome | None:
    """The cancelamento SEFAZ holds for the chave, or None when the NF-e is not cancelled there."""
    return cancelamento_da_consulta(client.consultar(chave), chave)


def cancelar_nfe(
    client: TransmissorEvento,
    assinador: Assinador,
    chave: str,
    n_prot: str,
    justificativa: str,
    *,
    tentativa_anterior: bool = False,
    now: datetime | None = None,
    id_lote: str | None = None,
) -> EventoOutcome:
    """SEFAZ's decision about cancelling the NF-e `chave`, authorized under protocol `n_prot`.

    Returns HOMOLOGADA (nProt, dhRegEvento and `proc_evento_xml`, the procEventoNFe to archive: ours with
    SEFAZ's retEvento, or SEFAZ's own from the consulta when `via_consulta`), REJEITADA (c_stat and
    x_motivo: 501 after 24 h, 580 not authorized or denied, 222 another nProt, 494, 577/578/579, ...), or
    DUPLICADA (573 that the consulta could not resolve). Raises SefazIndisponivel when SEFAZ is down or
    the outcome is still unknown, and ValueError, before anything is sent, for a justificativa outside
    15-255 characters, a bad chave or nProt. `now` is dhEvento (default: the current time, written in
    the emitente UF's offset); `tentativa_anterior`: an earlier attempt may have reached SEFAZ, consult
    before sending. idLote defaults to the nota's número, as for the authorization.
    """
    from functions.fiscal.eventos import cancelamento_assinado, env_evento, proc_evento_nfe

    signed = cancelamento_assinado(
        assinador,
        chave=chave,
        n_prot=n_prot,
        justificativa=justificativa,
        ambiente=client.ambiente,
        dh_evento=now,
    )
    lote = id_lote or id_lote_de(chave)
    if tentativa_anterior:
        known = _registrado(client, chave)
        if known is not None:
            return known
    try:
        answer = client.evento(env_evento(signed, lote))
    except SefazIndisponivel:
        # The event may have reached SEFAZ and been registered: ask before sending again.
        known = _registrado(client, chave)
        if known is not None:
            return known
        answer = client.evento(env_evento(signed, lote))  # not cancelled there; a failure here propagates
    try:
        outcome = classificar_evento(answer, chave)
    except SefazIndisponivel:
        # An unreadable answer: unknown. 108/109 says nothing was registered, and consulting then meets
        # the same outage and raises the same way.
        known = _registrado(client, chave)
        if known is not None:
            return known
        raise
    if outcome.classe is Classe.DUPLICADA:
        known = _registrado(client, chave)
        return outcome if known is None else known
    if outcome.classe is Classe.HOMOLOGADA and outcome.ret_evento_xml is not None:
        return dataclasses.replace(outcome, proc_evento_xml=proc_evento_nfe(signed, outcome.ret_evento_xml))
    return outcome
