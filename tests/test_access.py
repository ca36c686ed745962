"""Who may call what, through the functions (real proxy events with the authorizer's claims, real PostgreSQL).

A table over every route and every kind of caller: each allowed call succeeds and records who made
it; each refused one is a 403 in the API's error shape and stores nothing. Plus the audit trail
(columns, answers, events) and Idempotency-Key scoped by user.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from functions.estoque import bootstrap as estoque
from functions.estoque.settings import EstoqueApiSettings
from functions.faturamento import bootstrap as faturamento
from functions.faturamento.settings import FaturamentoApiSettings, FaturamentoConsumerSettings
from functions.fiscal.model import Emitente
from functions.shared import access
from functions.shared.auth import caller_from_claims, parse_groups
from functions.shared.db import Database
from functions.shared.events import EventName
from functions.shared.settings import load
from nfe import topology
from nfe.local.fiscal_demo import DEMO_EMITENTE, DESTINATARIO_SP, PRODUTO_FISCAL
from tests.conftest import TEST_CORS_ORIGIN, set_function_env
from tests.helpers.api import ApiClient
from tests.helpers.db import counts, one, outbox
from tests.helpers.events import (
    JUSTIFICATIVA,
    autorizada_de,
    claims,
    failed_ids,
    reserva_confirmada_de,
    saga_envelope,
    sqs_event,
)

CALLERS: dict[str, dict[str, str] | None] = {
    "faturamento": claims("faturista@example.com", ["faturamento"]),
    "estoque": claims("estoquista@example.com", ["estoque"]),
    "auditoria": claims("auditor@example.com", ["auditoria"]),
    "faturamento+estoque": claims("admin@example.com", ["faturamento", "estoque"], groups_style="bracket"),
    "no group": claims("ninguem@example.com", []),
    "not signed in": None,
}
SUCCESS = {"GET": 200, "POST": 201}
SUCCESS_OF = {
    ("POST", "/api/v1/notas/{id}/cancelamento"): 202,
    ("POST", "/api/v1/produtos/{id}/entradas"): 200,
    # Admitted, and answered for what it is: this nota has no cancelamento registered at SEFAZ
    ("GET", "/api/v1/notas/{id}/cancelamento/xml"): 404,
}


@dataclass
class Apis:
    notas: ApiClient
    produtos: ApiClient
    db_url: str
    confirm: Callable[[str], None]

    def client(self, route: access.Route) -> ApiClient:
        return self.notas if route.function == "faturamento-api" else self.produtos


@pytest.fixture
def apis(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Apis]:
    set_function_env(monkeypatch, database_url)
    fat_db, est_db = Database(load(FaturamentoApiSettings)), Database(load(EstoqueApiSettings))
    consumer = faturamento.consumer(load(FaturamentoConsumerSettings), fat_db)

    def confirm(nota_id: str) -> None:
        """Through the saga to AUTORIZADA: the stock reserved, then SEFAZ's authorization (a cancelable nota)."""
        payload = reserva_confirmada_de(database_url, nota_id)
        assert (
            failed_ids(consumer.handle(sqs_event([saga_envelope(EventName.RESERVA_CONFIRMADA, payload)]), None)) == []
        )
        autorizada = saga_envelope(EventName.NOTA_FISCAL_AUTORIZADA, autorizada_de(database_url, nota_id))
        assert failed_ids(consumer.handle(sqs_event([autorizada]), None)) == []

    yield Apis(
        ApiClient(faturamento.api(load(FaturamentoApiSettings), fat_db).resolve),
        ApiClient(estoque.api(load(EstoqueApiSettings), est_db).resolve),
        database_url,
        confirm,
    )
    fat_db.close()
    est_db.close()


def nota_body(produto_id: str | None = None) -> dict[str, Any]:
    return {
        "destinatario": DESTINATARIO_SP,
        "items": [{"produtoId": produto_id or str(uuid.uuid4()), "quantidade": 1, "valorUnitario": "1.00"}],
    }


def request_for(route: access.Route, apis: Apis) -> tuple[str, Any]:
    """A valid request for the route, with whatever it needs to exist created first (as admin)."""
    admin = CALLERS["faturamento+estoque"]
    if "/produtos/{id}" in route.path:
        produto = apis.produtos.post(
            "/api/v1/produtos", {"sku": f"S-{uuid.uuid4().hex[:8]}", "nome": "P", "quantidade": 1}, caller=admin
        )
        return route.path.replace("{id}", produto.body["id"]), {"quantidade": 1} if route.method == "POST" else None
    if "/notas/{id}" in route.path:
        nota = apis.notas.post("/api/v1/notas", nota_body(), caller=admin).body["id"]
        apis.confirm(nota)
        return route.path.replace("{id}", nota), JUSTIFICATIVA if route.method == "POST" else None
    if route.path == "/api/v1/notas" and route.method == "POST":
        return route.path, nota_body()
    if route.path == "/api/v1/produtos" and route.method == "POST":
        return route.path, {"sku": f"S-{uuid.uuid4().hex[:8]}", "nome": "P", "quantidade": 1}
    return route.path, None


