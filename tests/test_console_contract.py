"""The console's typed clients against docs/openapi.json: the console and the API cannot drift apart.

Each interface in frontend/src/app/core/api-types.ts is named after a schema and must list exactly
its properties, optional exactly where the schema does not require them; StatusNota must be the
schema's enum; every API path the clients call must be a path of the document.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "frontend" / "src" / "app"
SCHEMAS = json.loads((ROOT / "docs" / "openapi.json").read_text())["components"]["schemas"]
PATHS = json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"]
TYPES = (APP / "core" / "api-types.ts").read_text()
INTERFACES = {
    name: dict(re.findall(r"^\s+(\w+)(\??):", body, flags=re.MULTILINE))
    for name, body in re.findall(r"export interface (\w+) \{(.*?)\n\}", TYPES, flags=re.DOTALL)
}


def test_every_body_the_console_reads_or_sends_is_typed() -> None:
    notas = {"NotaIn", "NotaOut", "PaginaNotas", "CancelamentoIn"}
    used = notas | {"ProdutoIn", "ProdutoOut", "PaginaProdutos", "EntradaIn"}
    # Nested ones too: SEFAZ's refusal of the nota (sefaz) or of its cancelamento is typed as its schema says.
    assert used | {"EntradaRegistrada", "ErrorBody", "FieldError", "RespostaSefaz"} <= set(INTERFACES)


@pytest.mark.parametrize("name", sorted(INTERFACES))
def test_interface_matches_its_schema(name: str) -> None:
    assert name in SCHEMAS, f"{name}: no such schema in docs/openapi.json"
    schema = SCHEMAS[name]
    fields = INTERFACES[name]
    assert set(fields) == set(schema["properties"]), name
    required = set(schema.get("required", []))
    optional = {field for field, mark in fields.items() if mark == "?"}
    assert optional == set(schema["properties"]) - required, name


def test_status_union_is_the_schemas_enum() -> None:
    found = re.search(r"export type StatusNota = ([^;]+);", TYPES)
    assert found
    assert set(re.findall(r"'(\w+)'", found.group(1))) == set(SCHEMAS["StatusNota"]["enum"])


def test_client_paths_are_api_paths() -> None:
    for client in ("notas/notas-api.ts", "produtos/produtos-api.ts"):
        source = (APP / client).read_text()
        (base,) = set(re.findall(r"/api/v1/\w+", source))
        suffixes = re.findall(r"\$\{this\.base\}(/[^`]*)`", source)
        for suffix in ["", *suffixes]:
            path = base + re.sub(r"\$\{encodeURIComponent\(id\)\}", "{id}", suffix)
            assert path in PATHS, f"{client}: {path} is not in docs/openapi.json"


def test_downloads_ask_first_for_the_media_type_the_api_declares() -> None:
    # A document is fetched as a blob, not JSON; its first Accept must be the 200's media type, since
    # API Gateway returns a binary body as bytes only when the first Accept is a binary media type.
    source = (APP / "notas" / "notas-api.ts").read_text()
    downloads = re.findall(
        r"\$\{this\.base\}(/[^`]*)`,\s*\{\s*responseType: 'blob',\s*headers: \{ Accept: '([^',]+)", source
    )
    # The nfeProc (or NF-e), the DANFE and the cancelamento's procEventoNFe.
    assert len(downloads) == source.count("responseType: 'blob'") == 3
    for suffix, accept in downloads:
        path = "/api/v1/notas" + re.sub(r"\$\{encodeURIComponent\(id\)\}", "{id}", suffix)
        content = PATHS[path]["get"]["responses"]["200"]["content"]
        assert accept in content and accept != "application/json", f"{path}: Accept {accept}, API {list(content)}"
