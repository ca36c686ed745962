"""estoque-consumer driven with real SQS batch events against a real PostgreSQL, including concurrency."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.estoque import bootstrap
from functions.estoque.settings import EstoqueApiSettings, EstoqueConsumerSettings
from functions.faturamento import bootstrap as faturamento_bootstrap
from functions.faturamento.settings import FaturamentoApiSettings, FaturamentoConsumerSettings
from functions.shared.consumer import EventConsumer
from functions.shared.db import Database
from functions.shared.events import EventName, NotaFiscalCancelada, NotaFiscalCriada
from functions.shared.settings import load
from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL
from tests.conftest import set_function_env
from tests.helpers.api import ApiClient
from tests.helpers.db import counts, envelope_of, one, outbox, rows
from tests.helpers.events import (
    JUSTIFICATIVA,
    autorizada_de,
    cancelamento_homologado_de,
    failed_ids,
    saga_envelope,
    sqs_event,
)


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    return set_function_env(monkeypatch, database_url)


@pytest.fixture
def db(function_env: str) -> Iterator[Database]:
    database = Database(load(EstoqueConsumerSettings))
    yield database
    database.close()


@pytest.fixture
def consumer(db: Database) -> EventConsumer:
    return bootstrap.consumer(load(EstoqueConsumerSettings), db)


@pytest.fixture
def produtos(db: Database) -> ApiClient:
    return ApiClient(bootstrap.api(load(EstoqueApiSettings), db).resolve)


def new_produto(api: ApiClient, quantidade: int, sku: str | None = None) -> str:
    body = {"sku": sku or f"SKU-{uuid.uuid4().hex[:8]}", "nome": "Produto", "quantidade": quantidade, **PRODUTO_FISCAL}
    result = api.post("/api/v1/produtos", body)
    assert result.status == 201
    return str(result.body["id"])


def stock(api: ApiClient, produto_id: str) -> int:
    return int(api.get(f"/api/v1/produtos/{produto_id}").body["quantidade"])


def criada(items: list[tuple[str, int]], nota_id: str | None = None) -> dict[str, Any]:
    payload = NotaFiscalCriada.model_validate(
        {
            "notaFiscalId": nota_id or str(uuid.uuid4()),
            "items": [{"produtoId": p, "quantidade": q} for p, q in items],
            "valorTotal": "10.00",
        }
    )
    return saga_envelope(EventName.NOTA_FISCAL_CRIADA, payload)


def cancelada(nota_id: str) -> dict[str, Any]:
    return saga_envelope(EventName.NOTA_FISCAL_CANCELADA, NotaFiscalCancelada.model_validate({"notaFiscalId": nota_id}))


def deliver(consumer: EventConsumer, *bodies: Any) -> list[str]:
    return failed_ids(consumer.handle(sqs_event(bodies), None))


def saga_outbox(url: str) -> list[dict[str, Any]]:
    """Estoque's outbox without the produtos' own announcements (ProdutoCadastrado, for Faturamento)."""
    return [e for e in outbox(url, "estoque") if e["tipo"] != "ProdutoCadastrado"]


def test_reservation_decrements_every_product_and_confirms(
    consumer: EventConsumer, produtos: ApiClient, database_url: str
) -> None:
    # Given two products with 10 and 5 units
    a, b = new_produto(produtos, 10), new_produto(produtos, 5)
    envelope = criada([(a, 3), (b, 5)])
    nota_id = envelope["detail"]["payload"]["notaFiscalId"]
    # When a nota wants 3 and 5
    assert deliver(consumer, envelope) == []
    # Then the stock drops to 7 and 0, two ATIVA reservas exist, and ReservaConfirmada lists them
    assert (stock(produtos, a), stock(produtos, b)) == (7, 0)
    reservas = rows(database_url, "SELECT id, produto_id, quantidade, status FROM estoque.reservas")
    assert {(str(r["produto_id"]), r["quantidade"], r["status"]) for r in reservas} == {
        (a, 3, "ATIVA"),
        (b, 5, "ATIVA"),
    }
    [event] = saga_outbox(database_url)
    assert event["tipo"] == "ReservaConfirmada"
    assert event["payload"]["correlationId"] == nota_id
    assert {(r["produtoId"], r["quantidade"]) for r in event["payload"]["payload"]["reservas"]} == {(a, 3), (b, 5)}
    assert {r["reservaId"] for r in event["payload"]["payload"]["reservas"]} == {str(r["id"]) for r in reservas}


def test_short_second_item_leaves_the_first_untouched(
    consumer: EventConsumer, produtos: ApiClient, database_url: str
) -> None:
    # Given two products, the one the nota lists second having too little stock; the short one
    # also has the larger id, so it is locked and checked after the first
    ok, short = sorted([new_produto(produtos, 0), new_produto(produtos, 0)])
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE estoque.produtos SET quantidade = 10, sku = 'PRIMEIRO' WHERE id = %s", (ok,))
        conn.execute("UPDATE estoque.produtos SET quantidade = 1, sku = 'SEGUNDO' WHERE id = %s", (short,))
    # When a nota wants 3 of the first and 2 of the second
    assert deliver(consumer, criada([(ok, 3), (short, 2)])) == []
    # Then neither stock moved and no reserva exists
    assert (stock(produtos, ok), stock(produtos, short)) == (10, 1)
    assert counts(database_url)["estoque.reservas"] == 0
    # And ReservaFalhou names the short product, what was asked and what there is
    [event] = saga_outbox(database_url)
    assert event["tipo"] == "ReservaFalhou"
    payload = event["payload"]["payload"]
    assert payload["codigo"] == "ESTOQUE_INSUFICIENTE"
    assert payload["produtosEmFalta"] == [{"produtoId": short, "solicitado": 2, "disponivel": 1}]
    assert "SEGUNDO: requested 2, available 1" in payload["mensagem"]
    assert counts(database_url)["estoque.mensagens_processadas"] == 1


def test_unknown_product_fails_the_reservation(consumer: EventConsumer, produtos: ApiClient, database_url: str) -> None:
    # Given one real product and one id that names nothing
    real, ghost = new_produto(produtos, 10), str(uuid.uuid4())
    # When a nota wants both / Then nothing is reserved and the failure names the ghost
    assert deliver(consumer, criada([(real, 1), (ghost, 1)])) == []
    assert stock(produtos, real) == 10
    [event] = saga_outbox(database_url)
    assert event["payload"]["payload"]["codigo"] == "PRODUTO_INEXISTENTE"
    assert event["payload"]["payload"]["produtosEmFalta"] == [{"produtoId": ghost, "solicitado": 1, "disponivel": None}]


@pytest.mark.parametrize("enough", [True, False], ids=["confirmed", "failed"])
def test_redelivered_nota_fiscal_criada_changes_nothing(
    consumer: EventConsumer, produtos: ApiClient, database_url: str, enough: bool
) -> None:
    # Given a reservation already decided (confirmed or failed)
    produto_id = new_produto(produtos, 5 if enough else 1)
    envelope = criada([(produto_id, 2)])
    assert deliver(consumer, envelope) == []
    before = (stock(produtos, produto_id), counts(database_url))
    # When the same event is delivered again, twice / Then stock, reservas and outbox are as they were
    assert deliver(consumer, envelope, envelope) == []
    assert (stock(produtos, produto_id), counts(database_url)) == before
    assert len(saga_outbox(database_url)) == 1


def test_twenty_concurrent_reservations_against_seven_units(
    consumer: EventConsumer, produtos: ApiClient, db: Database, database_url: str
) -> None:
    # Given a product with 7 units and 20 notas of one unit each, delivered at the same moment
    produto_id = new_produto(produtos, 7)
    envelopes = [criada([(produto_id, 1)]) for _ in range(20)]
    start = threading.Barrier(20)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def worker(envelope: dict[str, Any]) -> None:
        try:
            start.wait()
            results.append(deliver(consumer, envelope))
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            errors.append(exc)
        finally:
            db.close()  # this thread's connection

    threads = [threading.Thread(target=worker, args=(e,)) for e in envelopes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Then every message was handled without error (no CHECK violation, no deadlock)
    assert errors == [] and results == [[]] * 20
    # And exactly 7 units are reserved, the stock is 0, never negative
    assert stock(produtos, produto_id) == 0
    reserved = one(
        database_url, "SELECT coalesce(sum(quantidade), 0) AS n FROM estoque.reservas WHERE status = 'ATIVA'"
    )
    assert reserved["n"] == 7
    tipos = [e["tipo"] for e in saga_outbox(database_url)]
    assert tipos.count("ReservaConfirmada") == 7 and tipos.count("ReservaFalhou") == 13


def test_cancelation_returns_the_stock(consumer: EventConsumer, produtos: ApiClient, database_url: str) -> None:
    # Given a confirmed reservation of 3 + 4 units
    a, b = new_produto(produtos, 10), new_produto(produtos, 4)
    envelope = criada([(a, 3), (b, 4)])
    nota_id = envelope["detail"]["payload"]["notaFiscalId"]
    deliver(consumer, envelope)
    assert (stock(produtos, a), stock(produtos, b)) == (7, 0)
    # When the nota is cancelled (delivered twice, as at-least-once delivery may)
    cancel = cancelada(nota_id)
    assert deliver(consumer, cancel) == []
    assert deliver(consumer, cancel) == []
    # Then the stock is back exactly once, the reservas are LIBERADA, and ReservaLiberada lists them
    assert (stock(produtos, a), stock(produtos, b)) == (10, 4)
    assert {r["status"] for r in rows(database_url, "SELECT status FROM estoque.reservas")} == {"LIBERADA"}
    [event] = outbox(database_url, "estoque", "ReservaLiberada")
    assert {(r["produtoId"], r["quantidade"]) for r in event["payload"]["payload"]["reservas"]} == {(a, 3), (b, 4)}


def test_cancelation_without_reservas_still_answers(consumer: EventConsumer, database_url: str) -> None:
    # Given a nota with nothing reserved / When cancelled / Then ReservaLiberada with no reservas
    assert deliver(consumer, cancelada(str(uuid.uuid4()))) == []
    [event] = outbox(database_url, "estoque", "ReservaLiberada")
    assert event["payload"]["payload"]["reservas"] == []


def test_event_naming_a_product_twice_fails_alone(
    consumer: EventConsumer, produtos: ApiClient, database_url: str
) -> None:
    # Given a batch with a good nota and one whose items repeat a product
    produto_id = new_produto(produtos, 10)
    twice = criada([(produto_id, 1), (produto_id, 2)])
    good = criada([(produto_id, 1)])
    # When delivered / Then only the bad one fails, and it touched nothing
    event = sqs_event([twice, good])
    assert failed_ids(consumer.handle(event, None)) == [event["Records"][0]["messageId"]]
    assert stock(produtos, produto_id) == 9
    assert counts(database_url)["estoque.mensagens_processadas"] == 1


def test_batch_of_only_malformed_messages_raises(consumer: EventConsumer) -> None:
    # Given a batch in which nothing parses / When delivered / Then the invocation fails as a whole
    with pytest.raises(BatchProcessingError):
        consumer.handle(sqs_event(["[]", '{"detail-type": "NotaFiscalCriada"}']), None)


def test_saga_round_trip_through_both_services(
    function_env: str, consumer: EventConsumer, produtos: ApiClient, database_url: str
) -> None:
    """Each service's outbox rows, as the relay would publish them, fed to the other's consumer."""
    fat_db = Database(load(FaturamentoApiSettings))
    fat_api = ApiClient(faturamento_bootstrap.api(load(FaturamentoApiSettings), fat_db).resolve)
    fat_consumer = faturamento_bootstrap.consumer(load(FaturamentoConsumerSettings), fat_db)
    try:
        # Given 5 units in stock and a nota for 2
        produto_id = new_produto(produtos, 5)
        body = {
            "destinatario": {**DESTINATARIO_SP, "documento": "529.982.247-25", "nome": "Maria"},
            "items": [{"produtoId": produto_id, "quantidade": 2, "valorUnitario": "3.00"}],
        }
        nota_id = fat_api.post("/api/v1/notas", body).body["id"]
        # When the events flow: NotaFiscalCriada -> Estoque, ReservaConfirmada -> Faturamento
        assert deliver(consumer, *map(envelope_of, outbox(database_url, "faturamento", "NotaFiscalCriada"))) == []
        assert deliver(fat_consumer, *map(envelope_of, outbox(database_url, "estoque", "ReservaConfirmada"))) == []
        # Then the nota is CONFIRMADA and 3 units are left
        assert fat_api.get(f"/api/v1/notas/{nota_id}").body["status"] == "CONFIRMADA"
        assert stock(produtos, produto_id) == 3
        # When SEFAZ authorizes it, then it is cancelled and the events flow again
        autorizada = saga_envelope(EventName.NOTA_FISCAL_AUTORIZADA, autorizada_de(database_url, nota_id))
        assert deliver(fat_consumer, autorizada) == []
        assert fat_api.post(f"/api/v1/notas/{nota_id}/cancelamento", JUSTIFICATIVA).status == 202
        homologado = saga_envelope(
            EventName.NOTA_FISCAL_CANCELAMENTO_HOMOLOGADO, cancelamento_homologado_de(database_url, nota_id)
        )
        assert deliver(fat_consumer, homologado) == []
        assert deliver(consumer, *map(envelope_of, outbox(database_url, "faturamento", "NotaFiscalCancelada"))) == []
        assert deliver(fat_consumer, *map(envelope_of, outbox(database_url, "estoque", "ReservaLiberada"))) == []
        # Then the nota is CANCELADA and the stock is whole again
        assert fat_api.get(f"/api/v1/notas/{nota_id}").body["status"] == "CANCELADA"
        assert stock(produtos, produto_id) == 5
    finally:
        fat_db.close()


def test_a_refusal_by_sefaz_releases_the_stock_once_whatever_arrives_after(
    function_env: str, consumer: EventConsumer, produtos: ApiClient, database_url: str
) -> None:
    from functions.shared.events import NotaFiscalDenegada, NotaFiscalRejeitada

    # Given 2 of 5 units reserved for a nota
    produto_id = new_produto(produtos, 5)
    nota_id = str(uuid.uuid4())
    criada = NotaFiscalCriada.model_validate(
        {"notaFiscalId": nota_id, "items": [{"produtoId": produto_id, "quantidade": 2}], "valorTotal": "6.00"}
    )
    assert deliver(consumer, saga_envelope(EventName.NOTA_FISCAL_CRIADA, criada)) == []
    assert stock(produtos, produto_id) == 3
    chave = "52060433009911002506550120000007800267301615"
    rejeitada = NotaFiscalRejeitada.model_validate(
        {"notaFiscalId": nota_id, "chave": chave, "cStat": 610, "motivo": "Rejeição: Total da NF difere"}
    )
    # When SEFAZ's rejection arrives twice (two deliveries of one event, and a second event) and a denial after
    once = saga_envelope(EventName.NOTA_FISCAL_REJEITADA, rejeitada)
    assert deliver(consumer, once, once) == []
    assert deliver(consumer, saga_envelope(EventName.NOTA_FISCAL_REJEITADA, rejeitada)) == []
    denegada = NotaFiscalDenegada.model_validate(
        {
            "notaFiscalId": nota_id,
            "chave": chave,
            "protocolo": "135260000000009",
            "denegadaEm": "2026-12-06T10:00:00-03:00",
            "cStat": 302,
            "motivo": "Uso Denegado",
            "documento": "nfe/x",
        }
    )
    assert deliver(consumer, saga_envelope(EventName.NOTA_FISCAL_DENEGADA, denegada)) == []
    # Then the 2 units came back exactly once, and every answer announced the release
    assert stock(produtos, produto_id) == 5
    liberadas = outbox(database_url, "estoque", "ReservaLiberada")
    assert len(liberadas) == 3
    assert sum(len(e["payload"]["payload"]["reservas"]) for e in liberadas) == 1
