"""estoque-api driven with real API Gateway REST proxy events against a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from functions.estoque import bootstrap
from functions.estoque.models import MAX_ESTOQUE
from functions.estoque.settings import EstoqueApiSettings
from functions.shared.db import Database
from functions.shared.settings import load
from tests.conftest import set_function_env
from tests.helpers.api import ApiClient
from tests.helpers.db import counts, one


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Database]:
    set_function_env(monkeypatch, database_url)
    database = Database(load(EstoqueApiSettings))
    yield database
    database.close()


@pytest.fixture
def api(db: Database) -> ApiClient:
    return ApiClient(bootstrap.api(load(EstoqueApiSettings), db).resolve)


def produto(**overrides: Any) -> dict[str, Any]:
    return {"sku": f"PAR-{uuid.uuid4().hex[:8]}", "nome": "Parafuso 6mm", "quantidade": 10, **overrides}


def test_create_and_get_produto(api: ApiClient, database_url: str) -> None:
    # Given a new produto / When created
    created = api.post("/api/v1/produtos", produto(sku="PAR-001"))
    # Then 201 with its id and stock, readable by id
    assert created.status == 201, created.body
    assert created.body["sku"] == "PAR-001" and created.body["quantidade"] == 10
    fetched = api.get(f"/api/v1/produtos/{created.body['id']}")
    assert fetched.status == 200 and fetched.body == created.body
    assert one(database_url, "SELECT quantidade FROM estoque.produtos WHERE sku = 'PAR-001'")["quantidade"] == 10


def test_repeated_sku_is_409(api: ApiClient, database_url: str) -> None:
    # Given a produto / When another one takes its SKU / Then 409 and still one produto
    assert api.post("/api/v1/produtos", produto(sku="PAR-002")).status == 201
    result = api.post("/api/v1/produtos", produto(sku="PAR-002", nome="Outro"))
    assert result.status == 409
    assert "PAR-002" in result.body["message"]
    assert counts(database_url)["estoque.produtos"] == 1


def test_entrada_adds_stock(api: ApiClient) -> None:
    # Given a produto with 10 units / When 5 arrive / Then it has 15
    produto_id = api.post("/api/v1/produtos", produto()).body["id"]
    result = api.post(f"/api/v1/produtos/{produto_id}/entradas", {"quantidade": 5})
    assert result.status == 200, result.body
    assert result.body["quantidade"] == 15
    assert api.get(f"/api/v1/produtos/{produto_id}").body["quantidade"] == 15


def test_entrada_past_the_column_ceiling_is_409_and_changes_nothing(api: ApiClient, database_url: str) -> None:
    # Given a produto one entrada away from the integer ceiling
    produto_id = api.post("/api/v1/produtos", produto(quantidade=0)).body["id"]
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE estoque.produtos SET quantidade = %s WHERE id = %s", (MAX_ESTOQUE - 3, produto_id))
    # When 4 more arrive / Then 409 and the stock is unchanged
    result = api.post(f"/api/v1/produtos/{produto_id}/entradas", {"quantidade": 4})
    assert result.status == 409
    assert api.get(f"/api/v1/produtos/{produto_id}").body["quantidade"] == MAX_ESTOQUE - 3
    # And exactly reaching the ceiling is fine
    assert api.post(f"/api/v1/produtos/{produto_id}/entradas", {"quantidade": 3}).body["quantidade"] == MAX_ESTOQUE


def test_unknown_and_malformed_ids(api: ApiClient) -> None:
    assert api.get(f"/api/v1/produtos/{uuid.uuid4()}").status == 404
    assert api.post(f"/api/v1/produtos/{uuid.uuid4()}/entradas", {"quantidade": 1}).status == 404
    malformed = api.get("/api/v1/produtos/PAR-001")
    assert malformed.status == 422 and malformed.fields() == {"id"}
    assert api.post("/api/v1/produtos/1/entradas", {"quantidade": 1}).status == 422


def test_list_pages_through_every_produto(api: ApiClient) -> None:
    # Given five produtos / When listed two at a time / Then all five come back once, newest first
    ids = [api.post("/api/v1/produtos", produto()).body["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        page = api.get("/api/v1/produtos", query={"limit": "2", **({"cursor": cursor} if cursor else {})}).body
        seen += [p["id"] for p in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


BAD_PRODUTOS: list[tuple[str, Any, set[str]]] = [
    ("negative stock", produto(quantidade=-1), {"quantidade"}),
    ("fractional stock", produto(quantidade=1.5), {"quantidade"}),
    ("stock as text", produto(quantidade="10"), {"quantidade"}),
    ("stock too large", produto(quantidade=1_000_000_001), {"quantidade"}),
    ("empty sku", produto(sku=""), {"sku"}),
    ("sku with spaces", produto(sku="PAR 001"), {"sku"}),
    ("sku too long", produto(sku="P" * 65), {"sku"}),
    ("empty nome", produto(nome=""), {"nome"}),
    ("unknown field", produto(preco="1.00"), {"preco"}),
    ("missing quantidade", {"sku": "PAR-9", "nome": "X"}, {"quantidade"}),
]


@pytest.mark.parametrize(("case", "body", "fields"), BAD_PRODUTOS, ids=[c[0] for c in BAD_PRODUTOS])
def test_bad_produto_is_422_and_stores_nothing(
    api: ApiClient, database_url: str, case: str, body: Any, fields: set[str]
) -> None:
    result = api.post("/api/v1/produtos", body)
    assert result.status == 422, result.body
    assert result.fields() == fields
    assert counts(database_url)["estoque.produtos"] == 0


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"quantidade": 0}, {"quantidade"}),
        ({"quantidade": 1_000_001}, {"quantidade"}),
        ({"quantidade": "5"}, {"quantidade"}),
        ({"quantidade": 5, "motivo": "compra"}, {"motivo"}),
        ({}, {"quantidade"}),
    ],
)
def test_bad_entrada_is_422_and_changes_nothing(api: ApiClient, body: Any, fields: set[str]) -> None:
    # Given a produto with 10 units / When a bad entrada arrives / Then 422 and still 10 units
    produto_id = api.post("/api/v1/produtos", produto()).body["id"]
    result = api.post(f"/api/v1/produtos/{produto_id}/entradas", body)
    assert result.status == 422
    assert result.fields() == fields
    assert api.get(f"/api/v1/produtos/{produto_id}").body["quantidade"] == 10


def test_unreadable_and_oversized_bodies(api: ApiClient, database_url: str) -> None:
    assert api.post("/api/v1/produtos", raw_body="{").status == 400
    assert (
        api.post("/api/v1/produtos", raw_body='{"sku": "A", "nome": "B", "quantidade": 1}' + " " * 262_144).status
        == 413
    )
    assert counts(database_url)["estoque.produtos"] == 0
