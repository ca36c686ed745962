"""functions/sefaz/outcome.py: the cStat table (a test per row), failures below SOAP, and autorizar_nfe's
flow against canned answers (no emulator): consult first, at most two sends, never a loop."""

from __future__ import annotations

import ssl

import pytest

from functions.sefaz.authorize import autorizar_nfe, id_lote_de
from functions.sefaz.outcome import (
    CSTAT_CLASSE,
    Classe,
    RespostaInesperada,
    SefazIndisponivel,
    SefazTimeout,
    TlsRecusado,
    classe_de,
    classificar_autorizacao,
    classificar_consulta,
    falha_de_transporte,
    status_servico,
)
from functions.shared.redelivery import is_dependency_failure, is_outage
from tests.helpers.sefaz_client import Roteiro, ret_cons_sit, ret_envi_nfe

CHAVE = "35261211222333000181550010000001231246813570"
OTHER = "35261211222333000181550010000001239999999990"
NPROT = "135260000000042"
A, D, R, DUP, IND = Classe.AUTORIZADA, Classe.DENEGADA, Classe.REJEITADA, Classe.DUPLICADA, Classe.INDISPONIVEL

# The table as this test reads the MOC (reference/nfe.md §2, §3.2), written out, not derived.
EXPECTED: dict[int, Classe] = {
    100: A,
    150: A,
    110: D,
    301: D,
    302: D,
    303: D,
    204: DUP,
    539: DUP,
    205: DUP,
    218: DUP,
    108: IND,
    109: IND,
    656: IND,
    103: IND,
    105: IND,
    217: Classe.NAO_CONSTA,
    101: Classe.CANCELADA,
    151: Classe.CANCELADA,
    155: Classe.CANCELADA,
    104: Classe.SUCESSO,
    107: Classe.SUCESSO,
    # Events and inutilização (reference/nfe.md §2, §3.1, §3.2)
    128: Classe.SUCESSO,
    135: Classe.HOMOLOGADA,
    136: Classe.HOMOLOGADA,
    102: Classe.HOMOLOGADA,
    573: DUP,
    563: DUP,
}


def test_every_row_of_the_table_has_its_test() -> None:
    assert dict(CSTAT_CLASSE) == EXPECTED


@pytest.mark.parametrize(("c_stat", "classe"), sorted(EXPECTED.items()))
def test_row(c_stat: int, classe: Classe) -> None:
    assert classe_de(c_stat) is classe
    n_prot = NPROT if classe in (A, D) else None
    answer = ret_envi_nfe(CHAVE, c_stat, n_prot=n_prot)
    if classe is IND:
        # Inside protNFe and as the lote's own cStat alike: SEFAZ did not decide
        with pytest.raises(SefazIndisponivel) as raised:
            classificar_autorizacao(answer, CHAVE)
        assert raised.value.c_stat == c_stat and is_dependency_failure(raised.value)
        with pytest.raises(SefazIndisponivel):
            classificar_autorizacao(ret_envi_nfe(CHAVE, 0, lote_c_stat=c_stat), CHAVE)
    elif classe in (A, D, R, DUP):
        outcome = classificar_autorizacao(answer, CHAVE)
        assert (outcome.classe, outcome.c_stat, outcome.x_motivo) == (classe, c_stat, f"motivo {c_stat}")
        stored = classe in (A, D)
        assert (outcome.n_prot is not None, outcome.prot_nfe_xml is not None) == (stored, stored)
    else:  # 217, cancelled, 104/107/128, events and inutilizações never describe the NF-e of an authorization
        with pytest.raises(RespostaInesperada):
            classificar_autorizacao(answer, CHAVE)


@pytest.mark.parametrize("c_stat", [225, 297, 452, 598, 610, 764, 778, 999])
def test_any_other_cstat_is_rejeitada(c_stat: int) -> None:
    assert classe_de(c_stat) is R
    in_prot = classificar_autorizacao(ret_envi_nfe(CHAVE, c_stat), CHAVE)
    assert (in_prot.classe, in_prot.c_stat) == (R, c_stat)
    # A lote-level rejection (schema 225, 452, 764) rejects the one NF-e in it
    lote = classificar_autorizacao(ret_envi_nfe(CHAVE, 0, lote_c_stat=c_stat), CHAVE)
    assert (lote.classe, lote.c_stat, lote.x_motivo) == (R, c_stat, f"lote {c_stat}")


