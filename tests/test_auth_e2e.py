"""Sign-in end to end through `nfe local`: state file, `nfe login`, `--users FILE`, attacks that store nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nfe.local.demo import HttpClient
from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL
from tests.conftest import create_database
from tests.helpers.db import counts
from tests.test_local_auth import ATTACKS, Recorder, Setup
from tests.test_local_mode import ROOT, LocalProcess, start_local

USERS = [
    {"email": "ana@example.com", "groups": ["faturamento"], "password": "Outra#Senha2026"},
    {"email": "bia@example.com", "groups": ["estoque", "auditoria"]},
]
ANA_SIGNS_IN = {"email": "ana@example.com", "password": "Outra#Senha2026"}


@pytest.fixture(scope="module")
def local(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalProcess, Path]]:
    directory = tmp_path_factory.mktemp("auth")
    users = directory / "users.json"
    users.write_text(json.dumps(USERS))
    state = directory / "state.json"
    system = start_local(create_database(pg_admin_url), "--users", str(users), "--state-file", str(state))
    yield system, state
    assert system.stop() == 0
    assert not state.exists()


def login(state: Path, email: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nfe.cli", "login", "--state-file", str(state), "--user", email, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_state_file_says_what_a_client_needs(local: tuple[LocalProcess, Path]) -> None:
    system, path = local
    state = json.loads(path.read_text())
    assert state["apiUrl"] == system.url
    assert state["awsEndpoint"] == system.aws_endpoint and state["region"] == "us-east-1"
    assert state["userPoolId"] == system.user_pool_id and state["userPoolClientId"] == system.client_id
    assert state["busName"] == "nfe-events-local"
    assert {"name", "url", "dlqName", "dlqUrl"} <= set(state["queues"]["estoque-reserva"])
    assert state["databaseUrl"]
    pool = system.aws("cognito-idp").describe_user_pool(UserPoolId=state["userPoolId"])["UserPool"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["UsernameAttributes"] == ["email"]
    groups = system.aws("cognito-idp").list_groups(UserPoolId=state["userPoolId"])["Groups"]
    assert {g["GroupName"] for g in groups} == {"faturamento", "estoque", "auditoria"}


def test_users_file_replaces_the_demo_users_and_is_printed(local: tuple[LocalProcess, Path]) -> None:
    system, path = local
    printed = [line for line in system.lines if "  user " in line]
    assert len(printed) == 2
    assert "ana@example.com (faturamento) password from the users file" in printed[0]
    assert "bia@example.com (estoque, auditoria) password NfeDemo#2026" in printed[1]
    # The demo users do not exist in this pool
    assert login(path, "faturista@example.com").returncode == 1


def test_nfe_login_prints_an_id_token_that_curl_can_send(local: tuple[LocalProcess, Path]) -> None:
    system, path = local
    # Given a token printed by `nfe login` (alone on stdout)
    result = login(path, "ana@example.com", "--password", "Outra#Senha2026")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    # When it is sent as the Authorization header / Then the user's own group works, the others' are 403
    ana = HttpClient(system.url, token)
    assert ana.call("GET", "/api/v1/notas")[0] == 200
    status, body = ana.call(
        "POST", "/api/v1/produtos", {"sku": "ANA-1", "nome": "P", "quantidade": 1, **PRODUTO_FISCAL}
    )
    assert status == 403 and "estoque" in body["message"]
    # And a wrong password signs nobody in
    wrong = login(path, "ana@example.com", "--password", "nope")
    assert wrong.returncode == 1 and "Incorrect username or password" in wrong.stderr


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attacks_through_nfe_local_store_nothing(local: tuple[LocalProcess, Path], attack: str) -> None:
    system, _ = local
    setup = Setup(
        system.url, _pool(system), _pool(system, "other"), system.aws("cognito-idp"), Recorder(), **ANA_SIGNS_IN
    )
    headers = ATTACKS[attack](setup)
    before = counts(system.database_url)
    for method, path, body in (
        ("POST", "/api/v1/produtos", {"sku": "X-1", "nome": "P", "quantidade": 1, **PRODUTO_FISCAL}),
        (
            "POST",
            "/api/v1/notas",
            {"destinatario": {**DESTINATARIO_SP, "documento": "52998224725", "nome": "Xavier"}, "items": []},
        ),
    ):
        client = HttpClient(system.url, headers.get("Authorization"))
        status, answer = client.call(method, path, body)
        assert (status, answer) == (401, {"message": "Unauthorized"}), attack
    assert counts(system.database_url) == before


def _pool(system: LocalProcess, which: str = "local"):  # type: ignore[no-untyped-def]
    """The process's own pool, or a second pool created in its emulator (same key, other issuer)."""
    from nfe.local import cognito

    client = system.aws("cognito-idp")
    if which == "local":
        return cognito.LocalUserPool(system.user_pool_id, system.client_id, "us-east-1", system.aws_endpoint)
    existing = [p for p in client.list_user_pools(MaxResults=10)["UserPools"] if p["Name"] == "nfe-users-other"]
    if existing:
        pool_id = existing[0]["Id"]
        client_id = client.list_user_pool_clients(UserPoolId=pool_id)["UserPoolClients"][0]["ClientId"]
        return cognito.LocalUserPool(pool_id, client_id, "us-east-1", system.aws_endpoint)
    ana = cognito.LocalUser(ANA_SIGNS_IN["email"], ("faturamento",), ANA_SIGNS_IN["password"])
    return cognito.provision(client, system.aws_endpoint, "us-east-1", "other", (ana,))
