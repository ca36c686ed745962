"""Settings of the Faturamento functions, one class per function, built from the shared mixins."""

from __future__ import annotations

from pydantic import Field

from functions.fiscal.model import Emitente
from functions.shared.settings import CorsAllowOrigin, DatabaseSettings, EventBusSettings, RedeliverySettings


class FaturamentoDatabaseSettings(DatabaseSettings):
    # Every Faturamento function logs in as the role confined to the faturamento schema.
    db_user: str = "faturamento_app"
    # The emitente (stack config nfe:emitente) as JSON in EMITENTE: no secret in it; its
    # certificate lives in Secrets Manager, read only by the SEFAZ function.
    emitente: Emitente


class FaturamentoApiSettings(FaturamentoDatabaseSettings, EventBusSettings):
    # The stack's fiscal archive (the nfeProc, the DANFE); unset in unit tests, which keep the XML in the
    # database only.
    fiscal_archive_bucket: str | None = None
    cors_allow_origin: CorsAllowOrigin
    # How long an Idempotency-Key keeps answering with the first response.
    idempotency_ttl_seconds: int = Field(default=24 * 60 * 60, ge=60, le=7 * 24 * 60 * 60)


class FaturamentoConsumerSettings(FaturamentoDatabaseSettings, EventBusSettings, RedeliverySettings):
    pass
