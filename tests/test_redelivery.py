"""A dependency being down spends no message's receives as if it were poison.

- Unit: the backoff's delays grow, are capped, and their minimum spans the outage tolerance;
  PostgreSQL's own errors (from a real server) are classified as the dependency's or the message's.
- Consumer: with its database unreachable, a batch's first record meets the outage and the rest are
  not attempted; every record is hidden for its backoff delay; nothing is recorded as the message's
  fault. A poison message on its last receive is recorded as given up and not delayed.
- Through the emulator's SQS (the queue model local mode and its pollers use): a message whose
  database is down comes back later and later (receive gaps grow within the cap), its receives span
  the outage tolerance, and only after that does SQS move it to the DLQ.
"""

from __future__ import annotations

import itertools
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.estoque import bootstrap as estoque
from functions.estoque.settings import EstoqueConsumerSettings
from functions.shared.consumer import SqsVisibility
from functions.shared.db import Database, DatabaseUnreachable
from functions.shared.events import EventName, NotaFiscalCriada
from functions.shared.redelivery import (
    JITTER,
    MAX_RECEIVE_COUNT,
    SQS_MAX_VISIBILITY_SECONDS,
    Backoff,
    DependencyUnavailable,
    is_dependency_failure,
    is_outage,
)
from functions.shared.settings import load
from nfe import topology
from nfe.local import emulator
from nfe.local.pollers import QueuePoller
from tests.helpers.db import rows
from tests.helpers.events import FakeLambdaContext, saga_envelope, sqs_event

# --- the backoff ------------------------------------------------------------------------------


def test_the_queues_allow_five_receives_declared_once() -> None:
    # The queues' redrive policy and the consumer's give-up read one declaration
    assert topology.MAX_RECEIVE_COUNT is MAX_RECEIVE_COUNT
    assert MAX_RECEIVE_COUNT == 5


@pytest.mark.parametrize("tolerance", [5 * 60, 15 * 60, 60 * 60, 12 * 3600])
def test_delays_double_within_the_jitter_and_their_minimum_spans_the_tolerance(tolerance: int) -> None:
    backoff = Backoff(tolerance)
    rng = random.Random(tolerance)
    for receive in range(1, MAX_RECEIVE_COUNT):
        floor = backoff.base_seconds * 2 ** (receive - 1)
        delays = [backoff.delay_seconds(receive, rng) for _ in range(200)]
        # Never shorter than the unjittered step, never longer than its jittered bound or the cap
        assert min(delays) >= floor
        assert max(delays) <= min(backoff.cap_seconds, floor * (1 + JITTER) + 1)
        assert len(set(delays)) > 1 or floor * JITTER < 1  # jitter really spreads them
    # The four unjittered delays add up to the tolerance: the outage a message survives
    assert backoff.minimum_span_seconds() == pytest.approx(tolerance)
    assert all(backoff.delay_seconds(n, rng) <= SQS_MAX_VISIBILITY_SECONDS for n in range(1, 10))


def test_default_delays_are_one_two_four_and_eight_minutes_at_least() -> None:
    backoff = Backoff()
    assert backoff.outage_tolerance_seconds == 15 * 60
    lows = [backoff.delay_seconds(n, random.Random(0)) // 60 for n in range(1, MAX_RECEIVE_COUNT)]
    assert lows[0] >= 1 and lows[1] >= 2 and lows[2] >= 4 and lows[3] >= 8


def test_receives_past_the_last_step_do_not_grow_beyond_the_cap() -> None:
    backoff = Backoff(15 * 60)
    assert max(backoff.delay_seconds(n) for n in range(1, 50)) <= backoff.cap_seconds


# --- whose failure is it ------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_postgres_errors_are_classified_by_whose_fault_they_are(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        # A constraint the message breaks, a query the code got wrong: the message's or the code's own
        with pytest.raises(psycopg.errors.UniqueViolation) as unique:
            conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.errors.UndefinedTable) as undefined:
            conn.execute("SELECT * FROM nowhere")
        # A statement cancelled by the server: its failure, not the message's
        with pytest.raises(psycopg.errors.QueryCanceled) as cancelled:
            conn.execute("SET statement_timeout = 10; SELECT pg_sleep(1)")
    assert not is_dependency_failure(unique.value) and not is_dependency_failure(undefined.value)
    assert is_dependency_failure(cancelled.value) and not is_outage(cancelled.value)
    # A server that does not answer at all is an outage the whole batch would meet
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"host=127.0.0.1 port={closed_port()} dbname=x user=x connect_timeout=2")
    assert is_dependency_failure(refused.value)
    assert is_outage(DatabaseUnreachable(str(refused.value)))
    assert is_outage(DependencyUnavailable("SEFAZ answered 108")) and not is_dependency_failure(ValueError("bad"))


