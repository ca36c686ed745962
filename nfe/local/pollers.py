"""SQS event source mappings and the publisher schedule, as Lambda runs them.

A poller long-polls its queue, hands the consumer a real SQS batch event (up to 10 records),
deletes the records that succeeded and leaves those named in `batchItemFailures` to reappear
after the visibility timeout, so a poison message reaches the DLQ after `maxReceiveCount`
receives exactly as on AWS. It never sleeps while messages are waiting: it polls again at once.
Local mode runs as many pollers per queue as the mapping's maximum concurrency, so a consumer works
on that many batches at once.

Errors, as Lambda handles them on an SQS mapping ("Handling errors for an SQS event source in
Lambda"): when an invocation fails as a whole, the batch's messages stay in the queue and reappear
when their visibility runs out (the consumer may have stretched it: ChangeMessageVisibility acts on
the same queue model), and Lambda "gradually backs off, reducing the amount of concurrency
allocated" to the mapping. A poller does the same: after a failed invocation it waits before its
next poll, doubling the wait with each consecutive failure up to ERROR_BACKOFF_CAP_SECONDS, and
polls at once again after a success. Throttling has no local counterpart: an invocation at the
function's reserved concurrency waits for a container to come free instead of being refused.

The mapping is Lambda's own poller, not a client the function sees, so local mode's pollers reach
the emulator's SQS model in process (`EventSourceSqs`) rather than through HTTP: the same queue
code (visibility, receive counts, redrive to the DLQ) without the request and response encoding on
both sides, which cost about 9 ms of local mode's CPU per batch received and deleted.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from nfe import topology
from nfe.local.emulator import LOCAL_REGION, QueueInfo

Invoke = Callable[[str, dict[str, Any]], Any]

# A poller's wait after a failed invocation doubles from the first to the cap.
ERROR_BACKOFF_FIRST_SECONDS = 0.25
ERROR_BACKOFF_CAP_SECONDS = 4.0


class EventSourceSqs:
    """`receive_message` and `delete_message_batch` of an SQS client, answered by moto's SQS backend
    in this process (the one the local moto server serves), with the client's response shapes."""

    def __init__(self, region: str = LOCAL_REGION) -> None:
        self.region = region

    def _backend(self, queue_url: str) -> tuple[Any, str]:
        from moto.sqs.models import sqs_backends

        account, name = queue_url.rstrip("/").split("/")[-2:]
        return sqs_backends[account][self.region], name

    def receive_message(
        self, *, QueueUrl: str, MaxNumberOfMessages: int = 1, WaitTimeSeconds: int = 0, **_: Any
    ) -> dict[str, Any]:
        backend, name = self._backend(QueueUrl)
        queue = backend.get_queue(name)
        received = backend.receive_message(
            name, MaxNumberOfMessages, WaitTimeSeconds, queue.visibility_timeout, ["All"]
        )
        messages = []
        for message in received:
            found: dict[str, Any] = {
                "MessageId": message.id,
                "ReceiptHandle": message.receipt_handle,
                "MD5OfBody": message.body_md5,
                "Body": message.body,
                "Attributes": {
                    "SenderId": message.sender_id,
                    "SentTimestamp": str(message.sent_timestamp),
                    "ApproximateReceiveCount": str(message.approximate_receive_count),
                    "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
                },
            }
            if message.message_attributes:
                found["MessageAttributes"] = message.message_attributes
            messages.append(found)
        return {"Messages": messages} if messages else {}

    def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        backend, name = self._backend(QueueUrl)
        success, errors = backend.delete_message_batch(name, Entries)
        return {"Successful": [{"Id": i} for i in success], "Failed": errors}


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers for a batch of received messages."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
                    "SenderId": attributes.get("SenderId", "local"),
                    "ApproximateFirstReceiveTimestamp": attributes.get(
                        "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
                    ),
                },
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": LOCAL_REGION,
            }
        )
    return {"Records": records}


class QueuePoller(threading.Thread):
    def __init__(self, sqs: Any, queue: QueueInfo, invoke: Invoke, stop: threading.Event) -> None:
        super().__init__(name=f"poller-{queue.name}", daemon=True)
        self.sqs = sqs
        self.queue = queue
        self.invoke = invoke
        self.stop_event = stop
        self.batches = 0
        self.errors = 0
        self.consecutive_errors = 0
        # The event source mapping's batch size (one nota per invocation for the SEFAZ participant).
        declared = [q for q in topology.QUEUES if q.name == queue.name]
        self.batch_size = declared[0].batch_size if declared else topology.SQS_BATCH_SIZE

    def error_backoff_seconds(self) -> float:
        """How long to wait before the next poll: zero after a success, doubling after failures."""
        if self.consecutive_errors == 0:
            return 0.0
        return min(ERROR_BACKOFF_CAP_SECONDS, ERROR_BACKOFF_FIRST_SECONDS * 2 ** (self.consecutive_errors - 1))

    def poll_once(self, wait_seconds: int = 1) -> int:
        response = self.sqs.receive_message(
            QueueUrl=self.queue.url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        try:
            result = self.invoke(self.queue.consumer, sqs_event(messages, self.queue.arn)) or {}
            failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
            self.consecutive_errors = 0
        except Exception:
            # A handler that raises fails the whole batch, as on Lambda: everything comes back later.
            self.errors += 1
            self.consecutive_errors += 1
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        self.batches += 1
        return len(messages)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception:
                if self.stop_event.is_set():
                    return
                self.errors += 1
                time.sleep(0.5)
            wait = self.error_backoff_seconds()
            if wait:
                self.stop_event.wait(wait)


class Schedule(threading.Thread):
    """`rate(N seconds)` for the publisher: invoke with a scheduled event every interval."""

    def __init__(self, function: str, interval_seconds: float, invoke: Invoke, stop: threading.Event) -> None:
        super().__init__(name=f"schedule-{function}", daemon=True)
        self.function = function
        self.interval = interval_seconds
        self.invoke = invoke
        self.stop_event = stop
        self.runs = 0
        self.errors = 0

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "region": LOCAL_REGION,
                "resources": [],
                "detail": {},
            }
            try:
                self.invoke(self.function, event)
            except Exception:  # a failed run is retried by the next tick, as on AWS
                self.errors += 1
            self.runs += 1
