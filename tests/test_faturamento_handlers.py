"""The Lambda entry points as Lambda runs them (module import builds everything from the environment),
the unit of work's all-or-nothing rule, and eager publishing to an emulated bus."""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from functions.faturamento import bootstrap, dal
from functions.faturamento.models import NotaIn
from functions.faturamento.settings import FaturamentoApiSettings
from functions.shared.consumer import parse_body
from functions.shared.db import Database, UnitOfWork
from functions.shared.events import EventName, NotaFiscalCriada
from functions.shared.outbox import add_event
from functions.shared.settings import SettingsError, load
from nfe.local.fiscal_demo import DESTINATARIO_SP
from tests.conftest import set_function_env
from tests.helpers.api import ApiClient
from tests.helpers.db import counts, outbox
from tests.helpers.events import FakeLambdaContext, reserva_confirmada_de, saga_envelope, sqs_event

NOTA = {
    "destinatario": DESTINATARIO_SP,
    "items": [{"produtoId": "7b1e2f5c-3f4a-4d6e-9a1b-2c3d4e5f6a7b", "quantidade": 2, "valorUnitario": "10.50"}],
}


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    return set_function_env(monkeypatch, database_url, "faturamento")


def fresh_import(name: str) -> ModuleType:
    """Import a handler module as a new container would: from scratch, building its app from env."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.fixture
def handler_modules() -> Iterator[list[str]]:
    """Names of handler modules a test imported; dropped afterwards so no test reuses another's database."""
    imported: list[str] = []
    yield imported
    for name in imported:
        module = sys.modules.pop(name, None)
        if module is not None:
            module.database.close()


def test_api_handler_module_serves_requests_as_its_own_role(function_env: str, handler_modules: list[str]) -> None:
    # Given the module imported with the function's environment (DB_USER left to its default)
    handler_modules.append("functions.faturamento.handlers.api")
    module = fresh_import("functions.faturamento.handlers.api")
    client = ApiClient(module.handler)
    # When a nota is posted through the Lambda handler
    result = client.post("/api/v1/notas", NOTA)
    # Then it is created, by a connection logged in as faturamento_app
    assert result.status == 201, result.body
    assert client.get("/health").body == {"status": "ok", "database": "ok"}
    with psycopg.connect(function_env) as conn:
        users = {
            r[0]
            for r in conn.execute(
                "SELECT usename FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                ("faturamento-api",),
            )
        }
    assert users == {"faturamento_app"}


def test_consumer_handler_module_applies_a_batch(function_env: str, handler_modules: list[str]) -> None:
    # Given a PENDING nota and the consumer module imported from the environment
    db = Database(load(FaturamentoApiSettings))
    api = ApiClient(bootstrap.api(load(FaturamentoApiSettings), db).resolve)
    nota_id = api.post("/api/v1/notas", NOTA).body["id"]
    handler_modules.append("functions.faturamento.handlers.consumer")
    module = fresh_import("functions.faturamento.handlers.consumer")
    payload = reserva_confirmada_de(function_env, nota_id)
    # When the Lambda handler gets the SQS batch
    response = module.handler(sqs_event([saga_envelope(EventName.RESERVA_CONFIRMADA, payload)]), FakeLambdaContext())
    # Then no failures are reported and the nota is confirmed
    assert response == {"batchItemFailures": []}
    assert api.get(f"/api/v1/notas/{nota_id}").body["status"] == "CONFIRMADA"
    db.close()


@pytest.mark.parametrize(
    ("module", "unset", "named"),
    [
        ("functions.faturamento.handlers.api", "EVENT_BUS_NAME", "EVENT_BUS_NAME"),
        ("functions.faturamento.handlers.api", "DATABASE_URL", "DB_HOST"),
        ("functions.faturamento.handlers.consumer", "DATABASE_URL", "DB_HOST"),
    ],
)
def test_missing_setting_fails_the_cold_start_naming_it(
    function_env: str, monkeypatch: pytest.MonkeyPatch, module: str, unset: str, named: str
) -> None:
    # Given the function's environment without one variable / When the module is imported
    monkeypatch.delenv(unset)
    with pytest.raises(SettingsError, match=named):
        fresh_import(module)
    sys.modules.pop(module, None)


