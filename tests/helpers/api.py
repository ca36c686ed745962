"""A tiny client that drives a Lambda API handler with real REST proxy events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.helpers.events import DEFAULT_CLAIMS, FakeLambdaContext, api_event, response_json

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class ApiResult:
    status: int
    body: Any
    headers: dict[str, str]
    raw: dict[str, Any]

    def fields(self) -> set[str]:
        """The `field` of every error in an error body."""
        return {e["field"] for e in (self.body or {}).get("errors", [])}


class ApiClient:
    def __init__(self, handler: Handler, function_name: str = "test-api") -> None:
        self.handler = handler
        self.function_name = function_name

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str | list[str]] | None = None,
        raw_body: str | bytes | None = None,
        caller: Mapping[str, str] | None = DEFAULT_CLAIMS,
    ) -> ApiResult:
        event = api_event(method, path, body, headers=headers, query=query, raw_body=raw_body, caller=caller)
        response = self.handler(event, FakeLambdaContext(function_name=self.function_name))
        headers_out = dict(response.get("headers") or {})
        for key, values in (response.get("multiValueHeaders") or {}).items():
            headers_out[key] = ", ".join(values)
        return ApiResult(response["statusCode"], response_json(response), headers_out, response)

    def get(self, path: str, **kwargs: Any) -> ApiResult:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> ApiResult:
        return self.call("POST", path, body, **kwargs)