# --- the consumer with its database down --------------------------------------------------------


class RecordingVisibility(SqsVisibility):
    """The consumer's SQS visibility calls, recorded instead of sent."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: list[tuple[str, list[tuple[str, str, int]]]] = []

    def hide(self, queue_arn: str, entries: list[tuple[str, str, int]]) -> list[str]:
        self.hidden.append((queue_arn, entries))
        return []


class CountingDatabase(Database):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connects = 0

    def _connect(self) -> Any:
        self.connects += 1
        return super()._connect()


def criada() -> dict[str, Any]:
    nota = uuid.uuid4()
    payload = NotaFiscalCriada(
        nota_fiscal_id=nota,
        items=[{"produtoId": uuid.uuid4(), "quantidade": 1}],  # type: ignore[list-item]
        valor_total=Decimal("1.00"),
    )
    return saga_envelope(EventName.NOTA_FISCAL_CRIADA, payload)


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingDatabase]:
    monkeypatch.setenv("DATABASE_URL", f"host=127.0.0.1 port={closed_port()} dbname=nfe connect_timeout=2")
    monkeypatch.setenv("EVENT_BUS_NAME", "nfe-events-test")
    monkeypatch.setenv("EAGER_PUBLISH", "false")
    monkeypatch.setenv("OUTAGE_TOLERANCE_SECONDS", "900")
    monkeypatch.delenv("DB_USER", raising=False)
    db = CountingDatabase(load(EstoqueConsumerSettings), application_name="estoque-consumer")
    yield db
    db.close()


def test_an_unreachable_database_fails_the_batch_once_and_delays_every_record(unreachable: CountingDatabase) -> None:
    visibility = RecordingVisibility()
    consumer = estoque.consumer(load(EstoqueConsumerSettings), unreachable)
    consumer.visibility = visibility
    event = sqs_event([criada() for _ in range(4)], queue="estoque-reserva-test")
    for i, record in enumerate(event["Records"], start=1):
        record["attributes"]["ApproximateReceiveCount"] = str(i)  # receives 1..4 of four messages
    # When the batch arrives while nothing listens on the database's port
    with pytest.raises(BatchProcessingError):  # every record failed: the invocation fails, as before
        consumer.handle(event, FakeLambdaContext())
    # Then only the first record tried to connect; the other three were not attempted
    assert unreachable.connects == 1
    # And all four are hidden for the delay of their own receive count, on their own queue
    ((queue_arn, entries),) = visibility.hidden
    assert queue_arn.endswith(":estoque-reserva-test")
    assert [e[0] for e in entries] == [r["messageId"] for r in event["Records"]]
    backoff = Backoff(900)
    for receive, (_, handle, seconds) in enumerate(entries, start=1):
        assert handle == event["Records"][receive - 1]["receiptHandle"]
        floor = backoff.base_seconds * 2 ** (receive - 1)
        assert floor <= seconds <= floor * (1 + JITTER) + 1


def test_on_its_last_receive_a_message_is_given_up_not_delayed(
    unreachable: CountingDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    visibility = RecordingVisibility()
    consumer = estoque.consumer(load(EstoqueConsumerSettings), unreachable)
    consumer.visibility = visibility
    event = sqs_event([criada()], queue="estoque-reserva-test")
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(MAX_RECEIVE_COUNT)
    with pytest.raises(BatchProcessingError):
        consumer.handle(event, FakeLambdaContext())
    # The outage outlasted the tolerance: SQS dead-letters it, and the log says so and why
    assert visibility.hidden == []
    gave_up = [r for r in caplog.records if "giving up" in r.getMessage()]
    assert gave_up and "DatabaseUnreachable" in str(getattr(gave_up[0], "reason", ""))


def test_a_poison_message_is_still_the_messages_fault(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("EVENT_BUS_NAME", "nfe-events-test")
    monkeypatch.setenv("EAGER_PUBLISH", "false")
    monkeypatch.delenv("DB_USER", raising=False)
    db = Database(load(EstoqueConsumerSettings))
    try:
        visibility = RecordingVisibility()
        consumer = estoque.consumer(load(EstoqueConsumerSettings), db)
        consumer.visibility = visibility
        # A batch with a message no retry can fix and a good one
        good = criada()
        event = sqs_event(["not json", good], queue="estoque-reserva-test")
        result = consumer.handle(event, FakeLambdaContext())
        # The poison fails alone, is not delayed (it spends its receives at the queue's pace) and its
        # reason is recorded for `nfe dlq show`
        assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [event["Records"][0]["messageId"]]
        assert visibility.hidden == []
        (row,) = rows(database_url, "SELECT motivo FROM estoque.mensagens_falhas")
        assert row["motivo"].startswith("body is not JSON")
    finally:
        db.close()


# --- through the emulator's SQS -----------------------------------------------------------------


@pytest.fixture(scope="module")
def local_aws() -> Iterator[emulator.LocalAws]:
    aws = emulator.start("redelivery", visibility_timeout_seconds=1)
    yield aws
    aws.stop()


def test_receive_gaps_grow_while_the_database_is_down_and_span_the_tolerance(
    local_aws: emulator.LocalAws, unreachable: CountingDatabase
) -> None:
    # Given estoque's consumer with its database down and an outage tolerance of 15 s (the deployed
    # 15 minutes scaled down 60x: delays of at least 1, 2, 4 and 8 s), on a queue whose own
    # visibility timeout is 1 s, so without the backoff all five receives would pass in 5 s
    tolerance = 15
    consumer = estoque.consumer(load(EstoqueConsumerSettings), unreachable, sqs_client=local_aws.client("sqs"))
    consumer.backoff = Backoff(tolerance)
    queue = local_aws.queues["estoque-reserva"]
    sqs = local_aws.client("sqs")
    sqs.send_message(QueueUrl=queue.url, MessageBody=json.dumps(criada()))
    received: list[float] = []

    def invoke(_function: str, event: dict[str, Any]) -> Any:
        received.append(time.monotonic())
        return consumer.handle(event, FakeLambdaContext())

    # When the mapping polls until the message leaves the queue
    poller = QueuePoller(sqs, queue, invoke, threading.Event())
    deadline = time.monotonic() + 3 * tolerance
    while time.monotonic() < deadline:
        poller.poll_once(wait_seconds=1)
        dead = sqs.receive_message(QueueUrl=queue.dlq_url, MessageSystemAttributeNames=["All"]).get("Messages", [])
        if dead:
            break
    # Then it was received the allowed five times, each gap within its step's bounds and longer
    # than the one before, and only then dead-lettered
    assert len(received) == MAX_RECEIVE_COUNT and dead
    gaps = [b - a for a, b in itertools.pairwise(received)]
    backoff = Backoff(tolerance)
    for n, gap in enumerate(gaps, start=1):
        floor = backoff.base_seconds * 2 ** (n - 1)
        assert floor - 0.2 <= gap <= floor * (1 + JITTER) + 1.5, (n, gaps)
    assert gaps == sorted(gaps), gaps
    assert received[-1] - received[0] >= tolerance - 0.5
    print(f"\nreceive gaps with the database down: {', '.join(f'{g:.1f}' for g in gaps)} s (tolerance {tolerance} s)")
