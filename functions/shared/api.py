"""What both HTTP APIs share: the resolver, the error body, and every exception -> HTTP mapping.

All failures leave through the handlers registered here, so every route fails the same way:
`{"message": "...", "errors": [{"field": "items[1].quantidade", "in": "body", "message": "...",
"type": "..."}]}`. Bad input is 400 (unreadable JSON), 413 (body over 256 KB), 415 (not JSON) or
422 (anything else); never a 500. The messages name fields and rules, never echo the input.

The body is checked before Powertools validates anything (`_JsonBodyFirst`): Powertools would parse
a form-encoded or multipart body into fields (a 422, or an accepted request) and raises a bare
ValueError on `multipart/form-data` without a boundary (a 500); the API takes JSON only.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import psycopg
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.types import EventHandlerInstance
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import BaseModel, ConfigDict, Field

from functions.shared import auth, cors
from functions.shared.errors import ConflictError, Forbidden, InvalidInput, NotSignedIn, ResourceNotFound
from functions.shared.observability import logger

# The API contract: larger bodies are refused (413) before they are parsed. API Gateway's own
# limit is 10 MB, far above anything a valid request needs (100 items is about 20 KB).
MAX_BODY_BYTES = 256 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"
_LOCATIONS = {"body", "path", "query", "header", "cookie"}


class PayloadTooLarge(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


def load_json_body(body: str) -> Any:
    """The resolver's JSON body parser: size limit first, then strict JSON.

    Everything that makes a body unreadable (NaN, integers beyond Python's digit limit, nesting
    deeper than the recursion limit) becomes a JSONDecodeError, which Powertools turns into a
    `json_invalid` validation error and we into a 400, rather than an unexpected 500.
    """
    size = len(body.encode("utf-8", errors="surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is {size} bytes; the limit is {MAX_BODY_BYTES} bytes (256 KB)")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise json.JSONDecodeError(type(exc).__name__, body[:0], 0) from exc


# Methods whose body the API reads; a GET's body has no meaning (RFC 9110) and is never looked at.
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_MEDIA_TYPE = "application/json"


def media_type(header: str) -> tuple[str, dict[str, str]]:
    """A Content-Type's media type (lower-cased, no parameters) and its parameters (names lower-cased)."""
    kind, *parameters = header.split(";")
    params: dict[str, str] = {}
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def _unsupported(message: str) -> RequestUnsupportedContentType:
    error = {"type": "unsupported_content_type", "loc": ("header", "Content-Type"), "msg": message}
    return RequestUnsupportedContentType("Unsupported content type", errors=[error])


def check_json_body(event: BaseProxyEvent) -> None:
    """Refuse, before any validation, a body the API cannot read: 415 unless it is declared
    `application/json` (UTF-8, the only charset JSON has: RFC 8259), 400 unless it parses (413 past
    the size limit, see `load_json_body`). A request without a body passes untouched, so a route
    that takes none (cancelamento) still accepts a bare POST."""
    if event.http_method.upper() not in _METHODS_WITH_BODY:
        return
    header = event.headers.get("content-type")
    if not event.body and header is None:
        return
    if header is None:
        raise _unsupported(f"missing; a request body must be sent as {JSON_MEDIA_TYPE}")
    kind, params = media_type(header)
    if kind != JSON_MEDIA_TYPE:
        raise _unsupported(f"must be {JSON_MEDIA_TYPE}")
    if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise _unsupported(f"{JSON_MEDIA_TYPE} is UTF-8; no other charset is accepted")
    try:
        event.json_body  # noqa: B018 (parsed once and cached: Powertools' validation reads the same value)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "ctx": {"error": exc.msg}}]
        ) from exc


class _JsonBodyFirst(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, after `check_json_body`.

    It has to run inside the middleware stack (so the exception handlers below answer, with CORS
    headers) and before Powertools' own validation, which is always the stack's first middleware:
    so it replaces that middleware rather than being added with `app.use`.
    """

    def handler(self, app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
        check_json_body(app.current_event)
        return super().handler(app, next_middleware)

    def _get_body(self, app: EventHandlerInstance) -> Any:
        # Whatever reaches here is JSON or no body at all (`check_json_body`). Powertools' own choice
        # by Content-Type is case-sensitive, and media types are not (RFC 9110: `Application/JSON`).
        return self._parse_json_data(app)


class FieldError(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    field: str = Field(description="The offending field, as a path: items[1].quantidade")
    location: str = Field(alias="in", description="Where the field is: body, path, query or header")
    message: str
    type: str


class ErrorBody(BaseModel):
    message: str
    errors: list[FieldError] = Field(default_factory=list)


_DESCRIPTIONS = {
    400: "Unreadable JSON body",
    401: "No valid ID token in the Authorization header (answered by API Gateway's authorizer)",
    403: "Signed in, but in none of the groups this route admits",
    404: "No resource with this id",
    409: "The resource's current state refuses the request",
    413: "Body larger than 256 KB",
    415: "Body is not application/json",
    422: "Invalid input: every bad field is listed in `errors`",
    503: "Database unavailable; retry later",
}


def error_responses(*codes: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI `responses` entries for the error answers a route can give, all with ErrorBody."""
    return {
        code: {"description": _DESCRIPTIONS[code], "content": {content_types.APPLICATION_JSON: {"model": ErrorBody}}}
        for code in codes
    }


def _field_path(parts: Sequence[Any]) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def field_errors(errors: Sequence[dict[str, Any]]) -> list[FieldError]:
    result = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        location = str(loc[0]) if loc and loc[0] in _LOCATIONS else "body"
        rest = loc[1:] if loc and loc[0] in _LOCATIONS else loc
        # Powertools adds the character offset of a JSON error to its location; it is not a field.
        if error.get("type") == "json_invalid":
            rest = ()
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        ctx = error.get("ctx") or {}
        if error.get("type") == "json_invalid" and ctx.get("error"):
            message = f"{message}: {ctx['error']}"
        result.append(
            FieldError(field=_field_path(rest) or location, location=location, message=message, type=error["type"])
        )
    return result


def error_response(status: int, message: str, errors: Sequence[FieldError] = (), **headers: str) -> Response[Any]:
    body = ErrorBody(message=message, errors=list(errors)).model_dump(mode="json", by_alias=True)
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={k.replace("_", "-"): v for k, v in headers.items()} or None,
    )


