"""faturamento-consumer driven with real SQS batch events against a real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.faturamento import bootstrap
from functions.faturamento.settings import FaturamentoApiSettings, FaturamentoConsumerSettings
from functions.shared.consumer import EventConsumer
from functions.shared.db import Database
from functions.shared.events import (
    EventName,
    NotaFiscalAutorizada,
    NotaFiscalCancelamentoRejeitado,
    NotaFiscalCriada,
    NotaFiscalRejeitada,
    ReservaConfirmada,
    ReservaFalhou,
    ReservaLiberada,
)
from functions.shared.settings import load
from nfe.local.fiscal_demo import DESTINATARIO_SP
from tests.conftest import set_function_env
from tests.helpers.api import ApiClient
from tests.helpers.db import counts, one, rows
from tests.helpers.events import (
    JUSTIFICATIVA,
    autorizada_de,
    cancelamento_homologado_de,
    failed_ids,
    reserva_confirmada_de,
    saga_envelope,
    sqs_event,
)


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Database]:
    set_function_env(monkeypatch, database_url)
    database = Database(load(FaturamentoConsumerSettings))
    yield database
    database.close()


@pytest.fixture
def consumer(db: Database) -> EventConsumer:
    return bootstrap.consumer(load(FaturamentoConsumerSettings), db)


@pytest.fixture
def api(db: Database) -> ApiClient:
    return ApiClient(bootstrap.api(load(FaturamentoApiSettings), db).resolve)


def new_nota(api: ApiClient) -> str:
    body = {
        "destinatario": DESTINATARIO_SP,
        "items": [{"produtoId": str(uuid.uuid4()), "quantidade": 2, "valorUnitario": "10.50"}],
    }
    result = api.post("/api/v1/notas", body)
    assert result.status == 201
    return str(result.body["id"])


def confirmada(nota_id: str) -> ReservaConfirmada:
    # The db fixture points DATABASE_URL at this test's database.
    return cast(ReservaConfirmada, reserva_confirmada_de(os.environ["DATABASE_URL"], nota_id))


def autorizada(nota_id: str) -> NotaFiscalAutorizada:
    return cast(NotaFiscalAutorizada, autorizada_de(os.environ["DATABASE_URL"], nota_id))


def autorizada_sem_chave(nota_id: str) -> NotaFiscalAutorizada:
    """An authorization of a nota that has no chave yet (a stray answer): the MOC's example chave."""
    return NotaFiscalAutorizada.model_validate(
        {
            "notaFiscalId": nota_id,
            "chave": "52060433009911002506550120000007800267301615",
            "protocolo": "135260000000001",
            "autorizadaEm": "2026-12-06T10:00:00-03:00",
            "digestValue": "x",
            "cStat": 100,
            "motivo": "Autorizado o uso da NF-e",
            "documento": "nfe/x",
        }
    )


def rejeitada(nota_id: str) -> NotaFiscalRejeitada:
    chave = rows(os.environ["DATABASE_URL"], "SELECT chave FROM faturamento.notas_fiscais WHERE id = %s", (nota_id,))
    return NotaFiscalRejeitada.model_validate(
        {"notaFiscalId": nota_id, "chave": chave[0]["chave"], "cStat": 610, "motivo": "Rejeição: Total da NF difere"}
    )


def falhou(nota_id: str) -> ReservaFalhou:
    return ReservaFalhou.model_validate(
        {
            "notaFiscalId": nota_id,
            "codigo": "ESTOQUE_INSUFICIENTE",
            "mensagem": "insufficient stock: PAR-001: requested 2, available 1",
            "produtosEmFalta": [{"produtoId": str(uuid.uuid4()), "solicitado": 2, "disponivel": 1}],
        }
    )


def liberada(nota_id: str) -> ReservaLiberada:
    return ReservaLiberada.model_validate({"notaFiscalId": nota_id, "reservas": []})


