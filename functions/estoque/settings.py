"""Settings of the Estoque functions, one class per function, built from the shared mixins."""

from __future__ import annotations

from functions.shared.settings import CorsAllowOrigin, DatabaseSettings, EventBusSettings, RedeliverySettings


class EstoqueDatabaseSettings(DatabaseSettings):
    # Every Estoque function logs in as the role confined to the estoque schema.
    db_user: str = "estoque_app"


class EstoqueApiSettings(EstoqueDatabaseSettings, EventBusSettings):
    cors_allow_origin: CorsAllowOrigin


class EstoqueConsumerSettings(EstoqueDatabaseSettings, EventBusSettings, RedeliverySettings):
    pass