def allowed(route: access.Route, caller: str) -> bool:
    if route.public:
        return True
    groups = parse_groups((CALLERS[caller] or {}).get("cognito:groups"))
    return bool(route.groups & groups)


CASES = [(route, caller) for route in access.ROUTES for caller in CALLERS]


@pytest.mark.parametrize(
    "raw_body",
    [
        json.dumps({"destinatario": {}}),  # fails validation: a 422 for a faturista
        "{not json",  # a 400 for a faturista
        "x" * (300 * 1024),  # a 413 for a faturista
    ],
    ids=["invalid", "not-json", "too-large"],
)
def test_a_caller_outside_the_group_gets_403_whatever_the_body(apis: Apis, raw_body: str) -> None:
    # Given an estoquista (not in faturamento) and a malformed nota
    before = counts(apis.db_url)
    # When it is posted
    result = apis.notas.call("POST", "/api/v1/notas", raw_body=raw_body, caller=CALLERS["estoque"])
    # Then the group check answers, not the body's validation, and nothing is stored
    assert result.status == 403, result.body
    assert "faturamento" in result.body["message"] and result.body["errors"] == []
    assert counts(apis.db_url) == before
    # And the same body from a faturista is refused for what it is
    own = apis.notas.call("POST", "/api/v1/notas", raw_body=raw_body, caller=CALLERS["faturamento"])
    assert own.status in (400, 413, 422) and own.status != 403


@pytest.mark.parametrize(("route", "caller"), CASES, ids=[f"{r.method} {r.path} as {c}" for r, c in CASES])
def test_every_route_admits_exactly_its_groups(apis: Apis, route: access.Route, caller: str) -> None:
    # Given a valid request for the route, and a caller
    path, body = request_for(route, apis)
    before = counts(apis.db_url)
    # When the caller sends it
    result = apis.client(route).call(route.method, path, body, caller=CALLERS[caller])
    # Then it succeeds if one of the caller's groups is the route's, else 403 (401 unsigned) and nothing is stored
    if allowed(route, caller):
        expected = SUCCESS_OF.get((route.method, route.path), SUCCESS[route.method])
        assert result.status == expected, result.body
        return
    assert result.status == (401 if CALLERS[caller] is None else 403), result.body
    assert set(result.body) == {"message", "errors"} and result.body["errors"] == []
    assert counts(apis.db_url) == before


def test_the_declaration_is_the_topology_and_covers_every_resolver_route() -> None:
    assert topology.ROUTES is access.ROUTES
    assert {"/health"} == access.PUBLIC_PATHS
    url = "postgresql://localhost/none"
    apps: list[APIGatewayRestResolver] = [
        faturamento.api(
            FaturamentoApiSettings(
                database_url=url,
                event_bus_name="x",
                eager_publish=False,
                cors_allow_origin=TEST_CORS_ORIGIN,
                emitente=Emitente.model_validate(DEMO_EMITENTE),
            )
        ),
        estoque.api(
            EstoqueApiSettings(
                database_url=url, event_bus_name="x", eager_publish=False, cors_allow_origin=TEST_CORS_ORIGIN
            )
        ),
    ]
    # Every route a resolver serves, as its OpenAPI document names it (`{id}` style, like API Gateway)
    served = {
        (method.upper(), path)
        for app in apps
        for path, operations in (app.get_openapi_schema().paths or {}).items()
        for method in operations.model_dump(exclude_none=True)
    }
    assert served == {(r.method, r.path) for r in access.ROUTES}


@pytest.mark.parametrize(
    ("rendered", "groups"),
    [
        ("faturamento,estoque", {"faturamento", "estoque"}),
        ("[faturamento estoque]", {"faturamento", "estoque"}),
        ("[auditoria]", {"auditoria"}),
        ("auditoria", {"auditoria"}),
        (["estoque"], {"estoque"}),
        ("", set()),
        (None, set()),
    ],
)
def test_cognito_groups_in_every_shape_api_gateway_renders(rendered: Any, groups: set[str]) -> None:
    assert parse_groups(rendered) == groups


def test_claims_without_sub_are_no_caller() -> None:
    assert caller_from_claims({"email": "x@example.com"}) is None
    assert caller_from_claims(None) is None


def test_a_route_missing_from_the_declaration_is_a_typo_not_an_open_door() -> None:
    with pytest.raises(ValueError, match="either public or open"):
        access.Route("GET", "/api/v1/x", "faturamento-api")


# --- audit: written, returned, carried in the events ---------------------------------------------