def test_bad_setting_value_is_named(function_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_TTL_SECONDS", "forever")
    with pytest.raises(SettingsError, match="IDEMPOTENCY_TTL_SECONDS"):
        load(FaturamentoApiSettings)


# --- the unit of work (STYLE.md: leaving without commit writes neither state nor event) ---------


def test_unit_of_work_without_commit_writes_neither_nota_nor_outbox_row(function_env: str) -> None:
    db = Database(load(FaturamentoApiSettings))
    nota = NotaIn.model_validate(NOTA)
    # Given a unit of work that inserts a nota and its event / When it is left without commit
    with UnitOfWork(db) as uow:
        row = dal.inserir_nota(uow.conn, nota, "0b6c3f5e-sub", "faturista@example.com", 1, 2)
        evento = NotaFiscalCriada.model_validate(
            {
                "notaFiscalId": str(row["id"]),
                "items": [{"produtoId": str(uuid.uuid4()), "quantidade": 1}],
                "valorTotal": "1.00",
            }
        )
        add_event(uow.conn, "faturamento", EventName.NOTA_FISCAL_CRIADA, evento)
    # Then nothing of it exists
    assert set(counts(function_env).values()) == {0}
    # And an exception inside the block rolls back as well
    with pytest.raises(RuntimeError), UnitOfWork(db) as uow:
        dal.inserir_nota(uow.conn, nota, "0b6c3f5e-sub", "faturista@example.com", 1, 2)
        raise RuntimeError("boom")
    assert set(counts(function_env).values()) == {0}
    # While the same work committed is stored whole
    with UnitOfWork(db) as uow:
        dal.inserir_nota(uow.conn, nota, "0b6c3f5e-sub", "faturista@example.com", 1, 2)
        uow.commit()
    assert counts(function_env)["faturamento.notas_fiscais"] == 1
    db.close()


# --- eager publishing: the event is on the bus right after the commit ---------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def test_created_nota_is_published_right_after_commit(
    function_env: str, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a bus whose rule routes NotaFiscalCriada to a queue, and eager publishing on
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="nfe-events-test")
    queue_url = sqs.create_queue(QueueName="estoque-reserva")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="to-estoque",
        EventBusName="nfe-events-test",
        EventPattern=json.dumps({"source": ["nfe.faturamento"], "detail-type": ["NotaFiscalCriada"]}),
    )
    events.put_targets(Rule="to-estoque", EventBusName="nfe-events-test", Targets=[{"Id": "q", "Arn": queue_arn}])
    monkeypatch.setenv("EAGER_PUBLISH", "true")
    settings = load(FaturamentoApiSettings)
    db = Database(settings)
    api = ApiClient(bootstrap.api(settings, db, events_client=events).resolve)
    # When a nota is created
    nota_id = api.post("/api/v1/notas", NOTA).body["id"]
    # Then its outbox row is already marked published
    [row] = outbox(function_env, "faturamento")
    assert row["publicado"] is True
    # And the queue holds it in the shape the Estoque consumer parses
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    detail, payload = parse_body(messages[0]["Body"])
    assert detail.event_type is EventName.NOTA_FISCAL_CRIADA
    assert str(detail.correlation_id) == nota_id
    assert isinstance(payload, NotaFiscalCriada) and payload.items[0].quantidade == 2
    db.close()


def test_bus_failure_never_fails_the_request(function_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given eager publishing on, and a bus that refuses every call
    class BrokenBus:
        def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            raise ConnectionError("bus unreachable")

    monkeypatch.setenv("EAGER_PUBLISH", "true")
    settings = load(FaturamentoApiSettings)
    db = Database(settings)
    api = ApiClient(bootstrap.api(settings, db, events_client=BrokenBus()).resolve)
    # When a nota is created / Then the request succeeds and the row waits for the scheduled publisher
    assert api.post("/api/v1/notas", NOTA).status == 201
    [row] = outbox(function_env, "faturamento")
    assert row["publicado"] is False
    db.close()
