"""Both stacks under Pulumi's mocks: the user pool, its console client and groups, and the API's authorizer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.rest_api import _slug
from nfe import identity, topology
from nfe.config import ConfigError, StackConfig, load_stack_file, parse
from nfe.mockrun import PlanResult, ResourceRecord
from nfe.plan import plan

ROOT = Path(__file__).resolve().parents[1]
POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
GROUP = "aws:cognito/userGroup:UserGroup"
AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
METHOD = "aws:apigateway/method:Method"
# Stated here rather than read back from the stack files.
EXPECTED = {"dev": {"mfa": "OPTIONAL", "deletion": "INACTIVE"}, "prod": {"mfa": "ON", "deletion": "ACTIVE"}}


@dataclass
class Stack:
    name: str
    config: StackConfig
    result: PlanResult

    def one(self, type_token: str) -> ResourceRecord:
        records = self.result.of_type(type_token)
        assert len(records) == 1, f"{len(records)} x {type_token}"
        return records[0]


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    name = request.param
    yield Stack(name, load_stack_file(ROOT / f"Pulumi.{name}.yaml"), plan(name))


def test_the_user_pool_admits_only_users_an_administrator_creates(stack: Stack) -> None:
    pool = stack.one(POOL).inputs
    assert pool["name"] == f"nfe-users-{stack.name}"
    assert pool["usernameAttributes"] == ["email"]
    assert pool["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}
    assert pool["mfaConfiguration"] == EXPECTED[stack.name]["mfa"]
    assert pool["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert pool["deletionProtection"] == EXPECTED[stack.name]["deletion"]
    assert pool["userPoolTier"] == "LITE"
    # At least Cognito's default on every axis (8 characters, four classes, 7-day temporary password)
    policy = pool["passwordPolicy"]
    default = identity.COGNITO_DEFAULT_PASSWORD_POLICY
    assert policy["minimumLength"] >= default.minimum_length
    assert all(policy[k] for k in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols"))
    assert policy["temporaryPasswordValidityDays"] <= default.temporary_password_validity_days


def test_the_console_client_has_no_secret_and_only_its_flows(stack: Stack) -> None:
    client = stack.one(CLIENT).inputs
    assert client["generateSecret"] is False
    assert client["explicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert (client["idTokenValidity"], client["accessTokenValidity"], client["refreshTokenValidity"]) == (60, 60, 12)
    assert client["tokenValidityUnits"] == {"idToken": "minutes", "accessToken": "minutes", "refreshToken": "hours"}
    assert client["preventUserExistenceErrors"] == "ENABLED"
    assert "allowedOauthFlows" not in client  # no client-credentials client: not yet supported (README)


def test_one_group_per_kind_of_work(stack: Stack) -> None:
    groups = {g.inputs["name"] for g in stack.result.of_type(GROUP)}
    assert groups == {"faturamento", "estoque", "auditoria"}


def test_every_method_but_the_allow_list_has_the_cognito_authorizer(stack: Stack) -> None:
    pool = stack.one(POOL)
    authorizer = stack.one(AUTHORIZER)
    assert authorizer.inputs["type"] == "COGNITO_USER_POOLS"
    assert authorizer.inputs["providerArns"] == [pool.state["arn"]]
    assert authorizer.inputs["identitySource"] == "method.request.header.Authorization"
    methods = stack.result.of_type(METHOD)
    public = {f"api-method-{r.method.lower()}-{_slug(r.path)}" for r in topology.ROUTES if r.public}
    assert public == {"api-method-get-health"}
    guarded = [m for m in methods if m.inputs["httpMethod"] != "OPTIONS" and m.name not in public]
    assert len(guarded) == len(topology.ROUTES) - 1
    for method in guarded:
        assert method.inputs["authorization"] == "COGNITO_USER_POOLS", method.name
        # Under the mocks a resource's id is its name and a suffix.
        assert method.inputs["authorizerId"].startswith(f"{authorizer.name}-"), method.name
    # The allow-list and the preflights stay open
    for method in methods:
        if method.inputs["httpMethod"] == "OPTIONS" or method.name in public:
            assert method.inputs["authorization"] == "NONE" and "authorizerId" not in method.inputs


def test_the_authorizers_401_carries_cors_headers(stack: Stack) -> None:
    responses = {r.inputs["responseType"]: r.inputs for r in stack.result.of_type("aws:apigateway/response:Response")}
    unauthorized = responses["UNAUTHORIZED"]["responseParameters"]
    assert "gatewayresponse.header.Access-Control-Allow-Headers" in unauthorized
    assert "Authorization" in unauthorized["gatewayresponse.header.Access-Control-Allow-Headers"]


def test_outputs_name_the_pool_and_its_client(stack: Stack) -> None:
    assert stack.result.outputs["userPoolId"].startswith(f"{stack.one(POOL).name}-")
    assert stack.result.outputs["userPoolClientId"].startswith(f"{stack.one(CLIENT).name}-")


def test_prod_config_without_pool_deletion_protection_is_refused() -> None:
    values = {"environment": "prod", "monthlyBudgetUsd": 100, "identity": {"deletionProtection": False}}
    values["database"] = {"multiAz": True, "deletionProtection": True}
    with pytest.raises(ConfigError, match=r"identity\.deletionProtection must be true for prod"):
        parse(values)
