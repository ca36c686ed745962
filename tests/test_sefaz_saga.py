"""SEFAZ authorizes the NF-e: the saga's third participant against the emulated SEFAZ.

Both services and the SEFAZ function are wired in-process as their Lambdas wire them (a real PostgreSQL,
the emulated SEFAZ over mutual TLS, the AWS emulator holding the certificate, the archive and the bus);
the test moves every message. Outcomes are checked by independent means: the nfeProc against the
official procNFe_v4.00.xsd loaded here with lxml, its signature by libxmlsec1 with the certificate read
from the PKCS#12 here, the emulator's own record of what it stored, the stock in Estoque's tables.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import nfelib
import psycopg
import pytest
import xmlsec
from lxml import etree

from functions.sefaz.participant import answer_event_id
from functions.shared.events import EventName
from nfe.local.fiscal_demo import DESTINATARIO_SP
from tests.helpers.fiscal_pdf import pdf_text
from tests.helpers.sefaz_saga import SefazRig, sefaz_rig, unique_bus
from tests.test_fault_load import Worker, query
from tests.test_faults import Services, new_produto, wire

NS = {"n": "http://www.portalfiscal.inf.br/nfe"}
PROC_XSD = Path(nfelib.__file__).parent / "nfe" / "schemas" / "v4_0" / "procNFe_v4.00.xsd"


@pytest.fixture
def saga(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, SefazRig]]:
    bus = unique_bus()
    with sefaz_rig(monkeypatch, bus) as rig:
        services = wire(database_url, monkeypatch, bus_name=bus)
        services.consumers["sefaz-autorizador"] = rig.consumer
        rig.consumers = services.consumers
        try:
            yield services, rig
        finally:
            services.close()


def emit(services: Services, produtos: list[tuple[str, int]]) -> str:
    """A nota through reservation: CONFIRMADA, numbered, its NotaFiscalEmitida in the outbox."""
    body = {
        "destinatario": DESTINATARIO_SP,
        "items": [{"produtoId": p, "quantidade": q, "valorUnitario": "12.34"} for p, q in produtos],
    }
    created = services.notas.post("/api/v1/notas", body)
    assert created.status == 201, created.body
    nota_id = str(created.body["id"])
    worker = Worker(services)
    worker.deliver("faturamento", "NotaFiscalCriada", [nota_id])
    worker.deliver("estoque", "ReservaConfirmada,ReservaFalhou", [nota_id])
    assert nota(services, nota_id)["status"] == "CONFIRMADA"
    return nota_id


def nota(services: Services, nota_id: str) -> dict[str, Any]:
    got = services.notas.get(f"/api/v1/notas/{nota_id}")
    assert got.status == 200
    return dict(got.body)


def through_sefaz(services: Services, rig: SefazRig, nota_id: str, *, receive_count: int = 1) -> dict[str, Any]:
    """The participant's attempt, then SEFAZ's answer to both services, then Estoque's ReservaLiberada."""
    response = rig.authorize(services.url, [nota_id], receive_count=receive_count)
    rig.answers()
    Worker(services).deliver("estoque", "ReservaLiberada", [nota_id])
    return response


def disponivel(url: str, produto: str) -> int:
    return int(query(url, "SELECT quantidade FROM estoque.produtos WHERE id = %s", (produto,))[0]["quantidade"])


def verify_signature(signed_root: etree._Element, cert_pem: bytes) -> None:
    xmlsec.tree.add_ids(signed_root, ["Id"])
    node = xmlsec.tree.find_node(signed_root, xmlsec.constants.NodeSignature)
    assert node is not None
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    ctx.verify(node)


