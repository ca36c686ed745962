"""SQS consumers of saga events: parse, dispatch to a plain handler mapping, report partial failures.

Each SQS message body is the EventBridge event the rule delivered; only `detail-type` and `detail`
are read (an emulator may omit `account` and friends). The detail must be an `EventDetail` of a
known schema version whose payload validates against its event's model; anything else raises, so
the record fails alone, returns to its queue and reaches the DLQ after MAX_RECEIVE_COUNT receives,
with an error log line that says why.

A record that fails also leaves its reason in the schema's `mensagens_falhas` (see
`functions.shared.failures`), and the receive that uses up MAX_RECEIVE_COUNT logs that the consumer
gives up on it: `nfe dlq show` prints that reason beside the message in the DLQ.

Idempotency lives with the effect: a handler inserts the event id into its schema's
`mensagens_processadas` in the same transaction (`functions.shared.inbox.mark_processed`), and
skips the effect when the id was already there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ValidationError

from functions.shared.events import SCHEMA_VERSION, EventDetail, EventName
from functions.shared.failures import FailureLog
from functions.shared.inbox import EventHandler, MalformedEvent
from functions.shared.observability import logger, metrics

__all__ = ["MAX_RECEIVE_COUNT", "REJECTED_METRIC", "EventConsumer", "EventHandler", "MalformedEvent", "parse_body"]

# One per receive of a message no retry can fix (a poison message counts once per receive, so
# MAX_RECEIVE_COUNT times before the DLQ takes it): the alarmable sign of a bad producer.
REJECTED_METRIC = "MensagensRejeitadas"
# The queues' maxReceiveCount (nfe/topology.py declares it for the stack; a test keeps them equal):
# the function package holds only functions/, so the consumer keeps its own copy.
MAX_RECEIVE_COUNT = 3


def _summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors())


def parse_body(body: str) -> tuple[EventDetail, BaseModel]:
    """The detail and its typed payload from an SQS body holding an EventBridge event."""
    try:
        envelope = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("detail"), dict):
        raise MalformedEvent("body is not an EventBridge event with an object `detail`")
    detail = envelope["detail"]
    version = detail.get("schemaVersion")
    if version != SCHEMA_VERSION:
        raise MalformedEvent(f"unsupported schemaVersion {version!r}; this consumer reads version {SCHEMA_VERSION}")
    try:
        parsed = EventDetail.model_validate(detail)
    except ValidationError as exc:
        raise MalformedEvent(f"detail is not a valid EventDetail: {_summary(exc)}") from exc
    if envelope.get("detail-type") != parsed.event_type.value:
        raise MalformedEvent(
            f"detail-type {envelope.get('detail-type')!r} does not match detail.eventType {parsed.event_type.value!r}"
        )
    try:
        payload = parsed.typed_payload()
    except ValidationError as exc:
        raise MalformedEvent(f"{parsed.event_type.value} payload is invalid: {_summary(exc)}") from exc
    return parsed, payload


class EventConsumer:
    """One consumer Lambda: its event handlers, looked up by event name."""

    def __init__(self, handlers: Mapping[EventName, EventHandler], failures: FailureLog | None = None) -> None:
        self.handlers = dict(handlers)
        self.failures = failures

    @staticmethod
    def _reject(record: SQSRecord, message: str, reason: str) -> None:
        logger.error(
            message,
            extra={
                "message_id": record.message_id,
                "receive_count": record.attributes.approximate_receive_count,
                "reason": reason,
            },
        )
        metrics.add_metric(name=REJECTED_METRIC, unit=MetricUnit.Count, value=1)

    def process_record(self, record: SQSRecord) -> None:
        try:
            self._process(record)
        except Exception as exc:
            self._failed(record, exc)
            raise

    def _failed(self, record: SQSRecord, exc: Exception) -> None:
        reason = str(exc) if isinstance(exc, MalformedEvent) else f"{type(exc).__name__}: {exc}"
        receive_count = int(record.attributes.approximate_receive_count or 1)
        gave_up = receive_count >= MAX_RECEIVE_COUNT
        if gave_up:
            logger.error(
                "giving up on the message: its receives are used up and SQS moves it to the DLQ",
                extra={"message_id": record.message_id, "receive_count": receive_count, "reason": reason},
            )
        if self.failures is not None:
            queue = record.event_source_arn.rsplit(":", 1)[-1]
            if not self.failures.record(record.message_id, queue, record.body, receive_count, reason, gave_up):
                logger.warning(
                    "could not record the failure; this log line is its only record",
                    extra={"message_id": record.message_id, "reason": reason},
                )

    def _process(self, record: SQSRecord) -> None:
        receive_count = record.attributes.approximate_receive_count
        try:
            detail, payload = parse_body(record.body)
        except MalformedEvent as exc:
            self._reject(
                record, "malformed message rejected; it goes to the DLQ once its receives are used up", str(exc)
            )
            raise
        handler = self.handlers.get(detail.event_type)
        logger.set_correlation_id(str(detail.correlation_id))
        logger.append_keys(event_id=str(detail.event_id), event_type=detail.event_type.value)
        if handler is None:
            reason = f"this consumer does not handle {detail.event_type.value}"
            self._reject(record, "unexpected event rejected; check the queue's rule", reason)
            logger.remove_keys(["event_id", "event_type"])
            raise MalformedEvent(reason)
        try:
            handler(detail, payload)
        except MalformedEvent as exc:
            self._reject(record, "event rejected; it goes to the DLQ once its receives are used up", str(exc))
            raise
        except Exception:
            logger.exception(
                "event handling failed; the message will be retried",
                extra={"message_id": record.message_id, "receive_count": receive_count},
            )
            raise
        finally:
            logger.remove_keys(["event_id", "event_type"])

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # A processor per invocation keeps its per-batch state out of module globals.
        processor = BatchProcessor(event_type=EventType.SQS)
        response = process_partial_response(
            event=event, record_handler=self.process_record, processor=processor, context=context
        )
        return dict(response)
