"""The custom metrics the functions emit, per function: CloudWatch bills each one per metric-month.

Powertools Metrics (functions/shared/observability.py) writes them as EMF log lines, namespace
`nfe`, with the default dimension `service` = the function's POWERTOOLS_SERVICE_NAME, which
components/lambdas.py sets to its topology name. A metric is a name with one set of dimension
values, so a name that two functions emit is two metrics. `log_metrics(capture_cold_start_metric=
True)` adds `ColdStart` with dimensions `function_name` and `service`, once per function.

This is a declaration of what the code does: tests/test_cost_metrics.py scans functions/ for
`add_metric` calls and cold-start captures and fails when a metric is emitted but not listed here,
listed but no longer emitted, or claimed for a function that cannot emit it.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICE = ("service",)


@dataclass(frozen=True)
class EmittedMetric:
    name: str
    functions: tuple[str, ...]  # nfe/topology.py names of the functions that emit it
    dimensions: tuple[str, ...] = SERVICE


COLD_START = "ColdStart"

EMITTED_METRICS: tuple[EmittedMetric, ...] = (
    # functions/faturamento/logic.py, NotasService (the API)
    EmittedMetric("NotasCriadas", ("faturamento-api",)),
    EmittedMetric("CancelamentosSolicitados", ("faturamento-api",)),
    # functions/faturamento/logic.py SagaFaturamento and functions/estoque/logic.py SagaEstoque (consumers)
    EmittedMetric("EventosDuplicados", ("faturamento-consumer", "estoque-consumer")),
    EmittedMetric("NotasConfirmadas", ("faturamento-consumer",)),
    EmittedMetric("NotasCanceladas", ("faturamento-consumer",)),
    EmittedMetric("TransicoesIgnoradas", ("faturamento-consumer",)),
    # The stock of a refused or cancelled NF-e back in Estoque, and a cancelamento SEFAZ refused
    EmittedMetric("EstoqueDevolvido", ("faturamento-consumer",)),
    EmittedMetric("CancelamentosRecusados", ("faturamento-consumer",)),
    # A nota's time from emission to its final state (CONFIRMADA or ERRO_ESTOQUE), and from the
    # cancelation request to CANCELADA: the dashboard's saga duration.
    EmittedMetric("DuracaoSaga", ("faturamento-consumer",)),
    EmittedMetric("DuracaoCancelamento", ("faturamento-consumer",)),
    # The saga's compensation, counted on both sides: the nota closed as failed, the reservas released.
    EmittedMetric("Compensacoes", ("faturamento-consumer", "estoque-consumer")),
    EmittedMetric("ReservasConfirmadas", ("estoque-consumer",)),
    EmittedMetric("ReservasFalhas", ("estoque-consumer",)),
    EmittedMetric("ReservasLiberadas", ("estoque-consumer",)),
    # functions/sefaz/participant.py, AutorizadorSefaz (the SEFAZ participant): the wait since dhEmi on
    # every attempt (the pending alarm), the certificate's days left (the expiry alarm), the attempts
    # SEFAZ did not answer, and one count per outcome (the refusal-rate alarm reads two of them)
    EmittedMetric("EsperaAutorizacao", ("sefaz-autorizador",)),
    EmittedMetric("CertificadoDiasRestantes", ("sefaz-autorizador",)),
    EmittedMetric("SefazIndisponivel", ("sefaz-autorizador",)),
    EmittedMetric("NotasAutorizadas", ("sefaz-autorizador", "faturamento-consumer")),
    EmittedMetric("NotasRejeitadas", ("sefaz-autorizador", "faturamento-consumer")),
    EmittedMetric("NotasDenegadas", ("sefaz-autorizador", "faturamento-consumer")),
    # The cancelamento events and the inutilizações it registers at SEFAZ
    EmittedMetric("CancelamentosHomologados", ("sefaz-autorizador",)),
    EmittedMetric("CancelamentosRejeitados", ("sefaz-autorizador",)),
    EmittedMetric("NumerosInutilizados", ("sefaz-autorizador",)),
    # functions/shared/consumer.py, EventConsumer (every consumer)
    EmittedMetric("MensagensRejeitadas", ("faturamento-consumer", "estoque-consumer", "sefaz-autorizador")),
    # functions/publisher/handler.py, every run (the lag alarm reads OutboxOldestUnpublishedAgeSeconds)
    EmittedMetric("OutboxEventsPublished", ("outbox-publisher",)),
    EmittedMetric("OutboxEventsRetried", ("outbox-publisher",)),
    EmittedMetric("OutboxEventsParked", ("outbox-publisher",)),
    EmittedMetric("OutboxOldestUnpublishedAgeSeconds", ("outbox-publisher",)),
    # ... and, on the runs when a rejected número awaits inutilização, the days left before the nearest
    # deadline (the inutilização alarm's metric, sql/V010)
    EmittedMetric("DiasParaInutilizar", ("outbox-publisher",)),
    # log_metrics(capture_cold_start_metric=True) on the API and consumer handlers
    EmittedMetric(
        COLD_START,
        ("faturamento-api", "faturamento-consumer", "estoque-api", "estoque-consumer", "sefaz-autorizador"),
        ("function_name", "service"),
    ),
)


def metrics_of(function: str) -> list[EmittedMetric]:
    """The metrics one function emits, each billed as one metric-month for that function."""
    return [m for m in EMITTED_METRICS if function in m.functions]
