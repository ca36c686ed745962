"""End to end through HTTP against `nfe local` (real PostgreSQL, moto server, the real handlers).

Each system runs as its own `nfe local` process, exactly as a developer starts it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from psycopg.rows import dict_row

from nfe import topology
from nfe.local import cognito
from nfe.local.cognito import DEMO_PASSWORD
from nfe.local.demo import TERMINAL, HttpClient
from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL
from nfe.pgserver import free_port
from tests.conftest import create_database
from tests.helpers.events import JUSTIFICATIVA

ROOT = Path(__file__).resolve().parents[1]
DESTINATARIO = DESTINATARIO_SP
ADMIN = "admin@example.com"


@dataclass
class LocalProcess:
    process: subprocess.Popen[str]
    url: str
    database_url: str
    aws_endpoint: str
    lines: list[str] = field(default_factory=list)
    user_pool_id: str = ""
    client_id: str = ""
    _tokens: dict[str, str] = field(default_factory=dict)

    def sign_in(self, email: str = ADMIN, password: str = DEMO_PASSWORD) -> str:
        """The user's ID token from the local user pool, signed in once per process and user."""
        if email not in self._tokens:
            self._tokens[email] = cognito.sign_in(self.aws("cognito-idp"), self.client_id, email, password)["IdToken"]
        return self._tokens[email]

    @property
    def api(self) -> HttpClient:
        """Signed in as admin@example.com (faturamento and estoque), who may call every route."""
        return HttpClient(self.url, self.sign_in())

    def api_as(self, email: str) -> HttpClient:
        return HttpClient(self.url, self.sign_in(email))

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def queue_url(self, name: str) -> str:
        return str(self.aws("sqs").get_queue_url(QueueName=f"{name}-local")["QueueUrl"])

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)


def _drain(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip())


def start_local(database_url: str, *extra: str) -> LocalProcess:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nfe.cli", "local", "--port", str(port), "--database-url", database_url, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    aws_endpoint = ""
    pool: tuple[str, str] = ("", "")
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        found = re.search(r"aws emulator: (http://\S+)", line)
        if found:
            aws_endpoint = found.group(1)
        found = re.search(r"user pool: (\S+), console client (\S+)", line)
        if found:
            pool = (found.group(1), found.group(2))
        if line.startswith("nfe local ready: "):
            # Keep draining output so the child never blocks on a full pipe.
            threading.Thread(target=_drain, args=(process, lines), daemon=True).start()
            url = line.split(": ", 1)[1].strip()
            return LocalProcess(process, url, database_url, aws_endpoint, lines, *pool)
    process.kill()
    raise AssertionError("nfe local did not become ready:\n" + "\n".join(lines))


@pytest.fixture(scope="module")
def local(pg_admin_url: str) -> Iterator[LocalProcess]:
    # The deployed 60 s schedule: anything finishing within seconds went through the eager path.
    system = start_local(create_database(pg_admin_url), "--outbox-interval", "60", "--visibility-timeout", "2")
    yield system
    assert system.stop() == 0


def produto(api: HttpClient, quantidade: int) -> dict[str, Any]:
    return dict(
        api.expect(
            201,
            "POST",
            "/api/v1/produtos",
            {"sku": f"SKU-{uuid.uuid4().hex[:10]}", "nome": "Parafuso", "quantidade": quantidade, **PRODUTO_FISCAL},
        )
    )


def nota(api: HttpClient, *items: tuple[str, int]) -> dict[str, Any]:
    body = {
        "destinatario": DESTINATARIO,
        "items": [{"produtoId": pid, "quantidade": q, "valorUnitario": "10.50"} for pid, q in items],
    }
    return dict(api.expect(201, "POST", "/api/v1/notas", body))


def stock(api: HttpClient, produto_id: str) -> int:
    return int(api.expect(200, "GET", f"/api/v1/produtos/{produto_id}")["quantidade"])


def test_ready_line_is_printed_once_after_progress(local: LocalProcess) -> None:
    ready = [line for line in local.lines if line.startswith("nfe local ready: ")]
    assert len(ready) == 1
    assert local.lines.index(ready[0]) > 0  # progress lines came first
    assert local.api.expect(200, "GET", "/health") == {"status": "ok", "database": "ok"}


