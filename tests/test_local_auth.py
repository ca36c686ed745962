"""Local mode authorizes as API Gateway's Cognito authorizer does (moto's user pool, real HTTP).

Every attack is a 401 from the gateway with the function never invoked (a recording invoker stands
in for the functions here; tests/test_auth_e2e.py shows nothing is stored through `nfe local`).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from nfe.local import cognito, emulator
from nfe.local.authorizer import CognitoAuthorizer, Unauthorized, render_claims, token_from_header
from nfe.local.gateway import GATEWAY_RESPONSE_HEADERS, make_server, serve_in_thread
from nfe.pgserver import free_port
from tests.helpers import tokens


@dataclass
class Recorder:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append((function, event))
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}


@dataclass
class Setup:
    url: str
    pool: cognito.LocalUserPool
    other_pool: cognito.LocalUserPool
    cognito: Any
    recorder: Recorder
    # The user the attacks start from (their own valid token, then mangled).
    email: str = "faturista@example.com"
    password: str = cognito.DEMO_PASSWORD

    def token(self, email: str | None = None, pool: cognito.LocalUserPool | None = None) -> str:
        pool = pool or self.pool
        password = self.password if email is None else cognito.DEMO_PASSWORD
        return str(cognito.sign_in(self.cognito, pool.client_id, email or self.email, password)["IdToken"])

    def call(self, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        request = urllib.request.Request(  # noqa: S310 (loopback)
            self.url + path,
            data=b"{}" if method == "POST" else None,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                raw = response.read()
                return response.status, dict(response.headers), json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, dict(error.headers), json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    server, endpoint = emulator.start_moto_server()
    client = emulator.LocalAws(endpoint, "unused").client("cognito-idp")
    pool = cognito.provision(client, endpoint, emulator.LOCAL_REGION, "local")
    # Another pool of the same emulator: moto signs it with the very same key, only the issuer differs.
    other = cognito.provision(client, endpoint, emulator.LOCAL_REGION, "other")
    recorder = Recorder()
    http = make_server(free_port(), recorder, authorizer=CognitoAuthorizer(pool.issuer, pool.jwks_url))
    serve_in_thread(http)
    port = http.server_address[1]
    try:
        yield Setup(f"http://127.0.0.1:{port}", pool, other, client, recorder)
    finally:
        http.shutdown()
        http.server_close()
        server.stop()


def _expired(s: Setup) -> str:
    claims = tokens.id_claims(s.pool.issuer)
    return tokens.sign({**claims, "exp": int(time.time()) - 1, "iat": int(time.time()) - 3601})


def _access_token(s: Setup) -> str:
    return str(cognito.sign_in(s.cognito, s.pool.client_id, s.email, s.password)["AccessToken"])


ATTACKS: dict[str, Callable[[Setup], dict[str, str]]] = {
    "missing header": lambda s: {},
    "empty header": lambda s: {"Authorization": ""},
    "malformed token": lambda s: {"Authorization": "not-a-jwt"},
    "three dots of garbage": lambda s: {"Authorization": "a.b.c"},
    "bearer without token": lambda s: {"Authorization": "Bearer"},
    "expired token": lambda s: {"Authorization": _expired(s)},
    "another user pool (same key, other issuer)": lambda s: {"Authorization": s.token(pool=s.other_pool)},
    "access token instead of ID token": lambda s: {"Authorization": _access_token(s)},
    "alg none": lambda s: {"Authorization": tokens.unsigned(tokens.id_claims(s.pool.issuer, groups=["estoque"]))},
    "tampered payload, original signature": lambda s: {
        "Authorization": tokens.tampered(s.token(), **{"cognito:groups": ["faturamento", "estoque"]})
    },
    "signed by another key": lambda s: {
        "Authorization": tokens.sign(tokens.id_claims(s.pool.issuer), tokens.other_key())
    },
}


@pytest.mark.parametrize("attack", list(ATTACKS))
@pytest.mark.parametrize("route", [("POST", "/api/v1/notas"), ("GET", "/api/v1/produtos")])
def test_every_attack_is_401_and_no_function_runs(setup: Setup, attack: str, route: tuple[str, str]) -> None:
    # Given a request carrying the attack
    before = len(setup.recorder.events)
    # When it reaches the gateway
    status, headers, body = setup.call(*route, headers=ATTACKS[attack](setup))
    # Then API Gateway's own 401, with the gateway response's CORS headers, and no function ran
    assert status == 401, (attack, body)
    assert body == {"message": "Unauthorized"}
    assert {k: headers.get(k) for k in GATEWAY_RESPONSE_HEADERS} == GATEWAY_RESPONSE_HEADERS
    assert len(setup.recorder.events) == before


@pytest.mark.parametrize("form", ["bare", "bearer", "lowercase header"])
def test_a_valid_id_token_is_accepted_in_the_forms_api_gateway_accepts(setup: Setup, form: str) -> None:
    token = setup.token("admin@example.com")
    header = {"bare": {"Authorization": token}, "bearer": {"Authorization": f"Bearer {token}"}}.get(
        form, {"authorization": token}
    )
    status, _, _ = setup.call("GET", "/api/v1/notas", header)
    assert status == 200
    function, event = setup.recorder.events[-1]
    assert function == "faturamento-api"
    claims = event["requestContext"]["authorizer"]["claims"]
    # The claims as API Gateway passes them: every value a string, groups joined, dates as text
    assert all(isinstance(v, str) for v in claims.values())
    assert claims["email"] == "admin@example.com" and claims["token_use"] == "id"
    assert set(claims["cognito:groups"].split(",")) == {"faturamento", "estoque"}
    assert claims["iss"] == setup.pool.issuer
    assert time.strptime(claims["exp"], "%a %b %d %H:%M:%S UTC %Y")


def test_health_is_public_and_preflights_need_no_token(setup: Setup) -> None:
    status, _, _ = setup.call("GET", "/health")
    assert status == 200
    _function, event = setup.recorder.events[-1]
    assert "authorizer" not in event["requestContext"]
    # A preflight is answered by the gateway itself (the stack's MOCK integration), no function runs
    before = len(setup.recorder.events)
    status, headers, _ = setup.call("OPTIONS", "/api/v1/notas/123/cancelamento")
    assert status == 200 and headers["Access-Control-Allow-Methods"] == "OPTIONS,POST"
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert len(setup.recorder.events) == before


def test_a_disabled_user_cannot_sign_in_but_an_issued_token_lives_until_it_expires(setup: Setup) -> None:
    # Given a token issued to the auditor, who is then disabled
    token = setup.token("auditor@example.com")
    setup.cognito.admin_disable_user(UserPoolId=setup.pool.pool_id, Username="auditor@example.com")
    try:
        # Then the auditor can no longer sign in
        with pytest.raises(cognito.SignInError, match="disabled"):
            setup.token("auditor@example.com")
        # But the token already issued passes the authorizer until its exp (as on API Gateway)
        assert setup.call("GET", "/api/v1/notas", {"Authorization": token})[0] == 200
    finally:
        setup.cognito.admin_enable_user(UserPoolId=setup.pool.pool_id, Username="auditor@example.com")


def test_a_user_removed_from_a_group_keeps_it_in_tokens_already_issued(setup: Setup) -> None:
    email = "admin@example.com"
    old = setup.token(email)
    setup.cognito.admin_remove_user_from_group(UserPoolId=setup.pool.pool_id, Username=email, GroupName="estoque")
    try:
        new = setup.token(email)
        assert "estoque" in tokens.payload(old)["cognito:groups"]
        assert "estoque" not in tokens.payload(new)["cognito:groups"]
    finally:
        setup.cognito.admin_add_user_to_group(UserPoolId=setup.pool.pool_id, Username=email, GroupName="estoque")


# --- the authorizer's parts, without HTTP -------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [("abc.def.ghi", "abc.def.ghi"), ("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  abc.def.ghi ", "abc.def.ghi")],
)
def test_token_from_header(header: str, token: str) -> None:
    assert token_from_header(header) == token


@pytest.mark.parametrize("header", [None, "", "   ", "Bearer", "Bearer a b", "Basic dXNlcjpwYXNz"])
def test_token_from_header_refuses(header: str | None) -> None:
    if header == "Basic dXNlcjpwYXNz":
        # Not a bearer token at all: taken whole, it is a token with a space, refused
        with pytest.raises(Unauthorized):
            token_from_header(header)
        return
    with pytest.raises(Unauthorized):
        token_from_header(header)


def test_render_claims_as_api_gateway() -> None:
    rendered = render_claims(
        {
            "exp": 1680629979,
            "iat": 1680626379,
            "auth_time": 1680626379,
            "email_verified": True,
            "cognito:groups": ["a", "b"],
        }
    )
    assert rendered == {
        "exp": "Tue Apr 04 17:39:39 UTC 2023",
        "iat": "Tue Apr 04 16:39:39 UTC 2023",
        "auth_time": "1680626379",
        "email_verified": "true",
        "cognito:groups": "a,b",
    }


def test_verify_checks_expiry_against_the_clock() -> None:
    claims = tokens.id_claims("https://issuer")
    key = tokens.pool_key()
    jwks = {"keys": [key.as_dict(private=False) | {"kid": "dummy", "alg": "RS256"}]}
    authorizer = CognitoAuthorizer("https://issuer", "unused", fetch=lambda url: jwks, clock=lambda: claims["exp"])
    with pytest.raises(Unauthorized, match="expired"):
        authorizer.verify(tokens.sign(claims))
    authorizer.clock = lambda: claims["exp"] - 1
    assert authorizer.verify(tokens.sign(claims))["email"] == "faturista@example.com"


REASONS = {
    "missing header": "no Authorization header",
    "empty header": "no Authorization header",
    "malformed token": "does not verify",
    "three dots of garbage": "does not verify",
    "bearer without token": "not a token",
    "expired token": "expired",
    "another user pool (same key, other issuer)": "another user pool",
    "access token instead of ID token": "not an ID token",
    "alg none": "does not verify",
    "tampered payload, original signature": "does not verify",
    "signed by another key": "does not verify",
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_is_refused_for_its_own_reason(setup: Setup, attack: str) -> None:
    # The expired token, the other pool's and the access token carry valid signatures: only the
    # check named here stops them.
    authorizer = CognitoAuthorizer(setup.pool.issuer, setup.pool.jwks_url)
    with pytest.raises(Unauthorized, match=REASONS[attack]):
        authorizer.authorize(ATTACKS[attack](setup))
