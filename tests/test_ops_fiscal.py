"""`nfe fiscal status` and the SEFAZ steps of `nfe saga show` against a real PostgreSQL, the notas put
in each state by the real faturamento consumer (SEFAZ's answers handed to it as the bus delivers
them, with the event ids the SEFAZ function derives), and the inutilização deadline's calendar."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from functions.faturamento import bootstrap
from functions.faturamento.settings import FaturamentoApiSettings, FaturamentoConsumerSettings
from functions.fiscal.chave import compor_chave
from functions.sefaz.participant import answer_event_id
from functions.shared.consumer import EventConsumer
from functions.shared.db import Database
from functions.shared.events import EventName, NotaFiscalDenegada, NotaFiscalRejeitada
from functions.shared.settings import load
from nfe.local.fiscal_demo import DESTINATARIO_SP
from nfe.ops import fiscal, saga
from nfe.ops.target import Target, TargetError
from tests.conftest import set_function_env
from tests.helpers.api import ApiClient
from tests.helpers.db import one
from tests.helpers.events import autorizada_de, failed_ids, reserva_confirmada_de, saga_envelope, sqs_event

ROOT = Path(__file__).resolve().parents[1]
SAO_PAULO = timezone(timedelta(hours=-3))
NOW = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)


# --- the calendar --------------------------------------------------------------------------------


def chave(cuf: int) -> str:
    dh_emi = datetime(2026, 5, 31, tzinfo=UTC)
    return compor_chave(cuf=cuf, dh_emi=dh_emi, cnpj="11222333000181", serie=1, numero=7, tp_emis=1, cnf="12345678")


@pytest.mark.parametrize(
    ("rejected_at", "cuf", "deadline"),
    [
        # The 10th of the month after the rejection
        (datetime(2026, 5, 2, 15, 0, tzinfo=UTC), 35, date(2026, 6, 10)),
        # December's fall in January
        (datetime(2026, 12, 15, 15, 0, tzinfo=UTC), 35, date(2027, 1, 10)),
        # 23:30 on 31 May in São Paulo is already 1 June in UTC: the emitente's calendar decides
        (datetime(2026, 5, 31, 23, 30, tzinfo=SAO_PAULO), 35, date(2026, 6, 10)),
        # Amazonas is UTC-4: 03:30 UTC on 1 July is still 30 June there, but 00:30 on 1 July in São Paulo
        (datetime(2026, 7, 1, 3, 30, tzinfo=UTC), 13, date(2026, 7, 10)),
        (datetime(2026, 7, 1, 3, 30, tzinfo=UTC), 35, date(2026, 8, 10)),
    ],
)
def test_the_inutilizacao_deadline_is_the_10th_of_the_next_month_in_the_emitentes_legal_time(
    rejected_at: datetime, cuf: int, deadline: date
) -> None:
    assert fiscal.inutilizacao_deadline(rejected_at, chave(cuf)) == deadline


def test_a_window_is_a_duration_or_a_time() -> None:
    assert fiscal.parse_since("24h", NOW) == NOW - timedelta(hours=24)
    assert fiscal.parse_since("90m", NOW) == NOW - timedelta(minutes=90)
    assert fiscal.parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert fiscal.parse_since("2w", NOW) == NOW - timedelta(weeks=2)
    assert fiscal.parse_since("-2h", NOW) == NOW - timedelta(hours=2)
    assert fiscal.parse_since("2026-06-01T00:00:00Z", NOW) == datetime(2026, 6, 1, tzinfo=UTC)
    for wrong in ("yesterday", "24", "2027-01-01T00:00:00Z"):
        with pytest.raises(TargetError):
            fiscal.parse_since(wrong, NOW)


# --- notas in every SEFAZ state, made by the faturamento consumer -----------------------------------


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Database]:
    set_function_env(monkeypatch, database_url)
    database = Database(load(FaturamentoConsumerSettings))
    yield database
    database.close()


class Faturamento:
    """The faturamento API and consumer, in process, as the bus would drive them."""

    def __init__(self, db: Database, database_url: str) -> None:
        self.url = database_url
        self.api = ApiClient(bootstrap.api(load(FaturamentoApiSettings), db).resolve)
        self.consumer: EventConsumer = bootstrap.consumer(load(FaturamentoConsumerSettings), db)

    def deliver(self, envelope: dict[str, Any]) -> None:
        assert failed_ids(self.consumer.handle(sqs_event([envelope]), None)) == []

    def confirmada(self, emitida_ha: timedelta = timedelta(0)) -> str:
        """A nota numbered by its ReservaConfirmada: CONFIRMADA, with SEFAZ; its dhEmi moved back."""
        body = {
            "destinatario": DESTINATARIO_SP,
            "items": [{"produtoId": str(uuid.uuid4()), "quantidade": 1, "valorUnitario": "10.50"}],
        }
        created = self.api.post("/api/v1/notas", body)
        assert created.status == 201
        nota = str(created.body["id"])
        self.deliver(saga_envelope(EventName.RESERVA_CONFIRMADA, reserva_confirmada_de(self.url, nota)))
        with psycopg.connect(self.url) as conn:
            conn.execute("UPDATE faturamento.notas_fiscais SET emitida_em = %s WHERE id = %s", (NOW - emitida_ha, nota))
        return nota

    def answer_id(self, nota: str, name: EventName) -> uuid.UUID:
        """The id the SEFAZ function gives its answer: derived from the nota's NotaFiscalEmitida."""
        emitida = one(
            self.url,
            "SELECT id FROM faturamento.eventos_outbox WHERE agregado_id = %s AND tipo = 'NotaFiscalEmitida'",
            (nota,),
        )
        return answer_event_id(emitida["id"], name)

    def chave(self, nota: str) -> str:
        return str(one(self.url, "SELECT chave FROM faturamento.notas_fiscais WHERE id = %s", (nota,))["chave"])

    def rejeitar(self, nota: str, c_stat: int, motivo: str, at: datetime) -> None:
        name = EventName.NOTA_FISCAL_REJEITADA
        payload = NotaFiscalRejeitada.model_validate(
            {"notaFiscalId": nota, "chave": self.chave(nota), "cStat": c_stat, "motivo": motivo}
        )
        self.deliver(saga_envelope(name, payload, event_id=self.answer_id(nota, name), occurred_at=at))

    def denegar(self, nota: str, c_stat: int, motivo: str, at: datetime) -> None:
        name = EventName.NOTA_FISCAL_DENEGADA
        payload = NotaFiscalDenegada.model_validate(
            {
                "notaFiscalId": nota,
                "chave": self.chave(nota),
                "protocolo": "135260000000099",
                "denegadaEm": at.isoformat(),
                "cStat": c_stat,
                "motivo": motivo,
                "documento": f"nfe/proc/{nota}.xml",
            }
        )
        self.deliver(saga_envelope(name, payload, event_id=self.answer_id(nota, name), occurred_at=at))

    def autorizar(self, nota: str) -> None:
        name = EventName.NOTA_FISCAL_AUTORIZADA
        self.deliver(saga_envelope(name, autorizada_de(self.url, nota), event_id=self.answer_id(nota, name)))

    def numero(self, nota: str) -> int:
        return int(one(self.url, "SELECT numero FROM faturamento.notas_fiscais WHERE id = %s", (nota,))["numero"])