def test_saga_is_authorized_by_sefaz_within_seconds_on_the_eager_path(local: LocalProcess) -> None:
    # Given a product with 10 units and a 60 s publisher schedule
    p = produto(local.api, 10)
    # When a nota for 3 units is created
    started = time.monotonic()
    n = nota(local.api, (p["id"], 3))
    assert n["status"] == "PENDING"
    final = local.api.wait_for_status(n["id"], TERMINAL, timeout=5)
    elapsed = time.monotonic() - started
    # Then the emulated SEFAZ authorized it well before the schedule could have run, and stock dropped
    assert final["status"] == "AUTORIZADA", final
    assert final["protocolo"] is not None
    assert elapsed < 5
    assert stock(local.api, p["id"]) == 7


def test_nota_over_stock_is_compensated_and_stock_unchanged(local: LocalProcess) -> None:
    p = produto(local.api, 2)
    n = nota(local.api, (p["id"], 5))
    final = local.api.wait_for_status(n["id"], TERMINAL, timeout=5)
    assert final["status"] == "ERRO_ESTOQUE"
    assert final["erro"]["codigo"] == "ESTOQUE_INSUFICIENTE"
    assert stock(local.api, p["id"]) == 2


def test_cancelation_releases_the_stock(local: LocalProcess) -> None:
    p = produto(local.api, 4)
    n = nota(local.api, (p["id"], 4))
    assert local.api.wait_for_status(n["id"], {"AUTORIZADA"}, timeout=5)["status"] == "AUTORIZADA"
    assert stock(local.api, p["id"]) == 0
    local.api.expect(202, "POST", f"/api/v1/notas/{n['id']}/cancelamento", JUSTIFICATIVA)
    # SEFAZ registers the cancelamento (evento 110111): CANCELADA with the event's protocol
    cancelada = local.api.wait_for_status(n["id"], {"CANCELADA"}, timeout=5)
    assert cancelada["status"] == "CANCELADA" and cancelada["cancelamentoProtocolo"] is not None
    # Then Estoque returns the stock
    deadline = time.monotonic() + 5
    while stock(local.api, p["id"]) != 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stock(local.api, p["id"]) == 4


def test_unknown_route_answers_like_api_gateway(local: LocalProcess) -> None:
    status, body = local.api.call("GET", "/api/v1/nothing")
    assert status == 403 and body == {"message": "Missing Authentication Token"}


def eventbridge_message(produto_id: str) -> str:
    """A NotaFiscalCriada as EventBridge delivers it to SQS (no `account`, as moto sends it)."""
    event_id = str(uuid.uuid4())
    nota_id = str(uuid.uuid4())
    return json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "NotaFiscalCriada",
            "source": "nfe.faturamento",
            "time": "2026-11-28T10:30:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "eventId": event_id,
                "eventType": "NotaFiscalCriada",
                "schemaVersion": 1,
                "occurredAt": "2026-11-28T10:30:00Z",
                "correlationId": nota_id,
                "payload": {
                    "notaFiscalId": nota_id,
                    "items": [{"produtoId": produto_id, "quantidade": 1}],
                    "valorTotal": "1.00",
                },
            },
        }
    )


def test_poison_message_reaches_the_dlq_after_its_receives_while_batch_mates_succeed(
    local: LocalProcess,
) -> None:
    # Given a poison message and a valid one on the reservation queue
    p = produto(local.api, 5)
    sqs = local.aws("sqs")
    queue = local.queue_url("estoque-reserva")
    dlq = local.queue_url("estoque-reserva-dlq")
    sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "poison", "MessageBody": "this is not json"},
            {"Id": "good", "MessageBody": eventbridge_message(p["id"])},
        ],
    )
    # Then the valid one is applied at once and the poison one lands in the DLQ after its 5 receives
    deadline = time.monotonic() + 20
    moved: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not moved:
        moved = sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
    assert [m["Body"] for m in moved] == ["this is not json"]
    assert int(moved[0]["Attributes"]["ApproximateReceiveCount"]) >= topology.MAX_RECEIVE_COUNT
    assert stock(local.api, p["id"]) == 4


