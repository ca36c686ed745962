"""Dead-letter queues: what is in them, why, and sending it back.

Reading a DLQ never loses a message: `peek` receives messages with a short visibility timeout and
makes them visible again at once (each peek adds one to SQS's receive count, which is why `show`
prefers the count the consumer recorded).

A redrive copies before it deletes: a message leaves the DLQ only after SQS has accepted its copy
in the destination queue. Interrupted between the two, the message is still in the DLQ and the next
run sends it again; the duplicate is absorbed by the consumers, which apply each event id once.
On AWS a whole queue DLQ is redriven by SQS's message move task (StartMessageMoveTask); the copy
path serves `--max`, the EventBridge target DLQs (each message goes back to the queue its rule
targets, named in the message's TARGET_ARN attribute) and the emulator, which lacks move tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nfe import topology
from nfe.ops.render import iso
from nfe.ops.target import Dlq, Target, TargetError

Progress = Callable[[str], None]
PEEK_VISIBILITY_SECONDS = 20
# EventBridge's attributes on a message it dead-lettered (its reason, not the event's).
EVENTBRIDGE_DLQ_ATTRIBUTES = (
    "ERROR_CODE",
    "ERROR_MESSAGE",
    "EXHAUSTED_RETRY_CONDITION",
    "RETRY_ATTEMPTS",
    "RULE_ARN",
    "TARGET_ARN",
)


class OpsError(Exception):
    """The operation could not be done on a reachable target (exit 1)."""


def _ms(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None


def depth(target: Target, dlq: Dlq) -> tuple[int, int]:
    attributes = target.client("sqs").get_queue_attributes(
        QueueUrl=dlq.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def peek(target: Target, dlq: Dlq, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` messages of the DLQ, left in it (visible again when this returns)."""
    sqs = target.client("sqs")
    seen: dict[str, dict[str, Any]] = {}
    try:
        while len(seen) < limit:
            batch = sqs.receive_message(
                QueueUrl=dlq.url,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update((m["MessageId"], m) for m in fresh)
    finally:
        handles = [m["ReceiptHandle"] for m in seen.values()]
        for start in range(0, len(handles), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=dlq.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(handles[start : start + 10])
                ],
            )
    return list(seen.values())


def list_dlqs(target: Target, scan: int = 100) -> list[dict[str, Any]]:
    """Every DLQ: depth (visible + in flight), age of its oldest message (of the first `scan`), source."""
    now = datetime.now(UTC)
    result = []
    for dlq in target.dlqs:
        visible, in_flight = depth(target, dlq)
        oldest: float | None = None
        if visible:
            sent = [_ms(m.get("Attributes", {}).get("SentTimestamp")) for m in peek(target, dlq, scan)]
            times = [t for t in sent if t is not None]
            oldest = round((now - min(times)).total_seconds(), 1) if times else None
        result.append(
            {
                "queue": dlq.name,
                "depth": visible + in_flight,
                "oldestAgeSeconds": oldest,
                "source": dlq.source,
                "kind": dlq.kind,
            }
        )
    return result


def _consumer_schema(dlq: Dlq) -> str | None:
    """The schema whose `mensagens_falhas` holds the failures of the DLQ's consumer; None for a consumer
    with no database (the SEFAZ participant: its failures are in its log, and the message says the rest)."""
    if dlq.kind != "queue":
        return None
    spec = next((q for q in topology.QUEUES if q.name == dlq.source), None)
    if spec is None:
        return None
    consumer = topology.function(spec.consumer)
    return consumer.service if consumer.database_role is not None else None


