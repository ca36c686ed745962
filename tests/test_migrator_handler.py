"""The migrator Lambda against a real PostgreSQL and Secrets Manager emulated by moto on loopback."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import boto3
import psycopg
import pytest
from moto.server import ThreadedMotoServer
from psycopg.conninfo import conninfo_to_dict

from functions.migrator.runner import discover

REGION = "us-east-1"


@dataclass
class FakeContext:
    """What Powertools reads from a Lambda context."""

    function_name: str = "db-migrator-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:db-migrator-test"
    aws_request_id: str = "test-request"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def master_role(pg_admin_url: str, empty_database_url: str) -> Iterator[tuple[str, str]]:
    """A superuser standing in for the RDS master user, with a password only the secret holds."""
    role, password = f"master_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'")
    yield role, password
    # The role owns the test database's schemas: drop that database first, then the role.
    dbname = str(conninfo_to_dict(empty_database_url)["dbname"])
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        conn.execute(f"DROP ROLE {role}")


def load_handler(monkeypatch: pytest.MonkeyPatch, moto_url: str, database_url: str, secret_arn: str) -> ModuleType:
    params = conninfo_to_dict(database_url)
    for name, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DB_HOST": str(params["host"]),
        "DB_PORT": str(params["port"]),
        "DB_NAME": str(params["dbname"]),
        "DB_SECRET_ARN": secret_arn,
        # The test server has no TLS; on AWS the program sets verify-full with the packaged bundle.
        "DB_SSLMODE": "prefer",
    }.items():
        monkeypatch.setenv(name, value)
    module = importlib.import_module("functions.migrator.handler")
    # Settings and the client are built once per container: reload for this test's environment.
    module = importlib.reload(module)
    module._secrets_client.cache_clear()
    return module


def create_secret(moto_url: str, value: dict[str, str]) -> str:
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return str(client.create_secret(Name=f"rds!db-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(value))["ARN"])


def test_applies_every_migration_as_the_secrets_user_then_nothing(
    monkeypatch: pytest.MonkeyPatch, moto_url: str, empty_database_url: str, master_role: tuple[str, str]
) -> None:
    # Given an empty database and the master user's credentials in Secrets Manager only
    role, password = master_role
    secret_arn = create_secret(moto_url, {"username": role, "password": password, "engine": "postgres"})
    module = load_handler(monkeypatch, moto_url, empty_database_url, secret_arn)

    # When the deploy invokes the migrator, twice
    first = module.handler({"source": "pulumi"}, FakeContext())
    second = module.handler({"source": "pulumi"}, FakeContext())

    # Then the first run applies every migration, as the secret's user, and the second none
    assert first == {"applied": [m.version for m in discover()]}
    assert second == {"applied": []}
    with psycopg.connect(empty_database_url) as conn:
        owner = conn.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'faturamento'"
        ).fetchone()
    assert owner == (role,)


def test_a_missing_secret_fails_the_invocation(
    monkeypatch: pytest.MonkeyPatch, moto_url: str, empty_database_url: str
) -> None:
    # Given a secret ARN that does not exist
    module = load_handler(
        monkeypatch, moto_url, empty_database_url, f"arn:aws:secretsmanager:{REGION}:123456789012:secret:rds!db-nope"
    )
    # When the migrator runs / Then it raises, so the Pulumi invocation and the deploy fail
    with pytest.raises(Exception, match=r"ResourceNotFoundException"):
        module.handler({"source": "pulumi"}, FakeContext())


def test_a_secret_without_a_password_is_refused(
    monkeypatch: pytest.MonkeyPatch, moto_url: str, empty_database_url: str
) -> None:
    # Given a secret that lacks the password
    secret_arn = create_secret(moto_url, {"username": "nfe_admin"})
    module = load_handler(monkeypatch, moto_url, empty_database_url, secret_arn)
    # When the migrator runs / Then it names what is missing
    with pytest.raises(ValueError, match=r"lacks \['password'\]"):
        module.handler({"source": "pulumi"}, FakeContext())


def test_verify_full_without_a_bundle_fails_at_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given verify-full but no CA bundle path
    from functions.shared.settings import SettingsError

    monkeypatch.setenv("DB_SSLMODE", "verify-full")
    monkeypatch.delenv("DB_SSLROOTCERT", raising=False)
    monkeypatch.setenv("DB_HOST", "db.internal")
    monkeypatch.setenv("DB_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:x")
    # When the module loads / Then the cold start fails naming the variable
    with pytest.raises(SettingsError, match="DB_SSLROOTCERT is required"):
        module = importlib.import_module("functions.migrator.handler")  # raises on a first import
        importlib.reload(module)  # or here, when an earlier test imported it
