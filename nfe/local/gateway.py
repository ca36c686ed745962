"""A local API Gateway: HTTP requests in, REST proxy events to the routed function, responses out.

Like the stack's REST API, every route but the public ones (functions/shared/access.py) goes through
a Cognito authorizer (nfe/local/authorizer.py): a request without a valid ID token is answered 401
here and no function runs; an admitted one carries the token's claims in
`requestContext.authorizer.claims`. Preflights (OPTIONS) are answered here, unauthenticated, with
the headers the stack's MOCK integrations send.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nfe import topology
from nfe.local.authorizer import CognitoAuthorizer, Unauthorized

# API Gateway's own payload limit; the handlers enforce their tighter 256 KB contract.
MAX_BODY_BYTES = 10 * 1024 * 1024
STAGE = "local"
# The CORS headers of the stack's gateway responses and MOCK preflights (components/rest_api.py).
CORS_ALLOW_ORIGIN = "*"
CORS_ALLOW_HEADERS = "Content-Type,Authorization,X-Amz-Date,X-Api-Key,X-Amz-Security-Token,Idempotency-Key"
GATEWAY_RESPONSE_HEADERS = {
    "Access-Control-Allow-Origin": CORS_ALLOW_ORIGIN,
    "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
}


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


def build_event(
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes,
    route: topology.Route,
    path_parameters: dict[str, str],
    source_ip: str = "127.0.0.1",
    claims: dict[str, str] | None = None,
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
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
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
    port: int, invoke: Invoker, host: str = "127.0.0.1", authorizer: CognitoAuthorizer | None = None
) -> ThreadingHTTPServer:
    """`authorizer` None serves every route unauthenticated (tests of the gateway alone)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "nfe-local"
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes; with Nagle on, a keep-alive client's delayed ACK
        # held the second back about 40 ms on every response (urllib closes, so it never saw it).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return  # access logs would drown the progress lines

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._json(413, {"message": "Request Too Long"})
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            if self.command == "OPTIONS" and preflight_methods(path):
                allow = {**GATEWAY_RESPONSE_HEADERS, "Access-Control-Allow-Methods": ",".join(preflight_methods(path))}
                self._send(200, {"Content-Type": "application/json", **allow}, b"")
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
                    self._send(401, {**headers, **GATEWAY_RESPONSE_HEADERS}, b'{"message":"Unauthorized"}')
                    return
            event = build_event(self.command, self.path, dict(self.headers.items()), body, route, params, claims=claims)
            try:
                response = invoke(route.function, event)
            except Exception as exc:  # an unhandled handler error is a 502 on API Gateway
                self._json(502, {"message": "Internal server error", "error": type(exc).__name__})
                return
            headers = dict(response.get("headers") or {})
            for key, values in (response.get("multiValueHeaders") or {}).items():
                headers[key] = ", ".join(values)
            raw = response.get("body") or ""
            payload = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
            self._send(int(response.get("statusCode", 502)), headers, payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    return thread
