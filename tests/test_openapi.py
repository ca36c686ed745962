"""docs/openapi.json: generated from the Powertools resolvers, complete, and true of the handlers.

The last test lets schemathesis generate requests from the committed document (valid ones and
deliberately invalid ones), sends each to the real handlers as an API Gateway event against a real
PostgreSQL, and checks that no request gets a 500 and that every answer is one the document
declares, with a body matching the declared schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from functions.estoque import bootstrap as estoque
from functions.estoque.settings import EstoqueApiSettings
from functions.faturamento import bootstrap as faturamento
from functions.faturamento.settings import FaturamentoApiSettings
from functions.shared.db import Database
from functions.shared.settings import load
from nfe import topology
from nfe.cli import main
from nfe.commands import openapi
from tests.conftest import set_function_env
from tests.helpers.events import FakeLambdaContext, api_event, response_json

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def committed() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return doc


def test_committed_document_is_current() -> None:
    # Given the resolvers as the code defines them / When the document is rendered
    # Then it is byte for byte the committed file (run `nfe openapi` after changing a route or model)
    assert COMMITTED.read_text(encoding="utf-8") == openapi.render()


def test_check_flag_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a stale copy / When checked / Then exit 1; after writing, the check passes
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    assert main(["openapi", "--out", str(stale), "--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert main(["openapi", "--out", str(stale)]) == 0
    assert main(["openapi", "--out", str(stale), "--check"]) == 0


def test_document_covers_exactly_the_topology_routes() -> None:
    # Given the routes API Gateway serves / Then each is documented, and nothing else is
    documented = {(method.upper(), path) for path, ops in committed()["paths"].items() for method in ops}
    assert documented == {(r.method, r.path) for r in topology.ROUTES}


def test_every_error_is_documented_with_the_error_body() -> None:
    doc = committed()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for code, response in op["responses"].items():
                if int(code) >= 400 and not (path == "/health" and code == "503"):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorBody", (method, path, code)
    header = doc["paths"]["/api/v1/notas"]["post"]["parameters"][0]
    assert header["in"] == "header" and header["name"].lower() == "idempotency-key"
    assert doc["paths"]["/api/v1/notas"]["post"]["responses"].keys() >= {"201", "400", "409", "413", "415", "422"}


# --- the document is true of the handlers ---------------------------------------------------


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[dict[str, Any]]:
    """Route function name -> that function's resolver, as API Gateway would dispatch."""
    set_function_env(monkeypatch, database_url)
    fat_db, est_db = Database(load(FaturamentoApiSettings)), Database(load(EstoqueApiSettings))
    yield {
        "faturamento-api": faturamento.api(load(FaturamentoApiSettings), fat_db),
        "estoque-api": estoque.api(load(EstoqueApiSettings), est_db),
    }
    fat_db.close()
    est_db.close()


SCHEMA = schemathesis.openapi.from_dict(committed())


def _operations() -> list[Any]:
    operations = []
    for result in SCHEMA.get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()  # the document itself is invalid
        operations.append(result.ok())
    return operations


OPERATIONS = _operations()
FUNCTION_OF = {(r.method, r.path): r.function for r in topology.ROUTES}


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # Responses reference components; make the document the root they resolve against.
    return jsonschema.Draft202012Validator({**schema, "components": committed()["components"]})


@pytest.mark.parametrize("operation", OPERATIONS, ids=[f"{op.method.upper()} {op.path}" for op in OPERATIONS])
def test_generated_requests_get_documented_answers_and_never_500(handlers: dict[str, Any], operation: Any) -> None:
    function = FUNCTION_OF[(operation.method.upper(), operation.path)]
    app = handlers[function]
    documented = operation.definition.raw["responses"]
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        # Given a generated request, sent the way API Gateway sends it
        path = operation.path
        for name, value in (case.path_parameters or {}).items():
            path = path.replace("{" + name + "}", str(value))
        body = None if isinstance(case.body, schemathesis.core.NotSet) else case.body
        raw = body if isinstance(body, bytes) else None
        headers = {k: str(v) for k, v in (case.headers or {}).items()}
        query = {k: [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in (case.query or {}).items()}
        event = api_event(
            operation.method.upper(), path, None if raw else body, headers=headers, query=query, raw_body=raw
        )
        # When the handler answers
        response = app.resolve(event, FakeLambdaContext())
        status = str(response["statusCode"])
        # Then never a 500, always a documented status, and a body of the documented shape
        assert status != "500", response
        if status == "404" and response_json(response)["message"] == "no such route":
            # A generated path parameter containing "/" leaves the route; API Gateway would not send it.
            return
        assert status in documented, (status, response)
        schema = documented[status].get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            _validator(schema).validate(response_json(response))

    check()
