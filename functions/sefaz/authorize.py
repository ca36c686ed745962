"""Authorize one signed NF-e so that it is never authorized twice and never lost.

SEFAZ itself refuses a second authorization of the same chave (204), so the danger is not a resend of the
same XML but acting on a guess: treating a lost answer as a failure and releasing the stock of a nota that
SEFAZ did authorize, or sending the número again under another chave (539). So:
- after a timeout or any unknown outcome (no answer, HTTP 5xx, an unreadable one), and on every
  redelivery of the message (`tentativa_anterior=True`), consult by chave (NFeConsultaProtocolo4) before
  sending: 100/150 gives AUTORIZADA with the consulta's protNFe, 110/301/302/303 DENEGADA, and only 217
  ("não consta") allows a send;
- on 204/539/205/218 (DUPLICADA) consult and never resend; when the consulta cannot resolve it (539: the
  número belongs to another chave) the DUPLICADA outcome is returned for an operator; an NF-e the
  consulta shows cancelled (a late redelivery after the saga cancelled it) answers with its authorization;
- a consulta that itself fails raises SefazIndisponivel (a DependencyUnavailable): the message backs off
  and the next delivery starts again with a consulta.
At most two sends and three consultas per call; nothing loops.

A pure function of its client: `Transmissor` is any object with `autorizar` and `consultar`, so tests
inject faults (a send that reaches SEFAZ and then times out) around the real client.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from lxml import etree

from functions.sefaz.outcome import (
    Classe,
    Outcome,
    RespostaInesperada,
    SefazIndisponivel,
    classe_de,
    classificar_autorizacao,
    classificar_consulta,
)

__all__ = ["Transmissor", "autorizar_nfe", "id_lote_de"]


class Transmissor(Protocol):
    def autorizar(self, signed_nfe_xml: str, id_lote: str) -> etree._Element: ...

    def consultar(self, chave: str) -> etree._Element: ...


def id_lote_de(chave: str) -> str:
    """idLote for the lote of one NF-e: its nNF (positions 26-34 of the chave), which is 1-9 digits.

    SEFAZ echoes idLote and does not require it unique; deriving it from the chave makes a resend
    byte-identical to the first send.
    """
    return str(int(chave[25:34]))


def _stored(client: Transmissor, chave: str) -> Outcome | None:
    """The NF-e's outcome at SEFAZ, or None when SEFAZ does not hold it (217)."""
    outcome = classificar_consulta(client.consultar(chave), chave)
    if outcome.classe is Classe.NAO_CONSTA:
        return None
    if outcome.classe is Classe.CANCELADA:
        # Authorized, then cancelled: a request to authorize it again is a late redelivery (the saga cancels
        # only after AUTORIZADA). Its authorization stands, so the answer repeats it, with the protNFe the
        # consulta keeps; Faturamento, past that step, ignores it. Nothing is sent.
        return _autorizacao_de(outcome)
    return outcome


def _autorizacao_de(cancelada: Outcome) -> Outcome:
    if cancelada.prot_nfe_xml is None:
        raise RespostaInesperada(f"{cancelada.chave} is cancelled at SEFAZ and the consulta shows no authorization")
    prot = etree.fromstring(cancelada.prot_nfe_xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    ns = "{http://www.portalfiscal.inf.br/nfe}"
    c_stat = (prot.findtext(f"{ns}infProt/{ns}cStat") or "").strip()
    if not c_stat.isdigit() or classe_de(int(c_stat)) is not Classe.AUTORIZADA:
        raise RespostaInesperada(f"{cancelada.chave} is cancelled at SEFAZ under a protNFe with cStat {c_stat!r}")
    return dataclasses.replace(
        cancelada,
        classe=Classe.AUTORIZADA,
        c_stat=int(c_stat),
        x_motivo=(prot.findtext(f"{ns}infProt/{ns}xMotivo") or "").strip(),
    )


_DS = "{http://www.w3.org/2000/09/xmldsig#}"


def _digest_value(signed_xml: str) -> str | None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    signature = etree.fromstring(signed_xml.encode(), parser).find(f"{_DS}Signature")
    text = None if signature is None else signature.findtext(f"{_DS}SignedInfo/{_DS}Reference/{_DS}DigestValue")
    return None if text is None else text.strip()


def _with_proc(outcome: Outcome, signed_xml: str) -> Outcome:
    if outcome.classe not in (Classe.AUTORIZADA, Classe.DENEGADA) or outcome.prot_nfe_xml is None:
        return outcome
    from functions.fiscal.assinatura import nfe_proc

    # digVal is the DigestValue of the NF-e SEFAZ stored. A protocol found by chave (a consulta, a 204)
    # belongs to our XML only if they match: a nota rebuilt under the same chave with other content
    # must not be archived with the first one's protocol.
    if outcome.dig_val is not None and outcome.dig_val != _digest_value(signed_xml):
        raise RespostaInesperada(
            f"SEFAZ holds another XML under {outcome.chave} (digVal {outcome.dig_val} is not this NF-e's)"
        )

    return dataclasses.replace(outcome, nfe_proc_xml=nfe_proc(signed_xml, outcome.prot_nfe_xml))


def autorizar_nfe(
    client: Transmissor,
    signed_xml: str,
    chave: str,
    *,
    tentativa_anterior: bool = False,
    id_lote: str | None = None,
) -> Outcome:
    """SEFAZ's decision about the signed NF-e `signed_xml` whose chave is `chave`.

    Returns AUTORIZADA or DENEGADA (with `nfe_proc_xml`, the NFe and its protNFe), REJEITADA (cStat and
    xMotivo; SEFAZ kept nothing), or DUPLICADA when SEFAZ holds another NF-e with this número. Raises
    SefazIndisponivel when SEFAZ is down or the outcome is still unknown. `tentativa_anterior`: an
    earlier attempt may have reached SEFAZ (a redelivered message): consult before sending.
    """
    lote = id_lote or id_lote_de(chave)
    if tentativa_anterior:
        known = _stored(client, chave)
        if known is not None:
            return _with_proc(known, signed_xml)
    try:
        answer = client.autorizar(signed_xml, lote)
    except SefazIndisponivel:
        # The request may have reached SEFAZ and been processed: ask before sending again.
        known = _stored(client, chave)
        if known is not None:
            return _with_proc(known, signed_xml)
        answer = client.autorizar(signed_xml, lote)  # 217: SEFAZ holds nothing; a failure here propagates
    try:
        outcome = classificar_autorizacao(answer, chave)
    except SefazIndisponivel:
        # 103/105 (queued) or an unreadable lote answer: unknown; 108/109 says nothing was processed,
        # and consulting then costs one call that meets the same outage and raises the same way.
        known = _stored(client, chave)
        if known is not None:
            return _with_proc(known, signed_xml)
        raise
    if outcome.classe is Classe.DUPLICADA:
        known = _stored(client, chave)
        return outcome if known is None else _with_proc(known, signed_xml)
    return _with_proc(outcome, signed_xml)