def deliver(consumer: EventConsumer, *bodies: Any) -> list[str]:
    """Deliver one SQS batch; return the message ids reported as failed."""
    event = sqs_event(bodies)
    failed = failed_ids(consumer.handle(event, None))
    ids = [r["messageId"] for r in event["Records"]]
    return [f"#{ids.index(m)}" for m in failed]


def nota_row(url: str, nota_id: str) -> dict[str, Any]:
    return one(url, "SELECT * FROM faturamento.notas_fiscais WHERE id = %s", (nota_id,))


def test_reserva_confirmada_confirms_the_nota(api: ApiClient, consumer: EventConsumer, database_url: str) -> None:
    # Given a PENDING nota
    nota_id = new_nota(api)
    # When Estoque confirms its reservation
    assert deliver(consumer, saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota_id))) == []
    # Then it is CONFIRMADA with confirmadaEm, as the API shows
    nota = api.get(f"/api/v1/notas/{nota_id}").body
    assert nota["status"] == "CONFIRMADA"
    assert nota["confirmadaEm"] is not None


def test_reserva_falhou_sets_erro_estoque_with_reason_and_time(
    api: ApiClient, consumer: EventConsumer, database_url: str
) -> None:
    # Given a PENDING nota
    nota_id = new_nota(api)
    occurred = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    # When Estoque reports a failed reservation
    envelope = saga_envelope(EventName.RESERVA_FALHOU, falhou(nota_id), occurred_at=occurred)
    assert deliver(consumer, envelope) == []
    # Then it is ERRO_ESTOQUE with codigo, mensagem and the event's time
    nota = api.get(f"/api/v1/notas/{nota_id}").body
    assert nota["status"] == "ERRO_ESTOQUE"
    assert nota["erro"]["codigo"] == "ESTOQUE_INSUFICIENTE"
    assert "PAR-001" in nota["erro"]["mensagem"]
    assert nota_row(database_url, nota_id)["erro_timestamp"] == occurred


def test_sefaz_homologating_the_cancelamento_cancels_the_nota_and_has_estoque_release_the_stock(
    api: ApiClient, consumer: EventConsumer, database_url: str
) -> None:
    # Given an AUTORIZADA nota whose cancelation was accepted
    nota_id = new_nota(api)
    deliver(consumer, saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota_id)))
    deliver(consumer, saga_envelope(EventName.NOTA_FISCAL_AUTORIZADA, autorizada(nota_id)))
    assert api.post(f"/api/v1/notas/{nota_id}/cancelamento", JUSTIFICATIVA).status == 202
    # When SEFAZ registers the cancelamento
    homologado = cancelamento_homologado_de(database_url, nota_id)
    assert deliver(consumer, saga_envelope(EventName.NOTA_FISCAL_CANCELAMENTO_HOMOLOGADO, homologado)) == []
    # Then the nota is CANCELADA with the event's protocol, and Estoque is told to release the stock
    nota = api.get(f"/api/v1/notas/{nota_id}").body
    assert nota["status"] == "CANCELADA" and nota["canceladaEm"] is not None
    assert nota["cancelamentoProtocolo"] == homologado.protocolo
    assert [r["tipo"] for r in rows(database_url, "SELECT tipo FROM faturamento.eventos_outbox ORDER BY criado_em")][
        -1
    ] == "NotaFiscalCancelada"
    # And when Estoque reports the stock released, that is recorded
    assert deliver(consumer, saga_envelope(EventName.RESERVA_LIBERADA, liberada(nota_id))) == []
    assert api.get(f"/api/v1/notas/{nota_id}").body["estoqueLiberadoEm"] is not None
    # And cancelling again is refused
    assert api.post(f"/api/v1/notas/{nota_id}/cancelamento", JUSTIFICATIVA).status == 409