def test_an_answer_about_another_chave_or_document_is_unexpected() -> None:
    with pytest.raises(RespostaInesperada, match="chave"):
        classificar_autorizacao(ret_envi_nfe(OTHER, 100, n_prot=NPROT), CHAVE)
    with pytest.raises(RespostaInesperada, match="chave"):
        classificar_consulta(ret_cons_sit(OTHER, 100, n_prot=NPROT), CHAVE)
    with pytest.raises(RespostaInesperada, match="expected retConsSitNFe"):
        classificar_consulta(ret_envi_nfe(CHAVE, 100), CHAVE)
    with pytest.raises(RespostaInesperada, match="expected retConsStatServ"):
        status_servico(ret_envi_nfe(CHAVE, 100))


def test_consulta_outcomes() -> None:
    authorized = classificar_consulta(ret_cons_sit(CHAVE, 100, n_prot=NPROT), CHAVE)
    assert (authorized.classe, authorized.n_prot, authorized.via_consulta) == (A, NPROT, True)
    assert authorized.prot_nfe_xml is not None and NPROT in authorized.prot_nfe_xml
    denied = classificar_consulta(ret_cons_sit(CHAVE, 302, n_prot=NPROT), CHAVE)
    assert (denied.classe, denied.c_stat) == (D, 302)
    assert classificar_consulta(ret_cons_sit(CHAVE, 217), CHAVE).classe is Classe.NAO_CONSTA
    cancelled = classificar_consulta(ret_cons_sit(CHAVE, 101, n_prot=NPROT, prot_c_stat=100), CHAVE)
    assert (cancelled.classe, cancelled.c_stat, cancelled.n_prot) == (Classe.CANCELADA, 101, NPROT)
    with pytest.raises(RespostaInesperada, match="refused: 236"):
        classificar_consulta(ret_cons_sit(CHAVE, 236), CHAVE)  # the consulta itself refused
    with pytest.raises(SefazIndisponivel, match="without the protNFe"):
        classificar_consulta(ret_cons_sit(CHAVE, 100), CHAVE)
    with pytest.raises(SefazIndisponivel):
        classificar_consulta(ret_cons_sit(CHAVE, 109), CHAVE)


def _ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}]")
    error.reason = reason
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TimeoutError("timed out"), SefazTimeout),
        (ConnectionRefusedError(111, "refused"), SefazIndisponivel),
        (ConnectionResetError(104, "reset"), SefazIndisponivel),
        (OSError(101, "Network is unreachable"), SefazIndisponivel),
        (_ssl_error("UNEXPECTED_EOF_WHILE_READING"), SefazIndisponivel),
        (ssl.SSLEOFError(8, "EOF"), SefazIndisponivel),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), TlsRecusado),
        (_ssl_error("TLSV1_ALERT_UNKNOWN_CA"), TlsRecusado),
        (_ssl_error("SSLV3_ALERT_CERTIFICATE_EXPIRED"), TlsRecusado),
    ],
)
def test_failures_below_soap(error: BaseException, expected: type[Exception]) -> None:
    mapped = falha_de_transporte(error, url="https://sefaz")
    assert type(mapped) is expected
    assert is_dependency_failure(mapped) is (expected is not TlsRecusado)
    assert is_outage(mapped) is (expected is not TlsRecusado)


# ---- autorizar_nfe's flow --------------------------------------------------------------------------------

SIGNED = "<NFe/>"  # never parsed: the canned answers carry no protNFe the flow would wrap (n_prot=None)


def _run(roteiro: Roteiro, *, tentativa_anterior: bool = False) -> Classe:
    return autorizar_nfe(roteiro, SIGNED, CHAVE, tentativa_anterior=tentativa_anterior).classe


def test_a_rejection_is_final_without_a_consulta() -> None:
    roteiro = Roteiro([ret_envi_nfe(CHAVE, 598)], [])
    assert _run(roteiro) is R and roteiro.chamadas == ["autorizar"]


def test_a_lost_answer_then_217_allows_exactly_one_resend() -> None:
    roteiro = Roteiro([SefazTimeout("t"), ret_envi_nfe(CHAVE, 598)], [ret_cons_sit(CHAVE, 217)])
    assert _run(roteiro) is R
    assert roteiro.chamadas == ["autorizar", "consultar", "autorizar"]


