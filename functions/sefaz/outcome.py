"""What SEFAZ's answer means for a nota, as data: one table of cStat -> class, and the failures that are
SEFAZ being unavailable (the message backs off and comes back) rather than an answer about the nota.

Classes (MOC 7.0 §5.1.6 Tabela 5-4; reference/nfe.md §2 and §3.2):
- AUTORIZADA (100, 150): stored; nProt, dhRecbto, digVal and the protNFe as SEFAZ wrote it.
- DENEGADA (110, 301, 302, 303): stored as denied with a protocol; the número is consumed.
- DUPLICADA (204, 539, 205, 218): SEFAZ already holds a document with this número. Never resend: consult
  by chave, which gives the stored outcome (204: our NF-e was authorized; 205: denied; 218: cancelled;
  539: another chave holds the número, so the consulta of ours answers 217).
- REJEITADA (every other cStat): not stored, cStat and xMotivo kept; the número may be sent again corrected.
- HOMOLOGADA (135, 136 evento registrado; 102 inutilização homologada): an event or an inutilização SEFAZ
  registered, with its nProt. 155 (cancelamento homologado fora de prazo) is CANCELADA in the table, as
  a consulta's situação; as an event's answer it registers the cancelamento like 135.
- DUPLICADA also holds 573 (the event was registered before: consult, never resend) and 563 (the same range
  was inutilizado before: SEFAZ returns the earlier nProt).
- SEFAZ unavailable, raised as `SefazIndisponivel` (a `DependencyUnavailable`): 108/109 (paralisado),
  656 (consumo indevido: SEFAZ blocks the sender for a while), 103/105 (the lote was queued instead of
  processed: its outcome is not known yet), timeouts, refused or reset connections, transient TLS
  failures, HTTP 5xx, an empty or unparsable answer.

Not transient, and not an answer about the nota either: the server's certificate does not verify against
the trusted CA bundle, or the server refuses our certificate (`TlsRecusado`); an HTTP 4xx (a wrong URL,
`RespostaInesperada`); an answer about another chave. These spend the message's receives and reach the
DLQ, where an operator sees them: retrying cannot fix a configuration.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from lxml import etree

from functions.shared.redelivery import DependencyUnavailable

__all__ = [
    "CSTAT_CLASSE",
    "NFE_NS",
    "TP_EVENTO_CANCELAMENTO",
    "Classe",
    "EventoOutcome",
    "InutilizacaoOutcome",
    "Outcome",
    "RespostaInesperada",
    "SefazIndisponivel",
    "SefazTimeout",
    "StatusServico",
    "TlsRecusado",
    "cancelamento_da_consulta",
    "classe_de",
    "classificar_autorizacao",
    "classificar_consulta",
    "classificar_evento",
    "classificar_inutilizacao",
    "falha_de_transporte",
    "status_servico",
]

NFE_NS = "http://www.portalfiscal.inf.br/nfe"
TP_EVENTO_CANCELAMENTO = "110111"


class Classe(StrEnum):
    AUTORIZADA = "AUTORIZADA"
    DENEGADA = "DENEGADA"
    REJEITADA = "REJEITADA"
    DUPLICADA = "DUPLICADA"
    INDISPONIVEL = "INDISPONIVEL"  # raised as SefazIndisponivel, never returned in an Outcome
    NAO_CONSTA = "NAO_CONSTA"  # 217 on a consulta: SEFAZ does not hold this chave
    CANCELADA = "CANCELADA"  # 101/151/155 on a consulta: authorized, then cancelled
    SUCESSO = "SUCESSO"  # 104 lote processado, 107 serviço em operação, 128 lote de evento: look inside
    HOMOLOGADA = "HOMOLOGADA"  # 135/136 evento registrado, 102 inutilização homologada


# The one table. cStat absent from it is a rejection (REJEITADA).
CSTAT_CLASSE: Mapping[int, Classe] = MappingProxyType(
    {
        100: Classe.AUTORIZADA,  # Autorizado o uso da NF-e
        150: Classe.AUTORIZADA,  # Autorizado o uso da NF-e, autorização fora de prazo (NT 2025.001)
        110: Classe.DENEGADA,  # Uso Denegado
        301: Classe.DENEGADA,  # Irregularidade fiscal do emitente
        302: Classe.DENEGADA,  # Irregularidade fiscal do destinatário
        303: Classe.DENEGADA,  # Destinatário não habilitado a operar na UF
        204: Classe.DUPLICADA,  # Duplicidade de NF-e (same chave stored)
        539: Classe.DUPLICADA,  # Duplicidade de NF-e com diferença na Chave de Acesso
        205: Classe.DUPLICADA,  # NF-e está denegada na base de dados da SEFAZ
        218: Classe.DUPLICADA,  # NF-e já está cancelada na base de dados da SEFAZ
        108: Classe.INDISPONIVEL,  # Serviço Paralisado Momentaneamente (curto prazo)
        109: Classe.INDISPONIVEL,  # Serviço Paralisado sem Previsão
        656: Classe.INDISPONIVEL,  # Consumo Indevido (the sender is blocked for a while)
        103: Classe.INDISPONIVEL,  # Lote recebido (queued: outcome not known yet)
        105: Classe.INDISPONIVEL,  # Lote em processamento
        217: Classe.NAO_CONSTA,  # NF-e não consta na base de dados da SEFAZ
        101: Classe.CANCELADA,  # Cancelamento de NF-e homologado
        151: Classe.CANCELADA,  # Cancelamento de NF-e homologado fora de prazo
        155: Classe.CANCELADA,  # Cancelamento homologado fora de prazo
        104: Classe.SUCESSO,  # Lote processado (the NF-e's own cStat is in protNFe)
        107: Classe.SUCESSO,  # Serviço em Operação
        128: Classe.SUCESSO,  # Lote de Evento Processado (each event's own cStat is in its retEvento)
        135: Classe.HOMOLOGADA,  # Evento registrado e vinculado a NF-e
        136: Classe.HOMOLOGADA,  # Evento registrado, mas não vinculado a NF-e
        102: Classe.HOMOLOGADA,  # Inutilização de número homologado
        573: Classe.DUPLICADA,  # Duplicidade de Evento (registered before: consult, never resend)
        563: Classe.DUPLICADA,  # Já existe pedido de Inutilização com a mesma faixa (the earlier nProt returns)
    }
)


def classe_de(c_stat: int) -> Classe:
    return CSTAT_CLASSE.get(c_stat, Classe.REJEITADA)


class SefazIndisponivel(DependencyUnavailable):
    """SEFAZ could not be asked or did not answer about the nota. Whether a send reached it is unknown:
    consult by chave before sending again."""

    def __init__(self, motivo: str, c_stat: int | None = None) -> None:
        super().__init__(motivo)
        self.motivo = motivo
        self.c_stat = c_stat


class SefazTimeout(SefazIndisponivel):
    """No answer within the read (or connect) timeout."""


class TlsRecusado(Exception):
    """The TLS handshake failed for a reason retrying cannot fix: SEFAZ's certificate does not verify
    against the trusted CA bundle (or its name), or the server refused our client certificate.

    Over TLS 1.3 the server judges the client's certificate after the client has finished its side of
    the handshake, and its alert can lose the race with the client's first write: the client then sees
    only an EOF, which is indistinguishable from a dropped connection and is classified as transient
    (the message backs off until the DLQ). Over TLS 1.2 the alert arrives inside the handshake.
    """


class RespostaInesperada(Exception):
    """An answer that is well-formed but not about this request (HTTP 4xx, another chave, another
    document). A configuration or a SEFAZ bug an operator must see, not an outage."""


# Alerts a server sends when it refuses the client's certificate: the A1 expired, was revoked, or is
# not from a CA it trusts. Retrying the same certificate meets the same alert.
_CERTIFICATE_ALERTS = frozenset(
    {
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    }
)


def falha_de_transporte(error: BaseException, *, url: str) -> Exception:
    """The exception to raise for a failure below SOAP (socket, TLS, HTTP), given the one caught."""
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = getattr(error, "verify_message", None) or error
        return TlsRecusado(f"{url}: the server's certificate does not verify: {detail}")
    # `reason` is set by the ssl module on the errors it raises, not on every SSLError instance.
    reason = getattr(error, "reason", None)
    if isinstance(error, ssl.SSLError) and reason in _CERTIFICATE_ALERTS:
        return TlsRecusado(f"{url}: the server refused the client certificate ({reason})")
    if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return SefazTimeout(f"{url}: no answer in time")
    if isinstance(error, ssl.SSLError):
        return SefazIndisponivel(f"{url}: TLS failure {reason or error}")
    if isinstance(error, OSError):  # refused, reset, unreachable, DNS (socket.gaierror), closed early
        return SefazIndisponivel(f"{url}: {type(error).__name__}: {error}")
    return SefazIndisponivel(f"{url}: {type(error).__name__}: {error}")


@dataclass(frozen=True)
class Outcome:
    """What SEFAZ decided about one NF-e.

    `prot_nfe_xml` is the protNFe exactly as SEFAZ answered it (for the archive and `nfe_proc`);
    `nfe_proc_xml` is set by `authorize.autorizar_nfe` for AUTORIZADA and DENEGADA (both stay stored at
    SEFAZ and must be kept). `via_consulta` says the outcome came from NFeConsultaProtocolo4.
    """

    classe: Classe
    chave: str
    c_stat: int
    x_motivo: str
    n_prot: str | None = None
    dh_recbto: str | None = None
    dig_val: str | None = None
    prot_nfe_xml: str | None = None
    nfe_proc_xml: str | None = None
    via_consulta: bool = False


@dataclass(frozen=True)
class StatusServico:
    c_stat: int
    x_motivo: str
    dh_recbto: str | None
    t_med: int | None


@dataclass(frozen=True)
class EventoOutcome:
    """What SEFAZ decided about one event (the cancelamento, 110111) of the NF-e `chave`.

    - HOMOLOGADA: registered (135, 136, 155), with nProt, dhRegEvento and the retEvento as SEFAZ wrote it;
      `proc_evento_xml` (procEventoNFe) is set by `cancel.cancelar_nfe`, assembled from the signed evento,
      or taken as SEFAZ returned it from the consulta (`via_consulta`: then c_stat is the retEvento's).
    - DUPLICADA (573): registered before (another send of the same event); the consulta by chave holds it.
    - REJEITADA: not registered; c_stat and x_motivo say why (222 nProt, 580 not authorized, 501 more than
      24 h, 494, 577/578/579 dhEvento, 215 schema, ...).
    """

    classe: Classe
    chave: str
    c_stat: int
    x_motivo: str
    tp_evento: str = TP_EVENTO_CANCELAMENTO
    n_prot: str | None = None
    dh_reg_evento: str | None = None
    ret_evento_xml: str | None = None
    proc_evento_xml: str | None = None
    via_consulta: bool = False


@dataclass(frozen=True)
class InutilizacaoOutcome:
    """What SEFAZ decided about one pedido de inutilização.

    - HOMOLOGADA: the range is inutilizado, with nProt and dhRecbto: 102 now, or 563 (the same range was
      inutilizado before; nProt is the earlier protocol SEFAZ returns). `ret_inut_xml` is SEFAZ's answer;
      `proc_inut_xml` (procInutNFe) is set by `inutilize.inutilizar`.
    - DUPLICADA: 563 without the earlier nProt (a SEFAZ that does not return it): inutilizado, protocol
      unknown, for an operator.
    - REJEITADA: c_stat and x_motivo say why (241 a número was used, 256 part of it already inutilizado,
      224, 201, 453/454, 502, 215, ...).
    """

    classe: Classe
    c_stat: int
    x_motivo: str
    n_prot: str | None = None
    dh_recbto: str | None = None
    ret_inut_xml: str | None = None
    proc_inut_xml: str | None = None


def _q(tag: str) -> str:
    return f"{{{NFE_NS}}}{tag}"


def _c_stat(element: etree._Element, what: str) -> tuple[int, str]:
    text = element.findtext(_q("cStat"))
    if text is None or not text.strip().isdigit():
        raise SefazIndisponivel(f"{what} without a numeric cStat")
    return int(text), (element.findtext(_q("xMotivo")) or "").strip()


def _expect(answer: etree._Element, name: str) -> None:
    if answer.tag != _q(name):
        raise RespostaInesperada(f"expected {name}, got {answer.tag}")


def _raise_if_unavailable(c_stat: int, x_motivo: str) -> None:
    if classe_de(c_stat) is Classe.INDISPONIVEL:
        raise SefazIndisponivel(f"SEFAZ answered {c_stat}: {x_motivo}", c_stat=c_stat)


def _from_prot(prot: etree._Element, chave: str, *, via_consulta: bool) -> Outcome:
    inf = prot.find(_q("infProt"))
    if inf is None:
        raise SefazIndisponivel("protNFe without infProt")
    ch_nfe = inf.findtext(_q("chNFe"))
    if ch_nfe is not None and ch_nfe != chave:
        raise RespostaInesperada(f"protNFe for chave {ch_nfe}, asked about {chave}")
    c_stat, x_motivo = _c_stat(inf, "infProt")
    _raise_if_unavailable(c_stat, x_motivo)
    classe = classe_de(c_stat)
    if classe is Classe.SUCESSO:  # 104/107 never describe one NF-e
        raise RespostaInesperada(f"protNFe with cStat {c_stat}")
    stored = classe in (Classe.AUTORIZADA, Classe.DENEGADA, Classe.CANCELADA)
    return Outcome(
        classe=classe,
        chave=chave,
        c_stat=c_stat,
        x_motivo=x_motivo,
        n_prot=inf.findtext(_q("nProt")),
        dh_recbto=inf.findtext(_q("dhRecbto")),
        dig_val=inf.findtext(_q("digVal")),
        prot_nfe_xml=etree.tostring(prot, encoding=str) if stored else None,
        via_consulta=via_consulta,
    )


def classificar_autorizacao(answer: etree._Element, chave: str) -> Outcome:
    """retEnviNFe (indSinc=1, one NF-e) -> Outcome; raises SefazIndisponivel when SEFAZ did not decide.

    A lote-level rejection (225 schema, 452, 764, 243, ...) rejects the one NF-e in it: REJEITADA with
    the lote's cStat.
    """
    _expect(answer, "retEnviNFe")
    c_stat, x_motivo = _c_stat(answer, "retEnviNFe")
    _raise_if_unavailable(c_stat, x_motivo)
    if c_stat != 104:
        if classe_de(c_stat) is not Classe.REJEITADA:
            raise RespostaInesperada(f"retEnviNFe with cStat {c_stat} ({x_motivo})")
        return Outcome(classe=Classe.REJEITADA, chave=chave, c_stat=c_stat, x_motivo=x_motivo)
    prots = answer.findall(_q("protNFe"))
    if len(prots) != 1:
        raise SefazIndisponivel(f"lote processado with {len(prots)} protNFe for one NF-e")
    outcome = _from_prot(prots[0], chave, via_consulta=False)
    if outcome.classe in (Classe.NAO_CONSTA, Classe.CANCELADA, Classe.HOMOLOGADA):
        raise RespostaInesperada(f"an authorization answered {outcome.c_stat} ({outcome.x_motivo})")
    return outcome


def classificar_consulta(answer: etree._Element, chave: str) -> Outcome:
    """retConsSitNFe -> Outcome of the NF-e's situation at SEFAZ.

    100/150 AUTORIZADA and 110/301/302/303 DENEGADA carry the stored protNFe; 217 is NAO_CONSTA (never
    stored: it may be sent); 101/151/155 CANCELADA. Any other cStat is a refusal of the consulta itself
    (a wrong chave, UF or ambiente: 236, 226, 252, 215), which says nothing about the NF-e and is raised
    as RespostaInesperada; 108/109/656 raise SefazIndisponivel.
    """
    _expect(answer, "retConsSitNFe")
    c_stat, x_motivo = _c_stat(answer, "retConsSitNFe")
    _raise_if_unavailable(c_stat, x_motivo)
    ch_nfe = answer.findtext(_q("chNFe"))
    if ch_nfe is not None and ch_nfe != chave:
        raise RespostaInesperada(f"retConsSitNFe for chave {ch_nfe}, asked about {chave}")
    classe = classe_de(c_stat)
    if classe is Classe.NAO_CONSTA:
        return Outcome(classe=classe, chave=chave, c_stat=c_stat, x_motivo=x_motivo, via_consulta=True)
    if classe not in (Classe.AUTORIZADA, Classe.DENEGADA, Classe.CANCELADA):
        raise RespostaInesperada(f"the consulta of {chave} was refused: {c_stat} ({x_motivo})")
    prot = answer.find(_q("protNFe"))
    if prot is None:
        raise SefazIndisponivel(f"consulta {c_stat} without the protNFe")
    stored = _from_prot(prot, chave, via_consulta=True)
    # The situation (cStat of retConsSitNFe) is what the NF-e is now; protNFe is its authorization
    # (a cancelled NF-e keeps its 100 protNFe).
    return Outcome(
        classe=classe,
        chave=chave,
        c_stat=c_stat,
        x_motivo=x_motivo,
        n_prot=stored.n_prot,
        dh_recbto=stored.dh_recbto,
        dig_val=stored.dig_val,
        prot_nfe_xml=etree.tostring(prot, encoding=str),
        via_consulta=True,
    )


def status_servico(answer: etree._Element) -> StatusServico:
    """retConsStatServ -> StatusServico (107 em operação); 108/109 raise SefazIndisponivel."""
    _expect(answer, "retConsStatServ")
    c_stat, x_motivo = _c_stat(answer, "retConsStatServ")
    _raise_if_unavailable(c_stat, x_motivo)
    t_med = answer.findtext(_q("tMed"))
    return StatusServico(
        c_stat=c_stat,
        x_motivo=x_motivo,
        dh_recbto=answer.findtext(_q("dhRecbto")),
        t_med=int(t_med) if t_med and t_med.isdigit() else None,
    )


# ---- events and inutilização ------------------------------------------------------------------------------


def _registered(c_stat: int) -> bool:
    # 155 is CANCELADA in the table (a consulta's situação); as an event's answer it registered the event.
    return classe_de(c_stat) in (Classe.HOMOLOGADA, Classe.CANCELADA)


def _from_ret_evento(ret: etree._Element, chave: str, tp_evento: str, *, via_consulta: bool) -> EventoOutcome:
    inf = ret.find(_q("infEvento"))
    if inf is None:
        raise SefazIndisponivel("retEvento without infEvento")
    ch_nfe = inf.findtext(_q("chNFe"))
    if ch_nfe is not None and ch_nfe != chave:
        raise RespostaInesperada(f"retEvento for chave {ch_nfe}, asked about {chave}")
    answered_tp = inf.findtext(_q("tpEvento"))
    if answered_tp is not None and answered_tp != tp_evento:
        raise RespostaInesperada(f"retEvento for tpEvento {answered_tp}, asked about {tp_evento}")
    c_stat, x_motivo = _c_stat(inf, "retEvento")
    _raise_if_unavailable(c_stat, x_motivo)
    classe = classe_de(c_stat)
    if _registered(c_stat):
        n_prot = inf.findtext(_q("nProt"))
        if not n_prot:
            raise RespostaInesperada(f"event registered ({c_stat}) without its nProt")
        return EventoOutcome(
            classe=Classe.HOMOLOGADA,
            chave=chave,
            c_stat=c_stat,
            x_motivo=x_motivo,
            tp_evento=tp_evento,
            n_prot=n_prot,
            dh_reg_evento=inf.findtext(_q("dhRegEvento")),
            ret_evento_xml=etree.tostring(ret, encoding=str),
            via_consulta=via_consulta,
        )
    if classe in (Classe.DUPLICADA, Classe.REJEITADA):
        return EventoOutcome(classe=classe, chave=chave, c_stat=c_stat, x_motivo=x_motivo, tp_evento=tp_evento)
    raise RespostaInesperada(f"retEvento with cStat {c_stat} ({x_motivo})")


def classificar_evento(answer: etree._Element, chave: str, *, tp_evento: str = TP_EVENTO_CANCELAMENTO) -> EventoOutcome:
    """retEnvEvento with one event about `chave` -> EventoOutcome; raises SefazIndisponivel when SEFAZ did
    not decide (108/109/656, an answer without a cStat or without the one retEvento).

    Lote 128 holds one retEvento: 135/136/155 HOMOLOGADA, 573 DUPLICADA, anything else REJEITADA. A
    lote-level refusal (215 schema, 243 malformed, ...) rejects the one event in it: REJEITADA with the
    lote's cStat.
    """
    _expect(answer, "retEnvEvento")
    c_stat, x_motivo = _c_stat(answer, "retEnvEvento")
    _raise_if_unavailable(c_stat, x_motivo)
    if c_stat != 128:
        if classe_de(c_stat) is not Classe.REJEITADA:
            raise RespostaInesperada(f"retEnvEvento with cStat {c_stat} ({x_motivo})")
        return EventoOutcome(
            classe=Classe.REJEITADA, chave=chave, c_stat=c_stat, x_motivo=x_motivo, tp_evento=tp_evento
        )
    rets = answer.findall(_q("retEvento"))
    if len(rets) != 1:
        raise SefazIndisponivel(f"lote de evento processado with {len(rets)} retEvento for one event")
    return _from_ret_evento(rets[0], chave, tp_evento, via_consulta=False)


def cancelamento_da_consulta(answer: etree._Element, chave: str) -> EventoOutcome | None:
    """The cancelamento SEFAZ holds for `chave`, from its retConsSitNFe; None when the NF-e is not cancelled.

    Situação 101/151/155: HOMOLOGADA `via_consulta`, with the procEventoNFe of the 110111 event as SEFAZ
    returned it (nProt, dhRegEvento, c_stat and x_motivo of its retEvento). When SEFAZ sends no such
    procEventoNFe, HOMOLOGADA still (the NF-e is cancelled) with the situação's cStat and no nProt: the
    proof is for an operator to fetch. Any other situação (authorized, denied, 217) is None; a refused
    consulta raises as `classificar_consulta` does.
    """
    situacao = classificar_consulta(answer, chave)
    if situacao.classe is not Classe.CANCELADA:
        return None
    for proc in answer.findall(_q("procEventoNFe")):
        ret = proc.find(_q("retEvento"))
        inf = None if ret is None else ret.find(_q("infEvento"))
        if ret is None or inf is None or inf.findtext(_q("tpEvento")) != TP_EVENTO_CANCELAMENTO:
            continue
        c_stat = (inf.findtext(_q("cStat")) or "").strip()
        if inf.findtext(_q("chNFe")) != chave or not c_stat.isdigit() or not _registered(int(c_stat)):
            continue
        outcome = _from_ret_evento(ret, chave, TP_EVENTO_CANCELAMENTO, via_consulta=True)
        return dataclasses.replace(outcome, proc_evento_xml=etree.tostring(proc, encoding=str))
    return EventoOutcome(
        classe=Classe.HOMOLOGADA,
        chave=chave,
        c_stat=situacao.c_stat,
        x_motivo=situacao.x_motivo,
        via_consulta=True,
    )


def classificar_inutilizacao(
    answer: etree._Element,
    *,
    cnpj: str | None = None,
    serie: int | None = None,
    de: int | None = None,
    ate: int | None = None,
) -> InutilizacaoOutcome:
    """retInutNFe -> InutilizacaoOutcome; raises SefazIndisponivel for 108/109/656 or an answer without
    a cStat. The range SEFAZ echoes (CNPJ, série, nNFIni, nNFFin) must be the one asked, when given and
    when the answer carries it (a lote-level refusal does not): RespostaInesperada otherwise.
    """
    _expect(answer, "retInutNFe")
    inf = answer.find(_q("infInut"))
    if inf is None:
        raise SefazIndisponivel("retInutNFe without infInut")
    c_stat, x_motivo = _c_stat(inf, "retInutNFe")
    _raise_if_unavailable(c_stat, x_motivo)
    for tag, asked in (("CNPJ", cnpj), ("serie", serie), ("nNFIni", de), ("nNFFin", ate)):
        echoed = inf.findtext(_q(tag))
        if asked is not None and echoed is not None and echoed.strip() != str(asked):
            raise RespostaInesperada(f"retInutNFe about {tag} {echoed}, asked about {asked}")
    classe = classe_de(c_stat)
    n_prot = inf.findtext(_q("nProt"))
    if classe is Classe.REJEITADA or (classe is Classe.DUPLICADA and not n_prot):
        return InutilizacaoOutcome(classe=classe, c_stat=c_stat, x_motivo=x_motivo)
    if classe not in (Classe.HOMOLOGADA, Classe.DUPLICADA) or c_stat not in (102, 563):
        raise RespostaInesperada(f"retInutNFe with cStat {c_stat} ({x_motivo})")
    if not n_prot:
        raise RespostaInesperada(f"inutilização homologada ({c_stat}) without its nProt")
    return InutilizacaoOutcome(
        classe=Classe.HOMOLOGADA,
        c_stat=c_stat,
        x_motivo=x_motivo,
        n_prot=n_prot,
        dh_recbto=inf.findtext(_q("dhRecbto")),
        ret_inut_xml=etree.tostring(answer, encoding=str),
    )
