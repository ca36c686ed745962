"""The API fuzzed over HTTP: schemathesis requests from docs/openapi.json against `nfe local`.

Valid and deliberately invalid requests (schemathesis' positive and negative generation) go through
the local API gateway to the real handlers and PostgreSQL, as a client's would. Promises checked on
every answer: never a 5xx; every error has a JSON body with a message; a refused request stores
nothing. Publishing is off for the run, so the only writes are the requests' own and row counts
before and after each request tell exactly what it stored.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL
from tests.conftest import create_database
from tests.helpers.db import STORED_TABLES
from tests.test_local_mode import LocalProcess, start_local
from tests.test_openapi import committed

MIN_REQUESTS = 1000
VALID_CPF = "529.982.247-25"
# Richer operations get more examples; ones with nothing to vary run out of distinct cases early.
EXAMPLES = {
    ("POST", "/api/v1/notas"): 260,
    ("POST", "/api/v1/produtos"): 200,
    ("GET", "/api/v1/notas"): 150,
    ("GET", "/api/v1/produtos"): 120,
    ("POST", "/api/v1/produtos/{id}/entradas"): 120,
    ("POST", "/api/v1/notas/{id}/cancelamento"): 80,
    ("GET", "/api/v1/notas/{id}"): 80,
    ("GET", "/api/v1/notas/{id}/xml"): 30,
    ("GET", "/api/v1/notas/{id}/danfe"): 30,
    ("GET", "/api/v1/notas/{id}/cancelamento/xml"): 20,
    ("GET", "/api/v1/produtos/{id}"): 80,
    ("GET", "/health"): 20,
}
COUNT_ALL = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in STORED_TABLES)


@pytest.fixture(scope="module")
def local(pg_admin_url: str) -> Iterator[LocalProcess]:
    system = start_local(create_database(pg_admin_url), "--no-eager-publish", "--outbox-interval", "3600")
    yield system
    assert system.stop() == 0


@dataclass
class Ledger:
    """What the run sent and got, and what the database says each request stored."""

    conn: psycopg.Connection[Any]
    sent: int = 0
    unsendable: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    notas: set[str] = field(default_factory=set)
    produtos: set[str] = field(default_factory=set)
    cancelamentos: int = 0
    entradas: int = 0

    last: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        # Nothing writes between requests (publishing is off), so one request's "after" is the
        # next one's "before".
        self.last = {name: n for name, n in self.conn.execute(COUNT_ALL).fetchall()}
        return self.last


def seeded_ids(local: LocalProcess) -> dict[str, list[str]]:
    """A few existing notas and produtos, so generated requests reach more than 404s."""
    produtos = [
        local.api.expect(
            201, "POST", "/api/v1/produtos", {"sku": f"FUZZ-{i}", "nome": "Fuzz", "quantidade": 5, **PRODUTO_FISCAL}
        )["id"]
        for i in range(3)
    ]
    notas = [
        local.api.expect(
            201,
            "POST",
            "/api/v1/notas",
            {
                "destinatario": {**DESTINATARIO_SP, "documento": "52998224725", "nome": "Fulano"},
                "items": [{"produtoId": p, "quantidade": 1, "valorUnitario": "1.00"}],
            },
        )["id"]
        for p in produtos
    ]
    # One of them CONFIRMADA, as its saga would leave it, so a cancelamento can be accepted too.
    with psycopg.connect(local.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE faturamento.notas_fiscais SET status = 'CONFIRMADA', confirmada_em = now() WHERE id = %s",
            (notas[0],),
        )
    return {"/api/v1/notas": notas, "/api/v1/produtos": produtos}


def operations() -> list[Any]:
    schema = schemathesis.openapi.from_dict(committed())
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        found.append(result.ok())
    return found


def check_answer(case: Any, response: Any, before: dict[str, int], ledger: Ledger) -> None:
    method, path = case.operation.method.upper(), case.operation.path
    status = response.status_code
    ledger.statuses[status] += 1
    # Never a server error, whatever was sent
    assert status < 500, (method, path, status, response.content[:500])
    after = ledger.counts()
    if status >= 400:
        # An error is JSON with a message, and stored nothing
        assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
        body = json.loads(response.content)
        assert isinstance(body, dict) and isinstance(body.get("message"), str), body
        assert after == before, (method, path, status, {t: after[t] - before[t] for t in after})
        return
    body = json.loads(response.content)
    if (method, path) == ("POST", "/api/v1/notas"):
        ledger.notas.add(body["id"])
    elif (method, path) == ("POST", "/api/v1/produtos"):
        ledger.produtos.add(body["id"])
    elif path == "/api/v1/notas/{id}/cancelamento":
        ledger.cancelamentos += 1
    elif path == "/api/v1/produtos/{id}/entradas":
        # A stock entry adds its audit row and nothing else
        ledger.entradas += 1
        assert {t: after[t] - before[t] for t in after if after[t] != before[t]} == {"estoque.entradas": 1}
    elif method == "GET":
        # Reads add no row
        assert after == before, (method, path, status)


def fuzz(operation: Any, pool: list[str] | None, base_url: str, session: requests.Session, ledger: Ledger) -> None:
    """Send one operation's generated requests, positive and negative, checking each answer."""
    method, path = operation.method.upper(), operation.path
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES[(method, path)],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, existing_index=st.integers(min_value=0, max_value=5), real_documento=st.booleans())
    def send(case: Any, existing_index: int, real_documento: bool) -> None:
        # Given a generated request; half of the well-formed ids are swapped for existing ones,
        # and half of the destinatarios are replaced by a valid one with a CPF (random digits almost
        # never have valid check digits), so requests get past 404 and 422 too
        if pool and case.path_parameters and existing_index < len(pool):
            try:
                uuid.UUID(str(case.path_parameters.get("id")))
                case.path_parameters["id"] = pool[existing_index]
            except ValueError:
                pass
        if real_documento and isinstance(case.body, dict) and isinstance(case.body.get("destinatario"), dict):
            # A whole valid destinatário: random text almost never forms a município of its UF
            case.body["destinatario"] = {**DESTINATARIO_SP, "documento": VALID_CPF}
        before = ledger.last
        # When it is sent over HTTP to local mode
        try:
            response = case.call(base_url=base_url, session=session, timeout=15)
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError) as exc:
            # Bytes no HTTP client can put on the wire (a header with a newline, say)
            ledger.unsendable[type(exc).__name__] += 1
            return
        ledger.sent += 1
        # Then the answer keeps the API's promises
        check_answer(case, response, before, ledger)

    send()


