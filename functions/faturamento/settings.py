"""Settings of the Faturamento functions, one class per function, built from the shared mixins."""

from __future__ import annotations

from pydantic import Field

from functions.shared.settings import DatabaseSettings, EventBusSettings, RedeliverySettings


class FaturamentoDatabaseSettings(DatabaseSettings):
    # Every Faturamento function logs in as the role confined to the faturamento schema.
    db_user: str = "faturamento_app"


class FaturamentoApiSettings(FaturamentoDatabaseSettings, EventBusSettings):
    cors_allow_origin: str = "*"
    # How long an Idempotency-Key keeps answering with the first response.
    idempotency_ttl_seconds: int = Field(default=24 * 60 * 60, ge=60, le=7 * 24 * 60 * 60)


class FaturamentoConsumerSettings(FaturamentoDatabaseSettings, RedeliverySettings):
    pass
