"""The ops pieces that don't need local mode: failure records, the saga duration metric, SQS's move
task path of a redrive (AWS only; moto has none), times, and stack outputs as a target."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.faturamento import bootstrap, logic
from functions.faturamento.settings import FaturamentoConsumerSettings
from functions.shared.db import Database
from functions.shared.events import EventName, ReservaConfirmada, ReservaFalhou
from functions.shared.settings import load
from nfe import topology
from nfe.ops import dlq as dlq_ops
from nfe.ops.replay import parse_time, replay_name
from nfe.ops.target import Dlq, Target, TargetError, from_outputs, from_state_file, stack_outputs
from tests.conftest import set_function_env
from tests.helpers.db import rows
from tests.helpers.events import saga_envelope, sqs_record


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Database]:
    set_function_env(monkeypatch, database_url)
    database = Database(load(FaturamentoConsumerSettings))
    yield database
    database.close()


def confirmada(nota: uuid.UUID) -> ReservaConfirmada:
    return ReservaConfirmada.model_validate(
        {
            "notaFiscalId": str(nota),
            "reservas": [{"reservaId": str(uuid.uuid4()), "produtoId": str(uuid.uuid4()), "quantidade": 1}],
        }
    )


def test_a_failing_message_leaves_its_last_reason_and_its_first_failure_time(db: Database, database_url: str) -> None:
    consumer = bootstrap.consumer(load(FaturamentoConsumerSettings), db)
    nota = uuid.uuid4()
    body = saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota))
    record = sqs_record(body, queue="faturamento-confirmacao-test")
    # Given an answer about a nota this database never had, received as many times as the queues allow
    for receive in range(1, topology.MAX_RECEIVE_COUNT + 1):
        record["attributes"]["ApproximateReceiveCount"] = str(receive)
        # (a batch whose every record fails raises, so Lambda retries it whole)
        with pytest.raises(BatchProcessingError):
            consumer.handle({"Records": [record]}, None)
    # Then one failure row says why, how many receives, and that the consumer gave up
    (row,) = rows(database_url, "SELECT * FROM faturamento.mensagens_falhas")
    assert row["mensagem_id"] == record["messageId"] and row["fila"] == "faturamento-confirmacao-test"
    assert row["recebimentos"] == topology.MAX_RECEIVE_COUNT and row["desistiu"] is True
    assert row["tipo"] == "ReservaConfirmada" and row["nota_fiscal_id"] == nota
    assert "which does not exist" in row["motivo"]
    assert row["primeira_falha_em"] <= row["ultima_falha_em"]
    # And the effect's transaction left nothing else behind
    assert rows(database_url, "SELECT * FROM faturamento.mensagens_processadas") == []


def test_an_unreadable_message_is_recorded_too(db: Database, database_url: str) -> None:
    consumer = bootstrap.consumer(load(FaturamentoConsumerSettings), db)
    record = sqs_record("this is not json", queue="faturamento-confirmacao-test")
    with pytest.raises(BatchProcessingError):
        consumer.handle({"Records": [record]}, None)
    (row,) = rows(database_url, "SELECT * FROM faturamento.mensagens_falhas")
    assert row["evento_id"] is None and row["desistiu"] is False
    assert row["motivo"].startswith("body is not JSON")


def test_a_final_state_emits_the_saga_duration(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded: list[tuple[str, float]] = []
    monkeypatch.setattr(
        logic.metrics, "add_metric", lambda name, unit, value, **_: recorded.append((name, float(value)))
    )
    # Given a nota created two seconds ago
    import psycopg

    nota = uuid.uuid4()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO faturamento.notas_fiscais (id, destinatario_documento, destinatario_nome, valor_total, "
            "criada_em) VALUES (%s, '11222333000181', 'ACME', 1, now() - interval '2 seconds')",
            (nota,),
        )
    consumer = bootstrap.consumer(load(FaturamentoConsumerSettings), db)
    # When its reservation is confirmed, the saga goes on (to SEFAZ): no duration yet
    body = saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota))
    assert consumer.handle({"Records": [sqs_record(body)]}, None)["batchItemFailures"] == []
    assert ("NotasConfirmadas", 1.0) in recorded
    assert [v for n, v in recorded if n == "DuracaoSaga"] == []
    # When another nota's reservation fails (a final state)
    falhou = uuid.uuid4()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO faturamento.notas_fiscais (id, destinatario_documento, destinatario_nome, valor_total, "
            "criada_em) VALUES (%s, '11222333000181', 'ACME', 1, now() - interval '2 seconds')",
            (falhou,),
        )
    payload = ReservaFalhou(nota_fiscal_id=falhou, codigo="ESTOQUE_INSUFICIENTE", mensagem="sem estoque")
    body = saga_envelope(EventName.RESERVA_FALHOU, payload)
    assert consumer.handle({"Records": [sqs_record(body)]}, None)["batchItemFailures"] == []
    # Then the consumer reports the compensation and how long the saga took
    durations = [v for n, v in recorded if n == "DuracaoSaga"]
    assert ("Compensacoes", 1.0) in recorded
    assert len(durations) == 1 and 1900 < durations[0] < 10_000


class FakeMoveTaskSqs:
    """SQS's move task API as AWS answers it: RUNNING, then COMPLETED."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.polls = 0

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:123456789012:{QueueUrl.rsplit('/', 1)[-1]}"}}

    def start_message_move_task(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"TaskHandle": "handle"}

    def list_message_move_tasks(self, **kwargs: Any) -> dict[str, Any]:
        self.polls += 1
        status = "RUNNING" if self.polls == 1 else "COMPLETED"
        moved = 2 if self.polls == 1 else 5
        return {
            "Results": [
                {"Status": status, "ApproximateNumberOfMessagesMoved": moved, "ApproximateNumberOfMessagesToMove": 5}
            ]
        }


