"""Bad input and least privilege: SQL injection in every string field, and roles confined to their schema.

- Injection: every string a request can carry (body fields, path and query parameters, headers),
  found by walking docs/openapi.json so a new field is covered the day it appears, is sent with each
  payload through the real API handlers against PostgreSQL. Each answer must be a refusal that
  stored nothing, or an acceptance that stored the text exactly as sent; no payload may run.
- Privilege: each function's own `Database`, built by its Lambda entry point from its settings, is
  tried against the other service's tables and against everything its role should not do.
"""

from __future__ import annotations

import copy
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors

from nfe import topology
from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL
from tests.conftest import set_function_env
from tests.helpers.db import counts, rows
from tests.helpers.events import FakeLambdaContext, api_event, response_json
from tests.test_faults import Services, wire
from tests.test_openapi import committed

# Classic and PostgreSQL-specific payloads. None has leading or trailing blanks, which the API
# strips from text on purpose (they would not come back "literally" for that reason alone).
INJECTIONS = (
    "'; DROP TABLE estoque.produtos; --",
    "' OR '1'='1",
    "1' OR 1=1 --",
    "x'); DELETE FROM faturamento.notas_fiscais; --",
    "'; SELECT pg_sleep(3); --",
    "$$; TRUNCATE estoque.reservas; $$",
    "\\'; UPDATE estoque.produtos SET quantidade = 0; --",
    '" OR ""="',
    "1; COMMIT; DROP SCHEMA faturamento CASCADE",
    "%s %(id)s {0} admin'/*",
)
CPF = "52998224725"


