"""functions/sefaz against the emulated SEFAZ (HTTPS with mutual TLS, SOAP 1.2): the client, the outcome
of each kind of answer, and autorizar_nfe's consult-first rule under faults. One emulator per module."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nfelib
import pytest
from lxml import etree
from nfelib.nfe.bindings.v4_0.proc_nfe_v4_00 import NfeProc

from functions.fiscal.xml import validate
from functions.sefaz import client as client_module
from functions.sefaz.authorize import autorizar_nfe, id_lote_de
from functions.sefaz.client import SefazClient, tls_context
from functions.sefaz.endpoints import Servico
from functions.sefaz.outcome import (
    Classe,
    RespostaInesperada,
    SefazIndisponivel,
    SefazTimeout,
    TlsRecusado,
    classificar_autorizacao,
    status_servico,
)
from functions.shared.redelivery import DependencyUnavailable, is_dependency_failure
from nfe.local.sefaz import SefazEmulator, ensure_pki
from nfe.local.sefaz.server import free_port
from tests.helpers import sefaz_env
from tests.helpers.sefaz_client import Gravador, client_for, nota_assinada, xmlsec_verifica

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
PROC_NFE_XSD = Path(nfelib.__file__).parent / "nfe" / "schemas" / "v4_0" / "procNFe_v4.00.xsd"


@pytest.fixture(scope="module")
def emulator() -> Iterator[SefazEmulator]:
    with sefaz_env.running_emulator(uf="SP", ambiente=2) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(emulator: SefazEmulator) -> None:
    emulator.reset()


@pytest.fixture(scope="module")
def client(emulator: SefazEmulator) -> SefazClient:
    return client_for(emulator, read_timeout=5.0)


def _stored(emulator: SefazEmulator) -> list[tuple[str, int, str]]:
    return [(item["chave"], item["cstat"], item["nprot"]) for item in emulator.state()["nfe"]]


def test_status_servico_is_107_and_108_when_sefaz_is_down(emulator: SefazEmulator, client: SefazClient) -> None:
    status = status_servico(client.status_servico())
    assert (status.c_stat, status.x_motivo) == (107, "Serviço em Operação")
    emulator.down("108")
    with pytest.raises(SefazIndisponivel) as raised:
        status_servico(client.status_servico())
    assert raised.value.c_stat == 108 and is_dependency_failure(raised.value)


def test_authorized_with_protocol_and_an_nfeproc_that_validates_and_verifies(
    emulator: SefazEmulator, client: SefazClient
) -> None:
    # Given a NotaFiscal for the emulator's emitente, signed by the fiscal core
    nota = nota_assinada(emulator)
    # When it is authorized
    outcome = autorizar_nfe(client, nota.xml, nota.chave)
    # Then SEFAZ's protocol comes back as data
    assert (outcome.classe, outcome.c_stat, outcome.via_consulta) == (Classe.AUTORIZADA, 100, False)
    assert outcome.n_prot is not None and len(outcome.n_prot) == 15 and outcome.n_prot.isdigit()
    assert outcome.dh_recbto is not None and outcome.dh_recbto.endswith("-03:00")
    digest = etree.fromstring(nota.xml.encode()).findtext(f".//{{{DS_NS}}}DigestValue")
    assert outcome.dig_val == digest
    assert _stored(emulator) == [(nota.chave, 100, outcome.n_prot)]
    # And the nfeProc is valid against procNFe_v4.00.xsd, parses with nfelib, and libxmlsec1 verifies it
    proc = outcome.nfe_proc_xml
    assert proc is not None
    assert validate(proc) == []
    assert NfeProc.schema_validation(proc, schema_path=str(PROC_NFE_XSD)) == []
    parsed = NfeProc.from_xml(proc)
    assert parsed.protNFe.infProt.nProt == outcome.n_prot
    assert xmlsec_verifica(proc)
    assert not xmlsec_verifica(proc.replace("<vNF>", "<vNF>1", 1))  # the check can fail


def test_forced_rejection_is_rejeitada_with_its_cstat_and_nothing_stored(
    emulator: SefazEmulator, client: SefazClient
) -> None:
    emulator.force_rejection(778, "Rejeição: Informado NCM inexistente", count=1)
    nota = nota_assinada(emulator)
    outcome = autorizar_nfe(client, nota.xml, nota.chave)
    assert (outcome.classe, outcome.c_stat) == (Classe.REJEITADA, 778)
    assert outcome.x_motivo == "Rejeição: Informado NCM inexistente"
    assert (outcome.n_prot, outcome.prot_nfe_xml, outcome.nfe_proc_xml) == (None, None, None)
    assert emulator.state()["nfe"] == []
    # A rejected número is not stored: the same nota, sent again, is authorized
    assert autorizar_nfe(client, nota.xml, nota.chave).classe is Classe.AUTORIZADA


def test_a_rule_of_sefaz_rejects_a_tampered_nota_with_297(emulator: SefazEmulator, client: SefazClient) -> None:
    nota = nota_assinada(emulator)
    tampered = nota.xml.replace("<vNF>", "<vNF>1", 1)
    outcome = autorizar_nfe(client, tampered, nota.chave)
    assert (outcome.classe, outcome.c_stat) == (Classe.REJEITADA, 297)


def test_denial_switch_is_denegada_with_protocol_and_nfeproc(emulator: SefazEmulator, client: SefazClient) -> None:
    emulator.deny_emitente("11222333000181")
    nota = nota_assinada(emulator)
    outcome = autorizar_nfe(client, nota.xml, nota.chave)
    assert (outcome.classe, outcome.c_stat) == (Classe.DENEGADA, 301)
    assert outcome.n_prot is not None and outcome.nfe_proc_xml is not None
    assert validate(outcome.nfe_proc_xml) == []
    assert _stored(emulator) == [(nota.chave, 301, outcome.n_prot)]  # the número is consumed


@pytest.mark.parametrize("code", [108, 109])
def test_down_raises_dependency_unavailable_and_stores_nothing(
    emulator: SefazEmulator, client: SefazClient, code: int
) -> None:
    emulator.down(str(code))
    nota = nota_assinada(emulator)
    with pytest.raises(DependencyUnavailable) as raised:
        autorizar_nfe(client, nota.xml, nota.chave)
    assert isinstance(raised.value, SefazIndisponivel) and raised.value.c_stat == code
    assert emulator.state()["nfe"] == []
    emulator.down(None)
    assert autorizar_nfe(client, nota.xml, nota.chave, tentativa_anterior=True).classe is Classe.AUTORIZADA


def test_hang_times_out_then_the_next_call_consults_first_and_authorizes_once(
    emulator: SefazEmulator, client: SefazClient
) -> None:
    # Given SEFAZ reads requests and never answers, and a client with a short read timeout
    impatient = client_for(emulator, read_timeout=0.3)
    nota = nota_assinada(emulator)
    emulator.down("hang")
    started = time.monotonic()
    # When the nota is sent, Then the send and its consulta time out: a DependencyUnavailable
    with pytest.raises(SefazTimeout):
        autorizar_nfe(impatient, nota.xml, nota.chave)
    assert time.monotonic() - started < 3
    emulator.down(None)
    # When the message comes back, Then the consulta comes first (217), then the one send
    recorder = Gravador(impatient)
    outcome = autorizar_nfe(recorder, nota.xml, nota.chave, tentativa_anterior=True)
    assert recorder.chamadas == ["consultar", "autorizar"]
    assert outcome.classe is Classe.AUTORIZADA
    assert _stored(emulator) == [(nota.chave, 100, outcome.n_prot)]


def test_stored_by_sefaz_but_the_answer_lost_ends_authorized_once_through_the_consulta(
    emulator: SefazEmulator, client: SefazClient
) -> None:
    # Given SEFAZ authorized the nota, but the sender never saw the answer
    nota = nota_assinada(emulator)
    first = classificar_autorizacao(client.autorizar(nota.xml, id_lote_de(nota.chave)), nota.chave)
    assert first.classe is Classe.AUTORIZADA
    # When autorizar_nfe runs with a client whose first send times out
    recorder = Gravador(client, falhas={("autorizar", 1): "timeout-antes"})
    outcome = autorizar_nfe(recorder, nota.xml, nota.chave)
    # Then it consults, finds the protocol, and sends nothing more
    assert recorder.chamadas == ["autorizar", "consultar"]
    assert (outcome.classe, outcome.n_prot, outcome.via_consulta) == (Classe.AUTORIZADA, first.n_prot, True)
    assert outcome.nfe_proc_xml is not None and validate(outcome.nfe_proc_xml) == []
    assert _stored(emulator) == [(nota.chave, 100, first.n_prot)]


def test_a_slow_sefaz_that_stores_after_the_client_gave_up(emulator: SefazEmulator, client: SefazClient) -> None:
    # Given SEFAZ takes 0.6 s per answer and the client waits 0.2 s: the send is processed, unseen
    impatient = client_for(emulator, read_timeout=0.2)
    nota = nota_assinada(emulator)
    emulator.delay(600)
    with pytest.raises(SefazTimeout):
        autorizar_nfe(impatient, nota.xml, nota.chave)  # the consulta times out too
    deadline = time.monotonic() + 5
    while not emulator.state()["nfe"] and time.monotonic() < deadline:
        time.sleep(0.05)
    emulator.delay(0)
    # When the message comes back, Then the consulta alone settles it
    recorder = Gravador(impatient)
    outcome = autorizar_nfe(recorder, nota.xml, nota.chave, tentativa_anterior=True)
    assert recorder.chamadas == ["consultar"]
    assert outcome.classe is Classe.AUTORIZADA and outcome.via_consulta
    assert _stored(emulator) == [(nota.chave, 100, outcome.n_prot)]


def test_resending_an_authorized_nota_meets_204_and_settles_through_the_consulta(
    emulator: SefazEmulator, client: SefazClient
) -> None:
    nota = nota_assinada(emulator)
    first = autorizar_nfe(client, nota.xml, nota.chave)
    recorder = Gravador(client)
    again = autorizar_nfe(recorder, nota.xml, nota.chave)
    assert recorder.chamadas == ["autorizar", "consultar"]  # 204, one consulta, no loop
    assert (again.classe, again.c_stat, again.n_prot, again.via_consulta) == (
        Classe.AUTORIZADA,
        100,
        first.n_prot,
        True,
    )
    assert again.prot_nfe_xml == first.prot_nfe_xml
    assert len(emulator.state()["nfe"]) == 1


def test_same_numero_under_another_chave_is_duplicada_539_and_never_resent(
    emulator: SefazEmulator, client: SefazClient
) -> None:
    original = nota_assinada(emulator)
    assert autorizar_nfe(client, original.xml, original.chave).classe is Classe.AUTORIZADA
    other = nota_assinada(emulator, numero=original.nota.numero)  # a new cNF: another chave
    assert other.chave != original.chave
    recorder = Gravador(client)
    outcome = autorizar_nfe(recorder, other.xml, other.chave)
    assert recorder.chamadas == ["autorizar", "consultar"]  # the consulta says 217; no resend
    assert (outcome.classe, outcome.c_stat) == (Classe.DUPLICADA, 539)
    assert original.chave in outcome.x_motivo
    assert [item["chave"] for item in emulator.state()["nfe"]] == [original.chave]


def test_a_server_the_ca_bundle_does_not_vouch_for_is_refused_not_retried(emulator: SefazEmulator) -> None:
    stranger_ca = ensure_pki(sefaz_env.stranger_directory()).ca_cert
    wrong = client_for(emulator, ca_file=str(stranger_ca))
    with pytest.raises(TlsRecusado, match="does not verify"):
        wrong.status_servico()
    assert not is_dependency_failure(TlsRecusado("x"))


def test_connection_refused_or_dropped_is_sefaz_unavailable(emulator: SefazEmulator, client: SefazClient) -> None:
    info = emulator.info()
    nowhere = SefazClient(
        uf="SP",
        ambiente=2,
        urls={Servico.STATUS_SERVICO: f"https://localhost:{free_port()}/ws/NFeStatusServico4"},
        tls=client.tls,
        connect_timeout=1.0,
    )
    with pytest.raises(SefazIndisponivel, match="ConnectionRefusedError"):
        nowhere.status_servico()
    emulator.down("close")
    with pytest.raises(SefazIndisponivel):
        client.status_servico()
    emulator.down(None)
    assert status_servico(client.status_servico()).c_stat == 107
    assert info["url"].startswith("https://localhost:")


def test_http_errors_5xx_unavailable_4xx_unexpected_and_answers_that_are_not_sefaz(
    emulator: SefazEmulator, client: SefazClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_path = SefazClient(
        uf="SP", ambiente=2, urls={Servico.STATUS_SERVICO: f"{emulator.url}/ws/Nada"}, tls=client.tls
    )
    with pytest.raises(RespostaInesperada, match="HTTP 404"):
        wrong_path.status_servico()
    assert not is_dependency_failure(RespostaInesperada("x"))
    answers = iter([(503, b"busy"), (200, b""), (200, b"<soap:Envelope"), (200, b"<a/>")])
    monkeypatch.setattr(client, "_post", lambda *args: next(answers))
    for expected in ("HTTP 503", "empty answer", "unparsable", "holds 0 retConsStatServ"):
        with pytest.raises(SefazIndisponivel, match=expected):
            client.status_servico()


def test_a_client_certificate_the_server_does_not_trust_is_refused_not_retried(emulator: SefazEmulator) -> None:
    # Given a certificate from a CA the emulator does not trust, over TLS 1.2, where the server checks
    # the client's certificate inside the handshake (with TLS 1.3 its alert races the client's first
    # write, and the client may see a bare EOF instead, which is classified as transient)
    stranger = ensure_pki(sefaz_env.stranger_directory()).emitente
    tls = tls_context(stranger.p12.read_bytes(), stranger.password, ca_file=emulator.info()["caFile"])
    tls.maximum_version = ssl.TLSVersion.TLSv1_2
    untrusted = SefazClient(
        uf="SP", ambiente=2, urls={Servico.STATUS_SERVICO: emulator.endpoint("NFeStatusServico4")}, tls=tls
    )
    # When it asks, Then the handshake's alert is a refusal, not an outage
    with pytest.raises(TlsRecusado, match="refused the client certificate"):
        untrusted.status_servico()


def test_the_request_is_soap12_with_nfedadosmsg_and_envinfe_sync(emulator: SefazEmulator, client: SefazClient) -> None:
    nota = nota_assinada(emulator)
    envelope = etree.fromstring(client.envelope(Servico.AUTORIZACAO, client_module.envi_nfe(nota.xml, "123")))
    assert envelope.tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"
    dados = envelope.find(
        "{http://www.w3.org/2003/05/soap-envelope}Body/"
        "{http://www.portalfiscal.inf.br/nfe/wsdl/NFeAutorizacao4}nfeDadosMsg"
    )
    assert dados is not None
    envi = dados[0]
    nfe = "{http://www.portalfiscal.inf.br/nfe}"
    assert (envi.tag, envi.get("versao")) == (f"{nfe}enviNFe", "4.00")
    assert [child.tag for child in envi] == [f"{nfe}idLote", f"{nfe}indSinc", f"{nfe}NFe"]
    assert (envi.findtext(f"{nfe}idLote"), envi.findtext(f"{nfe}indSinc")) == ("123", "1")
    with pytest.raises(ValueError, match="signed"):
        client_module.envi_nfe(nota.xml.split("<Signature")[0] + "</NFe>", "1")


def test_tls_context_writes_the_key_to_a_private_file_and_removes_it(
    emulator: SefazEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = emulator.info()
    seen: list[tuple[str, int]] = []
    real = tempfile.mkstemp

    def recording(prefix: str, suffix: str) -> tuple[int, str]:
        descriptor, path = real(prefix=prefix, suffix=suffix, dir=str(tmp_path))
        seen.append((path, stat.S_IMODE(os.stat(path).st_mode)))
        return descriptor, path

    monkeypatch.setattr(client_module.tempfile, "mkstemp", recording)
    context = tls_context(Path(info["clientPkcs12"]).read_bytes(), info["clientPassword"], ca_file=info["caFile"])
    assert [mode for _, mode in seen] == [0o600]
    assert list(tmp_path.iterdir()) == []
    with (
        socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(ValueError, match="exactly one"):
        tls_context(b"", "x")
