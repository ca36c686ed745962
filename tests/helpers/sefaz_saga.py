"""The saga's third participant wired in-process: the SEFAZ function against the emulated SEFAZ.

The participant runs as its Lambda wires it (functions/sefaz/bootstrap.py) with real parts around it:
the emulated SEFAZ over HTTPS with mutual TLS (the session's test PKI, the demo emitente's CNPJ), and
the AWS emulator (moto server on loopback) holding the certificate's secret, the fiscal archive and the
bus whose rules route SEFAZ's answers to the topology's queues. Tests move every message themselves:
the outbox rows to their consumers (the load tests' `Worker.deliver`), the answers from their queues.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from functions.fiscal.archive import FiscalArchive
from functions.sefaz import bootstrap as sefaz_bootstrap
from functions.sefaz.participant import AutorizadorSefaz
from functions.sefaz.settings import SefazSettings
from functions.shared.consumer import EventConsumer
from functions.shared.settings import load
from nfe import topology
from nfe.local import emulator
from nfe.local.fiscal_demo import DEMO_EMITENTE, emitente_json
from nfe.local.pollers import QueuePoller
from nfe.local.sefaz import SefazEmulator
from nfe.local.system import provision_certificate
from tests.helpers.db import envelope_of
from tests.helpers.events import FakeLambdaContext, failed_ids, sqs_record
from tests.helpers.sefaz_env import pki_directory

# Where SEFAZ's answers go: each queue's consumer, as the topology routes them.
ANSWER_QUEUES = tuple(q for q in topology.QUEUES if q.source.value == "nfe.sefaz")


@dataclass
class SefazRig:
    sefaz: SefazEmulator
    aws: emulator.LocalAws
    settings: SefazSettings
    consumer: EventConsumer
    s3: Any
    participant: AutorizadorSefaz
    consumers: dict[str, EventConsumer] = field(default_factory=dict)

    def archive(self) -> FiscalArchive:
        return FiscalArchive(self.aws.fiscal_archive_bucket, self.s3)

    def authorize(self, database_url: str, notas: list[str], *, receive_count: int = 1) -> dict[str, Any]:
        """Hand the notas' NotaFiscalEmitida to the participant as one SQS batch; its response."""
        return self.send(database_url, notas, "NotaFiscalEmitida", receive_count=receive_count)

    def send(self, database_url: str, notas: list[str], tipo: str, *, receive_count: int = 1) -> dict[str, Any]:
        """Hand the notas' outbox rows of `tipo` (a request for SEFAZ) to the participant as one SQS batch."""
        from tests.test_fault_load import query

        rows = query(
            database_url,
            "SELECT id, tipo, payload FROM faturamento.eventos_outbox WHERE tipo = %s "
            "AND agregado_id = ANY(%s) ORDER BY criado_em",
            (tipo, notas),
        )
        records = []
        for row in rows:
            record = sqs_record(envelope_of(row), queue="sefaz-pedidos")
            record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
            records.append(record)
        from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

        try:
            return dict(self.consumer.handle({"Records": records}, FakeLambdaContext()))
        except BatchProcessingError:
            # Every record failed: the invocation fails (Powertools' default), Lambda retries them all.
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}

    def answers(self) -> int:
        """Deliver what SEFAZ's answers queued, each queue to its consumer; how many messages moved."""
        moved = 0
        for queue in ANSWER_QUEUES:
            info = self.aws.queues[queue.name]

            def invoke(function: str, event: dict[str, Any]) -> Any:
                response = self.consumers[function].handle(event, FakeLambdaContext())
                assert failed_ids(response) == [], (function, response)
                return response

            poller = QueuePoller(self.aws.client("sqs"), info, invoke, stop=None)  # type: ignore[arg-type]
            while True:
                got = poller.poll_once(wait_seconds=0)
                if got == 0:
                    break
                moved += got
        return moved

    def answer_bodies(self, queue: str) -> list[dict[str, Any]]:
        """The messages waiting in one answer queue (left there, visible again at once)."""
        sqs = self.aws.client("sqs")
        url = self.aws.queues[queue].url
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


@contextmanager
def sefaz_rig(monkeypatch: pytest.MonkeyPatch, bus_name: str, **emulator_options: Any) -> Iterator[SefazRig]:
    """An emulated SEFAZ for the demo emitente, the AWS emulator with the topology under `bus_name`'s
    environment, and the participant wired to both. Sets the AWS variables the other functions'
    boto3 clients read (the API reads the archive)."""
    environment = bus_name.removeprefix(f"{topology.BUS_NAME_PREFIX}-")
    aws = emulator.start(environment)
    sefaz = SefazEmulator(
        pki_directory(),
        persist=False,
        uf=DEMO_EMITENTE["endereco"]["uf"],
        ambiente=DEMO_EMITENTE["ambiente"],
        cnpj=DEMO_EMITENTE["cnpj"],
        **emulator_options,
    )
    sefaz.start()
    try:
        info = sefaz.info()
        for key, value in aws.environment().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("FISCAL_ARCHIVE_BUCKET", aws.fiscal_archive_bucket)
        monkeypatch.setenv(topology.ENV_SEFAZ_CERTIFICATE_SECRET, provision_certificate(aws, info))
        monkeypatch.setenv(topology.ENV_SEFAZ_CA_BUNDLE, info["caFile"])
        monkeypatch.setenv(topology.ENV_SEFAZ_BASE_URL, info["url"])
        monkeypatch.setenv("EVENT_BUS_NAME", bus_name)
        monkeypatch.setenv("EMITENTE", emitente_json())
        # Tests make SEFAZ slower than this on purpose; the stack's 10 s would only make them slow.
        monkeypatch.setenv("SEFAZ_READ_TIMEOUT_SECONDS", "1")
        from functions.sefaz import certificate

        certificate.esquecer()  # another rig's certificate may be cached under the same secret name
        settings = load(SefazSettings)
        s3 = aws.client("s3")
        participant = sefaz_bootstrap.participant(
            settings,
            events_client=aws.client("events"),
            fiscal_archive=FiscalArchive(aws.fiscal_archive_bucket, s3),
            secrets_client=aws.client("secretsmanager"),
        )
        consumer = sefaz_bootstrap.consumer_of(participant, settings, aws.client("sqs"))
        yield SefazRig(sefaz, aws, settings, consumer, s3, participant)
    finally:
        sefaz.stop()
        aws.stop()


def unique_bus() -> str:
    # moto's backends are process-wide: each rig its own bus and queue names.
    return f"{topology.BUS_NAME_PREFIX}-t{uuid.uuid4().hex[:8]}"
