"""Estoque's Lambda entry points as Lambda runs them: the module import builds everything from env."""

from __future__ import annotations

import importlib
import sys

import pytest

from functions.shared.events import EventName, NotaFiscalCriada
from functions.shared.settings import SettingsError
from nfe.local.fiscal_demo import PRODUTO_FISCAL
from tests.conftest import set_function_env
from tests.helpers.api import ApiClient
from tests.helpers.db import one, outbox
from tests.helpers.events import FakeLambdaContext, saga_envelope, sqs_event


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    return set_function_env(monkeypatch, database_url, "estoque")


def test_api_and_consumer_modules_reserve_stock(function_env: str, load_handler) -> None:  # type: ignore[no-untyped-def]
    # Given both Estoque modules imported from the function environment
    api = ApiClient(load_handler("functions.estoque.handlers.api").handler)
    consumer = load_handler("functions.estoque.handlers.consumer")
    produto_id = api.post(
        "/api/v1/produtos", {"sku": "PAR-001", "nome": "Parafuso", "quantidade": 4, **PRODUTO_FISCAL}
    ).body["id"]
    payload = NotaFiscalCriada.model_validate(
        {
            "notaFiscalId": "0b7e5a0e-8d5e-4b59-9a43-3c1f6a1d2e3f",
            "items": [{"produtoId": produto_id, "quantidade": 3}],
            "valorTotal": "9.00",
        }
    )
    # When the consumer's Lambda handler gets a NotaFiscalCriada batch
    event = sqs_event([saga_envelope(EventName.NOTA_FISCAL_CRIADA, payload)])
    assert consumer.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    # Then the stock is reserved, by the estoque_app role
    assert api.get(f"/api/v1/produtos/{produto_id}").body["quantidade"] == 1
    # (after the produto's own announcement to Faturamento)
    assert [e["tipo"] for e in outbox(function_env, "estoque")] == ["ProdutoCadastrado", "ReservaConfirmada"]
    roles = one(
        function_env,
        "SELECT array_agg(DISTINCT usename) AS roles FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name LIKE 'estoque-%%'",
    )
    assert roles["roles"] == ["estoque_app"]


@pytest.mark.parametrize(
    ("module", "unset", "named"),
    [
        ("functions.estoque.handlers.api", "DATABASE_URL", "DB_HOST"),
        ("functions.estoque.handlers.consumer", "EVENT_BUS_NAME", "EVENT_BUS_NAME"),
    ],
)
def test_missing_setting_fails_the_cold_start_naming_it(
    function_env: str, monkeypatch: pytest.MonkeyPatch, module: str, unset: str, named: str
) -> None:
    monkeypatch.delenv(unset)
    sys.modules.pop(module, None)
    with pytest.raises(SettingsError, match=named):
        importlib.import_module(module)
    sys.modules.pop(module, None)


def test_estoque_api_needs_the_bus_and_says_so(
    function_env: str, monkeypatch: pytest.MonkeyPatch, load_handler
) -> None:  # type: ignore[no-untyped-def]
    # Given no EVENT_BUS_NAME (estoque-api announces every produto to Faturamento) / When imported /
    # Then the cold start fails naming the variable, rather than losing announcements later
    monkeypatch.delenv("EVENT_BUS_NAME")
    with pytest.raises(SettingsError, match="EVENT_BUS_NAME"):
        load_handler("functions.estoque.handlers.api")
