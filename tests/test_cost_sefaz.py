"""The cost review prices the SEFAZ participant: its function from usage.functions.sefaz, its metrics,
the certificate's secret and the GetSecretValue calls its containers make, the events it puts on the
bus itself (it has no outbox), and its queue, DLQs and alarms like every consumer's."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.sefaz.certificate import DEFAULT_MAX_AGE_SECONDS
from nfe.config import load_stack_file
from nfe.cost import PreviewResource, estimate
from nfe.cost.pricers import SECRET_READERS, direct_events_per_invocation
from nfe.plan import plan
from tests.test_cost_estimator import config, fn, line, res

ROOT = Path(__file__).resolve().parents[1]
SECRET = "aws:secretsmanager/secret:Secret"
BUS = "aws:cloudwatch/eventBus:EventBus"
CERTIFICATE_TAGS = {"nfe:secret": "sefaz-certificate"}


def sefaz_fn(reserved: int | None = None) -> PreviewResource:
    # The logical name says which function of the topology it deploys, as the program's does.
    if reserved is None:
        return fn("sefaz-autorizador-fn", tracingConfig={"mode": "Active"})
    return fn("sefaz-autorizador-fn", tracingConfig={"mode": "Active"}, reservedConcurrentExecutions=reserved)


def test_the_review_recognises_the_certificate_by_the_tag_the_program_sets() -> None:
    from components.sefaz_participant import FUNCTION_NAME, certificate_tags

    (((key, value), (reader, hours)),) = SECRET_READERS.items()
    assert {key: value} == certificate_tags() and reader == FUNCTION_NAME
    # functions/sefaz/certificate.py keeps a certificate an hour
    assert hours * 3600 == DEFAULT_MAX_AGE_SECONDS


def test_only_a_publisher_without_an_outbox_puts_events_itself() -> None:
    # The SEFAZ participant has no database, so no outbox: one event per record of its batch of one
    assert direct_events_per_invocation("sefaz-autorizador") == 1
    # The others publish through their outbox (usage.eventsPublished) or not at all
    for name in ("faturamento-api", "estoque-consumer", "outbox-publisher", "db-migrator", None, "nothing"):
        assert direct_events_per_invocation(name) == 0


def test_the_certificate_secret_is_billed_with_the_reads_of_the_containers_that_keep_it_an_hour() -> None:
    # Given the secret, read by the SEFAZ function with 4 reserved executions and 100,000 invocations
    resources = [
        res(SECRET, "sefaz-certificate", {"tags": CERTIFICATE_TAGS}),
        sefaz_fn(reserved=4),
    ]
    result = estimate(resources, config())
    # Then $0.40 for the secret, and 4 containers x 730 h reads at $0.05 per 10,000
    assert line(result, "sefaz-certificate", "secret") == pytest.approx(0.40)
    assert line(result, "sefaz-certificate", "api-calls") == pytest.approx(4 * 730 * 0.05 / 10_000)
    # Without a reservation nothing bounds its containers: one read per invocation at most
    unbounded = estimate([resources[0], sefaz_fn()], config())
    assert line(unbounded, "sefaz-certificate", "api-calls") == pytest.approx(100_000 * 0.05 / 10_000)
    # A secret without the tag (another team's) is the secret-month alone
    other = estimate([res(SECRET, "other", {"tags": {"team": "x"}}), resources[1]], config())
    assert [i.dimension for i in other.items if i.resource == "other"] == ["secret"]


def test_the_function_is_priced_from_its_usage_figure_with_its_metrics() -> None:
    result = estimate([sefaz_fn(reserved=4)], config())
    assert line(result, "sefaz-autorizador-fn", "requests") == pytest.approx(100_000 * 0.20 / 1_000_000)
    assert line(result, "sefaz-autorizador-fn", "compute") == pytest.approx(100_000 * 1.5 * 0.5 * 0.0000133334)
    assert line(result, "sefaz-autorizador-fn", "traces") == pytest.approx(100_000 * 5.00 / 1_000_000)
    # EsperaAutorizacao, CertificadoDiasRestantes, SefazIndisponivel, the three outcomes, the two
    # cancelamento outcomes, NumerosInutilizados, MensagensRejeitadas and ColdStart
    assert line(result, "sefaz-autorizador-fn", "custom-metrics") == pytest.approx(11 * 0.30)


def test_its_events_are_billed_on_the_bus_beside_the_outboxes() -> None:
    # Given the bus and the SEFAZ function
    result = estimate([res(BUS, "bus", {"name": "nfe-events-dev"}), sefaz_fn()], config())
    # Then the outboxes' million and the function's 100,000 answers, each a line
    assert line(result, "bus", "events") == pytest.approx(1.00)
    assert line(result, "bus", "direct-events") == pytest.approx(0.10)
    # And without it the bus has no such line
    alone = estimate([res(BUS, "bus", {"name": "nfe-events-dev"})], config())
    assert [i.dimension for i in alone.items] == ["events"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_stack_prices_the_whole_participant(stack: str) -> None:
    # Given the stack's plan and config / When priced
    result = estimate(plan(stack).resources, load_stack_file(ROOT / f"Pulumi.{stack}.yaml"))
    sefaz = [i for i in result.items if i.component == "sefaz"]
    # Then nothing of it is left unpriced, and its lines are the function, secret, queues and alarms
    assert not [u for u in result.unpriced if u.component == "sefaz"]
    assert {(i.type, i.dimension) for i in sefaz} >= {
        ("aws:lambda/function:Function", "compute"),
        ("aws:lambda/function:Function", "custom-metrics"),
        ("aws:secretsmanager/secret:Secret", "secret"),
        ("aws:secretsmanager/secret:Secret", "api-calls"),
        ("aws:sqs/queue:Queue", "requests"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm"),
    }
    # Nine alarm-months: errors, rejected messages, the queue's backlog and DLQ, the target DLQ, pending,
    # certificate, and the refusal rate's two metrics
    alarms = [i for i in sefaz if i.type == "aws:cloudwatch/metricAlarm:MetricAlarm"]
    assert sum(i.monthly for i in alarms) == pytest.approx(0.90)
    # Function $1.02, traces $0.50, 11 metrics $3.30, secret $0.41, alarms $0.90, and its queue's share of
    # usage.sqsMessages (split among the stack's queues: it moves when queues are added or merged)
    assert sum(i.monthly for i in sefaz) == pytest.approx(6.36, abs=0.01)
    # Within the stack's budget, with the rest of the stack
    assert result.monthly_total < load_stack_file(ROOT / f"Pulumi.{stack}.yaml").monthly_budget_usd