def test_a_nota_records_who_emitted_it_and_who_asked_for_its_cancelation(apis: Apis) -> None:
    faturista, outro = CALLERS["faturamento"], CALLERS["faturamento+estoque"]
    assert faturista is not None and outro is not None
    # Given a nota emitted by the faturista
    criada = apis.notas.post("/api/v1/notas", nota_body(), caller=faturista)
    assert criada.status == 201
    assert criada.body["criadaPor"] == {"sub": faturista["sub"], "email": "faturista@example.com"}
    assert criada.body["cancelamentoSolicitadoPor"] is None
    # When another user asks for its cancelation once it is AUTORIZADA
    apis.confirm(criada.body["id"])
    pedido = apis.notas.post(f"/api/v1/notas/{criada.body['id']}/cancelamento", JUSTIFICATIVA, caller=outro)
    assert pedido.status == 202
    # Then both are returned, read back, stored and carried by the events
    lida = apis.notas.get(f"/api/v1/notas/{criada.body['id']}", caller=CALLERS["auditoria"]).body
    assert lida["criadaPor"]["email"] == "faturista@example.com"
    assert lida["cancelamentoSolicitadoPor"] == {"sub": outro["sub"], "email": "admin@example.com"}
    row = one(apis.db_url, "SELECT * FROM faturamento.notas_fiscais WHERE id = %s", (criada.body["id"],))
    assert (row["criada_por_sub"], row["criada_por_email"]) == (faturista["sub"], "faturista@example.com")
    assert row["cancelamento_solicitado_por_email"] == "admin@example.com"
    [criada_evento] = outbox(apis.db_url, "faturamento", "NotaFiscalCriada")
    assert criada_evento["payload"]["payload"]["criadaPor"] == {
        "sub": faturista["sub"],
        "email": "faturista@example.com",
    }
    [pedido_evento] = outbox(apis.db_url, "faturamento", "NotaFiscalCancelamentoSolicitado")
    assert pedido_evento["payload"]["payload"]["solicitadoPor"]["email"] == "admin@example.com"


def test_a_produto_and_an_entrada_record_who_made_them(apis: Apis) -> None:
    estoquista = CALLERS["estoque"]
    assert estoquista is not None
    produto = apis.produtos.post(
        "/api/v1/produtos", {"sku": "AUD-1", "nome": "P", "quantidade": 1, **PRODUTO_FISCAL}, caller=estoquista
    )
    assert produto.body["criadoPor"] == {"sub": estoquista["sub"], "email": "estoquista@example.com"}
    entrada = apis.produtos.post(
        f"/api/v1/produtos/{produto.body['id']}/entradas", {"quantidade": 4}, caller=CALLERS["faturamento+estoque"]
    )
    assert entrada.status == 200
    assert entrada.body["quantidade"] == 5
    assert entrada.body["entrada"]["quantidade"] == 4
    assert entrada.body["entrada"]["registradaPor"]["email"] == "admin@example.com"
    assert entrada.body["criadoPor"]["email"] == "estoquista@example.com"
    row = one(apis.db_url, "SELECT * FROM estoque.entradas WHERE produto_id = %s", (produto.body["id"],))
    assert (row["quantidade"], row["registrada_por_email"]) == (4, "admin@example.com")


def test_rows_from_before_sign_in_read_as_unknown(apis: Apis) -> None:
    # Given a nota and a produto written without audit columns (as every row before V006)
    import psycopg

    with psycopg.connect(apis.db_url, autocommit=True) as conn:
        nota = conn.execute(
            "INSERT INTO faturamento.notas_fiscais (destinatario_documento, destinatario_nome, valor_total) "
            "VALUES ('11222333000181', 'Old', 1) RETURNING id"
        ).fetchone()
        produto = conn.execute(
            "INSERT INTO estoque.produtos (sku, nome, quantidade) VALUES ('OLD-1', 'Old', 1) RETURNING id"
        ).fetchone()
    assert nota is not None and produto is not None
    # Then they read back with null actors
    assert apis.notas.get(f"/api/v1/notas/{nota[0]}").body["criadaPor"] is None
    assert apis.produtos.get(f"/api/v1/produtos/{produto[0]}").body["criadoPor"] is None


# --- Idempotency-Key belongs to its user -----------------------------------------------------------


def test_the_same_idempotency_key_from_two_users_is_two_requests(apis: Apis) -> None:
    faturista = CALLERS["faturamento"]
    outro = CALLERS["faturamento+estoque"]
    key = {"Idempotency-Key": "pedido-1"}
    body = nota_body()
    first = apis.notas.post("/api/v1/notas", body, headers=key, caller=faturista)
    again = apis.notas.post("/api/v1/notas", body, headers=key, caller=faturista)
    other = apis.notas.post("/api/v1/notas", body, headers=key, caller=outro)
    # The same user's retry is the first answer; another user's same key is a request of its own
    assert first.status == again.status == other.status == 201
    assert again.body["id"] == first.body["id"]
    assert other.body["id"] != first.body["id"]
    assert other.body["criadaPor"]["email"] == "admin@example.com"
    assert counts(apis.db_url)["faturamento.notas_fiscais"] == 2
    # And each user's key still guards that user's body
    assert apis.notas.post("/api/v1/notas", nota_body(), headers=key, caller=outro).status == 422
