"""`nfe fiscal numeracao` and `nfe fiscal inutilizar` against a real PostgreSQL: the notas put in each
state by the real faturamento consumer (tests/test_ops_fiscal.py's `Faturamento`), gaps and recorded
inutilizações made by hand, SEFAZ stood in for by a small fake (local mode and the emulated SEFAZ:
tests/test_ops_inutilizacao_local.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from functions.shared.db import Database
from nfe.ops import inutilizacao, numeracao
from nfe.ops.dlq import OpsError
from nfe.ops.target import Target
from tests.test_ops_fiscal import NOW, Faturamento, db

__all__ = ["db"]  # the faturamento fixture, shared

ROOT = Path(__file__).resolve().parents[1]
JUSTIFICATIVA = "Numeracao rejeitada pela SEFAZ e abandonada"


def sql(url: str, statement: str, params: Any = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def inutilizacao_recorded(url: str, de: int, ate: int, protocolo: str, serie: int = 1) -> None:
    """As Faturamento records SEFAZ's NumeracaoInutilizada (functions/faturamento/dal.py)."""
    sql(
        url,
        "INSERT INTO faturamento.inutilizacoes (serie, ambiente, numero_inicial, numero_final, justificativa, "
        "protocolo, homologada_em, documento) VALUES (%s, 2, %s, %s, %s, %s, %s, 'nfe/x-procInutNFe.xml')",
        (serie, de, ate, JUSTIFICATIVA, protocolo, datetime(2026, 6, 1, 12, tzinfo=UTC)),
    )


@pytest.fixture
def serie(db: Database, database_url: str) -> dict[str, str]:
    """Série 1, números 1 to 9: each fate once, two unexplained números (8, 9), all as of NOW (3 June 2026)."""
    f = Faturamento(db, database_url)
    made = {name: f.confirmada() for name in ("authorized", "rejected", "denied", "waiting", "overdue", "cancelled")}
    made["rejected-june"] = f.confirmada()
    f.autorizar(made["authorized"])
    f.rejeitar(made["rejected"], 610, "Rejeição: Total da NF difere", datetime(2026, 5, 20, 12, tzinfo=UTC))
    f.denegar(made["denied"], 302, "Uso Denegado", datetime(2026, 6, 1, 12, tzinfo=UTC))
    f.rejeitar(made["overdue"], 539, "Rejeição: Duplicidade", datetime(2026, 4, 20, 12, tzinfo=UTC))
    f.autorizar(made["cancelled"])
    f.rejeitar(made["rejected-june"], 225, "Rejeição: Falha no Schema XML", datetime(2026, 6, 2, 12, tzinfo=UTC))
    # SEFAZ homologated the cancelamento (the cancel flow's own tests cover how it gets there)
    sql(database_url, "UPDATE faturamento.notas_fiscais SET status = 'CANCELADA' WHERE id = %s", (made["cancelled"],))
    # The rejected número 2 was inutilizado; 8 and 9 were taken from the counter with no nota (by hand)
    inutilizacao_recorded(database_url, 2, 2, "135260000000002")
    sql(database_url, "UPDATE faturamento.numeracao SET ultimo_numero = 9 WHERE serie = 1")
    return made


def account(url: str, serie: int | None = None) -> dict[str, Any]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return numeracao.accounting(conn, serie, now=NOW)


def fates(answer: dict[str, Any]) -> list[tuple[int, int, str]]:
    (entry,) = answer["series"]
    return [(r["numeroInicial"], r["numeroFinal"], r["fate"]) for r in entry["ranges"]]


# --- nfe fiscal numeracao ----------------------------------------------------------------------------