def string_paths(schema: dict[str, Any], components: dict[str, Any], at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """JSON paths of every string in a request body schema (the first element of arrays)."""
    if "$ref" in schema:
        return string_paths(components[schema["$ref"].rsplit("/", 1)[1]], components, at)
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            return sorted({p for option in schema[union] for p in string_paths(option, components, at)})
    if schema.get("type") == "string":
        return [at]
    if schema.get("type") == "array":
        return string_paths(schema["items"], components, (*at, 0))
    found = []
    for name, prop in schema.get("properties", {}).items():
        found += string_paths(prop, components, (*at, name))
    return found


def string_inputs() -> list[tuple[str, str, str, tuple[Any, ...]]]:
    """(method, path, location, field) for every string input the API document declares."""
    doc = committed()
    components = doc["components"]["schemas"]
    found = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            # Path, query and header values are text on the wire, whatever type the API reads them as.
            for parameter in operation.get("parameters", []):
                found.append((method.upper(), path, parameter["in"], (parameter["name"],)))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                for field in string_paths(body["schema"], components):
                    found.append((method.upper(), path, "body", field))
    return found


INPUTS = string_inputs()


def test_the_walk_finds_the_string_fields_we_know_of() -> None:
    # Guards the walk itself: a walk that found nothing would make the injection test vacuous
    fields = {(m, p, loc, f) for m, p, loc, f in INPUTS}
    assert ("POST", "/api/v1/notas", "body", ("destinatario", "nome")) in fields
    assert ("POST", "/api/v1/notas", "body", ("items", 0, "valorUnitario")) in fields
    assert ("POST", "/api/v1/notas", "header", ("idempotency-key",)) in fields
    assert ("POST", "/api/v1/produtos", "body", ("sku",)) in fields
    assert ("GET", "/api/v1/notas", "query", ("cursor",)) in fields
    assert ("GET", "/api/v1/notas", "query", ("status",)) in fields
    assert ("GET", "/api/v1/produtos/{id}", "path", ("id",)) in fields
    assert len(INPUTS) >= 15


def baseline(services: Services, produto: str, nota: str) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid request per operation, into which one field at a time gets a payload."""
    nota_body = {
        "destinatario": {**DESTINATARIO_SP, "documento": CPF, "nome": "Fulano"},
        "items": [{"produtoId": produto, "quantidade": 1, "valorUnitario": "1.00"}],
    }
    return {
        ("POST", "/api/v1/notas"): {"body": nota_body, "header": {}, "query": {}, "path": {}},
        ("GET", "/api/v1/notas"): {"body": None, "header": {}, "query": {"limit": "5"}, "path": {}},
        ("GET", "/api/v1/notas/{id}"): {"body": None, "header": {}, "query": {}, "path": {"id": nota}},
        ("GET", "/api/v1/notas/{id}/xml"): {"body": None, "header": {}, "query": {}, "path": {"id": nota}},
        ("GET", "/api/v1/notas/{id}/danfe"): {"body": None, "header": {}, "query": {}, "path": {"id": nota}},
        ("POST", "/api/v1/notas/{id}/cancelamento"): {
            "body": {"justificativa": "Pedido cancelado pelo cliente"},
            "header": {},
            "query": {},
            "path": {"id": nota},
        },
        ("GET", "/api/v1/notas/{id}/cancelamento/xml"): {"body": None, "header": {}, "query": {}, "path": {"id": nota}},
        ("GET", "/health"): {"body": None, "header": {}, "query": {}, "path": {}},
        ("POST", "/api/v1/produtos"): {
            "body": {"sku": f"SEC-{uuid.uuid4().hex[:8]}", "nome": "Parafuso", "quantidade": 3, **PRODUTO_FISCAL},
            "header": {},
            "query": {},
            "path": {},
        },
        ("GET", "/api/v1/produtos"): {"body": None, "header": {}, "query": {"limit": "5"}, "path": {}},
        ("GET", "/api/v1/produtos/{id}"): {"body": None, "header": {}, "query": {}, "path": {"id": produto}},
        ("POST", "/api/v1/produtos/{id}/entradas"): {
            "body": {"quantidade": 1},
            "header": {},
            "query": {},
            "path": {"id": produto},
        },
    }


def stored_text(url: str, path: str, row_id: str, field: tuple[Any, ...]) -> Any:
    """What the database kept for one string field of an accepted body."""
    if path == "/api/v1/produtos":
        (row,) = rows(url, "SELECT * FROM estoque.produtos WHERE id = %s", (row_id,))
        return row[field[0]]
    (row,) = rows(url, "SELECT * FROM faturamento.notas_fiscais WHERE id = %s", (row_id,))
    if field == ("destinatario", "nome"):
        assert row["destinatario_nome"] == row["destinatario"]["nome"]
    if field[0] == "destinatario":
        return get(row["destinatario"], field[1:])
    return row["natureza_operacao"] if field == ("naturezaOperacao",) else None


def put(target: Any, field: tuple[Any, ...], value: str) -> None:
    for step in field[:-1]:
        target = target[step]
    target[field[-1]] = value


def get(source: Any, field: tuple[Any, ...]) -> Any:
    for step in field:
        source = source[step]
    return source


def send(services: Services, method: str, path: str, request: dict[str, Any]) -> dict[str, Any]:
    """Send as API Gateway would: the path percent-encoded on the wire, its parameters decoded."""
    concrete = path
    for name, value in request["path"].items():
        concrete = concrete.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    event = api_event(method, concrete, request["body"], headers=request["header"], query=request["query"])
    if request["path"]:
        event["resource"] = path
        event["pathParameters"] = dict(request["path"])
    app = services.produtos if "/produtos" in path else services.notas
    return app.handler(event, FakeLambdaContext())


@pytest.fixture
def services(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    wired = wire(database_url, monkeypatch)
    yield wired
    wired.close()


def test_injection_strings_in_every_string_field_are_stored_literally_or_refused(services: Services) -> None:
    # Given a product and a nota to aim at, and every string input of the API
    produto = services.produtos.post(
        "/api/v1/produtos", {"sku": "ALVO-1", "nome": "Alvo", "quantidade": 50, **PRODUTO_FISCAL}
    ).body
    nota = services.notas.post(
        "/api/v1/notas",
        {
            "destinatario": {**DESTINATARIO_SP, "documento": CPF, "nome": "Alvo"},
            "items": [{"produtoId": produto["id"], "quantidade": 1, "valorUnitario": "1.00"}],
        },
    ).body
    outcomes: dict[str, int] = {"stored": 0, "refused": 0, "read": 0}
    for method, path, location, field in INPUTS:
        for payload in INJECTIONS:
            request = copy.deepcopy(baseline(services, produto["id"], nota["id"])[(method, path)])
            if location == "body":
                put(request["body"], field, payload)
            else:
                request[location][field[0]] = payload
            before = counts(services.url)
            # When the payload is sent in that one field
            started = time.monotonic()
            response = send(services, method, path, request)
            elapsed = time.monotonic() - started
            body = response_json(response)
            status = response["statusCode"]
            after = counts(services.url)
            where = (method, path, location, field, payload, status, body)
            # Then no payload ran: no delay from pg_sleep, no table lost, nothing else touched
            assert elapsed < 2.0, where
            assert status < 500, where
            if status >= 400:
                # A refusal stores nothing
                assert after == before, where
                outcomes["refused"] += 1
            elif method == "GET":
                assert after == before, where
                outcomes["read"] += 1
            elif location == "body" and (method, path) in (("POST", "/api/v1/notas"), ("POST", "/api/v1/produtos")):
                # An acceptance stores the text exactly as sent, and gives it back as sent
                assert get(body, field) == payload, where
                assert stored_text(services.url, path, body["id"], field) == payload, where
                outcomes["stored"] += 1
            elif location == "header":
                # The Idempotency-Key is a key like any other: the same one answers with the same nota
                again = send(services, method, path, request)
                assert response_json(again)["id"] == body["id"], where
                outcomes["stored"] += 1
            else:
                raise AssertionError(f"accepted without a rule for what it stores: {where}")
    # And the schema is whole: every table still there with the rows the accepted requests added
    assert set(counts(services.url)) >= {"estoque.produtos", "faturamento.notas_fiscais", "estoque.reservas"}
    assert rows(services.url, "SELECT quantidade FROM estoque.produtos WHERE id = %s", (produto["id"],)) == [
        {"quantidade": 50}
    ]
    # (both kinds of outcome happened, so neither branch is vacuous)
    assert outcomes["stored"] >= 3 * len(INJECTIONS) and outcomes["refused"] >= 10 * len(INJECTIONS)
    print(f"\ninjection: {len(INPUTS)} inputs x {len(INJECTIONS)} payloads: {outcomes}")


# --- each service's role, through the connection its own handler opens --------------------------


@pytest.fixture
def entry_point(
    monkeypatch: pytest.MonkeyPatch, database_url: str, load_handler: Callable[[str], Any]
) -> Callable[[str], Any]:
    """Import a Lambda entry point afresh from the function environment and return its Database."""
    set_function_env(monkeypatch, database_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return lambda name: load_handler(name).database


OWN = {
    "faturamento_app": "SELECT count(*) FROM faturamento.notas_fiscais",
    "estoque_app": "SELECT count(*) FROM estoque.produtos",
    "outbox_publisher": "SELECT count(*) FROM faturamento.eventos_outbox WHERE NOT publicado",
}
OTHER_SCHEMA = {
    "faturamento_app": [
        "SELECT * FROM estoque.produtos",
        "UPDATE estoque.produtos SET quantidade = 1000000",
        "INSERT INTO estoque.mensagens_processadas (evento_id, tipo) VALUES (gen_random_uuid(), 'x')",
        "DELETE FROM estoque.reservas",
    ],
    "estoque_app": [
        "SELECT * FROM faturamento.notas_fiscais",
        "UPDATE faturamento.notas_fiscais SET status = 'CONFIRMADA'",
        "INSERT INTO faturamento.mensagens_processadas (evento_id, tipo) VALUES (gen_random_uuid(), 'x')",
        "SELECT * FROM faturamento.idempotencia",
    ],
    "outbox_publisher": [
        "SELECT * FROM faturamento.notas_fiscais",
        "SELECT * FROM estoque.produtos",
        "UPDATE faturamento.eventos_outbox SET payload = '{}'",
        "INSERT INTO estoque.eventos_outbox (id, tipo, agregado_id, payload) "
        "VALUES (gen_random_uuid(), 'ReservaConfirmada', gen_random_uuid(), '{}')",
        "DELETE FROM faturamento.eventos_outbox",
    ],
}
# What no service role may do anywhere: change the schema, take another identity, reach the host.
NOBODY = [
    "CREATE TABLE faturamento.intrusa (id int)",
    "CREATE TABLE estoque.intrusa (id int)",
    "CREATE TABLE public.intrusa (id int)",
    "CREATE SCHEMA intrusa",
    "DROP TABLE faturamento.eventos_outbox",
    "TRUNCATE estoque.eventos_outbox",
    "ALTER TABLE estoque.produtos DROP CONSTRAINT produtos_quantidade_check",
    "SET ROLE postgres",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "SELECT pg_read_file('PG_VERSION')",
]
# Every function that connects to the database, with the role the topology gives it.
FUNCTIONS = {fn.name: (fn.handler.rsplit(".", 1)[0], fn.database_role) for fn in topology.FUNCTIONS if fn.database_role}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_connection_cannot_touch_what_its_role_does_not_own(
    entry_point: Callable[[str], Any], function: str
) -> None:
    # Given the connection the function's own entry point opens
    module, role = FUNCTIONS[function]
    conn = entry_point(module).connection()
    assert conn.execute("SELECT current_user AS u").fetchone() == {"u": role}
    # And it works on what the role owns (so refusals below are about rights, not a dead connection)
    conn.execute(OWN[role]).fetchone()
    conn.rollback()
    # When it reaches for another service's data, or for anything no role may do
    for statement in OTHER_SCHEMA[role] + NOBODY:
        # Then PostgreSQL refuses it for lack of privilege
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()
    # And another role's identity cannot be borrowed
    for other in {"faturamento_app", "estoque_app", "outbox_publisher"} - {role}:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(f"SET ROLE {other}")
        conn.rollback()


def test_the_publisher_may_mark_an_event_published_and_nothing_more(
    entry_point: Callable[[str], Any], database_url: str
) -> None:
    # Given an outbox row, and the publisher's own connection
    event_id = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            "INSERT INTO faturamento.eventos_outbox (id, tipo, agregado_id, payload) "
            "VALUES (%s, 'NotaFiscalCriada', gen_random_uuid(), '{\"a\": 1}')",
            (event_id,),
        )
    conn = entry_point("functions.publisher.handler").connection()
    # When it marks the row published / Then that is allowed, and rewriting what it says is not
    conn.execute(
        "UPDATE faturamento.eventos_outbox SET publicado = true, publicado_em = now() WHERE id = %s", (event_id,)
    )
    conn.commit()
    for column, value in (("payload", "'{}'"), ("tipo", "'ReservaFalhou'"), ("agregado_id", "gen_random_uuid()")):
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(f"UPDATE faturamento.eventos_outbox SET {column} = {value} WHERE id = %s", (event_id,))
        conn.rollback()
    assert rows(
        database_url, "SELECT publicado, payload FROM faturamento.eventos_outbox WHERE id = %s", (event_id,)
    ) == [{"publicado": True, "payload": {"a": 1}}]