def test_a_cancelamento_sefaz_refuses_leaves_the_nota_authorized_saying_why(
    api: ApiClient, consumer: EventConsumer, database_url: str
) -> None:
    nota_id = new_nota(api)
    deliver(consumer, saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota_id)))
    deliver(consumer, saga_envelope(EventName.NOTA_FISCAL_AUTORIZADA, autorizada(nota_id)))
    assert api.post(f"/api/v1/notas/{nota_id}/cancelamento", JUSTIFICATIVA).status == 202
    chave = rows(database_url, "SELECT chave FROM faturamento.notas_fiscais WHERE id = %s", (nota_id,))[0]["chave"]
    recusa = NotaFiscalCancelamentoRejeitado(
        nota_fiscal_id=nota_id, chave=chave, c_stat=501, motivo="Rejeição: Prazo de cancelamento superior ao previsto"
    )
    assert deliver(consumer, saga_envelope(EventName.NOTA_FISCAL_CANCELAMENTO_REJEITADO, recusa)) == []
    nota = api.get(f"/api/v1/notas/{nota_id}").body
    assert nota["status"] == "AUTORIZADA" and nota["cancelamentoSolicitadoEm"] is None
    assert nota["cancelamentoRecusado"]["cStat"] == 501
    assert outbox_tipos(database_url).count("NotaFiscalCancelada") == 0


def outbox_tipos(database_url: str) -> list[str]:
    return [r["tipo"] for r in rows(database_url, "SELECT tipo FROM faturamento.eventos_outbox ORDER BY criado_em")]


def test_redelivered_event_changes_nothing(api: ApiClient, consumer: EventConsumer, database_url: str) -> None:
    # Given a ReservaConfirmada already applied
    nota_id = new_nota(api)
    envelope = saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota_id))
    deliver(consumer, envelope)
    before = nota_row(database_url, nota_id)
    # When the very same event is delivered again (twice in one batch, as SQS may)
    assert deliver(consumer, envelope, envelope) == []
    # Then the nota is exactly as it was and the event is recorded once
    assert nota_row(database_url, nota_id) == before
    assert rows(database_url, "SELECT tipo FROM faturamento.mensagens_processadas") == [{"tipo": "ReservaConfirmada"}]


@pytest.mark.parametrize(
    ("setup", "late_event", "expected_status"),
    [
        ("falhou", EventName.RESERVA_CONFIRMADA, "ERRO_ESTOQUE"),
        ("confirmada", EventName.RESERVA_FALHOU, "CONFIRMADA"),
        ("pending", EventName.RESERVA_LIBERADA, "PENDING"),
        ("autorizada", EventName.RESERVA_LIBERADA, "AUTORIZADA"),  # no cancelation was requested
        ("autorizada", EventName.NOTA_FISCAL_REJEITADA, "AUTORIZADA"),  # SEFAZ answers once
        ("pending", EventName.NOTA_FISCAL_AUTORIZADA, "PENDING"),
    ],
)
def test_event_that_does_not_fit_the_state_changes_nothing_but_is_recorded(
    api: ApiClient,
    consumer: EventConsumer,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    setup: str,
    late_event: EventName,
    expected_status: str,
) -> None:
    # Given a nota in some state
    nota_id = new_nota(api)
    if setup == "falhou":
        deliver(consumer, saga_envelope(EventName.RESERVA_FALHOU, falhou(nota_id)))
    elif setup in ("confirmada", "autorizada"):
        deliver(consumer, saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota_id)))
    if setup == "autorizada":
        deliver(consumer, saga_envelope(EventName.NOTA_FISCAL_AUTORIZADA, autorizada(nota_id)))
    before = nota_row(database_url, nota_id)
    caplog.clear()
    # When an event arrives that does not fit that state
    payload = {
        EventName.RESERVA_CONFIRMADA: confirmada,
        EventName.RESERVA_FALHOU: falhou,
        EventName.RESERVA_LIBERADA: liberada,
        EventName.NOTA_FISCAL_AUTORIZADA: autorizada_sem_chave,
        EventName.NOTA_FISCAL_REJEITADA: rejeitada,
    }[late_event](nota_id)
    envelope = saga_envelope(late_event, payload)
    # Then it succeeds (no retry could make it fit), changes nothing, is logged and recorded as processed
    assert deliver(consumer, envelope) == []
    after = nota_row(database_url, nota_id)
    assert after == before and after["status"] == expected_status
    assert any("does not fit the nota's state" in m for m in caplog.messages)
    processed = rows(
        database_url,
        "SELECT 1 FROM faturamento.mensagens_processadas WHERE evento_id = %s",
        (envelope["detail"]["eventId"],),
    )
    assert len(processed) == 1


