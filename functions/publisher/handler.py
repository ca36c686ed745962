"""Outbox publisher Lambda: runs every minute (the safety net behind eager publishing), and on each run
reports the days left to inutilizar the rejected números (the inutilização alarm's metric)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.publisher.logic import dias_para_inutilizar, drain
from functions.publisher.settings import PublisherSettings
from functions.shared.db import Database
from functions.shared.observability import logger, metrics, tracer
from functions.shared.outbox import OutboxRelay, oldest_pending_age_seconds
from functions.shared.settings import load

# Metric the stack alarms on when the outbox stops draining (components/ reads the same name).
OUTBOX_LAG_METRIC = "OutboxOldestUnpublishedAgeSeconds"
# Days left before the nearest deadline to inutilizar a rejected número: the inutilização alarm's.
INUTILIZACAO_DEADLINE_METRIC = "DiasParaInutilizar"


class EventsOnDemand:
    """The EventBridge client, created by the container's first PutEvents.

    Most runs find the outbox empty, because eager publishing sent everything, and never call the
    bus; building the client (boto3, then botocore loading the service's model and endpoint data:
    about 100 ms, a third of this function's cold start) waits until a run has something to send.
    """

    def __init__(self) -> None:
        self.client: Any = None

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if self.client is None:
            import boto3

            self.client = boto3.client("events")
        response: dict[str, Any] = self.client.put_events(Entries=Entries)
        return response


settings = load(PublisherSettings)
database = Database(settings, application_name="outbox-publisher")
relay = OutboxRelay(EventsOnDemand(), settings.event_bus_name)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    conn = database.connection()
    try:
        result = drain(conn, relay, lambda: context.get_remaining_time_in_millis() > settings.publisher_reserve_ms)
        lag = oldest_pending_age_seconds(conn)
    except Exception:
        database.discard()
        raise
    metrics.add_metric(name="OutboxEventsPublished", unit=MetricUnit.Count, value=result.published)
    metrics.add_metric(name="OutboxEventsRetried", unit=MetricUnit.Count, value=result.retried)
    metrics.add_metric(name="OutboxEventsParked", unit=MetricUnit.Count, value=result.parked)
    metrics.add_metric(name=OUTBOX_LAG_METRIC, unit=MetricUnit.Seconds, value=lag)
    if result.parked:
        logger.error("outbox rows parked: the bus refused them for good", extra={"errors": result.errors})
    logger.info(
        "outbox drained",
        extra={"published": result.published, "retried": result.retried, "parked": result.parked, "lagSeconds": lag},
    )
    # After the outbox's own figures: a failure here fails the run (the errors alarm), but only once the
    # outbox is drained and its lag is reported.
    try:
        dias = dias_para_inutilizar(conn)
    except Exception:
        database.discard()
        raise
    if dias is not None:
        # Nothing when no número awaits inutilização: the alarm treats missing data as fine.
        metrics.add_metric(name=INUTILIZACAO_DEADLINE_METRIC, unit=MetricUnit.Count, value=dias)
    return {"published": result.published, "retried": result.retried, "parked": result.parked}
