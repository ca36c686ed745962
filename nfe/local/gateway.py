"""A local API Gateway: HTTP requests in, REST proxy events to the routed function, responses out.

Like the stack's REST API, every route but the public ones (functions/shared/access.py) goes through
a Cognito authorizer (nfe/local/authorizer.py): a request without a valid ID token is answered 401
here and no function runs; an admitted one carries the token's claims in
`requestContext.authorizer.claims`. Preflights (OPTIONS) are answered here, unauthenticated, with
the headers the stack's MOCK integrations send, and the gateway's own errors (401, 403, 413, 502)
carry the headers its gateway responses declare: both from nfe/cors.py, as the stack's. With a
built console (nfe/local/console.py), every path outside `/api/*` is the distribution's default
behaviour: the console's files, on the same port.
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
    try:
        text: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
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
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent")},
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
) -> ThreadingHTTPServer:
    """`authorizer` None serves every route unauthenticated (tests of the gateway alone); `cors_origin`
    is the one other origin the CORS answers allow (None: none); `console` serves `/` beside `/api/*`."""
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
            except Exception as exc:  # an unhandled handler error is a 502 on API Gateway
                self._json(502, {"message": "Internal server error", "error": type(exc).__name__})
                return
            raw = response.get("body") or ""
            payload = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
            self._send(int(response.get("statusCode", 502)), response_header_lines(response), payload)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    return thread
