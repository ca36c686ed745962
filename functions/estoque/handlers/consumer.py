"""Lambda entry point of estoque-consumer: SQS batches of NotaFiscalCriada and NotaFiscalCancelada."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.estoque import bootstrap
from functions.estoque.settings import EstoqueConsumerSettings
from functions.shared.db import Database
from functions.shared.observability import logger, metrics, tracer
from functions.shared.settings import load

settings = load(EstoqueConsumerSettings)
# The container's connection: opened on first use, kept across invocations.
database = Database(settings, application_name="estoque-consumer")
consumer = bootstrap.consumer(settings, database)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return consumer.handle(event, context)
