"""Local mode's gateway where a client could tell it from API Gateway's REST proxy integration: the
caller's user agent whatever the header's case, request bodies as text unless their Content-Type is
one of the API's binary media types, base64 answers decoded for a client that accepts them, and a
failed function's bare 502. The handler runs in a real local-mode container
(tests/fixtures/proxy_handlers.py), so the event and the answer cross the same JSON pipe as the
real functions'."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator

import pytest

from nfe import topology
from nfe.local.containers import runtime_environment
from nfe.local.gateway import build_event, is_binary, make_server, request_body, serve_in_thread
from nfe.local.lambda_runtime import FunctionRuntime
from nfe.pgserver import free_port
from nfe.plan import plan
from tests.fixtures.proxy_handlers import PDF

PROXY = topology.Function("proxy-fixture", "platform", "tests.fixtures.proxy_handlers.handler", None, "api")
ROUTE = next(r for r in topology.ROUTES if (r.method, r.path) == ("POST", "/api/v1/notas"))
NOT_UTF8 = b'{"nome": "Jo\xe3o"}'  # Latin-1 "João": the byte 0xE3 starts no valid UTF-8 sequence here


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[int, list[str]]]:
    env = runtime_environment(PROXY, "proxy-fixture-local", region="us-east-1", xray_daemon=None, memory_mb=128)
    runtime = FunctionRuntime(PROXY, env, concurrency=2, timeout_seconds=10)
    logged: list[str] = []
    port = free_port()
    server = make_server(port, lambda function, event: runtime.invoke(event), log=logged.append)
    serve_in_thread(server)
    yield port, logged
    server.shutdown()
    server.server_close()
    runtime.shutdown()


def send(port: int, body: bytes, headers: list[tuple[str, str]]) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    connection.putrequest("POST", "/api/v1/notas", skip_accept_encoding=True)
    for key, value in headers:
        connection.putheader(key, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


# -- requestContext.identity.userAgent ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["User-Agent", "user-agent", "USER-AGENT"])
def test_the_user_agent_reaches_the_identity_whatever_the_header_case(
    gateway: tuple[int, list[str]], name: str
) -> None:
    # Given a client that sends the header in this case (HTTP/2 clients send it lower-cased)
    port, _ = gateway
    # When it calls a route
    status, _, data = send(port, b"{}", [(name, "h2-client/1.0"), ("Content-Type", "application/json")])
    # Then the function sees it in requestContext.identity, as API Gateway fills it
    assert status == 200
    assert json.loads(data)["userAgent"] == "h2-client/1.0"


def test_without_a_user_agent_the_identity_has_none() -> None:
    event = build_event("POST", "/api/v1/notas", {"Content-Type": "application/json"}, b"{}", ROUTE, {})
    assert event["requestContext"]["identity"]["userAgent"] is None


# -- request bodies: text unless the Content-Type is a binary media type -----------------------------


def test_a_body_that_is_not_utf8_arrives_as_text_when_its_type_is_not_binary(gateway: tuple[int, list[str]]) -> None:
    # Given Latin-1 bytes declared as JSON (no binary media type matches application/json)
    port, _ = gateway
    # When they are posted
    status, _, data = send(port, NOT_UTF8, [("Content-Type", "application/json")])
    # Then the function gets text, not base64: the undecodable byte replaced, the rest intact
    echoed = json.loads(data)
    assert status == 200
    assert echoed["isBase64Encoded"] is False
    assert echoed["body"] == '{"nome": "Jo\ufffdo"}'


@pytest.mark.parametrize("content_type", ["application/pdf", "Application/PDF", "application/pdf; name=danfe.pdf"])
def test_a_body_whose_type_is_a_binary_media_type_arrives_base64_encoded(
    gateway: tuple[int, list[str]], content_type: str
) -> None:
    # Given the API's binary media type (the DANFE's), in any case and with parameters
    assert "application/pdf" in topology.BINARY_MEDIA_TYPES
    port, _ = gateway
    # When a body of that type is posted / Then the function gets its exact bytes, base64-encoded
    status, _, data = send(port, PDF, [("Content-Type", content_type)])
    echoed = json.loads(data)
    assert status == 200 and echoed["isBase64Encoded"] is True
    assert base64.b64decode(echoed["body"]) == PDF


def test_valid_utf8_text_of_a_binary_type_is_still_base64_and_an_empty_body_is_none() -> None:
    assert request_body(b"plain ascii", "application/pdf") == (base64.b64encode(b"plain ascii").decode(), True)
    assert request_body(b"", "application/pdf") == (None, False)
    assert request_body("ação".encode(), "text/plain") == ("ação", False)


@pytest.mark.parametrize(
    ("media_type", "entries", "binary"),
    [
        ("application/pdf", ("application/pdf",), True),
        ("application/json", ("application/pdf",), False),
        ("image/png", ("image/*",), True),
        ("text/plain", ("*/*",), True),
        ("application/pdf", (), False),
        (None, ("application/pdf",), False),
        ("*/*", ("application/pdf",), False),  # a client's wildcard is not the API's binary type
    ],
)
def test_binary_media_type_matching(media_type: str | None, entries: tuple[str, ...], binary: bool) -> None:
    assert is_binary(media_type, entries) is binary


# -- responses: base64 answers ----------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["application/pdf", "application/pdf, application/json;q=0.9"])
def test_a_base64_answer_is_sent_as_its_bytes_to_a_client_that_accepts_the_binary_type(
    gateway: tuple[int, list[str]], accept: str
) -> None:
    # Given a function that answers a PDF base64-encoded with isBase64Encoded true
    port, _ = gateway
    # When the client's first Accept type is the binary media type
    status, headers, data = send(port, b"pdf", [("Content-Type", "text/plain"), ("Accept", accept)])
    # Then it gets the decoded bytes, byte for byte, with the function's Content-Type
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert data == PDF
    assert headers["content-length"] == str(len(PDF))


@pytest.mark.parametrize("accept", [None, "application/json, application/pdf", "*/*"])
def test_a_base64_answer_stays_base64_text_for_any_other_first_accept(
    gateway: tuple[int, list[str]], accept: str | None
) -> None:
    # Given the same answer / When the first Accept type is not a binary media type (or there is none)
    port, _ = gateway
    headers = [("Content-Type", "text/plain")] + ([("Accept", accept)] if accept else [])
    status, _, data = send(port, b"pdf", headers)
    # Then API Gateway passes the base64 text through, and so does local mode
    assert status == 200
    assert data == base64.b64encode(PDF)


# -- a failed function ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"raise", "RuntimeError: a detail only the operator may read"), (b"not a proxy response", "ValueError")],
)
def test_a_failed_function_is_a_bare_502_and_the_reason_stays_in_the_log(
    gateway: tuple[int, list[str]], body: bytes, reason: str
) -> None:
    # Given a function that raises, or answers something that is not a proxy response
    port, logged = gateway
    # When it is called
    status, headers, data = send(port, body, [("Content-Type", "text/plain")])
    # Then the client gets exactly API Gateway's answer, and only local mode's log says why
    assert status == 502
    assert json.loads(data) == {"message": "Internal server error"}
    assert headers["content-type"] == "application/json"
    assert any("502" in line and reason in line and ROUTE.function in line for line in logged), logged


# -- the stack declares what local mode's gateway assumes ---------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stacks_rest_api_declares_the_binary_media_types_local_mode_uses(stack: str) -> None:
    # Given the program planned under mocks (tests/test_stack_properties.py's way)
    (api,) = plan(stack).of_type("aws:apigateway/restApi:RestApi")
    # Then the RestApi treats the DANFE's type as binary, the same tuple the gateway above reads
    assert api.inputs["binaryMediaTypes"] == ["application/pdf"] == list(topology.BINARY_MEDIA_TYPES)