def test_a_confirmed_nota_is_authorized_with_its_protocol_archived_and_on_the_danfe(
    saga: tuple[Services, SefazRig],
) -> None:
    services, rig = saga
    produto = new_produto(services.produtos, "SEF-1", 10)
    nota_id = emit(services, [(produto, 3)])
    chave = nota(services, nota_id)["chave"]
    # When the participant signs it and SEFAZ answers
    assert through_sefaz(services, rig, nota_id) == {"batchItemFailures": []}
    # Then the nota is AUTORIZADA with SEFAZ's protocol
    after = nota(services, nota_id)
    assert after["status"] == "AUTORIZADA"
    assert after["protocolo"] and len(after["protocolo"]) == 15
    assert after["autorizadaEm"] is not None and after["sefaz"] is None
    # And the XML served is the nfeProc, valid against the official procNFe_v4.00.xsd
    xml = services.notas.get(f"/api/v1/notas/{nota_id}/xml")
    assert xml.status == 200
    root = etree.fromstring(xml.body.encode())
    schema = etree.XMLSchema(etree.parse(str(PROC_XSD)))
    assert schema.validate(root), schema.error_log
    assert root.findtext("n:protNFe/n:infProt/n:nProt", namespaces=NS) == after["protocolo"]
    assert root.findtext("n:protNFe/n:infProt/n:cStat", namespaces=NS) == "100"
    # And its signature verifies under libxmlsec1 with the emitente's certificate
    nfe = root.find("n:NFe", NS)
    assert nfe is not None
    verify_signature(etree.fromstring(etree.tostring(nfe)), Path(rig.sefaz.info()["clientCert"]).read_bytes())
    # And the stock stays reserved (7 of 10 left)
    assert disponivel(services.url, produto) == 7
    # And the DANFE carries the protocol and no preview stamp
    danfe = services.notas.get(f"/api/v1/notas/{nota_id}/danfe")
    assert danfe.status == 200 and isinstance(danfe.body, bytes)
    text = pdf_text(danfe.body)
    assert after["protocolo"] in text.replace(" ", "")
    assert "PRÉ-VISUALIZAÇÃO" not in text
    assert chave in text.replace(" ", "")


@pytest.mark.parametrize(
    ("c_stat", "motivo"),
    [
        (610, "Rejeição: Total da NF difere do somatório dos Valores compõe o valor Total da NF."),
        (225, "Rejeição: Falha no Schema XML do lote de NFe"),
        (539, "Rejeição: Duplicidade de NF-e, com diferença na Chave de Acesso"),
        (999, "Rejeição: Erro não catalogado"),
    ],
)
def test_a_rejection_ends_rejeitada_and_releases_the_stock_exactly_once(
    saga: tuple[Services, SefazRig], c_stat: int, motivo: str
) -> None:
    services, rig = saga
    produto = new_produto(services.produtos, f"REJ-{c_stat}", 10)
    nota_id = emit(services, [(produto, 4)])
    assert disponivel(services.url, produto) == 6
    rig.sefaz.force_rejection(c_stat, motivo)
    # When SEFAZ rejects it
    through_sefaz(services, rig, nota_id)
    # Then it is REJEITADA with SEFAZ's cStat and motivo, and the stock is back
    after = nota(services, nota_id)
    assert after["status"] == "REJEITADA", after
    assert after["sefaz"]["cStat"] == c_stat and after["sefaz"]["motivo"] == motivo
    assert after["protocolo"] is None and after["numero"] is not None  # the número awaits inutilização
    assert disponivel(services.url, produto) == 10
    assert after["estoqueLiberadoEm"] is not None
    # And a redelivery (the same answer published again) releases nothing twice
    rig.sefaz.force_rejection(c_stat, motivo)
    through_sefaz(services, rig, nota_id, receive_count=2)
    assert disponivel(services.url, produto) == 10
    assert nota(services, nota_id)["status"] == "REJEITADA"


