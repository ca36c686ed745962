"""The AWS side of local mode: a moto server on loopback holding the topology's bus, rules and queues.

Everything is declared from nfe/topology.py, the module the Pulumi components read, so the local
bus routes exactly the events the deployed one does, to queues with the same DLQ redrive.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

from nfe import topology

LOCAL_REGION = "us-east-1"
# The stack's is `nfe-fiscal-archive-<env>-<unique suffix>` (components/fiscal_archive.py); the
# emulator's names are its own, so local mode's is fixed.
FISCAL_ARCHIVE_BUCKET = "nfe-fiscal-archive-local"
# Dev's lock (Pulumi.dev.yaml): a locked version can still be removed with a governance bypass.
FISCAL_ARCHIVE_LOCK = {"Mode": "GOVERNANCE", "Days": 1}
# moto accepts any credentials; these only keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


@dataclass
class QueueInfo:
    name: str
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str
    consumer: str


@dataclass
class TargetDlqInfo:
    """The DLQ of one service's EventBridge targets (events the bus could not deliver to a queue)."""

    name: str
    url: str
    arn: str
    rules: list[str] = field(default_factory=list)


@dataclass
class LocalAws:
    """A running moto server and the resources declared on it."""

    endpoint_url: str
    bus_name: str
    queues: dict[str, QueueInfo] = field(default_factory=dict)
    target_dlqs: dict[str, TargetDlqInfo] = field(default_factory=dict)
    archive_name: str = ""
    fiscal_archive_bucket: str = ""
    _server: Any = None

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=LOCAL_REGION, **LOCAL_CREDENTIALS)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def environment(self) -> dict[str, str]:
        """Variables that point ordinary boto3 clients (the handlers' own) at the emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            "EVENT_BUS_NAME": self.bus_name,
        }


def _speed_up_moto() -> None:
    """Two per-request costs of moto's server that local mode, which sends it every event and every
    SQS poll, cannot afford; both are pure functions of things that never change in a process.

    - Routing each request to its service, the server lists moto's package directory and stats its
      ~200 entries, under a lock every request shares.
    - Delivering an event to a rule's target, it parses the same ten JSONPath expressions with a
      parser (ply tables) built afresh each time: about 20 ms of CPU per delivered event, half of
      every eager publish. Parsed expressions are read-only, so each is parsed once.

    And three costs of moto's SQS model on every message (issue 15's profile of the throughput run,
    about a third of the emulator's CPU), cut without changing what any call returns:

    - `Queue.attributes` names each attribute by converting its CamelCase name to snake_case,
      character by character, ~20 names per call; the conversion is a pure function of a name
      from a fixed set, so each name is converted once.
    - Receiving a message checks its retention period through `get_queue_attributes`, which
      builds the queue's whole attribute dict (scanning every message in it for the approximate
      counts) three times to read one attribute: read `message_retention_period` itself.
    - A receipt handle is 185 letters, each drawn by its own `random.choice`: draw them with one
      `choices` call of the same generator (moto's seedable one), same alphabet and length.
    - Every request lists its response class's methods with `inspect.getmembers` to check that the
      action exists; a class's methods never change, so each class is listed once.
    """
    import string

    import jsonpath_ng.ext
    import moto.backends
    import moto.core.responses
    import moto.core.utils
    import moto.sqs.models
    import moto.sqs.utils

    if not hasattr(moto.backends.list_of_moto_modules, "cache_info"):
        modules = tuple(moto.backends.list_of_moto_modules())
        moto.backends.list_of_moto_modules = functools.lru_cache(maxsize=1)(lambda: modules)  # type: ignore[assignment]
    if not hasattr(jsonpath_ng.ext.parse, "cache_info"):
        # moto imports `parse` inside the function at each call, so replacing the attribute reaches it.
        jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)  # type: ignore[assignment]

    to_snake = moto.core.utils.camelcase_to_underscores
    if not hasattr(to_snake, "cache_info"):
        cached = functools.lru_cache(maxsize=4096)(to_snake)
        # Modules import it by name: replace it where it is defined and wherever it is already bound.
        for name, module in list(sys.modules.items()):
            if name.startswith("moto") and getattr(module, "camelcase_to_underscores", None) is to_snake:
                module.camelcase_to_underscores = cached  # type: ignore[attr-defined]

    list_methods = moto.core.responses.method_names_from_class
    if not hasattr(list_methods, "cache_info"):
        # Read only: the dispatcher tests membership (`action in method_names`).
        moto.core.responses.method_names_from_class = functools.lru_cache(maxsize=None)(list_methods)  # type: ignore[assignment]

    backend: Any = moto.sqs.models.SQSBackend
    if not getattr(backend.is_message_valid_based_on_retention_period, "_nfe_direct", False):

        def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
            # What moto's own reads through get_queue_attributes(["MessageRetentionPeriod"]).
            retention_period = self.get_queue(queue_name).message_retention_period
            return bool(retention_period + message.sent_timestamp / 1000 > moto.sqs.models.unix_time())

        is_message_valid_based_on_retention_period._nfe_direct = True  # type: ignore[attr-defined]
        backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period

    if not getattr(moto.sqs.models.generate_receipt_handle, "_nfe_direct", False):
        mock_random = moto.sqs.utils.random

        def generate_receipt_handle() -> str:
            return "".join(mock_random.choices(string.ascii_lowercase, k=185))

        generate_receipt_handle._nfe_direct = True  # type: ignore[attr-defined]
        moto.sqs.utils.generate_receipt_handle = generate_receipt_handle
        moto.sqs.models.generate_receipt_handle = generate_receipt_handle  # type: ignore[attr-defined]


def start_moto_server() -> tuple[Any, str]:
    from moto.server import ThreadedMotoServer

    # moto's werkzeug server logs every request; local mode prints its own progress instead.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _speed_up_moto()
    # moto's StartReplay replays the whole archive at once, ignoring the window; local mode's is faithful.
    from nfe.local import archive

    archive.install_faithful_replay()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def provision(
    endpoint_url: str,
    environment: str = "local",
    visibility_timeout_seconds: int = topology.QUEUE_VISIBILITY_TIMEOUT_SECONDS,
) -> LocalAws:
    """Create the bus with its archive, every queue with its DLQ, and the rules routing events to them."""
    aws = LocalAws(endpoint_url=endpoint_url, bus_name=topology.bus_name(environment))
    events = aws.client("events")
    sqs = aws.client("sqs")
    bus_arn = events.create_event_bus(Name=aws.bus_name)["EventBusArn"]
    # The same archive as the stack's (components/event_bus.py), so `nfe replay` has something to replay.
    aws.archive_name = f"{aws.bus_name}-archive"
    events.create_archive(ArchiveName=aws.archive_name, EventSourceArn=bus_arn, RetentionDays=90)
    for service in sorted({topology.function(q.consumer).service for q in topology.QUEUES}):
        name = f"{service}-events-target-dlq-{environment}"  # as components/saga_service.py names it
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        aws.target_dlqs[service] = TargetDlqInfo(name, url, arn)
    for queue in topology.QUEUES:
        dlq_url = sqs.create_queue(QueueName=f"{queue.dlq_name}-{environment}")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # A queue's own visibility, scaled as the given one is to the default (tests shorten them all).
        visibility = max(
            1,
            round(
                queue.visibility_timeout_seconds
                * visibility_timeout_seconds
                / topology.QUEUE_VISIBILITY_TIMEOUT_SECONDS
            ),
        )
        url = sqs.create_queue(
            QueueName=f"{queue.name}-{environment}",
            Attributes={
                "VisibilityTimeout": str(visibility),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": topology.MAX_RECEIVE_COUNT}
                ),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule = f"{queue.rule_name}-{environment}"
        events.put_rule(Name=rule, EventBusName=aws.bus_name, EventPattern=json.dumps(topology.event_pattern(queue)))
        target_dlq = aws.target_dlqs[topology.function(queue.consumer).service]
        target_dlq.rules.append(rule)
        events.put_targets(
            Rule=rule,
            EventBusName=aws.bus_name,
            Targets=[{"Id": queue.name, "Arn": arn, "DeadLetterConfig": {"Arn": target_dlq.arn}}],
        )
        aws.queues[queue.name] = QueueInfo(queue.name, url, arn, dlq_url, dlq_arn, queue.consumer)
    provision_fiscal_archive(aws)
    return aws


def provision_fiscal_archive(aws: LocalAws) -> None:
    """The NF-e documents' bucket, as the stack's: Object Lock from creation (which versions it),
    a default retention on every new version. moto keeps no KMS encryption or access logs for it."""
    s3 = aws.client("s3")
    aws.fiscal_archive_bucket = FISCAL_ARCHIVE_BUCKET
    if any(b["Name"] == FISCAL_ARCHIVE_BUCKET for b in s3.list_buckets().get("Buckets", [])):
        # moto's backends live as long as the process: a second emulator in it (tests) finds the
        # bucket made, locked and maybe holding objects, which Object Lock's configuration refuses.
        return
    s3.create_bucket(Bucket=FISCAL_ARCHIVE_BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(Bucket=FISCAL_ARCHIVE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(
        Bucket=FISCAL_ARCHIVE_BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": dict(FISCAL_ARCHIVE_LOCK)},
        },
    )
    aws.fiscal_archive_bucket = FISCAL_ARCHIVE_BUCKET


def start(
    environment: str = "local", visibility_timeout_seconds: int = topology.QUEUE_VISIBILITY_TIMEOUT_SECONDS
) -> LocalAws:
    server, url = start_moto_server()
    try:
        aws = provision(url, environment, visibility_timeout_seconds)
    except Exception:
        server.stop()
        raise
    aws._server = server
    return aws