def test_every_numero_has_its_fate_and_the_unexplained_ones_are_flagged(
    serie: dict[str, str], database_url: str
) -> None:
    # When the operator asks on 3 June
    answer = account(database_url)
    # Then each número of série 1 up to the counter's 9 has its fate, consecutive ones as a range
    assert fates(answer) == [
        (1, 1, "autorizada"),
        (2, 2, "inutilizada"),
        (3, 3, "denegada"),
        (4, 4, "pendente"),
        (5, 5, "a inutilizar"),
        (6, 6, "cancelada"),
        (7, 7, "a inutilizar"),
        (8, 9, "lacuna"),
    ]
    (entry,) = answer["series"]
    ranges = {r["numeroInicial"]: r for r in entry["ranges"]}
    assert entry["serie"] == 1 and entry["ultimoNumero"] == 9
    # The inutilizado número carries its protocol; the rejected ones their deadline, April's overdue
    assert ranges[2]["protocolo"] == "135260000000002"
    assert (ranges[5]["deadline"], ranges[5]["overdue"]) == ("2026-05-10", True)
    assert (ranges[7]["deadline"], ranges[7]["daysLeft"], ranges[7]["overdue"]) == ("2026-07-10", 37, False)
    assert entry["counts"] == {
        "autorizada": 1,
        "cancelada": 1,
        "denegada": 1,
        "inutilizada": 1,
        "pendente": 1,
        "a inutilizar": 2,
        "lacuna": 2,
    }
    # And the gap and the overdue número are the problems (exit 1)
    assert (answer["gaps"], answer["overdue"]) == (2, 1)
    assert answer["problems"] == [
        "série 1: número 5 OVERDUE for inutilização (deadline 2026-05-10)",
        "série 1: números 8-9 unexplained: no nota and no inutilização (a gap)",
    ]
    assert numeracao.exit_code(answer) == 1


def test_once_the_rejected_numeros_and_the_gap_are_inutilizados_every_numero_is_accounted_for(
    serie: dict[str, str], database_url: str
) -> None:
    # Given SEFAZ inutilizou the overdue número 5, June's rejected 7 and the gap 8-9
    inutilizacao_recorded(database_url, 5, 5, "135260000000005")
    inutilizacao_recorded(database_url, 7, 9, "135260000000007")
    # When the operator asks / Then nothing is unexplained and nothing awaits
    answer = account(database_url)
    assert fates(answer) == [
        (1, 1, "autorizada"),
        (2, 2, "inutilizada"),
        (3, 3, "denegada"),
        (4, 4, "pendente"),
        (5, 5, "inutilizada"),
        (6, 6, "cancelada"),
        (7, 9, "inutilizada"),
    ]
    assert answer["problems"] == [] and numeracao.exit_code(answer) == 0
    # And the text says so
    text = numeracao.render(answer).splitlines()
    assert text[0] == "série 1: last número 9"
    assert text[1].split() == ["NUMEROS", "FATE", "DETAIL"]
    assert text[2].split() == ["1", "autorizada"]
    assert text[3].split() == ["2", "inutilizada", "protocolo", "135260000000002"]
    assert text[5].split() == ["4", "pendente", "with", "SEFAZ,", "no", "answer", "yet"]
    assert text[-1] == "every número is accounted for: no gap, nothing overdue"
    assert "totals: 1 autorizada, 1 cancelada, 1 denegada, 5 inutilizada, 1 pendente" in text


def test_an_inutilizacao_beyond_the_counter_is_a_problem(serie: dict[str, str], database_url: str) -> None:
    # Given números 11-12, beyond the counter's 9, inutilizados (by other means)
    inutilizacao_recorded(database_url, 11, 12, "135260000000011")
    answer = account(database_url)
    # Then they are listed apart and flagged: the counter would give them to the next notas
    (entry,) = answer["series"]
    assert entry["beyondCounter"] == [{"numeroInicial": 11, "numeroFinal": 12, "protocolo": "135260000000011"}]
    assert answer["problems"][-1].startswith(
        "série 1: números 11-12 inutilizado beyond the counter's last número 9 (protocolo 135260000000011)"
    )
    assert "BEYOND the counter" in numeracao.render(answer)


def test_the_text_shows_deadlines_and_gaps(serie: dict[str, str], database_url: str) -> None:
    lines = numeracao.render(account(database_url)).splitlines()
    assert any(line.split() == ["5", "a", "inutilizar", "by", "2026-05-10,", "OVERDUE"] for line in lines), lines
    assert any(line.split()[:5] == ["7", "a", "inutilizar", "by", "2026-07-10"] for line in lines), lines
    assert any(line.split()[:3] == ["8-9", "lacuna", "GAP:"] for line in lines), lines
    assert "2 problem(s):" in lines


