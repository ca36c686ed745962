"""A local API Gateway: HTTP requests in, REST proxy events to the routed function, responses out.

Like the stack's REST API, every route but the public ones (functions/shared/access.py) goes through
a Cognito authorizer (nfe/local/authorizer.py): a request without a valid ID token is answered 401
here and no function runs; an admitted one carries the token's claims in
`requestContext.authorizer.claims`. Preflights (OPTIONS) are answered here, unauthenticated, with
the headers the stack's MOCK integrations send, and the gateway's own errors (401, 403, 413, 502)
carry the headers its gateway responses declare: both from nfe/cors.py, as the stack's. With a
built console (nfe/local/console.py), every path outside `/api/*` is the distribution's default
behaviour: the console's files, on the same port.

Payloads follow the API's binary media types (`topology.BINARY_MEDIA_TYPES`, which the stack
declares on its RestApi) as API Gateway's REST proxy integration does: see `request_body` and
`response_body`. A function that fails is a bare 502 `{"message": "Internal server error"}`, its
reason in this server's log only.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from functions.shared import access
from nfe import cors, topology
from nfe.local.authorizer import CognitoAuthorizer, Unauthorized
from nfe.local.console import ConsoleSite

# API Gateway's own payload limit; the handlers enforce their tighter 256 KB contract.
MAX_BODY_BYTES = 10 * 1024 * 1024
STAGE = "local"
CORS_ALLOW_HEADERS = cors.allow_headers()
# A gateway made without an allowed origin (tests of the gateway alone): the headers every one of its
# own errors carries. `nfe local` allows its own origin unless told another (--cors-origin).
GATEWAY_RESPONSE_HEADERS = cors.gateway_response_headers(None)


def _route_pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$")


ROUTE_PATTERNS = [(route, _route_pattern(route.path)) for route in topology.ROUTES]


def match_route(method: str, path: str) -> tuple[topology.Route, dict[str, str]] | None:
    for route, pattern in ROUTE_PATTERNS:
        found = pattern.match(path)
        if found and route.method == method:
            return route, found.groupdict()
    return None


def preflight_methods(path: str) -> list[str]:
    """The methods a resource path has, for its OPTIONS answer; empty for an unknown path."""
    methods = {route.method for route, pattern in ROUTE_PATTERNS if pattern.match(path)}
    return sorted(methods | {"OPTIONS"}) if methods else []


def resource_of(path: str) -> str | None:
    """The API Gateway resource (`/api/v1/notas/{id}`) a request path falls on, if any."""
    return next((route.path for route, pattern in ROUTE_PATTERNS if pattern.match(path)), None)


def is_api_path(path: str) -> bool:
    """The distribution's `/api/*` behaviour (and /health, which only local mode exposes at the root)."""
    return path.startswith("/api/") or path in access.PUBLIC_PATHS


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header's value whatever case the client sent its name in (HTTP/2 sends lower case)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def is_binary(media_type: str | None, binary_media_types: Iterable[str] = topology.BINARY_MEDIA_TYPES) -> bool:
    """Whether a media type is one of the API's binary media types, whose entries may be `type/*` or `*/*`."""
    kind = _media_type(media_type)
    if not kind:
        return False
    main = kind.split("/", 1)[0]
    return any(entry in (kind, f"{main}/*", "*/*") for entry in (e.lower() for e in binary_media_types))