def aws_target(sqs: Any) -> tuple[Target, Dlq]:
    base = "https://sqs.us-east-1.amazonaws.com/123456789012"
    dlq = Dlq(
        "estoque-reserva-dlq-dev",
        f"{base}/estoque-reserva-dlq-dev",
        "queue",
        "estoque-reserva",
        f"{base}/estoque-reserva-dev",
    )
    target = Target("stack dev", "us-east-1", "nfe-events-dev", "nfe-events-dev-archive", [dlq])
    target._clients["sqs"] = sqs
    return target, dlq


def test_on_aws_a_whole_dlq_is_redriven_by_sqs_move_task_back_to_its_queue() -> None:
    sqs = FakeMoveTaskSqs()
    target, dlq = aws_target(sqs)
    progress: list[str] = []
    result = dlq_ops.redrive(target, dlq, None, False, progress.append)
    assert result == {"moved": 5, "failed": 0, "method": "move-task"}
    assert sqs.started == [
        {
            "SourceArn": "arn:aws:sqs:us-east-1:123456789012:estoque-reserva-dlq-dev",
            "DestinationArn": "arn:aws:sqs:us-east-1:123456789012:estoque-reserva-dev",
        }
    ]
    assert progress[0].startswith("move task RUNNING: moved 2") and progress[-1].startswith("move task COMPLETED")


def test_the_event_log_dlq_cannot_be_redriven() -> None:
    target, _ = aws_target(FakeMoveTaskSqs())
    log = Dlq("nfe-events-dev-log-target-dlq", "https://x/nfe-events-dev-log-target-dlq", "log", "rule x")
    with pytest.raises(dlq_ops.OpsError, match="no queue to send them back to"):
        dlq_ops.redrive(target, log, None, False, lambda _: None)


def test_times_absolute_relative_and_wrong() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_time("now", now) == now
    assert parse_time("-90m", now) == now - timedelta(minutes=90)
    assert parse_time("2026-05-01T10:00:00Z", now) == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert parse_time("2026-05-01T10:00:00", now).tzinfo == UTC
    with pytest.raises(TargetError, match="not a time"):
        parse_time("yesterday", now)
    name = replay_name(now, "NotaFiscalCriada", now)
    assert len(name) <= 64 and name.startswith("nfe-20260501T120000-NotaFiscalCriada")


def test_outputs_without_the_ops_keys_are_refused_in_one_line() -> None:
    with pytest.raises(TargetError, match="missing 'eventBusName'"):
        from_outputs({}, "stack dev")
    with pytest.raises(TargetError, match="no dlqUrls output"):
        from_outputs({"eventBusName": "nfe-events-dev", "queueUrls": {}}, "stack dev")


def test_a_state_or_outputs_file_that_is_missing_unreadable_or_not_an_object_says_which_and_why(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.json"
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json")
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    expected = {
        (from_state_file, missing): f"state file {missing}: no such file (is `nfe local --state-file {missing}`",
        (from_state_file, garbled): f"state file {garbled}: unreadable: ",
        (from_state_file, listed): f"state file {listed} is not an nfe local state file",
        (lambda p: stack_outputs("dev", p), missing): f"outputs file {missing}: no such file",
        (lambda p: stack_outputs("dev", p), garbled): f"outputs file {garbled}: unreadable: ",
        (lambda p: stack_outputs("dev", p), listed): f"outputs file {listed}: expected the JSON object of `pulumi",
    }
    for (read, path), start in expected.items():
        with pytest.raises(TargetError) as raised:
            read(path)
        assert str(raised.value).startswith(start), str(raised.value)
