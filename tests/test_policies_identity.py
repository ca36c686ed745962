"""The identity policies (policies/nfe_policies/identity.py): each with a passing and a failing resource,
and on the project's own stacks (clean, and caught when a method loses its authorizer)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from nfe.mockrun import PlanResult, ResourceRecord
from nfe.plan import plan as offline_plan
from tests.test_policies import only, resource, violations
from tests.test_policies_programs import check

METHOD = "aws:apigateway/method:Method"
API_RESOURCE = "aws:apigateway/resource:Resource"
REST_API = "aws:apigateway/restApi:RestApi"
POOL = "aws:cognito/userPool:UserPool"
IDENTITY_POOL = "aws:cognito/identityPool:IdentityPool"


def _child(record: ResourceRecord, key: str, parent: ResourceRecord) -> ResourceRecord:
    """`record`'s property `key` came from `parent`, as the engine's property dependencies say."""
    record.options.setdefault("propertyDependencies", {})[key] = [parent.urn]
    record.options.setdefault("dependencies", []).append(parent.urn)
    return record


def api_tree() -> tuple[ResourceRecord, dict[str, ResourceRecord]]:
    """A REST API with /health and /api/v1/notas/{id}, resources chained by parentId."""
    api = resource(REST_API, "api", {"name": "api"})
    resources: dict[str, ResourceRecord] = {}
    parent, path = api, ""
    for part in ("api", "v1", "notas", "{id}"):
        path = f"{path}/{part}"
        slug = path.strip("/").replace("/", "-").replace("{", "").replace("}", "")
        resources[path] = _child(resource(API_RESOURCE, f"res-{slug}", {"pathPart": part}), "parentId", parent)
        parent = resources[path]
    resources["/health"] = _child(resource(API_RESOURCE, "res-health", {"pathPart": "health"}), "parentId", api)
    return api, resources


def method(name: str, on: ResourceRecord, http: str, authorization: str = "NONE", **extra: Any) -> ResourceRecord:
    return _child(
        resource(METHOD, name, {"httpMethod": http, "authorization": authorization, **extra}), "resourceId", on
    )


def authorized(name: str, on: ResourceRecord, http: str = "GET") -> ResourceRecord:
    return method(name, on, http, "COGNITO_USER_POOLS", authorizerId="authz-123")


# --- apigateway-method-authorized -----------------------------------------------------------------


def test_methods_with_an_authorizer_preflights_and_the_allow_list_pass() -> None:
    api, paths = api_tree()
    records = [
        api,
        *paths.values(),
        method("get-health", paths["/health"], "GET"),
        method("options-nota", paths["/api/v1/notas/{id}"], "OPTIONS"),
        authorized("get-nota", paths["/api/v1/notas/{id}"]),
        method("iam-nota", paths["/api/v1/notas"], "POST", "AWS_IAM"),
    ]
    assert violations("apigateway-method-authorized", *records) == []


def test_an_open_method_outside_the_allow_list_is_reported_with_its_path() -> None:
    api, paths = api_tree()
    records = [api, *paths.values(), method("post-nota", paths["/api/v1/notas/{id}"], "POST")]
    message = only(violations("apigateway-method-authorized", *records))
    assert "POST /api/v1/notas/{id} has authorization NONE" in message


def test_an_open_method_on_the_root_and_a_cognito_method_without_authorizer_are_reported() -> None:
    api, paths = api_tree()
    records = [
        api,
        *paths.values(),
        method("get-root", api, "GET"),
        method("get-nota", paths["/api/v1/notas/{id}"], "GET", "COGNITO_USER_POOLS"),
    ]
    found = violations("apigateway-method-authorized", *records)
    assert len(found) == 2
    assert any("GET / has authorization NONE" in m for m in found)
    assert any("no authorizerId" in m for m in found)


def test_the_allow_list_is_config() -> None:
    api, paths = api_tree()
    records = [api, *paths.values(), method("get-health", paths["/health"], "GET")]
    assert "GET /health" in only(violations("apigateway-method-authorized", *records, publicPaths=["/status"]))


def test_a_method_whose_path_cannot_be_told_is_reported() -> None:
    # A method with no graph to follow (two resources it might sit on): fail closed
    api, paths = api_tree()
    lost = resource(METHOD, "lost", {"httpMethod": "GET", "authorization": "NONE"})
    lost.options["dependencies"] = [paths["/health"].urn, paths["/api/v1/notas"].urn]
    message = only(violations("apigateway-method-authorized", api, *paths.values(), lost))
    assert "a path this policy cannot determine" in message


# --- Cognito user pools and identity pools --------------------------------------------------------

STRICT = {
    "minimumLength": 12,
    "requireLowercase": True,
    "requireUppercase": True,
    "requireNumbers": True,
    "requireSymbols": True,
    "temporaryPasswordValidityDays": 3,
}


def test_password_policy_as_strict_as_the_default_passes() -> None:
    assert violations("cognito-password-policy", resource(POOL, "strict", {"passwordPolicy": STRICT})) == []
    # No passwordPolicy at all: Cognito's default applies
    assert violations("cognito-password-policy", resource(POOL, "default")) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"minimumLength": 6}, "minimumLength is 6"),
        ({"requireSymbols": False}, "does not set requireSymbols"),
        ({"requireNumbers": None}, "does not set requireNumbers"),
        ({"temporaryPasswordValidityDays": 30}, "temporaryPasswordValidityDays is 30"),
    ],
)
def test_a_weaker_password_policy_is_reported(change: dict[str, Any], expected: str) -> None:
    policy = {k: v for k, v in {**STRICT, **change}.items() if v is not None}
    assert expected in only(violations("cognito-password-policy", resource(POOL, "weak", {"passwordPolicy": policy})))


def test_deletion_protection() -> None:
    assert violations("cognito-deletion-protection", resource(POOL, "kept", {"deletionProtection": "ACTIVE"})) == []
    assert "not ACTIVE" in only(violations("cognito-deletion-protection", resource(POOL, "gone")))
    inactive = resource(POOL, "off", {"deletionProtection": "INACTIVE"})
    assert "not ACTIVE" in only(violations("cognito-deletion-protection", inactive))


def test_no_guest_identities() -> None:
    closed = resource(IDENTITY_POOL, "closed", {"allowUnauthenticatedIdentities": False})
    assert violations("cognito-no-guest-identities", closed) == []
    guests = resource(IDENTITY_POOL, "guests", {"allowUnauthenticatedIdentities": True})
    assert "allowUnauthenticatedIdentities" in only(violations("cognito-no-guest-identities", guests))


# --- on the project's own stacks -------------------------------------------------------------------


@pytest.fixture(scope="module")
def plans() -> Iterator[dict[str, PlanResult]]:
    yield {stack: offline_plan(stack) for stack in ("dev", "prod")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_method_of_the_stacks_but_the_allow_list_is_authorized(plans: dict[str, PlanResult], stack: str) -> None:
    found = check(plans[stack])
    assert [v for v in found if v.policy.startswith(("apigateway-method", "cognito-password", "cognito-no"))] == []
    # Deletion protection: advisory and reported in dev, met in prod where it is mandatory
    protection = [(v.level, v.resource) for v in found if v.policy == "cognito-deletion-protection"]
    assert protection == ([("advisory", "identity-user-pool")] if stack == "dev" else [])


def test_a_stack_method_losing_its_authorizer_is_caught(plans: dict[str, PlanResult]) -> None:
    # Given the dev stack with POST /api/v1/notas opened (found by its properties, not its name)
    plan = copy.deepcopy(plans["dev"])
    posts = [r for r in plan.resources if r.type == METHOD and r.inputs["httpMethod"] == "POST"]
    target = next(r for r in posts if r.name == "api-method-post-api-v1-notas")
    for properties in (target.inputs, target.state):
        properties["authorization"] = "NONE"
        properties.pop("authorizerId", None)
    # When checked / Then the policy blocks it, naming the path
    found = [v for v in check(plan) if v.policy == "apigateway-method-authorized"]
    assert [(v.level, v.resource) for v in found] == [("mandatory", target.name)]
    assert "POST /api/v1/notas has authorization NONE" in found[0].message


def test_prod_pool_without_deletion_protection_is_blocked(plans: dict[str, PlanResult]) -> None:
    plan = copy.deepcopy(plans["prod"])
    pool = next(r for r in plan.resources if r.type == POOL)
    for properties in (pool.inputs, pool.state):
        properties["deletionProtection"] = "INACTIVE"
    found = [(v.level, v.resource) for v in check(plan) if v.policy == "cognito-deletion-protection"]
    assert found == [("mandatory", pool.name)]