def _failures(conn: Any, schema: str, messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    from functions.shared.failures import identify

    ids = [m["MessageId"] for m in messages]
    by_message = {
        r["mensagem_id"]: r
        for r in conn.execute(f"SELECT * FROM {schema}.mensagens_falhas WHERE mensagem_id = ANY(%s)", (ids,))
    }
    # A message redriven by hand and failing again is a new SQS message: its event id finds it.
    missing = {m["MessageId"]: identify(m["Body"])[0] for m in messages if m["MessageId"] not in by_message}
    event_ids = [e for e in missing.values() if e is not None]
    if event_ids:
        latest = {
            r["evento_id"]: r
            for r in conn.execute(
                f"SELECT DISTINCT ON (evento_id) * FROM {schema}.mensagens_falhas WHERE evento_id = ANY(%s) "
                "ORDER BY evento_id, ultima_falha_em DESC",
                (event_ids,),
            )
        }
        for message_id, event_id in missing.items():
            if event_id in latest:
                by_message[message_id] = latest[event_id]
    conn.rollback()
    return by_message


def describe(target: Target, dlq: Dlq, messages: list[dict[str, Any]], conn: Any | None) -> list[dict[str, Any]]:
    from functions.shared.failures import identify

    schema = _consumer_schema(dlq)
    failures = _failures(conn, schema, messages) if conn is not None and schema else {}
    shown = []
    for message in messages:
        attributes = message.get("Attributes", {})
        extra = {k: v.get("StringValue") for k, v in (message.get("MessageAttributes") or {}).items()}
        event_id, event_type, nota_id = identify(message["Body"])
        failure = failures.get(message["MessageId"])
        if failure is not None:
            reason = failure["motivo"]
            receives = int(failure["recebimentos"])
            first = failure["primeira_falha_em"]
        elif extra.get("ERROR_CODE") or extra.get("ERROR_MESSAGE"):
            # EventBridge could not deliver it to its queue: its own attributes say why.
            reason = f"EventBridge: {extra.get('ERROR_CODE', '')}: {extra.get('ERROR_MESSAGE', '')}".strip()
            receives = int(extra.get("RETRY_ATTEMPTS") or 0)
            first = _ms(attributes.get("SentTimestamp"))
        else:
            if dlq.kind == "queue" and schema is None:
                where = "its consumer has no database to record failures in"
            elif conn is not None:
                where = "no failure recorded for it"
            else:
                where = "pass --database-url to read the reason"
            reason = f"unknown: {where}; the consumer's log has it under message_id {message['MessageId']}"
            # This peek counted one receive of its own.
            receives = max(int(attributes.get("ApproximateReceiveCount", "1")) - 1, 0)
            first = _ms(attributes.get("ApproximateFirstReceiveTimestamp"))
        shown.append(
            {
                "messageId": message["MessageId"],
                "eventType": event_type,
                "notaId": str(nota_id) if nota_id else None,
                "receiveCount": receives,
                "firstFailedAt": iso(first),
                "reason": reason,
                "eventId": str(event_id) if event_id else None,
                "sentAt": iso(_ms(attributes.get("SentTimestamp"))),
            }
        )
    return shown


def show(target: Target, dlq: Dlq, limit: int, conn: Any | None) -> list[dict[str, Any]]:
    return describe(target, dlq, peek(target, dlq, limit), conn)


@dataclass
class RedriveResult:
    moved: int = 0
    failed: int = 0
    method: str = "copy"

    def as_json(self) -> dict[str, Any]:
        return {"moved": self.moved, "failed": self.failed, "method": self.method}


def _queue_arn(target: Target, url: str) -> str:
    attributes = target.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _url_of_arn(target: Target, arn: str, cache: dict[str, str]) -> str:
    if arn not in cache:
        _, _, _, _, account, name = arn.split(":", 5)
        cache[arn] = target.client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return cache[arn]


def _destination(target: Target, dlq: Dlq, message: dict[str, Any], cache: dict[str, str]) -> str | None:
    if dlq.kind == "queue":
        return dlq.source_url
    arn = (message.get("MessageAttributes") or {}).get("TARGET_ARN", {}).get("StringValue")
    if dlq.kind == "target" and arn and arn.split(":")[2] == "sqs":
        return _url_of_arn(target, arn, cache)
    return None


def _attributes_to_keep(message: dict[str, Any]) -> dict[str, Any]:
    kept = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        if name in EVENTBRIDGE_DLQ_ATTRIBUTES:
            continue
        kept[name] = {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
    return kept


def redrive_by_copy(
    target: Target,
    dlq: Dlq,
    maximum: int | None,
    progress: Progress,
    visibility_timeout: int = 60,
    sqs: Any = None,
) -> RedriveResult:
    """Receive, send a copy to its destination, and only then delete it from the DLQ."""
    sqs = sqs or target.client("sqs")
    result = RedriveResult(method="copy")
    failed_ids: set[str] = set()
    cache: dict[str, str] = {}
    waited_since: float | None = None
    while maximum is None or result.moved + result.failed < maximum:
        want = 10 if maximum is None else min(10, maximum - result.moved - result.failed)
        batch = sqs.receive_message(
            QueueUrl=dlq.url,
            MaxNumberOfMessages=want,
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        batch = [m for m in batch if m["MessageId"] not in failed_ids]
        if not batch:
            visible, in_flight = depth(target, dlq)
            # Messages a crashed earlier run (or a peek) holds come back after their visibility timeout.
            if visible == 0 and in_flight <= len(failed_ids):
                break
            waited_since = waited_since or time.monotonic()
            if time.monotonic() - waited_since > visibility_timeout + 5:
                break
            progress(f"waiting for {in_flight - len(failed_ids)} message(s) in flight to become visible")
            time.sleep(1)
            continue
        waited_since = None
        by_destination: dict[str, list[dict[str, Any]]] = {}
        for message in batch:
            destination = _destination(target, dlq, message, cache)
            if destination is None:
                failed_ids.add(message["MessageId"])
                result.failed += 1
                progress(f"{message['MessageId']}: no queue to send it back to; left in the DLQ")
                continue
            by_destination.setdefault(destination, []).append(message)
        for destination, messages in by_destination.items():
            sent = sqs.send_message_batch(
                QueueUrl=destination,
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": m["Body"],
                        **({"MessageAttributes": a} if (a := _attributes_to_keep(m)) else {}),
                    }
                    for i, m in enumerate(messages)
                ],
            )
            for failure in sent.get("Failed", []):
                message = messages[int(failure["Id"])]
                failed_ids.add(message["MessageId"])
                result.failed += 1
                progress(f"{message['MessageId']}: not accepted by its queue ({failure.get('Code')}); left in the DLQ")
            copied = [messages[int(s["Id"])] for s in sent.get("Successful", [])]
            if copied:
                # Only now, with every copy accepted, do the originals leave the DLQ.
                sqs.delete_message_batch(
                    QueueUrl=dlq.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(copied)],
                )
                result.moved += len(copied)
        progress(f"moved {result.moved}, failed {result.failed}")
    return result