def test_a_database_without_notas_has_nothing_to_account_for(database_url: str) -> None:
    answer = account(database_url)
    assert answer["series"] == [] and answer["problems"] == []
    assert numeracao.render(answer).splitlines() == [
        "no série has numbered a nota yet",
        "",
        "every número is accounted for: no gap, nothing overdue",
    ]
    # What the demo prints: the same text, from a database URL alone
    assert numeracao.lines(database_url)[0] == "no série has numbered a nota yet"


def test_one_serie_is_asked_for_alone(serie: dict[str, str], database_url: str) -> None:
    assert len(account(database_url, 1)["series"]) == 1
    assert account(database_url, 2)["series"] == []


# --- nfe fiscal inutilizar: the checks before SEFAZ ---------------------------------------------------


class FakeSefaz:
    """Stands in for asking the SEFAZ function: records each request, answers as told, and can record
    the range as Faturamento would on NumeracaoInutilizada."""

    def __init__(self, url: str, c_stat: int = 102, record: bool = True) -> None:
        self.url = url
        self.c_stat = c_stat
        self.record = record
        self.asked: list[Any] = []

    def __call__(self, target: Target, pedido: Any) -> dict[str, Any]:
        self.asked.append(pedido)
        if self.c_stat not in (102, 563):
            return {"classe": "REJEITADA", "cStat": self.c_stat, "motivo": "Rejeição", "protocolo": None}
        if self.record:
            inutilizacao_recorded(self.url, pedido.de, pedido.ate, "135260000000999")
        return {
            "classe": "HOMOLOGADA",
            "cStat": self.c_stat,
            "motivo": "Inutilização de número homologado",
            "protocolo": "135260000000999",
            "documento": f"nfe/homologacao/serie-001/inutilizacao-{pedido.de:09d}-{pedido.ate:09d}-procInutNFe.xml",
        }


TARGET = Target(description="test", region="us-east-1", bus_name="nfe-events-dev", archive_name="-", dlqs=[])


def run(url: str, de: int, ate: int, sefaz: FakeSefaz, serie: int = 1) -> dict[str, Any]:
    pedido = inutilizacao.pedido(serie, de, ate, JUSTIFICATIVA)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return inutilizacao.inutilizar(TARGET, conn, pedido, wait_seconds=0, ask=sefaz)


def test_a_gap_and_a_rejected_numero_are_inutilizados_and_recorded(serie: dict[str, str], database_url: str) -> None:
    sefaz = FakeSefaz(database_url)
    # When the operator inutiliza June's rejected 7 and the gap 8-9
    result = run(database_url, 7, 9, sefaz)
    # Then SEFAZ is asked once for exactly that range, its answer printed, the range recorded
    assert [(p.serie, p.de, p.ate, p.justificativa) for p in sefaz.asked] == [(1, 7, 9, JUSTIFICATIVA)]
    assert result == {
        "serie": 1,
        "numeroInicial": 7,
        "numeroFinal": 9,
        "via": "sefaz-autorizador-dev",
        "classe": "HOMOLOGADA",
        "cStat": 102,
        "motivo": "Inutilização de número homologado",
        "protocolo": "135260000000999",
        "documento": "nfe/homologacao/serie-001/inutilizacao-000000007-000000009-procInutNFe.xml",
        "recorded": True,
    }
    assert inutilizacao.exit_code(result) == 0
    assert inutilizacao.render(result).splitlines() == [
        "SEFAZ homologated the inutilização of série 1, números 7-9: cStat 102 Inutilização de número homologado",
        "protocolo 135260000000999",
        "procInutNFe archived as nfe/homologacao/serie-001/inutilizacao-000000007-000000009-procInutNFe.xml",
        "recorded in faturamento.inutilizacoes",
    ]


