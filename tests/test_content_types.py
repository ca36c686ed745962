"""Every POST route against every kind of body a client may send: JSON is read, anything declared
otherwise is a 415 and unreadable JSON a 400, in the API's error shape, before any validation and
with nothing stored; never a 500 (issue 20, "Bad input"). In-process as API Gateway invokes the
functions, then through local mode's gateway over HTTP, then through a running `nfe local`."""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from functions.estoque import bootstrap as estoque
from functions.estoque.settings import EstoqueApiSettings
from functions.faturamento import bootstrap as faturamento
from functions.faturamento.settings import FaturamentoApiSettings
from functions.shared import access
from functions.shared.db import Database
from functions.shared.settings import load
from nfe.local.gateway import make_server, serve_in_thread
from nfe.pgserver import free_port
from tests.conftest import create_database, set_function_env
from tests.helpers.db import counts
from tests.helpers.events import DEFAULT_CLAIMS, api_event, lambda_context, response_json
from tests.test_estoque_api import produto
from tests.test_faturamento_api import nota_body

POST_ROUTES = [route for route in access.ROUTES if route.method == "POST"]
MULTIPART = '--XyZ\r\nContent-Disposition: form-data; name="quantidade"\r\n\r\n5\r\n--XyZ--\r\n'


@dataclass(frozen=True)
class Case:
    name: str
    content_type: str | None
    body: str
    status: int


# What a client may send, and what it gets. The body is one the route would accept as JSON
# (`{"quantidade": 5}` is a valid entrada) wherever the declared type lets it be read at all.
REFUSED = [
    Case("malformed json", "application/json", '{"quantidade": ', 400),
    Case("json with a trailing comma", "application/json; charset=utf-8", '{"quantidade": 5,}', 400),
    Case("text/plain", "text/plain", '{"quantidade": 5}', 415),
    Case("form-urlencoded", "application/x-www-form-urlencoded", "quantidade=5", 415),
    Case("multipart without boundary", "multipart/form-data", "quantidade=5", 415),
    Case("multipart with boundary", "multipart/form-data; boundary=XyZ", MULTIPART, 415),
    Case("application/xml", "application/xml", "<entrada><quantidade>5</quantidade></entrada>", 415),
    Case("no content type", None, '{"quantidade": 5}', 415),
    Case("json in latin-1", "application/json; charset=iso-8859-1", '{"quantidade": 5}', 415),
    Case("json-like vendor type", "application/jsonx", '{"quantidade": 5}', 415),
]


def assert_error_shape(status: int, body: Any, case: Case) -> None:
    assert status == case.status, (case.name, status, body)
    assert isinstance(body, dict) and isinstance(body["message"], str) and body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"field", "in", "message", "type"}, error
    if case.status == 415:
        assert body["message"] == "request body must be application/json"
        assert body["errors"][0]["field"] == "Content-Type" and body["errors"][0]["in"] == "header"
        assert body["errors"][0]["type"] == "unsupported_content_type"
    else:
        assert body["message"] == "request body is not valid JSON"
        assert body["errors"][0]["type"] == "json_invalid"


Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class World:
    url: str
    invoke: Invoke  # topology function name, proxy event -> proxy response
    paths: dict[str, str]  # route path -> a concrete path on an existing nota or produto
    produto_id: str


def event(method: str, path: str, body: str | None, content_type: str | None) -> dict[str, Any]:
    """A proxy event carrying exactly this Content-Type (or none) and this text body."""
    built = api_event(method, path, raw_body=body)
    for headers in (built["headers"], built["multiValueHeaders"]):
        headers.pop("Content-Type", None)
        if content_type is not None:
            headers["Content-Type"] = content_type if headers is built["headers"] else [content_type]
    return built


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[World]:
    set_function_env(monkeypatch, database_url)
    dbs = [Database(load(FaturamentoApiSettings)), Database(load(EstoqueApiSettings))]
    apps = {
        "faturamento-api": faturamento.api(load(FaturamentoApiSettings), dbs[0]),
        "estoque-api": estoque.api(load(EstoqueApiSettings), dbs[1]),
    }

    def invoke(function: str, proxy_event: dict[str, Any]) -> dict[str, Any]:
        return apps[function].resolve(proxy_event, lambda_context(function_name=function))

    # An existing produto and nota, so a refusal cannot be a 404 in disguise.
    made = invoke("estoque-api", api_event("POST", "/api/v1/produtos", produto()))
    assert made["statusCode"] == 201, made
    produto_id = response_json(made)["id"]
    made = invoke("faturamento-api", api_event("POST", "/api/v1/notas", nota_body()))
    assert made["statusCode"] == 201, made
    nota_id = response_json(made)["id"]
    paths = {
        route.path: route.path.replace("{id}", nota_id if "/notas/" in route.path else produto_id)
        for route in POST_ROUTES
    }
    yield World(database_url, invoke, paths, produto_id)
    for db in dbs:
        db.close()


def test_the_post_routes_are_the_four_the_api_declares() -> None:
    assert {r.path for r in POST_ROUTES} >= {
        "/api/v1/notas",
        "/api/v1/notas/{id}/cancelamento",
        "/api/v1/produtos",
        "/api/v1/produtos/{id}/entradas",
    }


