"""After the authorization, against the emulated SEFAZ: the cancelamento (evento 110111) within and after
24 hours, one event per cancel request under redeliveries and timeouts, and the inutilização of números
(102, 241, 256, 563, 453/454). The procEventoNFe and procInutNFe are checked against nfelib's schemas
directly and their signatures by libxmlsec1, independently of the signing code."""

from __future__ import annotations

import base64
import datetime
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nfelib
import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from functions.fiscal import eventos, limits
from functions.fiscal.chave import compor_chave
from functions.fiscal.xml import Assinador
from functions.sefaz.authorize import autorizar_nfe
from functions.sefaz.cancel import cancelar_nfe
from functions.sefaz.client import SefazClient
from functions.sefaz.inutilize import TransmissorInutilizacao, inutilizar
from functions.sefaz.outcome import (
    Classe,
    InutilizacaoOutcome,
    Outcome,
    RespostaInesperada,
    SefazIndisponivel,
    SefazTimeout,
    classificar_evento,
    classificar_inutilizacao,
)
from nfe.local.sefaz import SefazEmulator
from tests.helpers import sefaz_env
from tests.helpers.sefaz_client import Assinada, Gravador, client_for, nota_assinada

NFE_NS = "http://www.portalfiscal.inf.br/nfe"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
NS = {"n": NFE_NS, "ds": DS_NS}
NFELIB = Path(nfelib.__file__).parent
PROC_EVENTO_XSD = NFELIB / "nfe_evento_cancel" / "schemas" / "v1_0" / "procEventoCancNFe_v1.00.xsd"
ENV_EVENTO_XSD = NFELIB / "nfe_evento_cancel" / "schemas" / "v1_0" / "envEventoCancNFe_v1.00.xsd"
PROC_INUT_XSD = NFELIB / "nfe" / "schemas" / "v4_0" / "procInutNFe_v4.00.xsd"
JUSTIFICATIVA = "Pedido cancelado pelo cliente antes da entrega"
JUSTIFICATIVA_INUT = "Numeros pulados por falha do sistema de faturamento"
CNPJ = "11222333000181"
CHAVE = compor_chave(
    cuf=35, dh_emi=datetime.datetime(2026, 12, 6), cnpj=CNPJ, serie=1, numero=123, tp_emis=1, cnf="24681357"
)


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


@pytest.fixture(scope="module")
def assinador(emulator: SefazEmulator) -> Assinador:
    info = emulator.info()
    return Assinador(Path(info["clientPkcs12"]).read_bytes(), info["clientPassword"])


@dataclass
class Gravador2(Gravador):
    """The helpers' recording transmissor (faults by call ordinal), also for events and inutilizações."""

    inner: SefazClient

    @property
    def ambiente(self) -> int:
        return self.inner.ambiente

    def evento(self, env_evento: etree._Element) -> etree._Element:
        return self._call("evento", lambda: self.inner.evento(env_evento))

    def inutilizar(self, inut_nfe: etree._Element) -> etree._Element:
        return self._call("inutilizar", lambda: self.inner.inutilizar(inut_nfe))


def _autorizada(emulator: SefazEmulator, client: SefazClient) -> tuple[Assinada, Outcome]:
    nota = nota_assinada(emulator)
    outcome = autorizar_nfe(client, nota.xml, nota.chave)
    assert outcome.classe is Classe.AUTORIZADA and outcome.n_prot is not None
    return nota, outcome


def _schema_errors(xsd: Path, xml: str | bytes) -> list[str]:
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    document = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    return [] if schema.validate(document) else [str(error) for error in schema.error_log]