def test_a_range_holding_a_used_numero_is_refused_before_asking_sefaz(serie: dict[str, str], database_url: str) -> None:
    sefaz = FakeSefaz(database_url)
    # When the operator asks for 3-7: denied 3, pending 4, cancelled 6 are used (5 and 7 alone are not)
    with pytest.raises(OpsError) as refused:
        run(database_url, 3, 7, sefaz)
    # Then nothing is sent, and one message lists them
    assert sefaz.asked == []
    message = refused.value.args[0]
    assert message.splitlines()[0] == "refused before asking SEFAZ: série 1, números 3-7:"
    assert "used números in the range (SEFAZ would answer 241): 3 (DENEGADA), 4 (CONFIRMADA), 6 (CANCELADA)" in message
    # And an authorized one is used too
    with pytest.raises(OpsError, match=r"1 \(AUTORIZADA\)"):
        run(database_url, 1, 1, sefaz)
    assert sefaz.asked == []


def test_numeros_beyond_the_counter_are_refused(serie: dict[str, str], database_url: str) -> None:
    sefaz = FakeSefaz(database_url)
    with pytest.raises(OpsError, match=r"números 10-12 are beyond série 1's last número \(9\)"):
        run(database_url, 8, 12, sefaz)
    # A série that never numbered a nota has no número to inutilizar
    with pytest.raises(OpsError, match=r"números 1-3 are beyond série 7's last número \(0\)"):
        run(database_url, 1, 3, sefaz, serie=7)
    assert sefaz.asked == []


def test_the_same_range_twice_is_refused_as_already_inutilizado(serie: dict[str, str], database_url: str) -> None:
    sefaz = FakeSefaz(database_url)
    assert run(database_url, 8, 9, sefaz)["recorded"] is True
    # When the same range is asked again / Then it is refused here (SEFAZ would answer 563)
    with pytest.raises(OpsError) as again:
        run(database_url, 8, 9, sefaz)
    assert "this range is already inutilizado: protocolo 135260000000999 of " in again.value.args[0]
    assert "(SEFAZ would answer 563 with that protocol)" in again.value.args[0]
    # And a range overlapping it too (SEFAZ: 256), naming the recorded one
    with pytest.raises(OpsError, match=r"números 8-9 are already inutilizado \(protocolo 135260000000999"):
        run(database_url, 7, 8, sefaz)
    assert len(sefaz.asked) == 1


def test_every_problem_of_a_range_is_listed_at_once(serie: dict[str, str], database_url: str) -> None:
    with pytest.raises(OpsError) as refused:
        run(database_url, 1, 11, FakeSefaz(database_url))
    # Then the used números, those beyond the counter and the inutilizado one, each a line
    reasons = [r.strip() for r in refused.value.args[0].splitlines()[1:]]
    assert [r.split(":")[0] for r in reasons] == [
        "used números in the range (SEFAZ would answer 241)",
        "números 10-11 are beyond série 1's last número (9)",
        "número 2 is already inutilizado (protocolo 135260000000002 of 2026-06-01; SEFAZ would answer 256)",
    ]


@pytest.mark.parametrize(
    ("de", "ate", "justificativa", "reason"),
    [
        (5, 5, "curta", "justificativa: justificativa must have 15 to 255 characters (has 5)"),
        (9, 5, JUSTIFICATIVA, "ate (5) is before de (9) (SEFAZ: 224)"),
        (1, 10_001, JUSTIFICATIVA, "at most 10,000 números per request (SEFAZ: 201)"),
    ],
)
def test_a_request_sefaz_would_refuse_on_its_face_is_refused_first(
    de: int, ate: int, justificativa: str, reason: str
) -> None:
    with pytest.raises(OpsError) as refused:
        inutilizacao.pedido(1, de, ate, justificativa)
    assert refused.value.args[0].startswith("refused before asking SEFAZ:")
    assert reason in refused.value.args[0]


def test_a_refusal_by_sefaz_is_printed_and_exits_1(serie: dict[str, str], database_url: str) -> None:
    result = run(database_url, 7, 7, FakeSefaz(database_url, c_stat=241))
    assert (result["classe"], result["cStat"], result["recorded"]) == ("REJEITADA", 241, False)
    assert inutilizacao.exit_code(result) == 1
    assert inutilizacao.render(result) == "SEFAZ refused the inutilização of série 1, número 7: cStat 241 Rejeição"


