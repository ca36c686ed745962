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

A record that fails because a dependency is down (`functions.shared.redelivery`) is not the
message's fault: the consumer stops attempting the rest of the batch once the failure is an
outage (the next records would meet it too, and a database starting up should not be met by every
message at once), and hides each such record for a backoff delay with ChangeMessageVisibility, so
its receives span the configured outage before SQS could dead-letter it. Its reason is recorded
only on its last receive: while the database is down, writing it would fail too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ValidationError

from functions.shared.events import SCHEMA_VERSION, EventDetail, EventName
from functions.shared.failures import FailureLog
from functions.shared.inbox import EventHandler, MalformedEvent
from functions.shared.observability import logger, metrics
from functions.shared.redelivery import (
    MAX_RECEIVE_COUNT,
    Backoff,
    DependencyUnavailable,
    is_dependency_failure,
    is_outage,
)

__all__ = [
    "MAX_RECEIVE_COUNT",
    "REJECTED_METRIC",
    "EventConsumer",
    "EventHandler",
    "MalformedEvent",
    "SqsVisibility",
    "current_receive_count",
    "parse_body",
]

# The receive count of the record being handled: a handler whose effect lives outside any database
# (the SEFAZ participant) reads it to know that an earlier attempt may have reached its dependency.
_receive_count: ContextVar[int] = ContextVar("receive_count", default=1)


def current_receive_count() -> int:
    """ApproximateReceiveCount of the SQS record the running handler was called for (1 outside one)."""
    return _receive_count.get()


# One per receive of a message no retry can fix (a poison message counts once per receive, so
# MAX_RECEIVE_COUNT times before the DLQ takes it): the alarmable sign of a bad producer.
REJECTED_METRIC = "MensagensRejeitadas"


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


class SqsVisibility:
    """ChangeMessageVisibilityBatch through the function's own SQS client: the VPC's SQS endpoint on
    AWS, the emulator in local mode (boto3 reads its endpoint from the environment there)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def _sqs(self) -> Any:
        if self._client is None:
            import boto3  # only when a dependency failed: a healthy invocation never pays for it

            self._client = boto3.client("sqs")
        return self._client

    def queue_url(self, queue_arn: str) -> str:
        # arn:aws:sqs:<region>:<account>:<name> -> <the client's endpoint>/<account>/<name>
        _, _, _, _, account, name = queue_arn.split(":", 5)
        return f"{self._sqs().meta.endpoint_url.rstrip('/')}/{account}/{name}"

    def hide(self, queue_arn: str, entries: list[tuple[str, str, int]]) -> list[str]:
        """(message id, receipt handle, seconds) for each record; returns the ids SQS refused."""
        failed: list[str] = []
        for start in range(0, len(entries), 10):  # the batch call's limit
            chunk = entries[start : start + 10]
            response = self._sqs().change_message_visibility_batch(
                QueueUrl=self.queue_url(queue_arn),
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                    for i, (_, handle, seconds) in enumerate(chunk)
                ],
            )
            failed += [chunk[int(f["Id"])][0] for f in response.get("Failed", [])]
        return failed


@dataclass
class _Batch:
    """One invocation's state: the outage met, if any, and the records to hide for a while."""

    outage: str | None = None
    delays: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)


class EventConsumer:
    """One consumer Lambda: its event handlers, looked up by event name."""

    def __init__(
        self,
        handlers: Mapping[EventName, EventHandler],
        failures: FailureLog | None = None,
        backoff: Backoff | None = None,
        visibility: SqsVisibility | None = None,
    ) -> None:
        self.handlers = dict(handlers)
        self.failures = failures
        self.backoff = backoff or Backoff()
        self.visibility = visibility or SqsVisibility()

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

    def process_record(self, record: SQSRecord, batch: _Batch | None = None) -> None:
        batch = batch if batch is not None else _Batch()
        if batch.outage is not None:
            # Not attempted: the batch's earlier record met an outage this one would meet too.
            skipped = DependencyUnavailable(f"not attempted, a dependency is down: {batch.outage}")
            self._failed(record, skipped, batch)
            raise skipped
        try:
            self._process(record)
        except Exception as exc:
            if is_outage(exc):
                batch.outage = f"{type(exc).__name__}: {exc}".strip()
            self._failed(record, exc, batch)
            raise

    def _failed(self, record: SQSRecord, exc: Exception, batch: _Batch) -> None:
        reason = str(exc) if isinstance(exc, MalformedEvent) else f"{type(exc).__name__}: {exc}"
        receive_count = int(record.attributes.approximate_receive_count or 1)
        gave_up = receive_count >= MAX_RECEIVE_COUNT
        dependency = is_dependency_failure(exc)
        if gave_up:
            logger.error(
                "giving up on the message: its receives are used up and SQS moves it to the DLQ",
                extra={"message_id": record.message_id, "receive_count": receive_count, "reason": reason},
            )
        elif dependency:
            delay = self.backoff.delay_seconds(receive_count)
            batch.delays.setdefault(record.event_source_arn, []).append(
                (record.message_id, record.receipt_handle, delay)
            )
            logger.warning(
                "a dependency is down; the message comes back later",
                extra={
                    "message_id": record.message_id,
                    "receive_count": receive_count,
                    "retry_in_seconds": delay,
                    "reason": reason,
                },
            )
            return  # its reason is written only if it is about to be dead-lettered
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
        token = _receive_count.set(int(receive_count or 1))
        try:
            handler(detail, payload)
        except MalformedEvent as exc:
            self._reject(record, "event rejected; it goes to the DLQ once its receives are used up", str(exc))
            raise
        except Exception as exc:
            if not is_dependency_failure(exc):
                logger.exception(
                    "event handling failed; the message will be retried",
                    extra={"message_id": record.message_id, "receive_count": receive_count},
                )
            raise
        finally:
            _receive_count.reset(token)
            logger.remove_keys(["event_id", "event_type"])

    def _hide(self, batch: _Batch) -> None:
        for queue_arn, entries in batch.delays.items():
            try:
                refused = self.visibility.hide(queue_arn, entries)
            except Exception as exc:
                refused = [message_id for message_id, _, _ in entries]
                logger.warning(
                    "could not delay the failed messages; they come back after the queue's visibility timeout",
                    extra={"queue_arn": queue_arn, "message_ids": refused, "reason": f"{type(exc).__name__}: {exc}"},
                )
                continue
            if refused:
                logger.warning("SQS refused to delay some messages", extra={"message_ids": refused})

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # A processor and a batch state per invocation keep per-batch state out of module globals.
        processor = BatchProcessor(event_type=EventType.SQS)
        batch = _Batch()
        try:
            # A batch whose every record failed raises (Powertools' default): the invocation fails,
            # its error metric shows it, and Lambda backs the mapping off, as it should in an outage.
            response = process_partial_response(
                event=event,
                record_handler=lambda record: self.process_record(record, batch),
                processor=processor,
                context=context,
            )
        finally:
            # Lambda leaves a failed invocation's messages as they are, so their stretched
            # visibility holds whether the invocation returned its failures or raised.
            self._hide(batch)
        return dict(response)
