"""Who may call what: the API's routes, which are public, and which groups may call each one.

This is the one declaration. `nfe.topology.ROUTES` re-exports it, so the Pulumi components (the
REST API's methods and their Cognito authorizer), local mode's gateway (which routes it authorizes)
and the functions (the group check in `functions.shared.auth`) all read the same lines.

Groups are Cognito user pool groups. Every group may read everything; writing is split by kind of
work: `faturamento` emits and cancels notas, `estoque` creates produtos and registers entradas,
`auditoria` only reads. A signed-in user in no group may call nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Group(StrEnum):
    FATURAMENTO = "faturamento"
    ESTOQUE = "estoque"
    AUDITORIA = "auditoria"


GROUP_DESCRIPTIONS: dict[Group, str] = {
    Group.FATURAMENTO: "Emits and cancels notas fiscais; reads everything",
    Group.ESTOQUE: "Creates produtos and registers entradas; reads everything",
    Group.AUDITORIA: "Reads everything, changes nothing",
}

READERS = frozenset(Group)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway path, `{id}` style parameters
    function: str  # the topology function serving it
    groups: frozenset[Group] = frozenset()  # a caller in any of these groups may call it
    public: bool = False  # no authorizer: anyone may call it (only /health)

    def __post_init__(self) -> None:
        # Fail closed: a route that is neither public nor open to some group is a typo, not a choice.
        if self.public == bool(self.groups):
            raise ValueError(f"{self.method} {self.path}: a route is either public or open to some groups")

    def allows(self, groups: frozenset[str]) -> bool:
        return self.public or bool(self.groups & groups)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "faturamento-api", public=True),
    Route("POST", "/api/v1/notas", "faturamento-api", frozenset({Group.FATURAMENTO})),
    Route("GET", "/api/v1/notas", "faturamento-api", READERS),
    Route("GET", "/api/v1/notas/{id}", "faturamento-api", READERS),
    Route("POST", "/api/v1/notas/{id}/cancelamento", "faturamento-api", frozenset({Group.FATURAMENTO})),
    Route("GET", "/api/v1/notas/{id}/xml", "faturamento-api", READERS),
    Route("GET", "/api/v1/notas/{id}/cancelamento/xml", "faturamento-api", READERS),
    Route("GET", "/api/v1/notas/{id}/danfe", "faturamento-api", READERS),
    Route("POST", "/api/v1/produtos", "estoque-api", frozenset({Group.ESTOQUE})),
    Route("GET", "/api/v1/produtos", "estoque-api", READERS),
    Route("GET", "/api/v1/produtos/{id}", "estoque-api", READERS),
    Route("POST", "/api/v1/produtos/{id}/entradas", "estoque-api", frozenset({Group.ESTOQUE})),
)

PUBLIC_PATHS = frozenset(r.path for r in ROUTES if r.public)

_BY_KEY = {(r.method, r.path): r for r in ROUTES}


def route_for(method: str, resource: str) -> Route | None:
    """The route API Gateway matched: its method and resource path (`/api/v1/notas/{id}`)."""
    return _BY_KEY.get((method.upper(), resource))