@pytest.fixture
def notas(db: Database, database_url: str) -> dict[str, str]:
    f = Faturamento(db, database_url)
    # Numbered in this order: the números follow it (1, 2, ...), so the ranges below are known
    made = {
        "waiting-long": f.confirmada(timedelta(minutes=20)),
        "waiting": f.confirmada(timedelta(minutes=5)),
        "authorized": f.confirmada(timedelta(minutes=30)),
        "rejected-1": f.confirmada(),
        "rejected-2": f.confirmada(),
        "rejected-may": f.confirmada(),
        "denied": f.confirmada(),
        "rejected-april": f.confirmada(),
    }
    f.autorizar(made["authorized"])
    f.rejeitar(made["rejected-1"], 610, "Rejeição: Total da NF difere (a)", datetime(2026, 6, 2, 13, tzinfo=UTC))
    f.rejeitar(made["rejected-2"], 610, "Rejeição: Total da NF difere (b)", datetime(2026, 6, 3, 11, tzinfo=UTC))
    # 23:30 on 31 May in São Paulo: May's rejection, though June's in UTC
    f.rejeitar(
        made["rejected-may"], 225, "Rejeição: Falha no Schema XML", datetime(2026, 5, 31, 23, 30, tzinfo=SAO_PAULO)
    )
    f.denegar(
        made["denied"], 302, "Uso Denegado: Irregularidade fiscal do destinatário", datetime(2026, 6, 3, 9, tzinfo=UTC)
    )
    f.rejeitar(made["rejected-april"], 539, "Rejeição: Duplicidade de NF-e", datetime(2026, 4, 20, 12, tzinfo=UTC))
    return made