def test_1000_generated_requests_never_5xx_errors_are_json_and_refusals_store_nothing(local: LocalProcess) -> None:
    existing = seeded_ids(local)
    session = requests.Session()
    # Signed in as admin@example.com (faturamento and estoque), so every route can accept a request.
    session.headers["Authorization"] = local.sign_in()
    with psycopg.connect(local.database_url, autocommit=True) as conn:
        ledger = Ledger(conn)
        start = ledger.counts()
        for operation in operations():
            collection = operation.path.split("/{id}")[0]
            fuzz(operation, existing.get(collection), local.url, session, ledger)
        end = ledger.counts()
    # And the run was as big as promised, and the rows stored are exactly the accepted requests'
    assert ledger.sent >= MIN_REQUESTS, (ledger.sent, dict(ledger.unsendable))
    stored = {t: end[t] - start[t] for t in end}
    assert stored["faturamento.notas_fiscais"] == len(ledger.notas)
    assert stored["estoque.produtos"] == len(ledger.produtos)
    assert stored["estoque.entradas"] == ledger.entradas
    assert stored["faturamento.eventos_outbox"] == len(ledger.notas) + ledger.cancelamentos
    # (each produto announced to Faturamento; nothing relayed, so nothing reserved)
    assert stored["estoque.eventos_outbox"] == len(ledger.produtos)
    assert stored["estoque.reservas"] == 0
    # (and the run exercised both sides: accepted and refused requests)
    assert len(ledger.notas) > 0 and len(ledger.produtos) > 0
    assert sum(n for s, n in ledger.statuses.items() if 400 <= s < 500) > MIN_REQUESTS // 4
    print(
        f"\nfuzz: {ledger.sent} requests over HTTP, answers {dict(sorted(ledger.statuses.items()))}, "
        f"unsendable {dict(ledger.unsendable)}; stored {len(ledger.notas)} notas, {len(ledger.produtos)} produtos, "
        f"{ledger.cancelamentos} cancelamentos"
    )