@pytest.mark.parametrize("route", POST_ROUTES, ids=[r.path for r in POST_ROUTES])
def test_every_unreadable_body_is_refused_before_validation_and_stores_nothing(
    world: World, route: access.Route
) -> None:
    for case in REFUSED:
        # Given the rows and the stock before / When this body is posted to the route
        before = counts(world.url)
        response = world.invoke(route.function, event("POST", world.paths[route.path], case.body, case.content_type))
        # Then a 400 or 415 in the API's error shape, and nothing stored or changed
        assert_error_shape(response["statusCode"], response_json(response), case)
        assert counts(world.url) == before, case.name
    stock = world.invoke("estoque-api", api_event("GET", f"/api/v1/produtos/{world.produto_id}"))
    assert response_json(stock)["quantidade"] == produto()["quantidade"]


def valid_bodies(world: World) -> dict[str, tuple[str, int]]:
    """Per POST route, a JSON body it reads and the answer it gets (a PENDING nota cannot be cancelled,
    so the cancelamento's 409 shows the request got past the body check and its validation)."""
    return {
        "/api/v1/notas": (json.dumps(nota_body()), 201),
        "/api/v1/notas/{id}/cancelamento": ('{"justificativa": "Pedido cancelado pelo cliente"}', 409),
        "/api/v1/produtos": (json.dumps(produto()), 201),
        "/api/v1/produtos/{id}/entradas": ('{"quantidade": 5}', 200),
    }


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON;charset=UTF-8"])
def test_json_with_its_charset_is_read_on_every_post_route(world: World, content_type: str) -> None:
    for route in POST_ROUTES:
        body, status = valid_bodies(world)[route.path]
        response = world.invoke(route.function, event("POST", world.paths[route.path], body, content_type))
        assert response["statusCode"] == status, (route.path, response)


def test_a_post_without_a_body_needs_no_content_type(world: World) -> None:
    # Given a route that needs a body (the cancelamento's justificativa) / When posted bare
    path = world.paths["/api/v1/notas/{id}/cancelamento"]
    response = world.invoke("faturamento-api", event("POST", path, None, None))
    # Then the body check lets it through, and validation says the body is missing, not its type
    assert response["statusCode"] == 422, response
    assert {e["field"] for e in response_json(response)["errors"]} == {"body"}
    response = world.invoke("estoque-api", event("POST", "/api/v1/produtos", None, "application/json"))
    assert response["statusCode"] == 422, response


def test_a_caller_outside_the_routes_groups_is_refused_before_the_body_is_judged(world: World) -> None:
    # Given an auditor (no write group) posting a form / Then 403, as for any other body
    proxy_event = event("POST", "/api/v1/produtos", "sku=A", "application/x-www-form-urlencoded")
    proxy_event["requestContext"]["authorizer"] = {"claims": {**DEFAULT_CLAIMS, "cognito:groups": "auditoria"}}
    assert world.invoke("estoque-api", proxy_event)["statusCode"] == 403


# -- through local mode's gateway -------------------------------------------------------------------


def http_post(port: int, path: str, body: str, content_type: str | None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    connection.putrequest("POST", path)
    if content_type is not None:
        connection.putheader("Content-Type", content_type)
    data = body.encode()
    connection.putheader("Content-Length", str(len(data)))
    connection.endheaders(data)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, json.loads(payload) if payload else None


@pytest.fixture
def gateway_port(world: World) -> Iterator[int]:
    def invoke(function: str, proxy_event: dict[str, Any]) -> dict[str, Any]:
        # The stack's Cognito authorizer, standing in: the caller's claims on an admitted request.
        proxy_event["requestContext"]["authorizer"] = {"claims": DEFAULT_CLAIMS}
        return world.invoke(function, proxy_event)

    port = free_port()
    server = make_server(port, invoke)
    serve_in_thread(server)
    yield port
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("route", POST_ROUTES, ids=[r.path for r in POST_ROUTES])
def test_through_the_gateway_every_body_gets_the_same_answers(
    world: World, gateway_port: int, route: access.Route
) -> None:
    for case in REFUSED:
        before = counts(world.url)
        status, body = http_post(gateway_port, world.paths[route.path], case.body, case.content_type)
        assert_error_shape(status, body, case)
        assert counts(world.url) == before, case.name
    body, expected = valid_bodies(world)[route.path]
    status, answer = http_post(gateway_port, world.paths[route.path], body, "application/json; charset=utf-8")
    assert status == expected, answer


def test_through_nfe_local_a_form_and_a_boundaryless_multipart_are_415(pg_admin_url: str) -> None:
    # Given `nfe local` running, as a developer starts it, and an estoquista's token
    from tests.test_local_mode import start_local

    system = start_local(create_database(pg_admin_url), "--no-eager-publish", "--outbox-interval", "3600")
    try:
        port = int(system.url.rsplit(":", 1)[1])
        token = system.sign_in()
        sku = f"CT-{uuid.uuid4().hex[:6]}"
        for content_type, status in [
            ("multipart/form-data", 415),
            ("application/x-www-form-urlencoded", 415),
            ("text/plain", 415),
            ("application/json", 201),
        ]:
            body = json.dumps(produto(sku=sku)) if status == 201 else f"sku={sku}&nome=P&quantidade=1"
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Content-Type": content_type, "Authorization": token}
            connection.request("POST", "/api/v1/produtos", body=body.encode(), headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            connection.close()
            # Then each non-JSON body is a 415 in the API's error shape; the JSON one is created
            assert response.status == status, (content_type, answer)
            if status == 415:
                assert answer["errors"][0]["field"] == "Content-Type", answer
    finally:
        assert system.stop() == 0