def test_a_homologated_range_not_recorded_in_time_says_where_to_look(serie: dict[str, str], database_url: str) -> None:
    result = run(database_url, 7, 7, FakeSefaz(database_url, record=False))
    assert result["recorded"] is False and inutilizacao.exit_code(result) == 0
    assert "not recorded in faturamento.inutilizacoes yet" in inutilizacao.render(result)


# --- on a stack: the SEFAZ function, invoked -------------------------------------------------------------


class FakeLambda:
    """boto3's Lambda client as far as `invoke` goes: records the call, answers as told."""

    def __init__(self, payload: Any, function_error: str | None = None) -> None:
        self.payload = payload
        self.function_error = function_error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.payload).encode())}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


def test_on_a_stack_the_sefaz_function_is_invoked_with_the_request() -> None:
    answer = {"classe": "HOMOLOGADA", "cStat": 102, "motivo": "ok", "protocolo": "135260000000001", "documento": "k"}
    client = FakeLambda(answer)
    pedido = inutilizacao.pedido(1, 7, 9, JUSTIFICATIVA, 2026)
    assert inutilizacao.ask_stack(TARGET, pedido, client) == answer
    (call,) = client.calls
    assert (call["FunctionName"], call["InvocationType"]) == ("sefaz-autorizador-dev", "RequestResponse")
    assert json.loads(call["Payload"]) == {
        "inutilizar": {"serie": 1, "de": 7, "ate": 9, "justificativa": JUSTIFICATIVA, "ano": 2026}
    }
    # The function's own refusal of a request, and its failure, are one line each
    with pytest.raises(OpsError, match="sefaz-autorizador-dev refused the request: ate: bad"):
        inutilizacao.ask_stack(TARGET, pedido, FakeLambda({"erro": "ate: bad"}))
    failed = FakeLambda({"errorType": "SefazIndisponivel", "errorMessage": "108"}, function_error="Unhandled")
    with pytest.raises(OpsError, match="sefaz-autorizador-dev failed: SefazIndisponivel: 108; SEFAZ may or may not"):
        inutilizacao.ask_stack(TARGET, pedido, failed)


def nfe(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "nfe.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == expect, f"{result.stdout}\n{result.stderr}"
    return result


def test_the_commands_on_a_stack_read_the_database_they_are_given(
    serie: dict[str, str], database_url: str, tmp_path: Path
) -> None:
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
    stack = ("--stack", "dev", "--outputs", str(outputs), "--database-url", database_url)
    # numeracao: the gap and the overdue número make it exit 1, in JSON as in text
    answer = json.loads(nfe("fiscal", "numeracao", *stack, "--json", expect=1).stdout)
    # (the database's clock decides which deadlines have passed)
    assert answer["gaps"] == 2 and "série 1: números 8-9 unexplained" in " ".join(answer["problems"])
    text = nfe("fiscal", "numeracao", *stack, expect=1).stdout.splitlines()
    assert any(line.split()[:2] == ["8-9", "lacuna"] for line in text), text
    # inutilizar: a used número is refused before anything reaches AWS (no credentials needed)
    refused = nfe(
        "fiscal",
        "inutilizar",
        *stack,
        "--serie",
        "1",
        "--de",
        "1",
        "--ate",
        "2",
        "--justificativa",
        JUSTIFICATIVA,
        expect=1,
    )
    assert refused.stdout == ""
    assert refused.stderr.startswith("nfe fiscal: refused before asking SEFAZ: série 1, números 1-2:")
    assert "1 (AUTORIZADA)" in refused.stderr
    # And a bad justificativa needs no database
    short = nfe(
        "fiscal",
        "inutilizar",
        "--stack",
        "dev",
        "--outputs",
        str(outputs),
        "--serie",
        "1",
        "--de",
        "8",
        "--ate",
        "9",
        "--justificativa",
        "curta",
        expect=1,
    )
    assert "justificativa must have 15 to 255 characters" in short.stderr