def status(database_url: str, since: str = "24h", limit: int = 50) -> dict[str, Any]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return fiscal.status(conn, since, limit, now=NOW)


def test_the_notas_with_sefaz_are_listed_oldest_first_with_their_age(notas: dict[str, str], database_url: str) -> None:
    # Given two notas SEFAZ has not answered, emitted 20 and 5 minutes ago, and six it answered
    # When the operator asks
    answer = status(database_url)
    # Then only the two are pending, oldest first, each with its identity and age since dhEmi
    pending = answer["pending"]
    assert pending["count"] == 2 and pending["oldestAgeSeconds"] == 1200.0
    assert [(n["notaId"], n["ageSeconds"]) for n in pending["notas"]] == [
        (notas["waiting-long"], 1200.0),
        (notas["waiting"], 300.0),
    ]
    first = pending["notas"][0]
    assert set(first) == {"notaId", "serie", "numero", "chave", "emitidaEm", "ageSeconds"}
    assert (first["serie"], first["numero"], len(first["chave"])) == (1, 1, 44)
    assert first["emitidaEm"] == "2026-06-03T11:40:00.000Z"
    # And --limit lists fewer but still counts them all
    limited = status(database_url, limit=1)["pending"]
    assert limited["count"] == 2 and [n["notaId"] for n in limited["notas"]] == [notas["waiting-long"]]


def test_refusals_are_counted_per_cstat_over_the_window_rejections_and_denials_apart(
    notas: dict[str, str], database_url: str
) -> None:
    # Given in the last 24 h two 610 rejections and a 302 denial; a 225 on 31 May and a 539 in April
    # When the operator asks for the default window
    answer = status(database_url)
    assert answer["window"] == {"since": "2026-06-02T12:00:00.000Z", "until": "2026-06-03T12:00:00.000Z"}
    # Then each cStat is one row with its count and its latest motivo
    assert answer["refusals"] == {
        "REJEITADA": [
            {
                "cStat": 610,
                "count": 2,
                "latestMotivo": "Rejeição: Total da NF difere (b)",
                "latestAt": "2026-06-03T11:00:00.000Z",
            }
        ],
        "DENEGADA": [
            {
                "cStat": 302,
                "count": 1,
                "latestMotivo": "Uso Denegado: Irregularidade fiscal do destinatário",
                "latestAt": "2026-06-03T09:00:00.000Z",
            }
        ],
    }
    # And a longer window takes the older ones in, the most frequent first
    week = status(database_url, since="7d")["refusals"]["REJEITADA"]
    assert [(r["cStat"], r["count"]) for r in week] == [(610, 2), (225, 1)]
    everything = status(database_url, since="2026-01-01T00:00:00Z")["refusals"]["REJEITADA"]
    assert [(r["cStat"], r["count"]) for r in everything] == [(610, 2), (225, 1), (539, 1)]


