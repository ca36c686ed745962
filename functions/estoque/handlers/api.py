"""Lambda entry point of estoque-api: API Gateway REST proxy events in, HTTP responses out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.estoque import bootstrap
from functions.estoque.settings import EstoqueApiSettings
from functions.shared.db import Database
from functions.shared.observability import logger, metrics, tracer
from functions.shared.settings import load

settings = load(EstoqueApiSettings)
# The container's connection: opened on first use, kept across invocations.
database = Database(settings, application_name="estoque-api")
app = bootstrap.api(settings, database)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
