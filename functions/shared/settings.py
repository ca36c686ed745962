"""Function settings as pydantic-settings models built from small mixins.

Code never reads `os.environ` directly: each function declares its settings class and builds it
once at import, so a missing or bad variable fails the cold start with a message naming it.
Locally (tests, `nfe local`) a `DATABASE_URL` replaces the AWS connection variables; the login role
still comes from `DB_USER`, whose default is the function's own role, so every function connects as
its least-privilege user in both places.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from functions.shared.redelivery import DEFAULT_OUTAGE_TOLERANCE_SECONDS, SQS_MAX_VISIBILITY_SECONDS

SslMode = Literal["disable", "prefer", "require", "verify-ca", "verify-full"]


class SettingsError(RuntimeError):
    pass


def _one_origin(value: str) -> str:
    # The stack always sets it (nfe/function_env.py: the console's origin or nfe:api.corsAllowOrigin,
    # validated the same way by nfe/config.py); a missing or wildcard value is a broken deployment.
    if value.strip() == "*":
        raise ValueError("'*' would let any site call the API with a user's token; set the one allowed origin")
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", value):
        raise ValueError("must be one origin such as https://app.example.com (scheme, host, optional port)")
    return value


# An API function's one allowed CORS origin (CORS_ALLOW_ORIGIN): required, never `*`.
CorsAllowOrigin = Annotated[str, AfterValidator(_one_origin)]


class _Base(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)


class DatabaseSettings(_Base):
    database_url: str | None = None
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "nfe"
    db_user: str
    db_iam_auth: bool = False
    db_sslmode: SslMode = "verify-full"
    db_sslrootcert: str | None = None
    # Behind RDS Proxy server-side prepared statements would pin each client to one DB connection.
    db_proxy: bool = False
    db_connect_timeout_seconds: int = 5

    @model_validator(mode="after")
    def _where_to_connect(self) -> DatabaseSettings:
        if not self.database_url and not self.db_host:
            raise ValueError("DB_HOST (or DATABASE_URL locally) is required")
        if self.db_iam_auth and self.db_sslmode in ("disable", "prefer"):
            raise ValueError("DB_SSLMODE must be require, verify-ca or verify-full with DB_IAM_AUTH")
        if self.db_sslmode in ("verify-ca", "verify-full") and not self.database_url and not self.db_sslrootcert:
            raise ValueError(f"DB_SSLROOTCERT is required with DB_SSLMODE={self.db_sslmode}")
        return self


class EventBusSettings(_Base):
    event_bus_name: str
    # Publish outbox rows right after commit; the scheduled publisher is the safety net.
    eager_publish: bool = True


class RedeliverySettings(_Base):
    # How long a message survives a dependency's outage before SQS may dead-letter it; the stack
    # sets it from nfe:lambda.outageToleranceMinutes (functions/shared/redelivery.py).
    outage_tolerance_seconds: int = Field(DEFAULT_OUTAGE_TOLERANCE_SECONDS, ge=1, le=SQS_MAX_VISIBILITY_SECONDS)


S = TypeVar("S", bound=BaseSettings)


def load(settings_class: type[S]) -> S:
    """Build settings from the environment, turning validation errors into one readable message."""
    try:
        return settings_class()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "_".join(str(p) for p in err["loc"]).upper()
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if name else message)
        raise SettingsError(f"{settings_class.__name__}: " + "; ".join(problems)) from None