def test_every_rejected_numero_awaits_inutilizacao_until_the_10th_of_the_next_month(
    notas: dict[str, str], database_url: str
) -> None:
    # When the operator asks on 3 June
    inut = status(database_url)["inutilizacao"]
    # Then every REJEITADA nota's número is listed (not the denied one: SEFAZ keeps it), nearest deadline first
    listed = [(n["notaId"], n["numero"], n["deadline"], n["daysLeft"], n["overdue"]) for n in inut["numeros"]]
    assert listed == [
        (notas["rejected-april"], 8, "2026-05-10", -24, True),
        (notas["rejected-may"], 6, "2026-06-10", 7, False),
        (notas["rejected-1"], 4, "2026-07-10", 37, False),
        (notas["rejected-2"], 5, "2026-07-10", 37, False),
    ]
    assert (inut["count"], inut["overdue"]) == (4, 1)
    assert inut["numeros"][1]["cStat"] == 225 and inut["numeros"][1]["rejeitadaEm"] == "2026-06-01T02:30:00.000Z"
    # And the consecutive ones with one deadline are one range (one NFeInutilizacao4 request)
    assert inut["ranges"] == [
        {"serie": 1, "numeroInicial": 8, "numeroFinal": 8, "count": 1, "deadline": "2026-05-10", "overdue": True},
        {"serie": 1, "numeroInicial": 6, "numeroFinal": 6, "count": 1, "deadline": "2026-06-10", "overdue": False},
        {"serie": 1, "numeroInicial": 4, "numeroFinal": 5, "count": 2, "deadline": "2026-07-10", "overdue": False},
    ]


def test_a_numero_in_a_recorded_inutilizacao_is_no_longer_listed(notas: dict[str, str], database_url: str) -> None:
    present = one(database_url, "SELECT to_regclass('faturamento.inutilizacoes') IS NOT NULL AS present")["present"]
    if not present:
        pytest.skip("this database records no inutilização yet")
    # Given SEFAZ inutilizou número 8 of série 1 (April's rejection, overdue), in this ambiente
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO faturamento.inutilizacoes (serie, ambiente, numero_inicial, numero_final, justificativa, "
            "protocolo, homologada_em) VALUES (1, 2, 8, 8, 'Numeracao rejeitada pela SEFAZ', '135260000000777', now())"
        )
    # When the operator asks / Then the other three still wait, and nothing is overdue any more
    inut = status(database_url)["inutilizacao"]
    assert [n["numero"] for n in inut["numeros"]] == [6, 4, 5]
    assert (inut["count"], inut["overdue"]) == (3, 0)


def test_the_text_has_the_three_sections(notas: dict[str, str], database_url: str) -> None:
    text = fiscal.render(status(database_url))
    lines = text.splitlines()
    assert lines[0] == "authorizations pending: 2, oldest 20m00s"
    assert lines[1].split() == ["SERIE", "NUMERO", "CHAVE", "EMITIDA", "AGE"]
    assert lines[2].split()[:2] == ["1", "1"] and lines[2].split()[-1] == "20m00s"
    assert "refusals since 2026-06-02T12:00:00.000Z:" in lines
    assert any(line.split()[:3] == ["REJEITADA", "610", "2"] for line in lines)
    assert any(line.split()[:3] == ["DENEGADA", "302", "1"] for line in lines)
    assert "números awaiting inutilização: 4, 1 OVERDUE" in lines
    assert any(line.split() == ["1", "4-5", "2026-07-10"] for line in lines)
    assert any(line.split() == ["1", "8", "2026-05-10", "OVERDUE"] for line in lines)


def test_nothing_to_report_reads_as_such(database_url: str) -> None:
    answer = status(database_url)
    assert answer["pending"] == {"count": 0, "oldestAgeSeconds": None, "notas": []}
    assert answer["refusals"] == {"REJEITADA": [], "DENEGADA": []}
    assert answer["inutilizacao"] == {"count": 0, "overdue": 0, "ranges": [], "numeros": []}
    assert fiscal.render(answer).splitlines() == [
        "authorizations pending: 0",
        "",
        "refusals since 2026-06-02T12:00:00.000Z:",
        "none",
        "",
        "números awaiting inutilização: 0",
    ]


