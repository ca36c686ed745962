"""The emulated SEFAZ as a participant sees it: authorization, resends, denial, outages, delay, the
cancel event and its 24 hours, inutilização, the admin switches and a restart that remembers."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree
from nfelib import CommonMixin

from nfe.local.sefaz import SefazEmulator, schemas, signature
from tests.helpers import sefaz_env
from tests.helpers import sefaz_nfe as h
from tests.helpers.sefaz_env import Env


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with sefaz_env.running_emulator() as emulator:
        yield Env(emulator)


@pytest.fixture(autouse=True)
def fresh(env: Env) -> None:
    env.emulator.reset()


def _nprot(answer: etree._Element) -> str:
    return h.text(answer, "n:protNFe/n:infProt/n:nProt")


def test_one_byte_of_vnf_changed_after_signing_is_297_and_the_untouched_xml_is_authorized(env: Env) -> None:
    # Given an NF-e signed by the emitente, as bytes inside the SOAP envelope
    signed = env.nota().signed(env.emitente)
    envelope = env.client.envelope("NFeAutorizacao4", h.envi_nfe(signed))
    assert envelope.count(b"<vNF>100.00</vNF>") == 1
    tampered = envelope.replace(b"<vNF>100.00</vNF>", b"<vNF>100.01</vNF>")
    # When the tampered bytes are sent, Then libxmlsec1 finds the digest wrong
    answer = etree.fromstring(env.client.raw("NFeAutorizacao4", tampered).content)[0][0][0]
    assert h.cstat(answer) == "297"
    assert env.emulator.state()["nfe"] == []  # a rejected NF-e is not stored
    # And the original bytes are authorized
    answer = etree.fromstring(env.client.raw("NFeAutorizacao4", envelope).content)[0][0][0]
    assert h.cstat(answer) == "100"


def test_authorized_then_consulta_gives_100_with_the_same_protocol_and_a_valid_nfeproc(env: Env) -> None:
    nota, nprot, signed = env.authorize()
    answer = env.send(signed)  # a resend of the same XML
    assert h.cstat(answer) == "204"
    assert nprot in h.text(answer, "n:protNFe/n:infProt/n:xMotivo")  # NT 2018.005: the original protocol
    consulta = env.consulta(nota.chave)
    assert h.cstat(consulta) == "100"
    assert _nprot(consulta) == nprot
    assert len(nprot) == 15 and nprot.startswith(f"135{env.now().year % 100:02d}")
    assert h.text(consulta, "n:protNFe/n:infProt/n:digVal") == signature.digest_value(signed)
    assert h.text(consulta, "n:protNFe/n:infProt/n:chNFe") == nota.chave
    # The nfeProc a participant archives (NFe + the protNFe as answered) is valid against its schema
    proc = etree.Element(h.q("nfeProc"), nsmap={None: h.NFE}, versao="4.00")
    proc.append(signed)
    prot = consulta.find(h.q("protNFe"))
    assert prot is not None
    proc.append(prot)
    assert schemas.errors("procNFe", proc) == []
    assert [item["chave"] for item in env.emulator.state()["nfe"]] == [nota.chave]


def test_same_numero_with_another_chave_is_539_naming_the_stored_chave(env: Env) -> None:
    nota, _, _ = env.authorize()
    again = env.nota(nnf=int(nota.chave[25:34]))  # a new cNF: the resend-after-timeout mistake
    answer = env.send(again.signed(env.emitente))
    assert h.cstat(answer) == "539"
    assert f"[chNFe:{nota.chave}]" in h.text(answer, "n:protNFe/n:infProt/n:xMotivo")
    assert h.cstat(env.consulta(again.chave)) == "217"


def test_a_rejected_numero_is_not_stored_and_can_be_sent_again_corrected(env: Env) -> None:
    nnf = env.nnf()
    wrong = env.nota(nnf=nnf, dest_name="CLIENTE LTDA")
    assert h.cstat(env.send(wrong.signed(env.emitente))) == "598"
    assert h.cstat(env.consulta(wrong.chave)) == "217"
    env.authorize(env.nota(nnf=nnf))


def test_denial_switch_stores_the_nfe_as_denied_and_consulta_answers_301(env: Env) -> None:
    env.emulator.deny_emitente(env.emitente.cnpj)
    nota = env.nota()
    answer = env.send(nota.signed(env.emitente))
    assert h.cstat(answer) == "301"
    nprot = _nprot(answer)  # a denial is protocolled: the número is consumed
    stored = env.emulator.state()["nfe"]
    assert [(item["chave"], item["cstat"], item["nprot"]) for item in stored] == [(nota.chave, 301, nprot)]
    consulta = env.consulta(nota.chave)
    assert (h.cstat(consulta), _nprot(consulta)) == ("301", nprot)
    env.emulator.reset_switches()
    assert h.cstat(env.send(nota.signed(env.emitente))) == "205"
    assert h.cstat(env.inutilizar(int(nota.chave[25:34]), int(nota.chave[25:34]))) == "241"


def test_destinatario_denial_by_document(env: Env) -> None:
    env.emulator.set_switches(irregularDestinatarios=["11444777000161"])
    assert h.cstat(env.send(env.nota().signed(env.emitente))) == "100"  # another destinatário
    answer = env.send(env.nota(dest_cnpj="11444777000161").signed(env.emitente))
    assert h.cstat(answer) == "302"


@pytest.mark.parametrize("code", ["108", "109"])
def test_down_answers_every_service_with_108_or_109_until_it_is_back(env: Env, code: str) -> None:
    env.emulator.down(code)
    assert h.cstat(env.client.call("NFeStatusServico4", h.cons_stat())) == code
    nota = env.nota()
    answer = env.send(nota.signed(env.emitente))
    assert h.cstat(answer) == code and answer.find(h.q("protNFe")) is None
    assert h.cstat(env.consulta(nota.chave)) == code
    env.emulator.down(None)
    assert h.cstat(env.client.call("NFeStatusServico4", h.cons_stat())) == "107"
    assert h.cstat(env.send(nota.signed(env.emitente))) == "100"


def test_no_answer_modes_make_the_client_time_out_or_lose_the_connection(env: Env) -> None:
    env.emulator.down("hang")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        env.client.call("NFeStatusServico4", h.cons_stat(), timeout=0.5)
    assert 0.4 < time.monotonic() - started < 5
    env.emulator.down("close")
    with pytest.raises(requests.exceptions.ConnectionError):
        env.client.call("NFeStatusServico4", h.cons_stat())
    env.emulator.down(None)
    assert h.cstat(env.client.call("NFeStatusServico4", h.cons_stat())) == "107"


def test_delay_holds_each_answer(env: Env) -> None:
    env.emulator.delay(300)
    started = time.monotonic()
    assert h.cstat(env.client.call("NFeStatusServico4", h.cons_stat())) == "107"
    assert time.monotonic() - started >= 0.3
    env.emulator.delay(0)
    started = time.monotonic()
    env.client.call("NFeStatusServico4", h.cons_stat())
    assert time.monotonic() - started < 0.3


def test_forced_rejection_for_the_next_n_authorizations_is_not_stored(env: Env) -> None:
    env.emulator.force_rejection(539, "Rejeição: forçada pelo teste", count=2)
    first, second = env.nota(), env.nota()
    for nota in (first, second):
        answer = env.send(nota.signed(env.emitente))
        assert h.cstat(answer) == "539"
        assert h.text(answer, "n:protNFe/n:infProt/n:xMotivo") == "Rejeição: forçada pelo teste"
    assert env.emulator.state()["nfe"] == []
    env.authorize(first)


def test_cancel_within_24_hours_then_consulta_101_then_duplicate_573(env: Env) -> None:
    nota, nprot, _ = env.authorize()
    env.emulator.set_clock(offset=datetime.timedelta(hours=23))
    answer = env.cancel(nota.chave, nprot)
    assert (h.text(answer, "n:cStat"), h.cstat(answer)) == ("128", "135")
    assert h.text(answer, "n:retEvento/n:infEvento/n:xMotivo") == "Evento registrado e vinculado a NF-e"
    consulta = env.consulta(nota.chave)
    assert h.cstat(consulta) == "101"
    assert _nprot(consulta) == nprot  # the authorization's protNFe stays
    proc = consulta.find(h.q("procEventoNFe"))
    assert proc is not None
    assert schemas.errors("procEventoNFe", proc) == []
    evento = proc.find(h.q("evento"))
    assert evento is not None and signature.verify(evento)
    assert h.cstat(env.cancel(nota.chave, nprot)) == "573"
    assert h.cstat(env.send(h.build_nfe(nnf=int(nota.chave[25:34]), when=env.now()).signed(env.emitente))) == "539"


def test_cancel_more_than_24_hours_after_authorization_is_501_by_the_emulators_clock(env: Env) -> None:
    fixed = datetime.datetime(2026, 11, 3, 15, 0, tzinfo=datetime.UTC)
    env.emulator.set_clock(fixed=fixed)
    nota, nprot, _ = env.authorize(env.nota(when=fixed - datetime.timedelta(minutes=2)))
    assert h.text(env.consulta(nota.chave), "n:protNFe/n:infProt/n:dhRecbto") == "2026-11-03T12:00:00-03:00"
    env.emulator.set_clock(fixed=fixed + datetime.timedelta(hours=24, seconds=1))
    assert h.cstat(env.cancel(nota.chave, nprot)) == "501"
    env.emulator.set_clock(fixed=fixed + datetime.timedelta(hours=24))
    assert h.cstat(env.cancel(nota.chave, nprot)) == "135"


def test_inutilizacao_102_then_563_with_the_earlier_protocol_and_the_range_rules(env: Env) -> None:
    first = env.inutilizar(100, 110)
    assert h.cstat(first) == "102"
    nprot = h.text(first, "n:infInut/n:nProt")
    again = env.inutilizar(100, 110)
    assert (h.cstat(again), h.text(again, "n:infInut/n:nProt")) == ("563", nprot)
    assert h.cstat(env.inutilizar(105, 120)) == "256"
    assert h.cstat(env.inutilizar(120, 111)) == "224"
    assert h.cstat(env.inutilizar(200, 10_200)) == "201"
    assert h.cstat(env.inutilizar(200, 10_199)) == "102"  # exactly 10 000 números
    nota, _, _ = env.authorize()
    nnf = int(nota.chave[25:34])
    assert h.cstat(env.inutilizar(nnf - 1, nnf + 1)) == "241"
    assert h.cstat(env.send(env.nota(nnf=105).signed(env.emitente))) == "206"
    assert [(item["ini"], item["fin"]) for item in env.emulator.state()["inutilizacoes"]] == [(100, 110), (200, 10_199)]


def test_nfelib_sign_xml_signatures_are_accepted(env: Env) -> None:
    nota = env.nota()
    xml = etree.tostring(nota.element, encoding="unicode")
    signed = CommonMixin.sign_xml(xml, env.emitente.p12.read_bytes(), env.emitente.password, doc_id=f"NFe{nota.chave}")
    answer = env.send(etree.fromstring(signed.encode() if isinstance(signed, str) else signed))
    assert h.cstat(answer) == "100"


def test_alphanumeric_cnpj_destinatario_is_accepted_by_its_check_digits(env: Env) -> None:
    assert h.cstat(env.send(env.nota(dest_cnpj="12ABC34501DE35").signed(env.emitente))) == "100"
    assert h.cstat(env.send(env.nota(dest_cnpj="12ABC34501DE36").signed(env.emitente))) == "208"


def test_two_racing_sends_of_one_nfe_authorize_it_once(env: Env) -> None:
    signed = env.nota().signed(env.emitente)
    answers: list[str] = []
    clients = [h.SoapClient(env.emulator.url, env.pki) for _ in range(4)]

    def send(client: h.SoapClient) -> None:
        answers.append(h.cstat(client.call("NFeAutorizacao4", h.envi_nfe(signed))))

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["100", "204", "204", "204"]


def test_admin_endpoint_sets_switches_and_shows_state_over_mutual_tls(env: Env) -> None:
    session = env.client.session
    url = env.emulator.url
    response = session.post(f"{url}/_emulator/switches", json={"down": "109", "delayMs": 5}, timeout=5)
    assert response.status_code == 200
    assert response.json()["down"] == "109"
    assert h.cstat(env.client.call("NFeStatusServico4", h.cons_stat())) == "109"
    bad = session.post(f"{url}/_emulator/switches", json={"delayMs": 0, "down": "sometimes"}, timeout=5)
    assert bad.status_code == 400 and "down" in bad.json()["message"]
    assert session.get(f"{url}/_emulator/switches", timeout=5).json()["delayMs"] == 5  # all or nothing
    unknown = session.post(f"{url}/_emulator/switches", json={"slow": True}, timeout=5)
    assert unknown.status_code == 400
    clock: dict[str, Any] = {"clock": {"fixed": "2026-06-01T10:00:00-03:00", "offsetSeconds": 60}}
    assert session.post(f"{url}/_emulator/switches", json=clock, timeout=5).status_code == 200
    session.post(f"{url}/_emulator/switches", json={"down": None}, timeout=5)
    nota, _, _ = env.authorize(env.nota(when=datetime.datetime(2026, 6, 1, 13, 0, tzinfo=datetime.UTC)))
    state = session.get(f"{url}/_emulator/state", timeout=5).json()
    assert state["now"] == "2026-06-01T10:01:00-03:00"
    assert state["uf"] == "SP" and state["cUF"] == "35" and state["tpAmb"] == "2"
    assert [item["chave"] for item in state["nfe"]] == [nota.chave]
    assert state["nfe"][0]["dhRecbto"] == "2026-06-01T10:01:00-03:00"
    assert session.post(f"{url}/_emulator/reset", timeout=5).json()["nfe"] == []


def test_soap_details_a_client_needs(env: Env) -> None:
    session = env.client.session
    wsdl = session.get(f"{env.emulator.url}/ws/NFeAutorizacao4?wsdl", timeout=5)
    assert wsdl.status_code == 200 and b"nfeAutorizacaoLote" in wsdl.content
    envelope = env.client.envelope("NFeStatusServico4", h.cons_stat())
    plain = session.post(
        f"{env.emulator.url}/ws/NFeStatusServico4", data=envelope, headers={"Content-Type": "text/xml"}, timeout=5
    )
    assert plain.status_code == 415
    assert env.client.raw("NFeNaoExiste4", envelope).status_code == 404
    answer = env.client.raw("NFeStatusServico4", envelope)
    assert answer.headers["Content-Type"] == "application/soap+xml; charset=utf-8"
    result = etree.fromstring(answer.content).find(
        "{http://www.w3.org/2003/05/soap-envelope}Body/"
        "{http://www.portalfiscal.inf.br/nfe/wsdl/NFeStatusServico4}nfeResultMsg"
    )
    assert result is not None and etree.QName(result[0]).localname == "retConsStatServ"


def test_a_restarted_emulator_remembers_what_it_authorized(tmp_path: Path) -> None:
    with SefazEmulator(tmp_path) as first:
        env = Env(first)
        nota, nprot, signed = env.authorize()
        assert h.cstat(env.inutilizar(50, 60)) == "102"
    saved = json.loads((tmp_path / "state.json").read_text())
    assert [item["chave"] for item in saved["nfe"]] == [nota.chave]
    with SefazEmulator(tmp_path) as second:
        env = Env(second, next_nnf=10)
        assert _nprot(env.consulta(nota.chave)) == nprot
        assert h.cstat(env.send(signed)) == "204"
        assert h.cstat(env.inutilizar(50, 60)) == "563"
        _, later_nprot, _ = env.authorize()
        assert int(later_nprot) == int(nprot) + 2  # the protocol sequence goes on


def test_cli_prints_the_url_ca_and_client_certificate(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "nfe.cli", "sefaz", "--dir", str(tmp_path), "--json", "--no-persist"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["url"].startswith("https://localhost:")
        assert Path(info["caFile"]).exists() and Path(info["clientPkcs12"]).exists()
        assert info["clientPassword"] and info["cnpj"] == "11222333000181"
        assert info["endpoints"]["NFeAutorizacao4"] == f"{info['url']}/ws/NFeAutorizacao4"
        client = h.SoapClient(info["url"], SefazEmulator(tmp_path, persist=False).pki)
        assert h.cstat(client.call("NFeStatusServico4", h.cons_stat())) == "107"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