def _refused(app: APIGatewayRestResolver) -> Response[Any] | None:
    """Powertools validates a request before the group check runs: a refused caller's answer wins."""
    refused = auth.refusal(app.current_event)
    if isinstance(refused, NotSignedIn):
        return error_response(HTTPStatus.UNAUTHORIZED, refused.message)
    if isinstance(refused, Forbidden):
        return error_response(HTTPStatus.FORBIDDEN, refused.message)
    return None


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    """Map every exception a route can raise to one answer (the STYLE.md "one place")."""

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[Any]:
        if (refused := _refused(app)) is not None:
            return refused
        errors = field_errors(exc.errors())
        if any(e.type == "json_invalid" for e in errors):
            return error_response(HTTPStatus.BAD_REQUEST, "request body is not valid JSON", errors)
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "request validation failed", errors)

    @app.exception_handler(InvalidInput)
    def _invalid_input(exc: InvalidInput) -> Response[Any]:
        errors = [
            FieldError(field=field, location=exc.location, message=message, type="value_error")
            for field, message in [(exc.field, exc.message), *exc.more]
        ]
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "request validation failed", errors)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(exc: RequestUnsupportedContentType) -> Response[Any]:
        if (refused := _refused(app)) is not None:
            return refused
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "request body must be application/json", field_errors(exc.errors())
        )

    @app.exception_handler(PayloadTooLarge)
    def _too_large(exc: PayloadTooLarge) -> Response[Any]:
        if (refused := _refused(app)) is not None:
            return refused
        return error_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(exc))

    @app.exception_handler([binascii.Error, UnicodeDecodeError])
    def _undecodable(exc: Exception) -> Response[Any]:
        # A base64 body that does not decode, or bytes that are not UTF-8.
        if (refused := _refused(app)) is not None:
            return refused
        return error_response(HTTPStatus.BAD_REQUEST, "request body is not valid UTF-8 JSON")

    @app.exception_handler(NotSignedIn)
    def _not_signed_in(exc: NotSignedIn) -> Response[Any]:
        return error_response(HTTPStatus.UNAUTHORIZED, exc.message)

    @app.exception_handler(Forbidden)
    def _forbidden(exc: Forbidden) -> Response[Any]:
        return error_response(HTTPStatus.FORBIDDEN, exc.message)

    @app.exception_handler(ResourceNotFound)
    def _not_found(exc: ResourceNotFound) -> Response[Any]:
        return error_response(HTTPStatus.NOT_FOUND, exc.message)

    @app.not_found
    def _no_route(exc: NotFoundError) -> Response[Any]:
        return error_response(HTTPStatus.NOT_FOUND, "no such route")

    @app.exception_handler(ConflictError)
    def _conflict(exc: ConflictError) -> Response[Any]:
        return error_response(HTTPStatus.CONFLICT, exc.message)

    @app.exception_handler([psycopg.OperationalError, psycopg.InterfaceError])
    def _database_down(exc: Exception) -> Response[Any]:
        logger.error("database unavailable", extra={"error": str(exc)})
        return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "database unavailable, retry later", Retry_After="5")

    @app.exception_handler(ResponseValidationError)
    def _bad_response(exc: ResponseValidationError) -> Response[Any]:
        # Our own bug, never the client's: a 500, not the 422 Powertools would otherwise send.
        logger.error("response failed its own schema", extra={"errors": [e.get("loc") for e in exc.errors()]})
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")


def new_resolver(cors_allow_origin: str) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(
        enable_validation=True,
        json_body_deserializer=load_json_body,
        response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR,
        cors=CORSConfig(
            allow_origin=cors_allow_origin,
            allow_headers=list(cors.ALLOW_HEADERS),
            expose_headers=list(cors.EXPOSE_HEADERS),
            max_age=cors.MAX_AGE_SECONDS,
        ),
    )
    # Powertools builds each route's middleware stack on its first call, from this attribute.
    app._request_validation_middleware = _JsonBodyFirst()
    register_error_handlers(app)
    auth.install(app)
    return app
