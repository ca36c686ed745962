"""Wiring: settings (and, in tests, a given Database or events client) in, ready handlers out.

The Lambda entry points call these once per container at import; tests call them per test with
their own database, which is the only difference between the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.faturamento.logic import NotasService, SagaFaturamento
from functions.faturamento.settings import FaturamentoApiSettings, FaturamentoConsumerSettings
from functions.fiscal.archive import FiscalArchive
from functions.shared.db import Database
from functions.shared.outbox import EagerPublisher

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from functions.shared.consumer import EventConsumer


def api(
    settings: FaturamentoApiSettings, db: Database | None = None, events_client: Any = None
) -> APIGatewayRestResolver:
    # Imported here, like the consumer below: each function loads only its own side.
    from functions.faturamento.routes import build_app

    db = db or Database(settings, application_name="faturamento-api")
    publisher = EagerPublisher(db, settings.event_bus_name, settings.eager_publish, events_client)
    service = NotasService(
        db,
        publisher,
        settings.emitente,
        settings.idempotency_ttl_seconds,
        FiscalArchive(settings.fiscal_archive_bucket),
    )
    return build_app(service, settings.cors_allow_origin)


def consumer(
    settings: FaturamentoConsumerSettings, db: Database | None = None, sqs_client: Any = None, events_client: Any = None
) -> EventConsumer:
    # Imported here: Powertools' batch utility is the consumer's cost, not the API's.
    from functions.shared.consumer import EventConsumer, SqsVisibility
    from functions.shared.redelivery import Backoff

    db = db or Database(settings, application_name="faturamento-consumer")
    from functions.shared.failures import FailureLog

    publisher = EagerPublisher(db, settings.event_bus_name, settings.eager_publish, events_client)
    return EventConsumer(
        SagaFaturamento(db, settings.emitente, publisher).handlers(),
        FailureLog(db, "faturamento"),
        Backoff(settings.outage_tolerance_seconds),
        SqsVisibility(sqs_client),
    )