def test_a_denial_ends_denegada_consumes_the_numero_and_releases_the_stock(saga: tuple[Services, SefazRig]) -> None:
    services, rig = saga
    produto = new_produto(services.produtos, "DEN-1", 5)
    nota_id = emit(services, [(produto, 5)])
    rig.sefaz.deny_destinatario("".join(c for c in DESTINATARIO_SP["documento"] if c.isalnum()))
    through_sefaz(services, rig, nota_id)
    after = nota(services, nota_id)
    assert after["status"] == "DENEGADA"
    assert after["sefaz"]["cStat"] == 302 and after["protocolo"] is not None
    assert disponivel(services.url, produto) == 5
    # And the nfeProc of the denial is what the API serves: SEFAZ keeps a denied NF-e, and so do we
    proc = etree.fromstring(services.notas.get(f"/api/v1/notas/{nota_id}/xml").body.encode())
    assert proc.findtext("n:protNFe/n:infProt/n:cStat", namespaces=NS) == "302"


def test_a_timeout_after_sefaz_stored_it_ends_autorizada_once_through_the_consulta(
    saga: tuple[Services, SefazRig],
) -> None:
    services, rig = saga
    produto = new_produto(services.produtos, "TMO-1", 10)
    nota_id = emit(services, [(produto, 1)])
    # Given SEFAZ answers after the participant stopped waiting (it stores the NF-e all the same)
    rig.sefaz.delay(int(rig.settings.sefaz_read_timeout_seconds * 1000) + 1500)
    first = rig.authorize(services.url, [nota_id])
    # Then the attempt fails as an outage (the message comes back; no receive spent toward the DLQ)
    assert len(first["batchItemFailures"]) == 1
    assert nota(services, nota_id)["status"] == "CONFIRMADA"
    # When SEFAZ is fast again and the message is redelivered
    rig.sefaz.delay(0)
    through_sefaz(services, rig, nota_id, receive_count=2)
    # Then the consulta finds the stored NF-e: AUTORIZADA once, never sent under 204 again
    after = nota(services, nota_id)
    assert after["status"] == "AUTORIZADA"
    answers = [b for b in rig.answer_bodies("faturamento-sefaz") if b["detail"]["payload"]["notaFiscalId"] == nota_id]
    assert answers == []  # delivered and deleted
    # And the answer's id is derived from the event it answers: a repeat would be skipped by the inbox
    emitida = query(
        services.url,
        "SELECT id FROM faturamento.eventos_outbox WHERE tipo = 'NotaFiscalEmitida' AND agregado_id = %s",
        (nota_id,),
    )[0]["id"]
    processed = query(
        services.url,
        "SELECT count(*) AS n FROM faturamento.mensagens_processadas WHERE evento_id = %s",
        (answer_event_id(emitida, EventName.NOTA_FISCAL_AUTORIZADA),),
    )
    assert processed[0]["n"] == 1