def test_event_for_unknown_nota_is_rejected_and_changes_nothing(
    api: ApiClient, consumer: EventConsumer, database_url: str
) -> None:
    # Given one real nota / When a confirmation for an unknown id arrives beside the real one's
    nota_id = new_nota(api)
    unknown = saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(str(uuid.uuid4())))
    failed = deliver(consumer, unknown, saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota_id)))
    # Then the unknown one fails (bound for the DLQ), unmarked, and the real one is applied
    assert failed == ["#0"]
    assert nota_row(database_url, nota_id)["status"] == "CONFIRMADA"
    stored = counts(database_url)
    assert stored["faturamento.notas_fiscais"] == 1
    assert stored["faturamento.mensagens_processadas"] == 1


def test_malformed_messages_fail_alone_and_say_why(
    api: ApiClient, consumer: EventConsumer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a batch of one good message and five bad ones
    nota_id = new_nota(api)
    good = saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota_id))
    future = saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota_id))
    future["detail"]["schemaVersion"] = 2
    bad_payload = saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota_id))
    bad_payload["detail"]["payload"]["reservas"] = []
    mismatched = saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(nota_id))
    mismatched["detail-type"] = "ReservaFalhou"
    not_ours = saga_envelope(
        EventName.NOTA_FISCAL_CRIADA,
        NotaFiscalCriada.model_validate(
            {
                "notaFiscalId": nota_id,
                "items": [{"produtoId": str(uuid.uuid4()), "quantidade": 1}],
                "valorTotal": "1.00",
            }
        ),
    )
    caplog.clear()
    # When the batch is delivered
    failed = deliver(consumer, "{not json", good, future, bad_payload, mismatched, not_ours)
    # Then only the bad ones are reported failed, the good one is applied
    assert failed == ["#0", "#2", "#3", "#4", "#5"]
    assert nota_row(database_url, nota_id)["status"] == "CONFIRMADA"
    # And each failure left a log line with its reason
    reasons = [str(getattr(r, "reason", "")) for r in caplog.records if r.levelname == "ERROR"]
    assert any("not JSON" in r for r in reasons)
    assert any("unsupported schemaVersion 2" in r for r in reasons)
    assert any("payload is invalid" in r and "reservas" in r for r in reasons)
    assert any("does not match detail.eventType" in r for r in reasons)
    assert any("does not handle NotaFiscalCriada" in r for r in reasons)


def test_database_failure_fails_the_record_for_a_retry(consumer: EventConsumer, database_url: str) -> None:
    # Given a consumer whose role lost its rights on the table (an operational fault, not bad data)
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("REVOKE UPDATE ON faturamento.notas_fiscais FROM faturamento_app")
    # When an event arrives / Then the invocation fails as a whole (every record failed, so Powertools
    # raises: SQS retries the batch and the function's error metric shows the fault)
    envelope = saga_envelope(EventName.RESERVA_CONFIRMADA, confirmada(str(uuid.uuid4())))
    with pytest.raises(BatchProcessingError, match="All records failed"):
        consumer.handle(sqs_event([envelope]), None)
    # And nothing is marked processed, so the retry will apply it
    assert counts(database_url)["faturamento.mensagens_processadas"] == 0