def redrive_by_move_task(target: Target, dlq: Dlq, progress: Progress, poll_seconds: float = 2.0) -> RedriveResult:
    """SQS's own redrive (StartMessageMoveTask) back to the source queue, followed to its end."""
    sqs = target.client("sqs")
    source_arn = _queue_arn(target, dlq.url)
    assert dlq.source_url is not None
    sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=_queue_arn(target, dlq.source_url))
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
        task = tasks[0] if tasks else {}
        status = task.get("Status", "RUNNING")
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        to_move = int(task.get("ApproximateNumberOfMessagesToMove", moved) or moved)
        progress(f"move task {status}: moved {moved} of about {to_move}")
        if status in ("COMPLETED", "FAILED", "CANCELLED"):
            failed = 0 if status == "COMPLETED" else max(to_move - moved, 0)
            if task.get("FailureReason"):
                progress(f"move task failure: {task['FailureReason']}")
            return RedriveResult(moved=moved, failed=failed, method="move-task")
        time.sleep(poll_seconds)


def redrive(
    target: Target, dlq: Dlq, maximum: int | None, dry_run: bool, progress: Progress, visibility_timeout: int = 60
) -> dict[str, Any]:
    if dlq.kind == "log":
        raise OpsError(
            f"{dlq.name} holds events the bus could not write to its log group: there is no queue to send them "
            "back to. Read them with `nfe dlq show`; the saga's own deliveries are unaffected."
        )
    if dry_run:
        messages = peek(target, dlq, maximum or 1000)
        cache: dict[str, str] = {}
        destinations: dict[str, int] = {}
        for message in messages:
            where = _destination(target, dlq, message, cache) or "(nowhere: would fail)"
            destinations[where.rsplit("/", 1)[-1]] = destinations.get(where.rsplit("/", 1)[-1], 0) + 1
        return {"moved": 0, "failed": 0, "dryRun": True, "wouldMove": len(messages), "destinations": destinations}
    if dlq.kind == "queue" and maximum is None and not target.is_local:
        return redrive_by_move_task(target, dlq, progress).as_json()
    if maximum is not None and maximum <= 0:
        raise TargetError("--max must be at least 1")
    return redrive_by_copy(target, dlq, maximum, progress, visibility_timeout).as_json()
