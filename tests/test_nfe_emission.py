"""The nota becomes an NF-e when its stock is reserved: número, chave, XML, DANFE.

The saga runs in-process with both services wired as their Lambdas wire them (a real PostgreSQL),
events moved by the test. What comes out is checked by means independent of the code that made it:
the XML against the official XSD through nfelib's own validation, the chave recomputed from the
XML's own fields with the MOC's modulo 11 written out here, the DANFE's text read from the PDF.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from lxml import etree

from functions.faturamento import dal as faturamento_dal
from functions.fiscal.archive import FiscalArchive
from nfe.local.fiscal_demo import DEMO_EMITENTE, DESTINATARIO_RJ, DESTINATARIO_SP, PRODUTO_FISCAL
from tests.helpers.db import envelope_of, rows
from tests.helpers.events import failed_ids, sqs_event
from tests.helpers.fiscal_pdf import pdf_text
from tests.test_fault_load import Worker
from tests.test_faults import Services, wire

NS = {"nfe": "http://www.portalfiscal.inf.br/nfe"}
HOMOLOGACAO_XNOME = "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL"


def moc_dv(chave43: str) -> int:
    """MOC 7.0 §2.2.6.2: weights 2..9 from the right, remainder 0 or 1 gives 0 (digits only here)."""
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(reversed(chave43)))
    return 0 if total % 11 < 2 else 11 - total % 11


@pytest.fixture
def services(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    wired = wire(database_url, monkeypatch)
    yield wired
    wired.close()


def new_produto(services: Services, sku: str, quantidade: int, **fiscal: Any) -> str:
    body = {"sku": sku, "nome": f"Produto {sku}", "quantidade": quantidade, **(fiscal or PRODUTO_FISCAL)}
    result = services.produtos.post("/api/v1/produtos", body)
    assert result.status == 201, result.body
    return str(result.body["id"])


def deliver_all(services: Services, schema: str, tipos: tuple[str, ...], notas: list[str]) -> None:
    """Each outbox row of these types, as an SQS batch to the consumer of its queue (the load tests' way)."""
    Worker(services).deliver(schema, ",".join(tipos), notas)


def saga(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    created = services.notas.post("/api/v1/notas", body)
    assert created.status == 201, created.body
    nota_id = str(created.body["id"])
    deliver_all(services, "faturamento", ("NotaFiscalCriada",), [nota_id])
    deliver_all(services, "estoque", ("ReservaConfirmada", "ReservaFalhou"), [nota_id])
    return dict(services.notas.get(f"/api/v1/notas/{nota_id}").body)


def test_a_confirmed_nota_is_an_nfe_valid_against_the_official_schema(services: Services) -> None:
    # Given two produtos with their fiscal data, one with a GTIN
    parafuso = new_produto(services, "PAR-1", 10, ncm="73181500", unidade="UN", origem=0, gtin="7891000315507")
    porca = new_produto(services, "POR-1", 10, ncm="7318.16.00", unidade="CX", origem=2)
    # When a nota to a destinatário in another UF goes through the saga
    nota = saga(
        services,
        {
            "destinatario": DESTINATARIO_RJ,
            "items": [
                {"produtoId": parafuso, "quantidade": 3, "valorUnitario": "10.50"},
                {"produtoId": porca, "quantidade": 1, "valorUnitario": "0.99"},
            ],
        },
    )
    # Then it is CONFIRMADA with número 1 of série 1, in homologação, and a 44-digit chave
    assert nota["status"] == "CONFIRMADA"
    assert (nota["numero"], nota["serie"], nota["ambiente"]) == (1, 1, "homologacao")
    chave = nota["chave"]
    assert len(chave) == 44 and nota["emitidaEm"] is not None
    # And the XML the API serves validates against leiauteNFe_v4.00.xsd (nfelib's own check; an
    # unsigned NF-e misses only its Signature, which the SEFAZ step adds)
    xml = services.notas.get(f"/api/v1/notas/{nota['id']}/xml")
    assert xml.status == 200 and xml.headers["Content-Type"].startswith("application/xml")
    assert chave in xml.headers["Content-Disposition"]
    from nfelib.nfe.bindings.v4_0.nfe_v4_00 import Nfe

    errors = Nfe.schema_validation(xml.body)
    assert [e for e in errors if "Signature" not in e] == [], errors
    # And the chave is the concatenation of the XML's own fields, with the MOC's check digit
    root = etree.fromstring(xml.body.encode())
    ide = root.find(".//nfe:ide", NS)
    assert ide is not None

    def text(element: Any, tag: str) -> str:
        found = element.find(f"nfe:{tag}", NS)
        assert found is not None, tag
        return str(found.text)

    cnpj = text(root.find(".//nfe:emit", NS), "CNPJ")
    aamm = text(ide, "dhEmi")[2:7].replace("-", "")
    campos = (
        f"{text(ide, 'cUF')}{aamm}{cnpj}{text(ide, 'mod')}{int(text(ide, 'serie')):03d}"
        f"{int(text(ide, 'nNF')):09d}{text(ide, 'tpEmis')}{text(ide, 'cNF')}"
    )
    assert campos + str(moc_dv(campos)) == chave
    assert text(ide, "cDV") == chave[-1] and root.find(".//nfe:infNFe", NS).get("Id") == f"NFe{chave}"  # type: ignore[union-attr]
    assert (text(ide, "nNF"), text(ide, "serie"), text(ide, "tpAmb"), cnpj) == ("1", "1", "2", DEMO_EMITENTE["cnpj"])
    # And homologação's destinatário name, CFOP 6102 (another UF), the snapshot's NCM and GTIN, and totals
    assert text(root.find(".//nfe:dest", NS), "xNome") == HOMOLOGACAO_XNOME
    prods = root.findall(".//nfe:det/nfe:prod", NS)
    assert [text(p, "CFOP") for p in prods] == ["6102", "6102"]
    assert {text(p, "NCM") for p in prods} == {"73181500", "73181600"}
    assert {text(p, "cEAN") for p in prods} == {"7891000315507", "SEM GTIN"}
    assert text(root.find(".//nfe:ICMSTot", NS), "vProd") == "32.49" == text(root.find(".//nfe:ICMSTot", NS), "vNF")
    assert {(i["cfop"], i["ncm"]) for i in nota["items"]} == {("6102", "73181500"), ("6102", "73181600")}


def test_the_danfe_shows_numero_serie_chave_and_items_and_says_it_is_a_preview(services: Services) -> None:
    produto = new_produto(services, "DAN-1", 5)
    nota = saga(
        services,
        {"destinatario": DESTINATARIO_SP, "items": [{"produtoId": produto, "quantidade": 2, "valorUnitario": "7.00"}]},
    )
    danfe = services.notas.get(f"/api/v1/notas/{nota['id']}/danfe")
    assert danfe.status == 200 and danfe.headers["Content-Type"] == "application/pdf"
    assert isinstance(danfe.body, bytes) and danfe.body.startswith(b"%PDF")
    text = pdf_text(danfe.body)
    chave = nota["chave"]
    assert " ".join(chave[i : i + 4] for i in range(0, 44, 4)) in text
    assert "Produto DAN-1" in text and "000.000.001" in text
    assert "PRÉ-VISUALIZAÇÃO" in text and "SEM VALOR FISCAL" in text


def test_documents_are_404_before_the_numero_and_a_nota_short_of_stock_takes_none(services: Services) -> None:
    produto = new_produto(services, "ESC-1", 1)
    pending = services.notas.post(
        "/api/v1/notas",
        {"destinatario": DESTINATARIO_SP, "items": [{"produtoId": produto, "quantidade": 5, "valorUnitario": "1.00"}]},
    ).body
    for doc in ("xml", "danfe"):
        answer = services.notas.get(f"/api/v1/notas/{pending['id']}/{doc}")
        assert answer.status == 404 and "no NF-e yet" in answer.body["message"]
    deliver_all(services, "faturamento", ("NotaFiscalCriada",), [pending["id"]])
    deliver_all(services, "estoque", ("ReservaConfirmada", "ReservaFalhou"), [pending["id"]])
    failed = services.notas.get(f"/api/v1/notas/{pending['id']}").body
    assert failed["status"] == "ERRO_ESTOQUE" and failed["numero"] is None and failed["chave"] is None
    # And the next confirmed nota still gets número 1: the refused one burned nothing
    other = new_produto(services, "ESC-2", 5)
    nota = saga(
        services,
        {"destinatario": DESTINATARIO_SP, "items": [{"produtoId": other, "quantidade": 1, "valorUnitario": "1.00"}]},
    )
    assert nota["numero"] == 1
    assert services.notas.get("/api/v1/notas/" + str(uuid.uuid4()) + "/xml").status == 404


def test_a_produto_without_ncm_cannot_be_invoiced_and_the_nota_says_which_item(services: Services) -> None:
    # Given a produto from before the NF-e (no NCM, unidade or origem) and one with them
    sem = services.produtos.post("/api/v1/produtos", {"sku": "OLD-1", "nome": "Antigo", "quantidade": 5}).body
    assert sem["ncm"] is None
    com = new_produto(services, "NEW-1", 5)
    # When a nota asks for both
    nota = saga(
        services,
        {
            "destinatario": DESTINATARIO_SP,
            "items": [
                {"produtoId": com, "quantidade": 1, "valorUnitario": "1.00"},
                {"produtoId": sem["id"], "quantidade": 1, "valorUnitario": "1.00"},
            ],
        },
    )
    # Then no stock moves, no número is taken, and the reason names the item and the fields
    assert nota["status"] == "ERRO_ESTOQUE" and nota["numero"] is None
    assert nota["erro"]["codigo"] == "PRODUTO_SEM_DADOS_FISCAIS"
    assert "items[1] (produto OLD-1) has no ncm, unidade, origem" in nota["erro"]["mensagem"]
    assert services.produtos.get(f"/api/v1/produtos/{com}").body["quantidade"] == 5


def test_the_list_filters_by_serie_and_numero_range(services: Services) -> None:
    produto = new_produto(services, "LST-1", 50)
    body = {
        "destinatario": DESTINATARIO_SP,
        "items": [{"produtoId": produto, "quantidade": 1, "valorUnitario": "1.00"}],
    }
    numeros = [saga(services, body)["numero"] for _ in range(5)]
    assert numeros == [1, 2, 3, 4, 5]
    page = services.notas.get("/api/v1/notas", query={"serie": "1", "numeroDe": "2", "numeroAte": "4"}).body
    assert sorted(n["numero"] for n in page["items"]) == [2, 3, 4]
    assert services.notas.get("/api/v1/notas", query={"serie": "2"}).body["items"] == []
    assert services.notas.get("/api/v1/notas", query={"numeroDe": "0"}).status == 422


# --- gapless under concurrency and crashes ------------------------------------------------------


def test_200_notas_racing_for_scarce_stock_with_crashes_get_gapless_unique_numeros(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 10 produtos of 20 units, and 8 threads, each with its own API and consumer "containers"
    workers = [wire(database_url, monkeypatch) for _ in range(8)]
    produtos = [new_produto(workers[0], f"GAP-{i:02d}", 20) for i in range(10)]
    rng = random.Random(20)
    bodies = [
        {
            "destinatario": DESTINATARIO_SP,
            "items": [
                {"produtoId": p, "quantidade": rng.randint(1, 3), "valorUnitario": "2.50"}
                for p in rng.sample(produtos, rng.randint(1, 3))
            ],
        }
        for _ in range(200)
    ]
    # And a crash after one confirmation in five has taken its número, before its commit
    crashes = {"n": 0}
    lock = threading.Lock()
    real = faturamento_dal.confirmar_com_documento

    def crashing(*args: Any, **kwargs: Any) -> bool:
        with lock:
            crash = rng.random() < 0.2
            crashes["n"] += crash
        if crash:
            raise RuntimeError("injected crash after the número was allocated")
        return real(*args, **kwargs)

    monkeypatch.setattr(faturamento_dal, "confirmar_com_documento", crashing)

    def run(worker: Services, chunk: list[dict[str, Any]]) -> list[str]:
        created = []
        for body in chunk:
            result = worker.notas.post("/api/v1/notas", body)
            assert result.status == 201
            created.append(str(result.body["id"]))
        deliver_all(worker, "faturamento", ("NotaFiscalCriada",), created)
        # Redelivered until applied, as SQS would after each crash
        for _ in range(50):
            events = rows(
                worker.url,
                "SELECT id, tipo, payload FROM estoque.eventos_outbox WHERE agregado_id = ANY(%s)",
                (created,),
            )
            envelopes = [envelope_of(r) for r in events]
            consumer = worker.consumers["faturamento-consumer"]
            try:
                if not failed_ids(consumer.handle(sqs_event(envelopes), None)):
                    break
            except BatchProcessingError:  # every record of the batch crashed: all come back
                continue
        return created

    try:
        # When the 8 threads run 25 sagas each at once
        with ThreadPoolExecutor(max_workers=8) as pool:
            ids = [n for chunk in pool.map(lambda i: run(workers[i], bodies[i::8]), range(8)) for n in chunk]
        found = rows(database_url, "SELECT status, serie, numero, chave FROM faturamento.notas_fiscais")
    finally:
        for worker in workers:
            worker.close()
    # Then every nota ended; the confirmed ones hold números 1..N of série 1, each once, no gap,
    # although crashes rolled back confirmations that had taken a número
    assert len(ids) == 200 and {r["status"] for r in found} <= {"CONFIRMADA", "ERRO_ESTOQUE"}
    numeros = sorted(r["numero"] for r in found if r["status"] == "CONFIRMADA")
    assert crashes["n"] > 0 and numeros and numeros == list(range(1, len(numeros) + 1))
    assert all(r["numero"] is None for r in found if r["status"] == "ERRO_ESTOQUE")
    assert len({r["chave"] for r in found if r["chave"]}) == len(numeros)
    assert rows(database_url, "SELECT ultimo_numero FROM faturamento.numeracao WHERE serie = 1") == [
        {"ultimo_numero": len(numeros)}
    ]
    print(f"\n200 notas, 8 threads, {crashes['n']} crashes after allocation: números 1..{len(numeros)}, no gap")


class MemoryArchive(FiscalArchive):
    """The archive's interface over a dict: what was put, under which key."""

    def __init__(self) -> None:
        super().__init__("memory")
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> bool:
        self.objects[key] = body
        return True

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)


def test_a_preview_danfe_is_archived_beside_the_unsigned_xml_under_the_notas_fiscal_identity(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = wire(database_url, monkeypatch)
    try:
        produto = new_produto(services, "ARQ-2", 5)
        body = {
            "destinatario": DESTINATARIO_SP,
            "items": [{"produtoId": produto, "quantidade": 1, "valorUnitario": "3.00"}],
        }
        nota = saga(services, body)  # CONFIRMADA: SEFAZ has not answered, so the DANFE is a preview
        # When the DANFE is asked for through an API that has one
        kept = MemoryArchive()
        from functions.faturamento.logic import NotasService

        service = NotasService(services.databases["faturamento-api"], None, load_emitente(), fiscal_archive=kept)  # type: ignore[arg-type]
        pdf = service.danfe(nota["id"])
        # Then the preview and the XML it shows are both kept under the nota's fiscal identity (the
        # preview's own key: the authorized DANFE never reads it), and the next request reads it back
        prefix = f"nfe/homologacao/serie-001/000000001-{nota['chave']}/"
        previa = prefix + f"NFe{nota['chave']}-danfe-previa.pdf"
        assert set(kept.objects) == {prefix + f"NFe{nota['chave']}.xml", previa}
        assert (
            kept.objects[prefix + f"NFe{nota['chave']}.xml"]
            == services.notas.get(f"/api/v1/notas/{nota['id']}/xml").body.encode()
        )
        kept.objects[previa] = b"%PDF-kept"
        assert service.danfe(nota["id"]) == b"%PDF-kept" and pdf.startswith(b"%PDF")
    finally:
        services.close()


def load_emitente() -> Any:
    from functions.fiscal.model import Emitente

    return Emitente.model_validate(DEMO_EMITENTE)
