"""Migrator Lambda: applies the packaged sql/ migrations as the RDS master user, on every deploy.

The Pulumi program invokes it (`aws.lambda_.Invocation`) when sql/ changes. The master password is
never in the environment: the function reads the RDS-managed secret named by DB_SECRET_ARN from
Secrets Manager (through the VPC endpoint) and connects to the instance directly over TLS. A failed
migration raises, so the invocation, and with it the deploy, fails.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from psycopg.conninfo import make_conninfo
from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from functions.migrator.runner import DEFAULT_SQL_DIR, migrate
from functions.shared.observability import logger
from functions.shared.settings import SslMode, load


class MigratorSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    db_host: str
    db_port: int = 5432
    db_name: str = "nfe"
    db_secret_arn: str
    db_sslmode: SslMode = "verify-full"
    db_sslrootcert: str | None = None
    db_connect_timeout_seconds: int = 10

    @model_validator(mode="after")
    def _verification_needs_bundle(self) -> MigratorSettings:
        if self.db_sslmode in ("verify-ca", "verify-full") and not self.db_sslrootcert:
            raise ValueError(f"DB_SSLROOTCERT is required with DB_SSLMODE={self.db_sslmode}")
        return self


settings = load(MigratorSettings)


@cache
def _secrets_client() -> Any:
    import boto3

    return boto3.client("secretsmanager")


def master_conninfo(config: MigratorSettings, secret: dict[str, Any]) -> str:
    """Connection string for the master user named in the RDS-managed secret."""
    missing = [key for key in ("username", "password") if not secret.get(key)]
    if missing:
        raise ValueError(f"secret {config.db_secret_arn} lacks {missing}")
    params: dict[str, Any] = {
        "host": config.db_host,
        "port": config.db_port,
        "dbname": config.db_name,
        "user": secret["username"],
        "password": secret["password"],
        "sslmode": config.db_sslmode,
        "connect_timeout": config.db_connect_timeout_seconds,
        "application_name": "nfe-migrator",
    }
    if config.db_sslrootcert:
        params["sslrootcert"] = config.db_sslrootcert
    return make_conninfo("", **{k: str(v) for k, v in params.items()})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[int]]:
    response = _secrets_client().get_secret_value(SecretId=settings.db_secret_arn)
    applied = migrate(master_conninfo(settings, json.loads(response["SecretString"])), DEFAULT_SQL_DIR, log=logger.info)
    logger.info("migrations applied", extra={"applied": applied})
    return {"applied": applied}
