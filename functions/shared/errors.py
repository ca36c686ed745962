"""Domain errors raised by the logic layer; `functions.shared.api` maps each to one HTTP answer."""

from __future__ import annotations

from typing import Literal

Location = Literal["body", "path", "query", "header"]


class DomainError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ResourceNotFound(DomainError):
    """An id that names nothing (404)."""


class ConflictError(DomainError):
    """The request is well formed but the resource's state refuses it (409)."""


class NotSignedIn(DomainError):
    """No caller in the request: API Gateway's authorizer should have refused it already (401)."""


class Forbidden(DomainError):
    """A signed-in caller outside every group the route admits (403)."""


class InvalidInput(DomainError):
    """Input that passed the schema but not a rule only the logic can check (422)."""

    def __init__(
        self, field: str, message: str, location: Location = "body", more: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.location = location
        # Further (field, message) problems of the same request, so one answer lists them all.
        self.more = more or []