def test_publisher_dying_after_put_events_still_reserves_once(pg_admin_url: str) -> None:
    from functions.shared.outbox import OutboxRelay

    # Given local mode with eager publishing off and a schedule that won't fire during the test
    system = start_local(create_database(pg_admin_url), "--no-eager-publish", "--outbox-interval", "3600")
    try:
        p = produto(system.api, 10)
        n = nota(system.api, (p["id"], 2))
        bus = "nfe-events-local"

        class DiesAfterSend:
            def __init__(self, client: Any) -> None:
                self.client = client
                self.sent = 0

            def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
                self.client.put_events(Entries=Entries)
                self.sent += len(Entries)
                raise SystemExit("died before marking the rows")

        # When a publisher sends the event and dies before marking it
        dying = DiesAfterSend(system.aws("events"))
        with psycopg.connect(system.database_url, row_factory=dict_row) as conn, pytest.raises(SystemExit):
            OutboxRelay(dying, bus).relay_batch(conn, "faturamento")
        assert dying.sent == 1

        def reservas() -> list[dict[str, Any]]:
            with psycopg.connect(system.database_url, row_factory=dict_row) as conn:
                return conn.execute("SELECT * FROM estoque.reservas WHERE nota_fiscal_id = %s", (n["id"],)).fetchall()

        deadline = time.monotonic() + 5
        while not reservas() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(reservas()) == 1
        # And the next run publishes the same event again
        with psycopg.connect(system.database_url, row_factory=dict_row) as conn:
            again = OutboxRelay(system.aws("events"), bus).relay_batch(conn, "faturamento")
        assert again is not None and again.published == 1
        time.sleep(1.0)  # let the duplicate reach the consumer
        # Then there is still exactly one reservation, stock dropped once, and one confirmation to send
        assert len(reservas()) == 1
        assert stock(system.api, p["id"]) == 8
        with psycopg.connect(system.database_url, row_factory=dict_row) as conn:
            confirmations = OutboxRelay(system.aws("events"), bus).relay_batch(conn, "estoque")
        # (the produto's own announcement, ProdutoCadastrado, went with it)
        assert confirmations is not None and confirmations.published == 2
        assert system.api.wait_for_status(n["id"], {"CONFIRMADA"}, timeout=5)["status"] == "CONFIRMADA"
        # And the numbered NF-e, relayed in turn, reaches SEFAZ once
        with psycopg.connect(system.database_url, row_factory=dict_row) as conn:
            emitida = OutboxRelay(system.aws("events"), bus).relay_batch(conn, "faturamento")
        assert emitida is not None and emitida.published == 1
        assert system.api.wait_for_status(n["id"], {"AUTORIZADA"}, timeout=5)["status"] == "AUTORIZADA"
    finally:
        assert system.stop() == 0


def test_schedule_alone_completes_the_saga(pg_admin_url: str) -> None:
    # Given eager publishing switched off and a 1 s schedule
    system = start_local(create_database(pg_admin_url), "--no-eager-publish", "--outbox-interval", "1")
    try:
        p = produto(system.api, 3)
        n = nota(system.api, (p["id"], 1))
        # Then the schedule carries the saga to its end
        assert system.api.wait_for_status(n["id"], {"AUTORIZADA"}, timeout=10)["status"] == "AUTORIZADA"
        assert stock(system.api, p["id"]) == 2
    finally:
        assert system.stop() == 0


def test_stop_leaves_no_temporary_database_behind(tmp_path: Path) -> None:
    # Given `nfe local` with its own throwaway PostgreSQL
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nfe.cli", "local", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line)
        if line.startswith("nfe local ready"):
            break
    data_dirs = [m.group(1) for line in output for m in [re.search(r"initdb in (\S+)", line)] if m]
    url_line = next(line for line in output if line.startswith("nfe local: postgres: postgresql://"))
    # When it receives SIGTERM
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    # Then the server is gone
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url_line.split("postgres: ", 1)[1].strip(), connect_timeout=2)
    for directory in data_dirs:
        assert not Path(directory).exists()


def test_demo_runs_three_sagas_to_their_expected_states() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nfe.cli", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every saga reached its expected final state" in result.stdout
    # Three refusals (no token 401, two users outside the group 403), four sagas, the rejected nota's
    # stock released, the nfeProc against its schema, two stock checks.
    assert result.stdout.count("  ok  ") == 11
    assert "no token:   POST /api/v1/notas -> 401" in result.stdout
    assert "estoquista@example.com: POST /api/v1/notas -> 403" in result.stdout
    assert "ms  nota AUTORIZADA" in result.stdout and "ms  nota CANCELADA" in result.stdout
    assert "ms  nota REJEITADA" in result.stdout and "SEFAZ refused it: cStat 610" in result.stdout
    assert "estoque consumer applied SEFAZ's NotaFiscalRejeitada" in result.stdout