def request_body(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """The event's `body` and `isBase64Encoded` for a request body, as API Gateway's REST proxy passes it.

    Per "Content type conversions in API Gateway" (docs.aws.amazon.com/apigateway/latest/
    developerguide/api-gateway-payload-encodings-workflow.html), a request whose Content-Type matches
    none of the API's binaryMediaTypes reaches the integration as a "UTF8-encoded string", whatever
    its bytes; only a matching one is binary, which a Lambda proxy event carries base64-encoded with
    isBase64Encoded true ("Binary media types for REST APIs", api-gateway-payload-encodings.html). The
    same split was measured on a real REST API by ministack's PR #767 (binary by Content-Type, text
    otherwise). What AWS does to bytes that are not UTF-8 in a text payload is not documented; the
    reports of binary uploads made without binary media types describe them corrupted, not refused,
    so they are replaced here by U+FFFD (an inference, not a documented rule): the function gets
    text and answers as it would to any unreadable body.
    """
    if not body:
        return None, False
    if is_binary(content_type):
        return base64.b64encode(body).decode(), True
    return body.decode("utf-8", errors="replace"), False


def response_body(response: Mapping[str, Any], accept: str | None) -> bytes:
    """A proxy response's body as API Gateway sends it to the client.

    A base64 body (`isBase64Encoded: true`) is decoded to its bytes only when the request's first
    Accept media type is one of the API's binary media types ("API Gateway uses the first Accept
    header from clients to determine if a response should return binary media", "Return binary media
    from a Lambda proxy integration", lambda-proxy-binary-media.html); otherwise the client gets the
    base64 text itself, as AWS sends it. So a client that wants the DANFE's bytes sends
    `Accept: application/pdf` first.
    """
    raw = response.get("body") or ""
    first_accept = (accept or "").split(",", 1)[0]
    if response.get("isBase64Encoded") and is_binary(first_accept):
        return base64.b64decode(raw)
    return str(raw).encode()


def response_header_lines(response: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A proxy response's headers as API Gateway sends them: every value of `multiValueHeaders`
    on a line of its own, then each `headers` entry whose name is not among them."""
    multi = {k: list(v) for k, v in (response.get("multiValueHeaders") or {}).items()}
    lines = [(key, str(value)) for key, values in multi.items() for value in values]
    taken = {key.lower() for key in multi}
    lines += [(k, str(v)) for k, v in (response.get("headers") or {}).items() if k.lower() not in taken]
    return lines


def build_event(
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes,
    route: topology.Route,
    path_parameters: dict[str, str],
    source_ip: str = "127.0.0.1",
    claims: dict[str, str] | None = None,
    multi_headers: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) Lambda proxy event, as the real integration sends it."""
    parts = urlsplit(raw_path)
    multi_query = parse_qs(parts.query, keep_blank_values=True)
    text, is_base64 = request_body(body, header(headers, "Content-Type"))
    now = time.time()
    return {
        "resource": route.path,
        "path": parts.path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{STAGE}{parts.path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(now * 1000),
            "accountId": "000000000000",
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": source_ip, "userAgent": header(headers, "User-Agent")},
            **({"authorizer": {"claims": claims}} if claims is not None else {}),
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


Invoker = Callable[[str, dict[str, Any]], dict[str, Any]]


def make_server(
    port: int,
    invoke: Invoker,
    host: str = "127.0.0.1",
    authorizer: CognitoAuthorizer | None = None,
    *,
    cors_origin: str | None = None,
    console: ConsoleSite | None = None,
    log: Callable[[str], None] = print,
) -> ThreadingHTTPServer:
    """`authorizer` None serves every route unauthenticated (tests of the gateway alone); `cors_origin`
    is the one other origin the CORS answers allow (None: none); `console` serves `/` beside `/api/*`;
    `log` gets what a client is not told (why a function failed), like local mode's own lines."""
    gateway_headers = cors.gateway_response_headers(cors_origin)

    class Handler(BaseHTTPRequestHandler):
        server_version = "nfe-local"
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes; with Nagle on, a keep-alive client's delayed ACK
        # held the second back about 40 ms on every response (urllib closes, so it never saw it).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return  # access logs would drown the progress lines

        def _send(self, status: int, headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items() if isinstance(headers, Mapping) else headers:
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            if is_api_path(urlsplit(self.path).path):
                # API Gateway names every answer's request (its access log's requestId).
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            """An error API Gateway makes itself: its gateway response's headers on it (DEFAULT_4XX/5XX)."""
            headers = {"Content-Type": "application/json", **gateway_headers}
            self._send(status, headers, json.dumps(payload).encode())

        def _console(self, path: str) -> None:
            assert console is not None
            if self.command not in ("GET", "HEAD"):
                # CloudFront's default behaviour allows GET, HEAD and OPTIONS only.
                self._send(403, {"Content-Type": "text/plain"}, b"This distribution is not configured to allow it")
                return
            self._send(*console.answer(path))

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._json(413, {"message": "Request Too Long"})
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            if console is not None and not is_api_path(path):
                self._console(path)
                return
            resource = resource_of(path)
            if self.command == "OPTIONS" and resource is not None:
                # The resource's MOCK integration: 200 and its headers, whatever the request's Origin.
                preflight = {"Content-Type": "application/json", **cors.preflight_headers(resource, cors_origin)}
                self._send(200, preflight, b"")
                return
            matched = match_route(self.command, path)
            if matched is None:
                # What API Gateway answers for a path or method it has no route for.
                self._json(403, {"message": "Missing Authentication Token"})
                return
            route, params = matched
            claims = None
            if authorizer is not None and not route.public:
                try:
                    claims = authorizer.authorize(dict(self.headers.items()))
                except Unauthorized:
                    # API Gateway's UNAUTHORIZED gateway response: no reason given, CORS headers on.
                    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": "UnauthorizedException"}
                    self._send(401, {**headers, **gateway_headers}, b'{"message":"Unauthorized"}')
                    return
            multi: dict[str, list[str]] = {}
            for key, value in self.headers.items():
                multi.setdefault(key, []).append(value)
            single = {key: values[-1] for key, values in multi.items()}
            event = build_event(
                self.command, self.path, single, body, route, params, claims=claims, multi_headers=multi
            )
            try:
                response = invoke(route.function, event)
                status = int(response.get("statusCode", 502))
                lines = response_header_lines(response)
                payload = response_body(response, self.headers.get("Accept"))
            except Exception as exc:
                # A function that raised, timed out or answered something that is not a proxy
                # response: API Gateway says no more than this; the reason stays in our log.
                log(f"gateway: {self.command} {path} -> 502: {route.function} failed: {type(exc).__name__}: {exc}")
                self._json(502, {"message": "Internal server error"})
                return
            self._send(status, lines, payload)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    return thread
