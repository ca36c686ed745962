"""The alarm on números awaiting inutilização near their deadline: the figure sql/V010's
`faturamento.dias_para_inutilizar()` computes (against a real PostgreSQL, notas rejected by the real
faturamento consumer), who may ask for it, the publisher reporting it, and the alarm and dashboard line
both stacks declare (under Pulumi's mocks)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import errors
from psycopg.rows import dict_row

from components import metrics
from functions.fiscal.chave import compor_chave
from functions.shared.db import Database
from nfe.ops.fiscal import inutilizacao_deadline, legal_timezone
from tests.conftest import set_function_env
from tests.helpers.events import FakeLambdaContext
from tests.test_ops_fiscal import Faturamento, db
from tests.test_stack_properties import Stack, stack

__all__ = ["db", "stack"]  # fixtures, shared

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
AGORA = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)


def dias(url: str, agora: datetime = AGORA) -> float | None:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        value = conn.execute("SELECT faturamento.dias_para_inutilizar(%s) AS d", (agora,)).fetchone()["d"]  # type: ignore[index]
    return None if value is None else float(value)


def expected(rejected_at: datetime, chave: str, agora: datetime = AGORA) -> Any:
    """The commands' calendar (nfe/ops/fiscal.py): the deadline's day ends at midnight, local time;
    the database rounds to hundredths."""
    deadline = inutilizacao_deadline(rejected_at, chave)
    end = datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=legal_timezone(chave))
    return pytest.approx((end - agora).total_seconds() / 86400, abs=0.0051)


def execute(url: str, statement: str, params: Any = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def test_no_numero_awaiting_inutilizacao_is_no_figure(db: Database, database_url: str) -> None:
    # Given an authorized nota only / Then there is nothing to report (the alarm's missing data)
    f = Faturamento(db, database_url)
    f.autorizar(f.confirmada())
    assert dias(database_url) is None


def test_the_figure_is_the_fewest_days_to_the_nearest_deadline_in_the_emitentes_legal_time(
    db: Database, database_url: str
) -> None:
    f = Faturamento(db, database_url)
    june, may_sp, may_am = f.confirmada(), f.confirmada(), f.confirmada()
    # Given a rejection on 2 June (due 10 July)
    f.rejeitar(june, 610, "Rejeição: Total da NF difere", datetime(2026, 6, 2, 12, tzinfo=UTC))
    # (its day ends at 03:00 UTC on 11 July: 37 days and 15 hours after noon UTC on 3 June)
    assert dias(database_url) == expected(datetime(2026, 6, 2, 12, tzinfo=UTC), f.chave(june)) == 37.63
    # And one at 01:30 UTC on 1 June: 22:30 on 31 May in São Paulo, so due 10 June, ending at 03:00 UTC on the 11th
    at = datetime(2026, 6, 1, 1, 30, tzinfo=UTC)
    f.rejeitar(may_sp, 225, "Rejeição: Falha no Schema XML", at)
    assert dias(database_url) == expected(at, f.chave(may_sp)) == 7.63  # 7 days 15 hours
    # And the same moment for an emitente in Amazonas (cUF 13, UTC-4): also 31 May there, its day ends an hour later
    f.rejeitar(may_am, 225, "Rejeição: Falha no Schema XML", at)
    chave_am = compor_chave(
        cuf=13, dh_emi=at, cnpj="11222333000181", serie=1, numero=f.numero(may_am), tp_emis=1, cnf="87654321"
    )
    execute(database_url, "UPDATE faturamento.notas_fiscais SET chave = %s WHERE id = %s", (chave_am, may_am))
    execute(
        database_url,
        "UPDATE faturamento.notas_fiscais SET status = 'AUTORIZADA', protocolo = '135260000000001', "
        "autorizada_em = now() WHERE id = %s",
        (may_sp,),
    )
    assert dias(database_url) == expected(at, chave_am) == 7.67  # 7 days 16 hours
    # When a deadline has passed the figure goes below zero: a day after it ended
    assert dias(database_url, datetime(2026, 6, 12, 4, 0, tzinfo=UTC)) == -1.0


def test_a_numero_inside_a_recorded_inutilizacao_no_longer_counts(db: Database, database_url: str) -> None:
    f = Faturamento(db, database_url)
    early, late = f.confirmada(), f.confirmada()
    f.rejeitar(early, 610, "Rejeição: Total da NF difere", datetime(2026, 4, 20, 12, tzinfo=UTC))
    f.rejeitar(late, 610, "Rejeição: Total da NF difere", datetime(2026, 6, 2, 12, tzinfo=UTC))
    assert dias(database_url) == -23.38  # due 10 May, ended 23 days and 9 hours ago: overdue
    # Given SEFAZ inutilizou April's número (in the nota's ambiente)
    execute(
        database_url,
        "INSERT INTO faturamento.inutilizacoes (serie, ambiente, numero_inicial, numero_final, justificativa, "
        "protocolo, homologada_em) VALUES (1, 2, %s, %s, 'Numeracao rejeitada pela SEFAZ', '135260000000777', now())",
        (f.numero(early), f.numero(early)),
    )
    # Then the figure is June's
    assert dias(database_url) == 37.63
    # And once that one is inutilizado too, there is none
    execute(
        database_url,
        "INSERT INTO faturamento.inutilizacoes (serie, ambiente, numero_inicial, numero_final, justificativa, "
        "protocolo, homologada_em) VALUES (1, 2, %s, %s, 'Numeracao rejeitada pela SEFAZ', '135260000000778', now())",
        (f.numero(late), f.numero(late)),
    )
    assert dias(database_url) is None


@pytest.mark.parametrize(
    ("role", "allowed"), [("outbox_publisher", True), ("faturamento_app", False), ("estoque_app", False)]
)
def test_only_the_publisher_may_ask(role_url: Callable[[str], str], role: str, allowed: bool) -> None:
    with psycopg.connect(role_url(role)) as conn:
        if allowed:
            assert conn.execute("SELECT faturamento.dias_para_inutilizar()").fetchone() == (None,)
        else:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("SELECT faturamento.dias_para_inutilizar()")


def test_the_publisher_reports_the_figure_beside_the_outbox_lag(
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    load_handler: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a número rejected this month (by the database's clock), and an outbox with nothing to send
    f = Faturamento(db, database_url)
    nota = f.confirmada()
    f.rejeitar(nota, 610, "Rejeição: Total da NF difere", datetime.now(UTC))
    execute(database_url, "UPDATE faturamento.eventos_outbox SET publicado = true, publicado_em = now()")
    # When the publisher runs as its schedule runs it, with metrics on
    set_function_env(monkeypatch, database_url, "outbox-publisher")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    handler = load_handler("functions.publisher.handler")
    capsys.readouterr()
    assert handler.handler({}, FakeLambdaContext()) == {"published": 0, "retried": 0, "parked": 0}
    # Then its EMF line carries DiasParaInutilizar: more than 10 days, at most a month and 10 days
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (line,) = [e for e in emf if "DiasParaInutilizar" in e]
    names = {m["Name"] for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"DiasParaInutilizar", "OutboxOldestUnpublishedAgeSeconds"} <= names
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "nfe"
    (value,) = (
        line["DiasParaInutilizar"] if isinstance(line["DiasParaInutilizar"], list) else [line["DiasParaInutilizar"]]
    )
    assert 10 <= value <= 42
    assert value == expected(datetime.now(UTC), f.chave(nota), datetime.now(UTC))

    # And with nothing awaiting inutilização it reports no figure at all (the alarm's missing data)
    execute(
        database_url,
        "UPDATE faturamento.notas_fiscais SET status = 'AUTORIZADA', protocolo = '135260000000001', "
        "autorizada_em = now() WHERE id = %s",
        (nota,),
    )
    handler.handler({}, FakeLambdaContext())
    assert "DiasParaInutilizar" not in capsys.readouterr().out


# --- the stack -----------------------------------------------------------------------------------------


def test_an_alarm_fires_when_a_numero_is_three_days_from_its_deadline(stack: Stack) -> None:
    (alarm,) = [a.inputs for a in stack.of_type(ALARM) if a.inputs.get("metricName") == "DiasParaInutilizar"]
    # The publisher's figure, its fewest in five minutes under three days
    assert alarm["namespace"] == "nfe" and alarm["dimensions"] == {"service": "outbox-publisher"}
    assert (alarm["statistic"], alarm["period"], alarm["evaluationPeriods"]) == ("Minimum", 300, 1)
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (3, "LessThanThreshold")
    # Nothing awaiting inutilização is no figure, and not a breach
    assert alarm["treatMissingData"] == "notBreaching"
    (topic,) = {*alarm["alarmActions"], *alarm["okActions"]}
    assert topic == stack.result.outputs["alarmTopicArn"]
    assert alarm["alarmDescription"].endswith("Runbook: docs/operations.md#alarm-diasparainutilizar")
    # And it belongs to the publisher's component
    (component,) = stack.of_type("nfe:index:OutboxPublisher")
    (record,) = [a for a in stack.of_type(ALARM) if a.inputs.get("metricName") == "DiasParaInutilizar"]
    assert record.parent == component.urn


def test_the_dashboard_draws_the_figure_with_the_alarms_threshold(stack: Stack) -> None:
    (dashboard,) = stack.of_type("aws:cloudwatch/dashboard:Dashboard")
    widgets = {
        w["properties"]["title"]: w["properties"] for w in json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    }
    deadlines = widgets["Fiscal deadlines: days left"]
    lines = [[p for p in m if not isinstance(p, dict)] for m in deadlines["metrics"]]
    assert ["nfe", metrics.INUTILIZACAO_DEADLINE_METRIC, "service", "outbox-publisher"] in lines
    assert {"label": "inutilização alarm", "value": 3} in deadlines["annotations"]["horizontal"]
