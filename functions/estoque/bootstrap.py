"""Wiring: settings (and, in tests, a given Database or events client) in, ready handlers out.

The Lambda entry points call these once per container at import; tests call them per test with
their own database, which is the only difference between the two.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from functions.estoque.logic import ProdutosService, SagaEstoque
from functions.estoque.routes import build_app
from functions.estoque.settings import EstoqueApiSettings, EstoqueConsumerSettings
from functions.shared.consumer import EventConsumer
from functions.shared.db import Database
from functions.shared.outbox import EagerPublisher


def api(settings: EstoqueApiSettings, db: Database | None = None) -> APIGatewayRestResolver:
    db = db or Database(settings, application_name="estoque-api")
    return build_app(ProdutosService(db), settings.cors_allow_origin)


def consumer(settings: EstoqueConsumerSettings, db: Database | None = None, events_client: Any = None) -> EventConsumer:
    db = db or Database(settings, application_name="estoque-consumer")
    publisher = EagerPublisher(db, settings.event_bus_name, settings.eager_publish, events_client)
    return EventConsumer(SagaEstoque(db, publisher).handlers())