def test_sefaz_down_then_back_loses_nothing(saga: tuple[Services, SefazRig], monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.sefaz import participant

    waited: list[float] = []
    add_metric = participant.metrics.add_metric

    def record(name: str, unit: Any, value: float, **kwargs: Any) -> None:
        if name == "EsperaAutorizacao":
            waited.append(float(value))
        add_metric(name=name, unit=unit, value=value, **kwargs)

    monkeypatch.setattr(participant.metrics, "add_metric", record)
    services, rig = saga
    produto = new_produto(services.produtos, "OUT-1", 100)
    notas = [emit(services, [(produto, 1)]) for _ in range(3)]
    rig.sefaz.down("108")
    # While SEFAZ is paralisado every attempt fails as an outage and every nota waits
    for attempt in (1, 2):
        response = rig.authorize(services.url, notas, receive_count=attempt)
        # The first nota meets the outage; the batch's others are not attempted (they would meet it too)
        assert len(response["batchItemFailures"]) == 3
        time.sleep(1.1)
    assert {nota(services, n)["status"] for n in notas} == {"CONFIRMADA"}
    # And the pending-authorization alarm's metric moves: each attempt reports a longer wait
    assert len(waited) == 2 and waited[1] >= waited[0] + 1.0, waited
    # When it is back, all are authorized
    rig.sefaz.down(None)
    through_sefaz(services, rig, notas[0], receive_count=3)
    for n in notas[1:]:
        through_sefaz(services, rig, n, receive_count=3)
    assert {nota(services, n)["status"] for n in notas} == {"AUTORIZADA"}
    assert disponivel(services.url, produto) == 97


def test_the_certificate_never_reaches_events_or_logs(
    saga: tuple[Services, SefazRig], capsys: pytest.CaptureFixture[str]
) -> None:
    services, rig = saga
    produto = new_produto(services.produtos, "SEC-1", 10)
    nota_id = emit(services, [(produto, 1)])
    through_sefaz(services, rig, nota_id)
    password = rig.sefaz.info()["clientPassword"]
    out = capsys.readouterr()
    assert password not in out.out and password not in out.err
    with psycopg.connect(services.url) as conn:
        for (payload,) in conn.execute("SELECT payload::text FROM faturamento.eventos_outbox"):
            assert password not in payload


# --- cancelamento (evento 110111) -----------------------------------------------------------------


def cancel_through_sefaz(services: Services, rig: SefazRig, nota_id: str, *, receive_count: int = 1) -> None:
    """The participant's attempt at the cancelamento, SEFAZ's answer to Faturamento, then the stock's return."""
    rig.send(services.url, [nota_id], "NotaFiscalCancelamentoSolicitado", receive_count=receive_count)
    rig.answers()
    worker = Worker(services)
    worker.deliver("faturamento", "NotaFiscalCancelada", [nota_id])
    worker.deliver("estoque", "ReservaLiberada", [nota_id])


def eventos_at_sefaz(rig: SefazRig, chave: str) -> list[Any]:
    return [e for e in rig.sefaz.store.eventos.values() if e.chave == chave]


def test_a_cancelamento_within_24_hours_cancels_the_nfe_at_sefaz_and_returns_the_stock_once(
    saga: tuple[Services, SefazRig],
) -> None:
    services, rig = saga
    produto = new_produto(services.produtos, "CAN-1", 10)
    nota_id = emit(services, [(produto, 4)])
    through_sefaz(services, rig, nota_id)
    autorizada = nota(services, nota_id)
    assert autorizada["status"] == "AUTORIZADA" and disponivel(services.url, produto) == 6
    # When the cancelamento is asked, twice (the second while the first is in flight)
    justificativa = {"justificativa": "Pedido cancelado pelo cliente antes da entrega"}
    assert services.notas.post(f"/api/v1/notas/{nota_id}/cancelamento", justificativa).status == 202
    assert services.notas.post(f"/api/v1/notas/{nota_id}/cancelamento", justificativa).status == 409
    # And the request reaches the participant twice (a redelivery)
    cancel_through_sefaz(services, rig, nota_id)
    cancel_through_sefaz(services, rig, nota_id, receive_count=2)
    # Then SEFAZ holds one cancelamento event, and the nota is CANCELADA with its protocol
    [evento] = eventos_at_sefaz(rig, autorizada["chave"])
    cancelada = nota(services, nota_id)
    assert cancelada["status"] == "CANCELADA"
    assert cancelada["cancelamentoProtocolo"] == evento.nprot
    # And the stock came back exactly once
    assert disponivel(services.url, produto) == 10
    assert cancelada["estoqueLiberadoEm"] is not None
    # And the procEventoNFe is served, valid against its official schema, its signature verified by libxmlsec1
    got = services.notas.get(f"/api/v1/notas/{nota_id}/cancelamento/xml")
    assert got.status == 200 and "procEventoNFe" in got.headers["Content-Disposition"]
    proc = etree.fromstring(got.body.encode())
    xsd = Path(nfelib.__file__).parent / "nfe_evento_cancel" / "schemas" / "v1_0" / "procEventoCancNFe_v1.00.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    assert schema.validate(proc), schema.error_log
    signed = proc.find("n:evento", NS)
    assert signed is not None
    verify_signature(etree.fromstring(etree.tostring(signed)), Path(rig.sefaz.info()["clientCert"]).read_bytes())
    assert proc.findtext("n:retEvento/n:infEvento/n:cStat", namespaces=NS) in ("135", "155")
    # And the DANFE says CANCELADA
    danfe = services.notas.get(f"/api/v1/notas/{nota_id}/danfe")
    assert "CANCELADA" in pdf_text(danfe.body)


def test_a_cancelamento_after_24_hours_is_refused_by_the_api_and_by_sefaz_alike(
    saga: tuple[Services, SefazRig],
) -> None:
    services, rig = saga
    produto = new_produto(services.produtos, "CAN-2", 10)
    nota_id = emit(services, [(produto, 1)])
    through_sefaz(services, rig, nota_id)
    autorizada = nota(services, nota_id)
    assert autorizada["status"] == "AUTORIZADA"
    justificativa = {"justificativa": "Pedido cancelado pelo cliente"}
    # Given SEFAZ's clock 24 h and 5 minutes past the authorization, while ours still allows it
    rig.sefaz.set_clock(offset=timedelta(hours=24, minutes=5))
    try:
        assert services.notas.post(f"/api/v1/notas/{nota_id}/cancelamento", justificativa).status == 202
        # When the participant asks / Then SEFAZ answers 501 and the nota stays AUTORIZADA, saying why
        cancel_through_sefaz(services, rig, nota_id)
    finally:
        rig.sefaz.set_clock()
    after = nota(services, nota_id)
    assert after["status"] == "AUTORIZADA" and after["cancelamentoRecusado"]["cStat"] == 501
    assert eventos_at_sefaz(rig, autorizada["chave"]) == []
    assert disponivel(services.url, produto) == 9
    # And once our clock is as far past the authorization, the API refuses it itself (409 naming 501),
    # sending nothing
    with psycopg.connect(services.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE faturamento.notas_fiscais SET autorizada_em = autorizada_em - interval '24 hours 5 minutes' "
            "WHERE id = %s",
            (nota_id,),
        )
    refused = services.notas.post(f"/api/v1/notas/{nota_id}/cancelamento", justificativa)
    assert refused.status == 409 and "501" in refused.body["message"], refused.body
    pedidos = query(
        services.url,
        "SELECT count(*) AS n FROM faturamento.eventos_outbox WHERE tipo = 'NotaFiscalCancelamentoSolicitado'",
    )
    assert pedidos == [{"n": 1}]  # only the first request, which SEFAZ refused


# --- inutilização ---------------------------------------------------------------------------------


def test_the_numero_of_a_rejected_nota_is_inutilizado_once_and_recorded(saga: tuple[Services, SefazRig]) -> None:
    services, rig = saga
    produto = new_produto(services.produtos, "INU-1", 10)
    autorizada = emit(services, [(produto, 1)])
    through_sefaz(services, rig, autorizada)
    rejeitada = emit(services, [(produto, 1)])
    rig.sefaz.force_rejection(610, "Rejeição: Total da NF difere do somatório", count=1)
    through_sefaz(services, rig, rejeitada)
    numero = nota(services, rejeitada)["numero"]
    assert nota(services, rejeitada)["status"] == "REJEITADA" and numero == 2
    justificativa = "Numero rejeitado pela SEFAZ e abandonado"
    # When the operator inutiliza a range holding an authorized número, SEFAZ refuses it (241)
    refused = rig.participant.inutilizar(1, 1, 2, justificativa)
    assert (refused["classe"], refused["cStat"], refused["documento"]) == ("REJEITADA", 241, None)
    # When the rejected número alone is inutilizado: 102, its procInutNFe archived, the range recorded
    first = rig.participant.inutilizar(1, numero, numero, justificativa)
    assert first["classe"] == "HOMOLOGADA" and first["cStat"] == 102 and first["protocolo"]
    kept = rig.archive().get(first["documento"])
    assert kept is not None and b"ProcInutNFe" in kept
    rig.answers()
    recorded = query(
        services.url, "SELECT serie, numero_inicial, numero_final, protocolo FROM faturamento.inutilizacoes"
    )
    assert recorded == [{"serie": 1, "numero_inicial": 2, "numero_final": 2, "protocolo": first["protocolo"]}]
    # And the same range again: SEFAZ answers 563 with the earlier protocol; nothing more is recorded
    again = rig.participant.inutilizar(1, numero, numero, justificativa)
    assert (again["cStat"], again["protocolo"]) == (563, first["protocolo"])
    rig.answers()
    assert query(services.url, "SELECT count(*) AS n FROM faturamento.inutilizacoes") == [{"n": 1}]


def test_after_authorized_cancelled_denied_and_rejected_notas_every_numero_is_accounted_for(
    saga: tuple[Services, SefazRig],
) -> None:
    services, rig = saga
    produto = new_produto(services.produtos, "ACC-1", 100)
    # Given notas of every fate: authorized, cancelled, denied, rejected, authorized
    autorizada = emit(services, [(produto, 1)])
    through_sefaz(services, rig, autorizada)
    cancelada = emit(services, [(produto, 1)])
    through_sefaz(services, rig, cancelada)
    assert services.notas.post(f"/api/v1/notas/{cancelada}/cancelamento", {"justificativa": "x" * 15}).status == 202
    cancel_through_sefaz(services, rig, cancelada)
    rig.sefaz.deny_destinatario("".join(c for c in DESTINATARIO_SP["documento"] if c.isalnum()))
    denegada = emit(services, [(produto, 1)])
    through_sefaz(services, rig, denegada)
    rig.sefaz.deny_destinatario()
    rig.sefaz.force_rejection(610, "Rejeição: Total da NF difere do somatório", count=1)
    rejeitada = emit(services, [(produto, 1)])
    through_sefaz(services, rig, rejeitada)
    ultima = emit(services, [(produto, 1)])
    through_sefaz(services, rig, ultima)
    fates = [nota(services, n)["status"] for n in (autorizada, cancelada, denegada, rejeitada, ultima)]
    assert fates == ["AUTORIZADA", "CANCELADA", "DENEGADA", "REJEITADA", "AUTORIZADA"]
    # When the rejected nota's número is inutilizado
    numero = nota(services, rejeitada)["numero"]
    assert rig.participant.inutilizar(1, numero, numero, "Numero rejeitado pela SEFAZ")["cStat"] == 102
    rig.answers()
    # Then every número of the série, 1 to the last, is authorized, cancelled, denied or inutilizado, here
    # and at SEFAZ alike (its own record, independent of ours)
    ultimo = query(services.url, "SELECT ultimo_numero FROM faturamento.numeracao WHERE serie = 1")[0]["ultimo_numero"]
    accounted = query(
        services.url,
        "SELECT n.numero, CASE WHEN n.status IN ('AUTORIZADA', 'CANCELADA', 'DENEGADA') THEN n.status "
        "WHEN EXISTS (SELECT 1 FROM faturamento.inutilizacoes i WHERE i.serie = 1 "
        "AND n.numero BETWEEN i.numero_inicial AND i.numero_final) THEN 'INUTILIZADO' END AS fate "
        "FROM generate_series(1, %s) AS g(numero) LEFT JOIN faturamento.notas_fiscais n "
        "ON n.serie = 1 AND n.numero = g.numero ORDER BY g.numero",
        (ultimo,),
    )
    assert [r["fate"] for r in accounted] == ["AUTORIZADA", "CANCELADA", "DENEGADA", "INUTILIZADO", "AUTORIZADA"]
    at_sefaz = {n.nnf: n.cstat for n in rig.sefaz.store.nfes.values()}
    assert at_sefaz == {1: 100, 2: 101, 3: 302, 5: 100}
    [inutilizacao] = rig.sefaz.store.inutilizacoes
    assert (inutilizacao.ini, inutilizacao.fin) == (4, 4)