def _xmlsec_verifies(proc_xml: str, signed_root: str, emulator: SefazEmulator) -> bool:
    """libxmlsec1 verifies the signature of the proc's `signed_root` (evento, inutNFe) taken out into a
    document of its own, with the certificate in its KeyInfo, which must be the emitente's."""
    proc = etree.fromstring(proc_xml.encode())
    signed = proc.find(f"{{{NFE_NS}}}{signed_root}")
    assert signed is not None
    document = etree.fromstring(etree.tostring(signed))
    etree.cleanup_namespaces(document)
    signature = document.find(f"{{{DS_NS}}}Signature")
    assert signature is not None and document[-1] is signature  # the last child, no prefix
    der = base64.b64decode(signature.findtext(f".//{{{DS_NS}}}X509Certificate", ""))
    certificate = x509.load_der_x509_certificate(der)
    emitente = x509.load_pem_x509_certificate(Path(emulator.info()["clientCert"]).read_bytes())
    assert certificate == emitente
    xmlsec.tree.add_ids(document, ["Id"])
    context = xmlsec.SignatureContext()
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    context.key = xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
    try:
        context.verify(signature)
    except xmlsec.Error:
        return False
    return True


def _wait_for(condition: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


# ---- cancelamento ---------------------------------------------------------------------------------------


def test_cancel_within_24_hours_is_135_with_a_schema_valid_proc_evento_signed_by_the_emitente(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    # Given an NF-e SEFAZ authorized a minute ago
    nota, autorizada = _autorizada(emulator, client)
    recorder = Gravador2(client)
    # When it is cancelled
    outcome = cancelar_nfe(recorder, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA, now=emulator.now())
    # Then one event was sent and SEFAZ registered it
    assert recorder.chamadas == ["evento"]
    assert (outcome.classe, outcome.c_stat, outcome.via_consulta) == (Classe.HOMOLOGADA, 135, False)
    assert outcome.n_prot is not None and len(outcome.n_prot) == 15 and outcome.n_prot != autorizada.n_prot
    assert outcome.dh_reg_evento is not None and outcome.ret_evento_xml is not None
    # And the procEventoNFe is valid against nfelib's schema, as it is
    proc = outcome.proc_evento_xml
    assert proc is not None
    assert _schema_errors(PROC_EVENTO_XSD, proc) == []
    assert eventos.validate(proc) == []
    # And libxmlsec1 verifies the evento's signature with the emitente's certificate
    assert _xmlsec_verifies(proc, "evento", emulator)
    root = etree.fromstring(proc.encode())
    inf = root.find("n:evento/n:infEvento", NS)
    assert inf is not None
    assert inf.get("Id") == f"ID110111{nota.chave}01"
    reference = root.find("n:evento/ds:Signature/ds:SignedInfo/ds:Reference", NS)
    assert reference is not None and reference.get("URI") == f"#ID110111{nota.chave}01"
    assert [t.get("Algorithm") for t in reference.findall("ds:Transforms/ds:Transform", NS)] == [
        DS_NS + "enveloped-signature",
        C14N,
    ]
    fields = {etree.QName(child).localname: child.text for child in inf if child.text}
    assert fields["cOrgao"] == "35" and fields["tpAmb"] == "2" and fields["CNPJ"] == CNPJ
    assert fields["tpEvento"] == "110111" and fields["nSeqEvento"] == "1" and fields["verEvento"] == "1.00"
    assert fields["dhEvento"].endswith("-03:00")  # São Paulo's offset, as dhEmi
    assert inf.findtext("n:detEvento/n:descEvento", namespaces=NS) == "Cancelamento"
    assert inf.findtext("n:detEvento/n:nProt", namespaces=NS) == autorizada.n_prot
    assert inf.findtext("n:detEvento/n:xJust", namespaces=NS) == JUSTIFICATIVA
    assert root.findtext("n:retEvento/n:infEvento/n:nProt", namespaces=NS) == outcome.n_prot
    # And SEFAZ now says the NF-e is cancelled
    state = emulator.state()
    assert [(n["chave"], n["cstat"]) for n in state["nfe"]] == [(nota.chave, 101)]
    assert [(e["chave"], e["nprot"]) for e in state["eventos"]] == [(nota.chave, outcome.n_prot)]


def test_a_redelivered_cancel_consults_and_sends_no_second_event(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    # Given a cancelled NF-e
    nota, autorizada = _autorizada(emulator, client)
    first = cancelar_nfe(client, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA)
    assert first.classe is Classe.HOMOLOGADA
    # When the same cancel request is delivered again
    recorder = Gravador2(client)
    again = cancelar_nfe(
        recorder, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA, tentativa_anterior=True
    )
    # Then the consulta settles it: no event sent, the first event's protocol and SEFAZ's procEventoNFe
    assert recorder.chamadas == ["consultar"]
    assert (again.classe, again.c_stat, again.n_prot, again.via_consulta) == (
        Classe.HOMOLOGADA,
        135,
        first.n_prot,
        True,
    )
    assert again.proc_evento_xml is not None and _schema_errors(PROC_EVENTO_XSD, again.proc_evento_xml) == []
    assert _xmlsec_verifies(again.proc_evento_xml, "evento", emulator)
    assert len(emulator.state()["eventos"]) == 1


def test_a_repeated_cancel_without_the_flag_meets_573_and_settles_through_the_consulta(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    nota, autorizada = _autorizada(emulator, client)
    first = cancelar_nfe(client, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA)
    recorder = Gravador2(client)
    again = cancelar_nfe(recorder, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA)
    assert recorder.chamadas == ["evento", "consultar"]  # 573, one consulta, no loop
    assert (again.classe, again.n_prot, again.via_consulta) == (Classe.HOMOLOGADA, first.n_prot, True)
    assert len(emulator.state()["eventos"]) == 1


def test_after_24_hours_the_cancel_is_501_and_the_window_agrees_with_the_emulators_clock(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    # Given an authorized NF-e and SEFAZ's clock 24 h and 1 min later
    nota, autorizada = _autorizada(emulator, client)
    assert autorizada.dh_recbto is not None
    emulator.set_clock(offset=datetime.timedelta(hours=24, minutes=1))
    # Then the window the API checks has closed too
    dh_recbto = datetime.datetime.fromisoformat(autorizada.dh_recbto)
    assert limits.cancelamento_permitido_ate(dh_recbto) < emulator.now()
    # When it is cancelled, Then SEFAZ refuses it: 501, nothing registered, the NF-e still authorized
    outcome = cancelar_nfe(client, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA, now=emulator.now())
    assert (outcome.classe, outcome.c_stat) == (Classe.REJEITADA, 501)
    assert "Prazo de Cancelamento" in outcome.x_motivo
    assert outcome.n_prot is None and outcome.proc_evento_xml is None
    assert [n["cstat"] for n in emulator.state()["nfe"]] == [100]
    assert emulator.state()["eventos"] == []


def test_just_inside_24_hours_the_cancel_is_registered(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    nota, autorizada = _autorizada(emulator, client)
    emulator.set_clock(offset=datetime.timedelta(hours=23, minutes=55))
    assert autorizada.dh_recbto is not None
    assert limits.cancelamento_permitido_ate(datetime.datetime.fromisoformat(autorizada.dh_recbto)) > emulator.now()
    outcome = cancelar_nfe(client, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA, now=emulator.now())
    assert (outcome.classe, outcome.c_stat) == (Classe.HOMOLOGADA, 135)


def test_a_slow_sefaz_registers_after_the_client_gave_up_and_the_retry_consults_once(
    emulator: SefazEmulator, assinador: Assinador
) -> None:
    # Given SEFAZ takes 0.8 s per answer and the client waits 0.3 s
    impatient = client_for(emulator, read_timeout=0.3)
    nota, autorizada = _autorizada(emulator, client_for(emulator, read_timeout=5.0))
    emulator.delay(800)
    # When the cancel is sent, Then the send and its consulta time out: outcome unknown
    with pytest.raises(SefazTimeout):
        cancelar_nfe(impatient, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA)
    _wait_for(lambda: emulator.state()["eventos"])
    emulator.delay(0)
    # When the message comes back, Then the consulta alone finds the registered event
    recorder = Gravador2(impatient)
    outcome = cancelar_nfe(
        recorder, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA, tentativa_anterior=True
    )
    assert recorder.chamadas == ["consultar"]
    assert (outcome.classe, outcome.via_consulta) == (Classe.HOMOLOGADA, True)
    events = emulator.state()["eventos"]
    assert len(events) == 1 and events[0]["nprot"] == outcome.n_prot


@pytest.mark.parametrize(
    ("falha", "chamadas", "via_consulta"),
    [
        # The event reached SEFAZ and its answer was lost: the consulta finds it, nothing is resent.
        ("timeout-depois", ["evento", "consultar"], True),
        # The event never arrived: the consulta says authorized, the one resend registers it.
        ("timeout-antes", ["evento", "consultar", "evento"], False),
    ],
)
def test_a_timeout_on_the_event_send_ends_with_one_event(
    emulator: SefazEmulator,
    client: SefazClient,
    assinador: Assinador,
    falha: str,
    chamadas: list[str],
    via_consulta: bool,
) -> None:
    nota, autorizada = _autorizada(emulator, client)
    recorder = Gravador2(client, falhas={("evento", 1): falha})
    outcome = cancelar_nfe(recorder, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA)
    assert recorder.chamadas == chamadas
    assert (outcome.classe, outcome.via_consulta) == (Classe.HOMOLOGADA, via_consulta)
    assert outcome.proc_evento_xml is not None and _schema_errors(PROC_EVENTO_XSD, outcome.proc_evento_xml) == []
    assert len(emulator.state()["eventos"]) == 1


def test_sefaz_rejections_come_back_with_cstat_and_motivo(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    nota, _ = _autorizada(emulator, client)
    # Another protocol than the authorization's: 222
    wrong = cancelar_nfe(client, assinador, nota.chave, "135260000009999", JUSTIFICATIVA)
    assert (wrong.classe, wrong.c_stat) == (Classe.REJEITADA, 222)
    # An NF-e SEFAZ never authorized: 494
    unknown = nota_assinada(emulator)
    assert cancelar_nfe(client, assinador, unknown.chave, "135260000009999", JUSTIFICATIVA).c_stat == 494
    # A denied NF-e: 580
    emulator.deny_emitente(CNPJ)
    denied = nota_assinada(emulator)
    negada = autorizar_nfe(client, denied.xml, denied.chave)
    assert negada.classe is Classe.DENEGADA
    outcome = cancelar_nfe(client, assinador, denied.chave, negada.n_prot or "", JUSTIFICATIVA)
    assert (outcome.classe, outcome.c_stat) == (Classe.REJEITADA, 580)
    assert len(emulator.state()["eventos"]) == 0


def test_sefaz_down_is_unavailable_and_nothing_is_registered(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    nota, autorizada = _autorizada(emulator, client)
    emulator.down("108")
    with pytest.raises(SefazIndisponivel) as raised:
        cancelar_nfe(client, assinador, nota.chave, autorizada.n_prot or "", JUSTIFICATIVA)
    assert raised.value.c_stat == 108
    emulator.down(None)
    assert emulator.state()["eventos"] == []


@pytest.mark.parametrize("justificativa", ["curta demais", " " * 20, "x" * 256, "Cancelado \U0001f600 pelo cliente"])
def test_a_bad_justificativa_sends_nothing(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador, justificativa: str
) -> None:
    nota, autorizada = _autorizada(emulator, client)
    recorder = Gravador2(client)
    with pytest.raises(ValueError, match="justificativa"):
        cancelar_nfe(recorder, assinador, nota.chave, autorizada.n_prot or "", justificativa)
    assert recorder.chamadas == []


def test_the_env_evento_sent_is_valid_against_its_schema(assinador: Assinador) -> None:
    signed = eventos.cancelamento_assinado(
        assinador, chave=CHAVE, n_prot="135260000000042", justificativa="  Pedido\ncancelado  pelo cliente ", ambiente=2
    )
    env = eventos.env_evento(signed, "123")
    assert _schema_errors(ENV_EVENTO_XSD, etree.tostring(env)) == []
    # Blank runs collapse and the ends are trimmed, so a line break from a form is not a 215
    assert env.findtext(".//n:xJust", namespaces=NS) == "Pedido cancelado pelo cliente"


# ---- inutilização -----------------------------------------------------------------------------------------


def _inutilizar(
    client: TransmissorInutilizacao, assinador: Assinador, emulator: SefazEmulator, de: int, ate: int, **options: object
) -> InutilizacaoOutcome:
    values: dict[str, object] = {
        "cnpj": CNPJ,
        "uf": "SP",
        "ambiente": 2,
        "serie": 1,
        "de": de,
        "ate": ate,
        "ano": emulator.now().year,
        "justificativa": JUSTIFICATIVA_INUT,
    }
    values.update(options)
    return inutilizar(client, assinador, **values)  # type: ignore[arg-type]


def test_inutilizacao_of_a_gap_is_102_with_a_schema_valid_signed_proc_inut(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    outcome = _inutilizar(client, assinador, emulator, 500, 502)
    assert (outcome.classe, outcome.c_stat) == (Classe.HOMOLOGADA, 102)
    proc = outcome.proc_inut_xml
    assert proc is not None
    assert _schema_errors(PROC_INUT_XSD, proc) == []
    assert eventos.validate(proc) == []
    assert _xmlsec_verifies(proc, "inutNFe", emulator)
    root = etree.fromstring(proc.encode())
    year = emulator.now().year % 100
    inf = root.find("n:inutNFe/n:infInut", NS)
    assert inf is not None and inf.get("Id") == f"ID35{year:02d}{CNPJ}55001000000500000000502"
    assert root.findtext("n:retInutNFe/n:infInut/n:nProt", namespaces=NS) == outcome.n_prot
    stored = emulator.state()["inutilizacoes"]
    assert [(i["serie"], i["ini"], i["fin"], i["nprot"]) for i in stored] == [(1, 500, 502, outcome.n_prot)]


def test_a_range_holding_an_authorized_numero_is_241(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    nota, _ = _autorizada(emulator, client)
    numero = nota.nota.numero
    outcome = _inutilizar(client, assinador, emulator, numero - 1, numero + 1, serie=nota.nota.serie)
    assert (outcome.classe, outcome.c_stat) == (Classe.REJEITADA, 241)
    assert outcome.proc_inut_xml is None
    assert emulator.state()["inutilizacoes"] == []


def test_the_same_range_twice_is_563_with_the_earlier_protocol_and_one_inutilizacao(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    first = _inutilizar(client, assinador, emulator, 600, 605)
    again = _inutilizar(client, assinador, emulator, 600, 605)
    assert (again.classe, again.c_stat, again.n_prot) == (Classe.HOMOLOGADA, 563, first.n_prot)
    assert again.proc_inut_xml is not None and _schema_errors(PROC_INUT_XSD, again.proc_inut_xml) == []
    assert len(emulator.state()["inutilizacoes"]) == 1
    # An overlapping range is another request: 256
    overlap = _inutilizar(client, assinador, emulator, 604, 610)
    assert (overlap.classe, overlap.c_stat) == (Classe.REJEITADA, 256)


def test_a_lost_answer_is_resent_once_and_ends_with_the_first_protocol(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    recorder = Gravador2(client, falhas={("inutilizar", 1): "timeout-depois"})
    outcome = _inutilizar(recorder, assinador, emulator, 700, 700)
    assert recorder.chamadas == ["inutilizar", "inutilizar"]
    stored = emulator.state()["inutilizacoes"]
    assert len(stored) == 1
    assert (outcome.classe, outcome.c_stat, outcome.n_prot) == (Classe.HOMOLOGADA, 563, stored[0]["nprot"])


def test_years_after_this_one_or_before_2006_are_453_and_454(
    emulator: SefazEmulator, client: SefazClient, assinador: Assinador
) -> None:
    future = _inutilizar(client, assinador, emulator, 800, 801, ano=emulator.now().year + 1)
    old = _inutilizar(client, assinador, emulator, 800, 801, ano=2005)
    assert [(o.classe, o.c_stat) for o in (future, old)] == [(Classe.REJEITADA, 453), (Classe.REJEITADA, 454)]


@pytest.mark.parametrize(
    ("de", "ate", "options", "message"),
    [
        (10, 9, {}, "224"),
        (1, 10_001, {}, "201"),
        (1, 2, {"justificativa": "curta"}, "justificativa"),
        (1, 2, {"ano": 26}, "four-digit"),
        (1, 2, {"serie": 1000}, "série"),
    ],
)
def test_ranges_sefaz_refuses_on_their_face_send_nothing(
    emulator: SefazEmulator,
    client: SefazClient,
    assinador: Assinador,
    de: int,
    ate: int,
    options: dict[str, object],
    message: str,
) -> None:
    recorder = Gravador2(client)
    with pytest.raises(ValueError, match=message):
        _inutilizar(recorder, assinador, emulator, de, ate, **options)
    assert recorder.chamadas == []


# ---- the answers' classification (canned, no emulator) ----------------------------------------------------


def _el(parent: etree._Element | None, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    if parent is None:
        element = etree.Element(f"{{{NFE_NS}}}{tag}", attrs, nsmap={None: NFE_NS})
    else:
        element = etree.SubElement(parent, f"{{{NFE_NS}}}{tag}", attrs)
    element.text = text
    return element


def _ret_env_evento(
    lote: int, evento: int | None = None, chave: str = CHAVE, n_prot: str | None = None
) -> etree._Element:
    ret = _el(None, "retEnvEvento", versao="1.00")
    for tag, text in (("idLote", "1"), ("tpAmb", "2"), ("verAplic", "T"), ("cOrgao", "35"), ("cStat", str(lote))):
        _el(ret, tag, text)
    _el(ret, "xMotivo", f"lote {lote}")
    if evento is not None:
        inf = _el(_el(ret, "retEvento", versao="1.00"), "infEvento")
        for tag, text in (("tpAmb", "2"), ("verAplic", "T"), ("cOrgao", "35"), ("cStat", str(evento))):
            _el(inf, tag, text)
        _el(inf, "xMotivo", f"evento {evento}")
        _el(inf, "chNFe", chave)
        _el(inf, "tpEvento", "110111")
        _el(inf, "nSeqEvento", "1")
        _el(inf, "dhRegEvento", "2026-12-06T10:31:00-03:00")
        if n_prot is not None:
            _el(inf, "nProt", n_prot)
    return ret


def test_event_answers_are_classified_by_the_table() -> None:
    registered = classificar_evento(_ret_env_evento(128, 135, n_prot="135260000000043"), CHAVE)
    assert (registered.classe, registered.n_prot, registered.ret_evento_xml is not None) == (
        Classe.HOMOLOGADA,
        "135260000000043",
        True,
    )
    late = classificar_evento(_ret_env_evento(128, 155, n_prot="135260000000044"), CHAVE)
    assert (late.classe, late.c_stat) == (Classe.HOMOLOGADA, 155)
    assert classificar_evento(_ret_env_evento(128, 573), CHAVE).classe is Classe.DUPLICADA
    assert classificar_evento(_ret_env_evento(128, 501), CHAVE).classe is Classe.REJEITADA
    # A lote-level refusal (schema) rejects the one event with the lote's cStat
    schema = classificar_evento(_ret_env_evento(215), CHAVE)
    assert (schema.classe, schema.c_stat, schema.x_motivo) == (Classe.REJEITADA, 215, "lote 215")
    for c_stat in (108, 109):
        with pytest.raises(SefazIndisponivel):
            classificar_evento(_ret_env_evento(c_stat), CHAVE)
    with pytest.raises(SefazIndisponivel):
        classificar_evento(_ret_env_evento(128), CHAVE)  # lote processado without its retEvento
    with pytest.raises(RespostaInesperada, match="chave"):
        classificar_evento(_ret_env_evento(128, 135, chave="35" + "0" * 42, n_prot="135260000000043"), CHAVE)
    with pytest.raises(RespostaInesperada, match="nProt"):
        classificar_evento(_ret_env_evento(128, 135), CHAVE)


def _ret_inut(c_stat: int, n_prot: str | None = None, serie: str = "1") -> etree._Element:
    ret = _el(None, "retInutNFe", versao="4.00")
    inf = _el(ret, "infInut")
    for tag, text in (("tpAmb", "2"), ("verAplic", "T"), ("cStat", str(c_stat)), ("xMotivo", f"m {c_stat}")):
        _el(inf, tag, text)
    for tag, text in (("cUF", "35"), ("ano", "26"), ("CNPJ", CNPJ), ("mod", "55"), ("serie", serie)):
        _el(inf, tag, text)
    for tag, text in (("nNFIni", "5"), ("nNFFin", "9"), ("dhRecbto", "2026-12-06T10:31:00-03:00")):
        _el(inf, tag, text)
    if n_prot is not None:
        _el(inf, "nProt", n_prot)
    return ret


def test_inutilizacao_answers_are_classified_by_the_table() -> None:
    def asked(answer: etree._Element) -> InutilizacaoOutcome:
        return classificar_inutilizacao(answer, cnpj=CNPJ, serie=1, de=5, ate=9)

    done = asked(_ret_inut(102, "135260000000050"))
    assert (done.classe, done.n_prot, done.ret_inut_xml is not None) == (Classe.HOMOLOGADA, "135260000000050", True)
    earlier = asked(_ret_inut(563, "135260000000001"))
    assert (earlier.classe, earlier.c_stat, earlier.n_prot) == (Classe.HOMOLOGADA, 563, "135260000000001")
    assert asked(_ret_inut(563)).classe is Classe.DUPLICADA
    assert asked(_ret_inut(241)).classe is Classe.REJEITADA
    with pytest.raises(SefazIndisponivel):
        classificar_inutilizacao(_ret_inut(109))
    with pytest.raises(RespostaInesperada, match="nProt"):
        classificar_inutilizacao(_ret_inut(102))
    with pytest.raises(RespostaInesperada, match="serie"):
        asked(_ret_inut(102, "135260000000050", serie="2"))


# ---- the modules ----------------------------------------------------------------------------------------


def test_the_eventos_module_leaves_signing_libraries_unloaded_and_limits_is_cheap() -> None:
    code = (
        "import sys; import functions.fiscal.limits; "
        "cheap = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('nfelib', 'lxml', 'xsdata')}); "
        "import functions.fiscal.eventos, functions.sefaz.cancel, functions.sefaz.inutilize; "
        "print(cheap, sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
        "('signxml', 'brazilfiscalreport', 'fpdf') or m.startswith('erpbrasil.')}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[] []"


def test_hora_local_uses_the_ufs_offset() -> None:
    moment = datetime.datetime(2026, 12, 6, 15, 0, 30, 123, tzinfo=datetime.UTC)
    assert limits.hora_local("SP", moment).isoformat() == "2026-12-06T12:00:30-03:00"
    assert limits.hora_local("am", moment).isoformat() == "2026-12-06T11:00:30-04:00"
    assert limits.hora_local("AC", moment).isoformat() == "2026-12-06T10:00:30-05:00"
    with pytest.raises(ValueError, match="offset"):
        limits.hora_local("SP", datetime.datetime(2026, 12, 6, 15, 0))


@pytest.mark.parametrize(
    ("texto", "expected"),
    [
        ("  Pedido\tcancelado\r\n pelo   cliente  ", "Pedido cancelado pelo cliente"),
        ("x" * 15, "x" * 15),
        ("ç" * 255, "ç" * 255),
    ],
)
def test_justificativa_is_trimmed_and_collapsed(texto: str, expected: str) -> None:
    assert limits.normalizar_justificativa(texto) == expected


@pytest.mark.parametrize(
    ("texto", "message"),
    [("x" * 14, "15 to 255"), ("x" * 256, "15 to 255"), ("Cancelado — pelo cliente", "'—'")],
)
def test_justificativa_outside_the_schema_is_refused(texto: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        limits.normalizar_justificativa(texto)


def test_sign_element_signs_only_what_it_is_asked_to(assinador: Assinador) -> None:
    xml = eventos.cancelamento_xml(chave=CHAVE, n_prot="135260000000042", justificativa=JUSTIFICATIVA, ambiente=2)
    with pytest.raises(ValueError, match="expects an NFe whose infNFe has an Id"):
        assinador.sign(xml)
    with pytest.raises(ValueError, match="expects an inutNFe whose infInut"):
        assinador.sign_element(xml, "inutNFe", "infInut")
    signed = assinador.sign_element(xml, "evento", "infEvento")
    with pytest.raises(ValueError, match="the evento is already signed"):
        assinador.sign_element(signed, "evento", "infEvento")
    # The signed evento keeps every byte of the unsigned one before its Signature
    assert signed.startswith(xml.removesuffix("</evento>"))