def nfe(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "nfe.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == expect, f"{result.stdout}\n{result.stderr}"
    return result


def test_on_a_stack_the_command_reads_the_database_it_is_given(
    notas: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    # Given a stack's saved outputs (its database is private: the operator passes its URL)
    outputs = tmp_path / "outputs.json"
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/estoque-reserva-dev"
    outputs.write_text(
        json.dumps(
            {
                "eventBusName": "nfe-events-dev",
                "queueUrls": {"estoque-reserva": queue},
                "dlqUrls": {"estoque-reserva": queue.replace("reserva-dev", "reserva-dlq-dev")},
            }
        )
    )
    stack = ("--stack", "dev", "--outputs", str(outputs))
    # When it runs with the database's URL / Then it answers from that database (now: the database's clock)
    answer = json.loads(
        nfe("fiscal", "status", *stack, "--database-url", database_url, "--since", "1000d", "--json").stdout
    )
    assert answer["pending"]["count"] == 2 and answer["inutilizacao"]["count"] == 4
    assert {r["cStat"] for r in answer["refusals"]["REJEITADA"]} == {610, 225, 539}
    # And without one it says what is missing, in one line, exit 2
    missing = nfe("fiscal", "status", *stack, expect=2)
    assert missing.stderr.startswith("nfe fiscal: ") and "--database-url" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


# --- nfe saga show's SEFAZ steps ------------------------------------------------------------------


def story(database_url: str, nota: str) -> dict[str, Any]:
    target = Target(description="test", region=None, bus_name="nfe-events-test", archive_name="-", dlqs=[])
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return saga.show(target, conn, nota, read_dlqs=False)


def test_saga_show_finds_sefaz_answers_through_the_ids_the_sefaz_function_derives(
    notas: dict[str, str], database_url: str
) -> None:
    # Given an authorized nota / When its story is told
    shown = story(database_url, notas["authorized"])
    steps = [s["what"] for s in shown["timeline"]]
    # Then the NotaFiscalEmitida goes to the SEFAZ function, and Faturamento applied its answer
    # (no eager publish in process: the row waits for the publisher, whose relay the answer did not need)
    assert any(s.startswith("faturamento outbox: NotaFiscalEmitida") for s in steps)
    written = next(i for i, s in enumerate(steps) if s.startswith("faturamento outbox: NotaFiscalEmitida"))
    assert steps[written + 1].startswith("NotaFiscalEmitida") and steps[written + 1].endswith(
        "waiting for the publisher"
    )
    applied = [s for s in steps if s.startswith("faturamento consumer applied SEFAZ's NotaFiscalAutorizada")]
    assert len(applied) == 1
    assert steps.index(applied[0]) < steps.index("nota AUTORIZADA")
    assert shown["nfe"]["protocolo"] == f"1352600{3:08d}" and shown["nfe"]["cStat"] is None

    # Given the rejected one of 31 May (São Paulo) / Then cStat, motivo and the deadline of its número
    shown = story(database_url, notas["rejected-may"])
    steps = [s["what"] for s in shown["timeline"]]
    assert shown["status"] == "REJEITADA"
    assert (shown["nfe"]["cStat"], shown["nfe"]["motivo"]) == (225, "Rejeição: Falha no Schema XML")
    assert any(
        s.startswith("SEFAZ rejected the NF-e: cStat 225 Rejeição: Falha no Schema XML (answered 2026-06-01T02:30")
        for s in steps
    )
    assert "número 6 of série 1 awaits inutilização (by 2026-06-10)" in steps
    # No ReservaLiberada has come yet: the compensation is not finished
    assert not any(s.startswith("compensation finished") for s in steps)

    # Given the denied one / Then its protocol, and no inutilização (SEFAZ keeps the número as denied)
    shown = story(database_url, notas["denied"])
    steps = [s["what"] for s in shown["timeline"]]
    assert any(s.startswith("SEFAZ denied the NF-e: cStat 302") and "protocolo 135260000000099" in s for s in steps)
    assert "nota DENEGADA (the número is consumed; Estoque releases the stock)" in steps
    assert not any("inutilização" in s for s in steps)

    # Given one still with SEFAZ / Then no answer step, and its NF-e identity
    shown = story(database_url, notas["waiting"])
    assert shown["status"] == "CONFIRMADA" and shown["nfe"]["numero"] == 2 and shown["nfe"]["protocolo"] is None
    assert not any("SEFAZ" in s["what"] for s in shown["timeline"])
