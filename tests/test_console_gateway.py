"""Local mode's gateway toward browsers, as the deployed API behaves: preflights as the MOCK
integrations answer them, the gateway responses' CORS headers on its own errors, every value of a
repeated header kept, and the built console served at `/` beside `/api/*`."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nfe import cors
from nfe.local.console import IMMUTABLE, NO_CACHE, ConsoleSite
from nfe.local.gateway import make_server, response_header_lines, serve_in_thread
from nfe.pgserver import free_port

ORIGIN = "http://127.0.0.1:4200"


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = False

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("handler crashed")
        self.events.append(event)
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json", "X-One": "a"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-One": ["b", "c"]},
            "body": "{}",
        }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> ConsoleSite:
    root = tmp_path_factory.mktemp("browser")
    (root / "index.html").write_text("<!doctype html><nfe-root></nfe-root>")
    (root / "ajuda").mkdir()
    (root / "ajuda" / "index.html").write_text("<p>ajuda</p>")
    (root / "main-ABCD1234.js").write_text("1")
    return ConsoleSite(root, {"apiBaseUrl": "", "cognitoEndpoint": "http://127.0.0.1:5000/", "userPoolClientId": "c"})


@pytest.fixture(scope="module")
def server(site: ConsoleSite) -> Iterator[tuple[int, Recorder]]:
    recorder = Recorder()
    port = free_port()
    http_server = make_server(port, recorder, cors_origin=ORIGIN, console=site)
    serve_in_thread(http_server)
    yield port, recorder
    http_server.shutdown()


def call(port: int, method: str, path: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest(method, path)
    for key, value in headers or []:
        connection.putheader(key, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, response.getheaders(), data


@pytest.mark.parametrize(
    ("path", "resource"),
    [("/api/v1/notas", "/api/v1/notas"), ("/api/v1/notas/x1/cancelamento", "/api/v1/notas/{id}/cancelamento")],
)
def test_preflights_answer_as_the_mock_integration(server: tuple[int, Recorder], path: str, resource: str) -> None:
    port, recorder = server
    before = len(recorder.events)
    status, headers, body = call(
        port, "OPTIONS", path, [("Origin", "http://elsewhere"), ("Access-Control-Request-Method", "POST")]
    )
    assert status == 200 and body == b""
    assert {k: v for k, v in headers if k.startswith("Access-Control")} == cors.preflight_headers(resource, ORIGIN)
    assert len(recorder.events) == before  # no function ran


@pytest.mark.parametrize(
    ("method", "path", "extra", "status"),
    [("GET", "/api/v1/nada", [], 403), ("POST", "/api/v1/notas", [("Content-Length", str(11 * 1024 * 1024))], 413)],
)
def test_the_gateways_own_errors_carry_its_gateway_response_headers(
    server: tuple[int, Recorder], method: str, path: str, extra: list[tuple[str, str]], status: int
) -> None:
    port, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest(method, path)
    for key, value in extra:
        connection.putheader(key, value)
    connection.endheaders()
    response = connection.getresponse()
    headers = dict(response.getheaders())
    assert response.status == status and json.loads(response.read())["message"]
    assert {k: headers[k] for k in cors.gateway_response_headers(ORIGIN)} == cors.gateway_response_headers(ORIGIN)
    assert headers["x-amzn-RequestId"]


def test_a_crashed_function_is_a_502_with_the_same_headers(server: tuple[int, Recorder]) -> None:
    port, recorder = server
    recorder.fail = True
    try:
        status, headers, _ = call(port, "GET", "/api/v1/notas")
    finally:
        recorder.fail = False
    assert status == 502
    assert dict(headers)["Access-Control-Allow-Origin"] == ORIGIN


def test_repeated_headers_keep_every_value_both_ways(server: tuple[int, Recorder]) -> None:
    port, recorder = server
    status, headers, _ = call(port, "GET", "/api/v1/notas", [("X-Tag", "one"), ("X-Tag", "two")])
    assert status == 200
    event = recorder.events[-1]
    assert event["multiValueHeaders"]["X-Tag"] == ["one", "two"] and event["headers"]["X-Tag"] == "two"
    # The response: each multiValueHeaders value on its own line; a name there replaces `headers`' value
    assert [v for k, v in headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert [v for k, v in headers if k == "X-One"] == ["b", "c"]


def test_response_header_lines_merge_as_api_gateway_does() -> None:
    response = {"headers": {"A": "1", "B": "2"}, "multiValueHeaders": {"b": ["3", "4"]}}
    assert response_header_lines(response) == [("b", "3"), ("b", "4"), ("A", "1")]


def test_the_console_is_served_beside_the_api(server: tuple[int, Recorder]) -> None:
    port, _ = server
    status, headers, body = call(port, "GET", "/notas/123")
    assert status == 200 and b"nfe-root" in body and dict(headers)["Cache-Control"] == NO_CACHE
    assert "frame-ancestors 'none'" in dict(headers)["Content-Security-Policy"]
    assert "http://127.0.0.1:5000" in dict(headers)["Content-Security-Policy"]  # sign-in at the emulator
    assert call(port, "GET", "/ajuda")[2] == b"<p>ajuda</p>"  # a prerendered page
    status, headers, _ = call(port, "GET", "/main-ABCD1234.js")
    assert dict(headers)["Cache-Control"] == IMMUTABLE and dict(headers)["Content-Type"] == "text/javascript"
    status, _, body = call(port, "GET", "/config.json")
    assert json.loads(body)["userPoolClientId"] == "c"
    assert call(port, "GET", "/../../etc/passwd.txt")[0] == 403
    assert call(port, "POST", "/notas")[0] == 403
    status, _, body = call(port, "HEAD", "/")
    assert status == 200 and body == b""


def test_without_a_build_it_says_how_to_make_one(tmp_path: Path) -> None:
    status, headers, body = ConsoleSite(tmp_path / "missing").answer("/")
    assert status == 404 and b"make build" in body and headers["Content-Type"].startswith("text/html")
