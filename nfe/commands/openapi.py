"""`nfe openapi [--check]`: write docs/openapi.json, the HTTP API of both services.

Each service's Powertools resolver (built with `enable_validation=True`) describes its own routes;
the two documents are merged with Powertools' OpenAPIMerge into one API, as API Gateway serves them
under one stage. Building the resolvers connects to nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
TITLE = "NF-e saga API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Faturamento (notas fiscais) and Estoque (produtos) behind one API Gateway REST API. JSON bodies are "
    "camelCase; money is a decimal string with at most 2 decimals. Errors share one body: "
    '`{"message", "errors": [{"field", "in", "message", "type"}]}`; bad input is 400 (unreadable JSON), '
    "413 (body over 256 KB), 415 (not JSON) or 422. Every route but /health needs a Cognito ID token in the "
    "`Authorization` header (401 from API Gateway without a valid one); a signed-in user outside the groups a "
    "route admits (`x-nfe-groups`) gets 403."
)
SECURITY_SCHEME = "cognitoIdToken"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("openapi", help="write docs/openapi.json from the services' Powertools resolvers")
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH, help="file (default: docs/openapi.json)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file is stale")
    parser.set_defaults(func=run)


def _service_documents() -> list[dict[str, Any]]:
    from functions.estoque import bootstrap as estoque
    from functions.estoque.settings import EstoqueApiSettings
    from functions.faturamento import bootstrap as faturamento
    from functions.faturamento.settings import FaturamentoApiSettings
    from functions.fiscal.model import Emitente
    from nfe.local.fiscal_demo import DEMO_EMITENTE

    # Placeholder settings: the Database connects lazily, and documenting routes never uses it;
    # nor the allowed origin, which the document does not name.
    url = "postgresql://localhost/openapi"
    origin = "https://console.example.com"
    apps = [
        faturamento.api(
            FaturamentoApiSettings(
                database_url=url,
                event_bus_name="openapi",
                eager_publish=False,
                cors_allow_origin=origin,
                emitente=Emitente.model_validate(DEMO_EMITENTE),
            )
        ),
        estoque.api(
            EstoqueApiSettings(
                database_url=url, event_bus_name="openapi", eager_publish=False, cors_allow_origin=origin
            )
        ),
    ]
    return [app.get_openapi_schema().model_dump(mode="json", by_alias=True, exclude_none=True) for app in apps]


_ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
_POWERTOOLS_ERROR_SCHEMAS = ("HTTPValidationError", "ResponseValidationError")


def _errors_as_served(doc: dict[str, Any]) -> None:
    """Describe errors as functions.shared.api answers them, not with Powertools' default bodies.

    Powertools documents a 422 `HTTPValidationError` on every validated route and a 500
    `ResponseValidationError`; our handlers answer both with ErrorBody, and a route without
    inputs (/health) cannot answer 422 at all.
    """
    for operations in doc["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            has_inputs = bool(operation.get("parameters") or operation.get("requestBody"))
            for code in list(responses):
                schema = responses[code].get("content", {}).get("application/json", {}).get("schema", {})
                if schema.get("$ref", "").rsplit("/", 1)[-1] in _POWERTOOLS_ERROR_SCHEMAS:
                    if code == "422" and not has_inputs:
                        del responses[code]
                        continue
                    description = "Internal error" if code == "500" else responses[code]["description"]
                    responses[code] = {
                        "description": description,
                        "content": {"application/json": {"schema": _ERROR_BODY}},
                    }
            operation["responses"] = dict(sorted(responses.items()))


def _security_as_served(doc: dict[str, Any]) -> None:
    """Which routes need a token and which groups each admits, from functions/shared/access.py."""
    from functions.shared.access import route_for

    doc.setdefault("components", {})["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "The user pool's ID token, bare or as `Bearer <token>` (`nfe login` prints one)",
        }
    }
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            route = route_for(method, path)
            if route is None:
                raise ValueError(f"{method.upper()} {path} is not declared in functions/shared/access.py")
            if route.public:
                operation["security"] = []
            else:
                operation["security"] = [{SECURITY_SCHEME: []}]
                operation["x-nfe-groups"] = sorted(route.groups)


def _drop_unreferenced_schemas(doc: dict[str, Any]) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    while True:
        text = json.dumps({k: v for k, v in doc.items() if k != "components"}) + json.dumps(schemas)
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def document() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

    documents = _service_documents()
    # Shared models (ErrorBody, ...) appear in both; a name meaning two different things would be a bug.
    seen: dict[str, Any] = {}
    for doc in documents:
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            if name in seen and seen[name] != schema:
                raise ValueError(f"component schema {name!r} differs between the services")
            seen[name] = schema
    merge = OpenAPIMerge(title=TITLE, version=VERSION, description=DESCRIPTION, on_conflict="error")
    for doc in documents:
        merge.add_schema(doc)
    merged: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    _errors_as_served(merged)
    _security_as_served(merged)
    _drop_unreferenced_schemas(merged)
    return merged


def render() -> str:
    return json.dumps(document(), indent=2) + "\n"


def run(args: argparse.Namespace) -> int:
    path: Path = args.out
    text = render()
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            print(f"nfe openapi: {path} is stale; run `nfe openapi`", file=sys.stderr)
            return 1
        print(f"{path}: up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} ({len(document()['paths'])} paths)")
    return 0
