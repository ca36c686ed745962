"""Wiring: settings (and, in tests, a given Database or events client) in, ready handlers out.

The Lambda entry points call these once per container at import; tests call them per test with
their own database, which is the only difference between the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.estoque.logic import ProdutosService, SagaEstoque
from functions.estoque.settings import EstoqueApiSettings, EstoqueConsumerSettings
from functions.shared.db import Database
from functions.shared.outbox import EagerPublisher

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from functions.shared.consumer import EventConsumer


def api(settings: EstoqueApiSettings, db: Database | None = None, events_client: Any = None) -> APIGatewayRestResolver:
    # Imported here, like the consumer below: each function loads only its own side.
    from functions.estoque.routes import build_app

    db = db or Database(settings, application_name="estoque-api")
    publisher = EagerPublisher(db, settings.event_bus_name, settings.eager_publish, events_client)
    return build_app(ProdutosService(db, publisher), settings.cors_allow_origin)


def consumer(
    settings: EstoqueConsumerSettings, db: Database | None = None, events_client: Any = None, sqs_client: Any = None
) -> EventConsumer:
    # Imported here: Powertools' batch utility is the consumer's cost, not the API's.
    from functions.shared.consumer import EventConsumer, SqsVisibility
    from functions.shared.redelivery import Backoff

    db = db or Database(settings, application_name="estoque-consumer")
    publisher = EagerPublisher(db, settings.event_bus_name, settings.eager_publish, events_client)
    from functions.shared.failures import FailureLog

    return EventConsumer(
        SagaEstoque(db, publisher).handlers(),
        FailureLog(db, "estoque"),
        Backoff(settings.outage_tolerance_seconds),
        SqsVisibility(sqs_client),
    )
