"""One topology, two runtimes: the functions, routes, rules, queues and schedule of the saga.

The Pulumi components (components/) and local mode (nfe/local/) both read this module, so the
deployed system and the one on a laptop cannot drift apart. Names here are logical; the Pulumi
program suffixes them with the environment (`estoque-reserva-dev`), local mode with `local`.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.shared import access
from functions.shared.access import Route
from functions.shared.events import SOURCES, EventName, Source

# Every queue redrives to its own DLQ after MAX_RECEIVE_COUNT receives, declared with the backoff
# that spends them (functions/shared/redelivery.py says why 5 and not the seed's "3 retries").
from functions.shared.redelivery import MAX_RECEIVE_COUNT as MAX_RECEIVE_COUNT

# Seed: 90 s; at least 6x the consumer timeout (AWS guidance for SQS event sources).
QUEUE_VISIBILITY_TIMEOUT_SECONDS = 90
SQS_BATCH_SIZE = 10
# The SEFAZ participant: one call is a TLS handshake and a synchronous authorization (seconds; the
# client's read timeout is SEFAZ_READ_TIMEOUT_SECONDS); after a timeout it consults before resending,
# so an attempt makes up to four calls. One nota per invocation, so one slow SEFAZ answer delays one nota.
SEFAZ_TIMEOUT_SECONDS = 60
SEFAZ_CONNECT_TIMEOUT_SECONDS = 5
SEFAZ_READ_TIMEOUT_SECONDS = 10
SEFAZ_RESERVED_CONCURRENCY = 4
SEFAZ_BATCH_SIZE = 1
PUBLISHER_SCHEDULE = "rate(1 minute)"
PUBLISHER_INTERVAL_SECONDS = 60
BUS_NAME_PREFIX = "nfe-events"


@dataclass(frozen=True)
class Function:
    name: str
    service: str  # "faturamento", "estoque", "sefaz" or "platform"
    handler: str  # module path inside the zip, "package.module.attribute"
    database_role: str | None  # the PostgreSQL login role the function connects as
    kind: str  # "api", "consumer", "publisher", "migrator"
    memory_mb: int | None = None  # None: the stack's Lambda default
    timeout_seconds: int | None = None
    publishes_events: bool = False
    # None: the stack's reserved concurrency. Every reservation counts against the account's quota.
    reserved_concurrency: int | None = None
    # False only for the SEFAZ participant: it needs the internet (SEFAZ) and no database, and the VPC
    # has no NAT and no route out (DESIGN: "Lambda sem VPC" where it fits). Policies enforce both ways.
    in_vpc: bool = True


@dataclass(frozen=True)
class Queue:
    """One consumer's queue and the rule routing its events to it: one event, or several of one source
    (SEFAZ's answers travel together: one queue, one mapping, one DLQ per consumer instead of one per
    answer, which also keeps a consumer's mappings within its reserved concurrency)."""

    name: str
    consumer: str
    event: EventName | tuple[EventName, ...]
    # At least six times the consumer's timeout (AWS guidance for SQS event sources).
    visibility_timeout_seconds: int = QUEUE_VISIBILITY_TIMEOUT_SECONDS
    batch_size: int = SQS_BATCH_SIZE

    @property
    def events(self) -> tuple[EventName, ...]:
        return self.event if isinstance(self.event, tuple) else (self.event,)

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"

    @property
    def source(self) -> Source:
        sources = {SOURCES[e] for e in self.events}
        if len(sources) != 1:
            raise ValueError(f"queue {self.name}: its events come from {sorted(sources)}; one rule matches one source")
        return sources.pop()

    @property
    def rule_name(self) -> str:
        if len(self.events) == 1:
            return f"{self.events[0].value}-to-{self.name}"
        return f"{self.source.value.removeprefix('nfe.')}-to-{self.name}"


FUNCTIONS: tuple[Function, ...] = (
    Function(
        "faturamento-api",
        "faturamento",
        "functions.faturamento.handlers.api.handler",
        "faturamento_app",
        "api",
        publishes_events=True,
    ),
    Function(
        "faturamento-consumer",
        "faturamento",
        "functions.faturamento.handlers.consumer.handler",
        "faturamento_app",
        "consumer",
        publishes_events=True,  # NotaFiscalEmitida, to the SEFAZ participant
    ),
    Function(
        "estoque-api",
        "estoque",
        "functions.estoque.handlers.api.handler",
        "estoque_app",
        "api",
        publishes_events=True,  # ProdutoCadastrado, Faturamento's projection of what can be invoiced
    ),
    Function(
        "estoque-consumer",
        "estoque",
        "functions.estoque.handlers.consumer.handler",
        "estoque_app",
        "consumer",
        publishes_events=True,
    ),
    Function(
        "sefaz-autorizador",
        "sefaz",
        "functions.sefaz.handler.handler",
        None,  # no database: it reads the XML from its event and answers with events
        "consumer",
        memory_mb=512,  # signing (RSA) and lxml's schema checks are CPU-bound; Lambda's CPU scales with memory
        timeout_seconds=SEFAZ_TIMEOUT_SECONDS,
        publishes_events=True,
        # SEFAZ blocks a sender that calls too often (656, consumo indevido): a few notas at a time.
        reserved_concurrency=SEFAZ_RESERVED_CONCURRENCY,
        in_vpc=False,
    ),
    Function(
        "outbox-publisher",
        "platform",
        "functions.publisher.handler.handler",
        "outbox_publisher",
        "publisher",
        memory_mb=256,
        timeout_seconds=60,
        publishes_events=True,
    ),
    Function(
        "db-migrator",
        "platform",
        "functions.migrator.handler.handler",
        None,  # connects as the RDS master user through the managed secret
        "migrator",
        memory_mb=256,
        timeout_seconds=300,
        # One migration at a time (the advisory lock serializes them anyway); reserving more would
        # take executions from the account's quota for nothing.
        reserved_concurrency=1,
    ),
)

# Routes, which are public and which groups may call each: declared once in functions/shared/access.py,
# since the functions check the groups themselves and their package holds only functions/.
ROUTES: tuple[Route, ...] = access.ROUTES

QUEUES: tuple[Queue, ...] = (
    Queue("estoque-reserva", "estoque-consumer", EventName.NOTA_FISCAL_CRIADA),
    Queue("estoque-cancelamento", "estoque-consumer", EventName.NOTA_FISCAL_CANCELADA),
    Queue("faturamento-confirmacao", "faturamento-consumer", EventName.RESERVA_CONFIRMADA),
    Queue("faturamento-compensacao", "faturamento-consumer", EventName.RESERVA_FALHOU),
    Queue("faturamento-cancelamento", "faturamento-consumer", EventName.RESERVA_LIBERADA),
    Queue("faturamento-produtos", "faturamento-consumer", EventName.PRODUTO_CADASTRADO),
    # The SEFAZ steps: the numbered NF-e and a cancelation go to the participant, SEFAZ's answers to
    # both services.
    Queue(
        "sefaz-pedidos",
        "sefaz-autorizador",
        (EventName.NOTA_FISCAL_EMITIDA, EventName.NOTA_FISCAL_CANCELAMENTO_SOLICITADO),
        visibility_timeout_seconds=6 * SEFAZ_TIMEOUT_SECONDS,
        batch_size=SEFAZ_BATCH_SIZE,
    ),
    Queue(
        "faturamento-sefaz",
        "faturamento-consumer",
        (
            EventName.NOTA_FISCAL_AUTORIZADA,
            EventName.NOTA_FISCAL_REJEITADA,
            EventName.NOTA_FISCAL_DENEGADA,
            EventName.NOTA_FISCAL_CANCELAMENTO_HOMOLOGADO,
            EventName.NOTA_FISCAL_CANCELAMENTO_REJEITADO,
            EventName.NUMERACAO_INUTILIZADA,
        ),
    ),
    # The compensation SEFAZ's refusals call for: Estoque releases the reservas.
    Queue("estoque-sefaz", "estoque-consumer", (EventName.NOTA_FISCAL_REJEITADA, EventName.NOTA_FISCAL_DENEGADA)),
)


def function(name: str) -> Function:
    for fn in FUNCTIONS:
        if fn.name == name:
            return fn
    raise KeyError(name)


def queues_for(consumer: str) -> tuple[Queue, ...]:
    return tuple(q for q in QUEUES if q.consumer == consumer)


def routes_for(function_name: str) -> tuple[Route, ...]:
    return tuple(r for r in ROUTES if r.function == function_name)


def event_pattern(queue: Queue) -> dict[str, list[str]]:
    """The EventBridge rule pattern routing the queue's event to it (seed section 3)."""
    return {"source": [queue.source.value], "detail-type": [e.value for e in queue.events]}


def bus_name(environment: str) -> str:
    return f"{BUS_NAME_PREFIX}-{environment}"


# Environment variables every function reads (pydantic-settings in functions/shared/settings.py).
ENV_DB_HOST = "DB_HOST"
ENV_DB_PORT = "DB_PORT"
ENV_DB_NAME = "DB_NAME"
ENV_DB_USER = "DB_USER"
ENV_DB_IAM_AUTH = "DB_IAM_AUTH"  # "true" on AWS: connect with an RDS IAM token
ENV_DB_SSLMODE = "DB_SSLMODE"  # "verify-full" on AWS
ENV_DB_SSLROOTCERT = "DB_SSLROOTCERT"  # path of the RDS CA bundle inside the package
ENV_DB_PROXY = "DB_PROXY"  # "true" behind RDS Proxy: disables server-side prepared statements
ENV_EVENT_BUS_NAME = "EVENT_BUS_NAME"
ENV_EAGER_PUBLISH = "EAGER_PUBLISH"
# Consumers only: the dependency outage a message survives before it is dead-lettered.
ENV_OUTAGE_TOLERANCE_SECONDS = "OUTAGE_TOLERANCE_SECONDS"
# Faturamento's functions: the stack's fiscal archive bucket (XML, DANFE), a name, not a secret.
ENV_FISCAL_ARCHIVE_BUCKET = "FISCAL_ARCHIVE_BUCKET"
# Faturamento's functions: the emitente (nfe:emitente) as JSON, validated by functions/fiscal/model.py.
ENV_EMITENTE = "EMITENTE"
# The SEFAZ participant only: the ARN of the secret holding the emitente's A1 certificate (the name of
# a secret, never its value), the trusted CA bundle for SEFAZ's servers (a path inside the package),
# and, in local mode and tests only, the base URL of an emulated SEFAZ in place of the endpoint table.
ENV_SEFAZ_CERTIFICATE_SECRET = "SEFAZ_CERTIFICATE_SECRET"  # noqa: S105
ENV_SEFAZ_CA_BUNDLE = "SEFAZ_CA_BUNDLE"
ENV_SEFAZ_BASE_URL = "SEFAZ_BASE_URL"
# Response media types API Gateway passes through as binary (the DANFE); a request body is
# base64-encoded only when its Content-Type is one of them.
BINARY_MEDIA_TYPES = ("application/pdf",)
# API functions only: the one origin their CORS answers allow (the console's, or nfe:api.corsAllowOrigin).
ENV_CORS_ALLOW_ORIGIN = "CORS_ALLOW_ORIGIN"
# The migrator only: ARN of the RDS-managed master secret (a name, not a secret value).
ENV_DB_SECRET_ARN = "DB_SECRET_ARN"  # noqa: S105
DATABASE_NAME = "nfe"
