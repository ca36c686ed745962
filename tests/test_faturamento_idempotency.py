"""Idempotency-Key on POST /api/v1/notas: Powertools idempotency over our PostgreSQL persistence layer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from functions.faturamento import bootstrap
from functions.faturamento.logic import (
    IDEMPOTENCY_KEY_JMESPATH,
    IDEMPOTENCY_KEY_PREFIX,
    IDEMPOTENCY_PAYLOAD_JMESPATH,
    pedido_idempotente,
)
from functions.faturamento.models import NotaIn
from functions.faturamento.settings import FaturamentoApiSettings
from functions.shared.db import Database
from functions.shared.events import Ator
from functions.shared.idempotency import PostgresPersistenceLayer
from functions.shared.settings import load
from nfe.local.fiscal_demo import DESTINATARIO_SP
from tests.conftest import set_function_env
from tests.helpers.api import ApiClient
from tests.helpers.db import counts, rows
from tests.helpers.events import DEFAULT_CLAIMS, lambda_context

CNPJ = "11.222.333/0001-81"


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Database]:
    set_function_env(monkeypatch, database_url)
    database = Database(load(FaturamentoApiSettings))
    yield database
    database.close()


@pytest.fixture
def api(db: Database) -> ApiClient:
    return ApiClient(bootstrap.api(load(FaturamentoApiSettings), db).resolve)


def nota_body(quantidade: int = 2) -> dict[str, Any]:
    return {
        "destinatario": {**DESTINATARIO_SP, "documento": CNPJ, "nome": "ACME Ltda"},
        "items": [
            {"produtoId": "7b1e2f5c-3f4a-4d6e-9a1b-2c3d4e5f6a7b", "quantidade": quantidade, "valorUnitario": "10.50"}
        ],
    }


def key_header(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def test_same_key_and_body_returns_first_response_and_creates_nothing(api: ApiClient, database_url: str) -> None:
    # Given a nota created with an Idempotency-Key
    first = api.post("/api/v1/notas", nota_body(), headers=key_header("pedido-42"))
    assert first.status == 201
    # When the same request is repeated (a client retry after a timeout)
    second = api.post("/api/v1/notas", nota_body(), headers=key_header("pedido-42"))
    # Then the first response comes back and nothing new exists
    assert second.status == 201
    assert second.body == first.body
    stored = counts(database_url)
    assert stored["faturamento.notas_fiscais"] == 1
    assert stored["faturamento.eventos_outbox"] == 1
    [record] = rows(database_url, "SELECT status, resposta FROM faturamento.idempotencia")
    assert record["status"] == "COMPLETED" and first.body["id"] in record["resposta"]


def test_same_key_other_body_is_422_and_creates_nothing(api: ApiClient, database_url: str) -> None:
    # Given a key already used
    assert api.post("/api/v1/notas", nota_body(2), headers=key_header("pedido-43")).status == 201
    # When reused with a different body
    result = api.post("/api/v1/notas", nota_body(3), headers=key_header("pedido-43"))
    # Then 422 naming the header, and still only the first nota
    assert result.status == 422
    assert result.body["errors"][0]["field"] == "Idempotency-Key"
    assert result.body["errors"][0]["in"] == "header"
    assert counts(database_url)["faturamento.notas_fiscais"] == 1


def test_same_nota_formatted_differently_is_the_same_request(api: ApiClient, database_url: str) -> None:
    # Given a key used with a formatted CNPJ / When retried with the digits only
    first = api.post("/api/v1/notas", nota_body(), headers=key_header("pedido-44"))
    body = nota_body()
    body["destinatario"]["documento"] = "11222333000181"
    second = api.post("/api/v1/notas", body, headers=key_header("pedido-44"))
    # Then it is recognised as the same request (the hash covers the validated nota, not raw text)
    assert second.status == 201 and second.body["id"] == first.body["id"]
    assert counts(database_url)["faturamento.notas_fiscais"] == 1


def test_different_keys_and_no_key_each_create(api: ApiClient, database_url: str) -> None:
    # Given the same body / When sent under two keys and twice without a key / Then four notas
    for headers in (key_header("a"), key_header("b"), {}, {}):
        assert api.post("/api/v1/notas", nota_body(), headers=headers).status == 201
    assert counts(database_url)["faturamento.notas_fiscais"] == 4
    assert counts(database_url)["faturamento.idempotencia"] == 2


def test_invalid_body_with_key_is_not_remembered(api: ApiClient, database_url: str) -> None:
    # Given a bad body sent with a key (rejected before the idempotent section)
    bad = nota_body()
    bad["items"][0]["quantidade"] = 0
    assert api.post("/api/v1/notas", bad, headers=key_header("pedido-45")).status == 422
    # When the corrected body is sent with the same key / Then it is created
    assert api.post("/api/v1/notas", nota_body(), headers=key_header("pedido-45")).status == 201
    assert counts(database_url)["faturamento.notas_fiscais"] == 1


def _store_in_progress(db: Database, key: str, body: dict[str, Any], lease_ms: int) -> PostgresPersistenceLayer:
    """An in-progress record for `key`, as a concurrent invocation of the API would leave it."""
    layer = PostgresPersistenceLayer(db)
    layer.configure(
        IdempotencyConfig(
            event_key_jmespath=IDEMPOTENCY_KEY_JMESPATH, payload_validation_jmespath=IDEMPOTENCY_PAYLOAD_JMESPATH
        ),
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
    )
    ator = Ator(sub=DEFAULT_CLAIMS["sub"], email=DEFAULT_CLAIMS["email"])
    layer.save_inprogress(pedido_idempotente(ator, key, NotaIn.model_validate(body)), remaining_time_in_millis=lease_ms)
    return layer


def test_request_while_first_is_in_progress_is_409(api: ApiClient, db: Database, database_url: str) -> None:
    # Given another invocation holding the key, its lease still running
    _store_in_progress(db, "pedido-46", nota_body(), lease_ms=60_000)
    # When the request arrives / Then 409, retry later, nothing created
    result = api.post("/api/v1/notas", nota_body(), headers=key_header("pedido-46"))
    assert result.status == 409
    assert "in progress" in result.body["message"]
    assert counts(database_url)["faturamento.notas_fiscais"] == 0


def test_in_progress_record_whose_lease_ran_out_is_taken_over(api: ApiClient, db: Database, database_url: str) -> None:
    # Given an invocation that died holding the key (its lease is over)
    _store_in_progress(db, "pedido-47", nota_body(), lease_ms=0)
    time.sleep(0.01)
    # When the client retries / Then the request runs and creates the nota
    result = api.post("/api/v1/notas", nota_body(), headers=key_header("pedido-47"))
    assert result.status == 201
    assert counts(database_url)["faturamento.notas_fiscais"] == 1


def test_expired_record_lets_the_key_create_again(api: ApiClient, database_url: str) -> None:
    # Given a key whose record has expired
    first = api.post("/api/v1/notas", nota_body(), headers=key_header("pedido-48"))
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE faturamento.idempotencia SET expira_em = %s", (int(time.time()) - 1,))
    # When it is used again / Then it is a new request
    second = api.post("/api/v1/notas", nota_body(), headers=key_header("pedido-48"))
    assert second.status == 201 and second.body["id"] != first.body["id"]
    assert counts(database_url)["faturamento.notas_fiscais"] == 2
    assert counts(database_url)["faturamento.idempotencia"] == 1


def test_expired_records_are_purged_by_later_requests(api: ApiClient, database_url: str) -> None:
    # Given three records long expired
    for key in ("old-1", "old-2", "old-3"):
        api.post("/api/v1/notas", nota_body(), headers=key_header(key))
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE faturamento.idempotencia SET expira_em = 1")
    # When a new keyed request arrives / Then they are gone and only the new one remains
    api.post("/api/v1/notas", nota_body(), headers=key_header("new"))
    assert counts(database_url)["faturamento.idempotencia"] == 1


# --- the persistence layer on its own, under Powertools' idempotent_function --------------------


@pytest.fixture
def layer(db: Database) -> PostgresPersistenceLayer:
    return PostgresPersistenceLayer(db)


def test_nested_call_with_same_key_sees_in_progress(layer: PostgresPersistenceLayer) -> None:
    # Given an idempotent function that calls itself with the same key while running
    config = IdempotencyConfig(
        event_key_jmespath="id", payload_validation_jmespath="body", lambda_context=lambda_context()
    )
    seen: list[type[Exception]] = []

    def work(order: dict[str, Any]) -> dict[str, Any]:
        try:
            once(order=order)
        except IdempotencyAlreadyInProgressError as exc:
            seen.append(type(exc))
        return {"done": order["id"]}

    once = idempotent_function(work, data_keyword_argument="order", persistence_store=layer, config=config)
    # When it runs / Then the inner call was refused as in progress, and the outer call completed
    assert once(order={"id": "o-1", "body": 1}) == {"done": "o-1"}
    assert seen == [IdempotencyAlreadyInProgressError]
    # And a later call returns the stored result without running
    assert once(order={"id": "o-1", "body": 1}) == {"done": "o-1"}
    assert seen == [IdempotencyAlreadyInProgressError]
    with pytest.raises(IdempotencyValidationError):
        once(order={"id": "o-1", "body": 2})


def test_failed_call_leaves_no_record(layer: PostgresPersistenceLayer, database_url: str) -> None:
    # Given an idempotent function that fails
    calls = []

    def flaky(order: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")
        return {"ok": True}

    once = idempotent_function(
        flaky,
        data_keyword_argument="order",
        persistence_store=layer,
        config=IdempotencyConfig(event_key_jmespath="id", lambda_context=lambda_context()),
    )
    with pytest.raises(RuntimeError):
        once(order={"id": "o-2"})
    # When retried / Then it runs again (the failed attempt released the key) and is then remembered
    assert counts(database_url)["faturamento.idempotencia"] == 0
    assert once(order={"id": "o-2"}) == {"ok": True}
    assert once(order={"id": "o-2"}) == {"ok": True}
    assert len(calls) == 2


def test_unknown_table_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="unknown idempotency table"):
        PostgresPersistenceLayer(db, table=f"public.t{uuid.uuid4().hex}")