def test_the_resend_failing_too_raises_and_sends_no_third_time() -> None:
    roteiro = Roteiro([SefazTimeout("t"), SefazTimeout("t")], [ret_cons_sit(CHAVE, 217)])
    with pytest.raises(SefazTimeout):
        _run(roteiro)
    assert roteiro.chamadas == ["autorizar", "consultar", "autorizar"]


def test_a_consulta_that_fails_raises_and_nothing_is_resent() -> None:
    roteiro = Roteiro([SefazIndisponivel("HTTP 502")], [SefazTimeout("t")])
    with pytest.raises(SefazTimeout):
        _run(roteiro)
    assert roteiro.chamadas == ["autorizar", "consultar"]


def test_a_redelivery_consults_before_sending() -> None:
    roteiro = Roteiro([ret_envi_nfe(CHAVE, 598)], [ret_cons_sit(CHAVE, 217)])
    assert _run(roteiro, tentativa_anterior=True) is R
    assert roteiro.chamadas == ["consultar", "autorizar"]
    down = Roteiro([], [ret_cons_sit(CHAVE, 108)])
    with pytest.raises(SefazIndisponivel):
        _run(down, tentativa_anterior=True)
    assert down.chamadas == ["consultar"]


def test_queued_lote_then_217_is_still_unknown() -> None:
    roteiro = Roteiro([ret_envi_nfe(CHAVE, 0, lote_c_stat=103)], [ret_cons_sit(CHAVE, 217)])
    with pytest.raises(SefazIndisponivel) as raised:
        _run(roteiro)
    assert raised.value.c_stat == 103
    assert roteiro.chamadas == ["autorizar", "consultar"]


def test_duplicates_consult_and_never_resend() -> None:
    # 539: another chave holds the número, the consulta of ours says 217: DUPLICADA for an operator
    roteiro = Roteiro([ret_envi_nfe(CHAVE, 539)], [ret_cons_sit(CHAVE, 217)])
    assert _run(roteiro) is DUP and roteiro.chamadas == ["autorizar", "consultar"]
    # 218: the NF-e was authorized, then cancelled (a late redelivery after the saga cancelled it): the
    # answer repeats its authorization from the consulta's protNFe, and nothing is resent
    cancelled = Roteiro([ret_envi_nfe(CHAVE, 218)], [ret_cons_sit(CHAVE, 101, n_prot=NPROT, prot_c_stat=100)])
    # (our NF-e's DigestValue is the digVal the canned protNFe carries: 20 zero bytes)
    ours = (
        '<NFe xmlns="http://www.portalfiscal.inf.br/nfe"><infNFe Id="NFe' + CHAVE + '"/>'
        '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><Reference>'
        "<DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</DigestValue></Reference></SignedInfo></Signature></NFe>"
    )
    outcome = autorizar_nfe(cancelled, ours, CHAVE)
    assert (outcome.classe, outcome.c_stat, outcome.n_prot, outcome.via_consulta) == (
        Classe.AUTORIZADA,
        100,
        NPROT,
        True,
    )
    assert cancelled.chamadas == ["autorizar", "consultar"]


def test_id_lote_is_the_numero() -> None:
    assert id_lote_de(CHAVE) == "123"


def test_a_protocol_for_another_xml_under_the_same_chave_is_not_archived_with_ours() -> None:
    # Given SEFAZ holds the chave with a digVal (20 zero bytes) that is not our NF-e's DigestValue
    ours = (
        '<NFe xmlns="http://www.portalfiscal.inf.br/nfe"><infNFe Id="NFe' + CHAVE + '"/>'
        '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><Reference>'
        "<DigestValue>c2VuZGVyLWRpZ2VzdC12YWx1ZT0=</DigestValue></Reference></SignedInfo></Signature></NFe>"
    )
    roteiro = Roteiro([ret_envi_nfe(CHAVE, 204)], [ret_cons_sit(CHAVE, 100, n_prot=NPROT)])
    # When the 204 is settled through the consulta, Then the mismatch is refused, not paired
    with pytest.raises(RespostaInesperada, match="another XML"):
        autorizar_nfe(roteiro, ours, CHAVE)
    assert roteiro.chamadas == ["autorizar", "consultar"]
