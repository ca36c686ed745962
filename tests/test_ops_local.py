"""The operator's commands against local mode: `nfe local --state-file` in its own process, and
`nfe dlq|replay|outbox|saga` run as an operator runs them (the CLI, `--json`).

Faults are real: a revoked grant makes the estoque consumer fail until the DLQ takes the message;
an event is deleted from its queue before delivery; the publisher's bus refuses rows for good.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from psycopg.rows import dict_row

from nfe import topology
from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL
from nfe.ops import dlq as dlq_ops
from nfe.ops.target import from_state_file
from tests.conftest import create_database
from tests.test_local_mode import start_local

ROOT = Path(__file__).resolve().parents[1]
DESTINATARIO = DESTINATARIO_SP


# --- the one way these tests reach the API -------------------------------------------------------


def api_token(state: dict[str, Any]) -> str | None:
    """An ID token when local mode has a user pool (sign-in), else None (an open API)."""
    try:
        from nfe.local.cognito import DEMO_PASSWORD
    except ImportError:  # pragma: no cover
        DEMO_PASSWORD = "NfeDemo#2026"
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=state["awsEndpoint"],
        region_name=state["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    client_id = state.get("userPoolClientId")
    if not client_id:
        pools = cognito.list_user_pools(MaxResults=10)["UserPools"]
        if not pools:
            return None
        clients = cognito.list_user_pool_clients(UserPoolId=pools[0]["Id"], MaxResults=10)["UserPoolClients"]
        client_id = clients[0]["ClientId"]
    answer = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "admin@example.com", "PASSWORD": DEMO_PASSWORD},
    )
    return str(answer["AuthenticationResult"]["IdToken"])


class Api:
    def __init__(self, state: dict[str, Any]) -> None:
        self.base = state["apiUrl"]
        self.token = api_token(state)

    def call(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = self.token
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status, payload = response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            status, payload = error.code, json.loads(error.read() or b"null")
        if expect is not None:
            assert status == expect, f"{method} {path}: {status} {payload}"
        return payload

    def produto(self, quantidade: int) -> str:
        body = {"sku": f"OPS-{uuid.uuid4().hex[:10]}", "nome": "Arruela", "quantidade": quantidade, **PRODUTO_FISCAL}
        return str(self.call("POST", "/api/v1/produtos", body, expect=201)["id"])

    def nota(self, produto_id: str, quantidade: int) -> str:
        body = {
            "destinatario": DESTINATARIO,
            "items": [{"produtoId": produto_id, "quantidade": quantidade, "valorUnitario": "2.00"}],
        }
        return str(self.call("POST", "/api/v1/notas", body, expect=201)["id"])

    def cancelar(self, nota_id: str) -> None:
        # The justificativa is SEFAZ's xJust of the cancelation event (15 to 255 characters).
        body = {"justificativa": "Pedido cancelado pelo cliente"}
        self.call("POST", f"/api/v1/notas/{nota_id}/cancelamento", body, expect=202)

    def status(self, nota_id: str) -> str:
        return str(self.call("GET", f"/api/v1/notas/{nota_id}", expect=200)["status"])

    def stock(self, produto_id: str) -> int:
        return int(self.call("GET", f"/api/v1/produtos/{produto_id}", expect=200)["quantidade"])

    def wait_for(self, nota_id: str, wanted: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while (status := self.status(nota_id)) != wanted and time.monotonic() < deadline:
            time.sleep(0.05)
        return status


# --- fixtures and small tools ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def state_file(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("ops") / "local-state.json"
    # Visibility 1 s: a failing message reaches its DLQ in about 3 s. No schedule during the tests.
    system = start_local(
        create_database(pg_admin_url),
        "--visibility-timeout",
        "1",
        "--outbox-interval",
        "3600",
        "--state-file",
        str(path),
    )
    try:
        yield path
    finally:
        assert system.stop() == 0
    assert not path.exists()  # removed on exit


@pytest.fixture(scope="module")
def state(state_file: Path) -> dict[str, Any]:
    return dict(json.loads(state_file.read_text()))


@pytest.fixture(scope="module")
def api(state: dict[str, Any]) -> Api:
    return Api(state)


def nfe(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "nfe.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == expect, f"nfe {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def nfe_json(*args: str, expect: int = 0) -> Any:
    return json.loads(nfe(*args, "--json", expect=expect).stdout)


def sql(state: dict[str, Any], statement: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(state["databaseUrl"], row_factory=dict_row, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def depth(state_file: Path, queue: str) -> int:
    for row in nfe_json("dlq", "list", "--state-file", str(state_file)):
        if row["queue"] == queue:
            return int(row["depth"])
    raise AssertionError(f"no DLQ {queue}")


def wait_for_depth(state_file: Path, queue: str, wanted: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while (found := depth(state_file, queue)) != wanted and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


class StockFrozen:
    """The estoque consumer can't update produtos (a bad grant): every reservation fails and retries."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def __enter__(self) -> StockFrozen:
        sql(self.state, "REVOKE UPDATE ON estoque.produtos FROM estoque_app")
        return self

    def __exit__(self, *exc: object) -> None:
        self.fix()

    def fix(self) -> None:
        sql(self.state, "GRANT UPDATE ON estoque.produtos TO estoque_app")


# --- the tests ------------------------------------------------------------------------------------


def test_the_state_file_names_every_queue_and_dlq(state: dict[str, Any], state_file: Path) -> None:
    # Given nfe local started with --state-file / Then the file has what the tools need
    assert {"apiUrl", "awsEndpoint", "region", "busName", "queues", "databaseUrl"} <= set(state)
    assert len(state["queues"]) == len(topology.QUEUES)
    assert all(q["url"] and q["dlqUrl"] for q in state["queues"].values())
    # And `dlq list` reports every queue's DLQ and each consuming service's target DLQ, all empty
    rows = nfe_json("dlq", "list", "--state-file", str(state_file))
    services = {topology.function(q.consumer).service for q in topology.QUEUES}
    assert len(rows) == len(topology.QUEUES) + len(services)
    assert all(set(r) == {"queue", "depth", "oldestAgeSeconds", "source"} for r in rows)
    assert {r["depth"] for r in rows} == {0}
    sefaz_queue = next(q.name for q in topology.QUEUES if q.consumer == "sefaz-autorizador")
    assert {r["source"] for r in rows} >= {"estoque-reserva", "faturamento-confirmacao", sefaz_queue}


def test_a_wrong_or_unreachable_target_is_one_line_and_exit_2(state: dict[str, Any], tmp_path: Path) -> None:
    # Given no file, a file that isn't a state file, and one whose emulator is gone
    dead = tmp_path / "dead.json"
    dead.write_text(
        json.dumps({**state, "awsEndpoint": "http://127.0.0.1:9", "databaseUrl": "postgresql://127.0.0.1:9/x"})
    )
    junk = tmp_path / "junk.json"
    junk.write_text("[]")
    cases = [
        ("dlq", "list", "--state-file", str(tmp_path / "missing.json")),
        ("dlq", "list", "--state-file", str(junk)),
        ("dlq", "list", "--state-file", str(dead)),
        ("outbox", "status", "--state-file", str(dead)),
        ("replay", "--from=-1h", "--to", "now", "--state-file", str(dead)),
        ("dlq", "show", "nosuchqueue", "--state-file", str(dead)),
        ("outbox", "status", "--stack", "dev", "--outputs", str(tmp_path / "missing.json")),
        ("dlq", "list"),
    ]
    for case in cases:
        # When a command runs against it / Then: exit 2, one line on stderr, no traceback
        result = nfe(*case, expect=2)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("nfe ")


def test_a_failing_message_is_shown_with_its_reason_and_redriven_once_fixed(
    state: dict[str, Any], state_file: Path, api: Api
) -> None:
    target = str(state_file)
    produto = api.produto(10)
    # Given the estoque consumer can't update stock, and a nota
    with StockFrozen(state) as frozen:
        nota = api.nota(produto, 3)
        # Then its NotaFiscalCriada fails on every receive and lands in the reservation DLQ
        assert wait_for_depth(state_file, "estoque-reserva-dlq-local", 1) == 1
        assert api.status(nota) == "PENDING"
        listed = {r["queue"]: r for r in nfe_json("dlq", "list", "--state-file", target)}
        assert listed["estoque-reserva-dlq-local"]["oldestAgeSeconds"] >= 0
        # And `dlq show` reports it with the reason the consumer recorded, leaving it in the DLQ
        shown = nfe_json("dlq", "show", "estoque-reserva", "--state-file", target)
        assert len(shown) == 1
        message = shown[0]
        assert {"messageId", "eventType", "notaId", "receiveCount", "firstFailedAt", "reason"} <= set(message)
        assert message["eventType"] == "NotaFiscalCriada" and message["notaId"] == nota
        assert message["receiveCount"] == topology.MAX_RECEIVE_COUNT
        assert "permission denied" in message["reason"]
        assert message["firstFailedAt"].endswith("Z")
        assert depth(state_file, "estoque-reserva-dlq-local") == 1
        human = nfe("dlq", "show", "estoque-reserva-dlq-local", "--state-file", target).stdout
        assert "permission denied" in human and nota in human
        # And the nota's story says where it is stuck
        story = nfe_json("saga", "show", nota, "--state-file", target)
        assert story["status"] == "PENDING"
        assert any(s["what"].startswith("IN DLQ estoque-reserva-dlq-local") for s in story["timeline"])
        assert any("gave up (DLQ)" in s["what"] for s in story["timeline"])
        # When the cause is fixed and the DLQ redriven
        frozen.fix()
        dry = nfe_json("dlq", "redrive", "estoque-reserva", "--dry-run", "--state-file", target)
        assert dry["wouldMove"] == 1 and dry["destinations"] == {"estoque-reserva-local": 1}
        assert nfe_json("dlq", "redrive", "estoque-reserva", "--state-file", target) == {
            "moved": 1,
            "failed": 0,
            "method": "copy",
        }
    # Then the saga finishes, once: stock dropped by 3, one reservation, an empty DLQ
    assert api.wait_for(nota, "AUTORIZADA") == "AUTORIZADA"
    assert api.stock(produto) == 7
    assert len(sql(state, "SELECT * FROM estoque.reservas WHERE nota_fiscal_id = %s", (nota,))) == 1
    assert depth(state_file, "estoque-reserva-dlq-local") == 0


class DiesMidRedrive:
    """An SQS client whose process 'dies' after copying its second batch, before deleting it."""

    def __init__(self, sqs: Any, batch_size: int, die_after_sends: int) -> None:
        self.sqs = sqs
        self.batch_size = batch_size
        self.die_after_sends = die_after_sends
        self.sends = 0

    def receive_message(self, **kwargs: Any) -> Any:
        kwargs["MaxNumberOfMessages"] = min(kwargs["MaxNumberOfMessages"], self.batch_size)
        return self.sqs.receive_message(**kwargs)

    def send_message_batch(self, **kwargs: Any) -> Any:
        answer = self.sqs.send_message_batch(**kwargs)
        self.sends += 1
        if self.sends == self.die_after_sends:
            raise KeyboardInterrupt("killed between the copy and the delete")
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)


def test_a_redrive_killed_halfway_then_run_again_loses_and_duplicates_nothing(
    state: dict[str, Any], state_file: Path, api: Api
) -> None:
    produto = api.produto(100)
    # Given six notas whose reservations all ended in the DLQ
    with StockFrozen(state) as frozen:
        notas = [api.nota(produto, 1 + i) for i in range(6)]
        assert wait_for_depth(state_file, "estoque-reserva-dlq-local", 6) == 6
        frozen.fix()
    target = from_state_file(state_file)
    dlq = target.dlq("estoque-reserva")
    # When a redrive moving two at a time is killed after copying its second pair, before deleting it
    dying = DiesMidRedrive(target.client("sqs"), batch_size=2, die_after_sends=2)
    with pytest.raises(KeyboardInterrupt):
        dlq_ops.redrive_by_copy(target, dlq, None, lambda _: None, visibility_timeout=2, sqs=dying)
    # Then the first pair left the DLQ, the second is still in it (in flight), the rest untouched
    visible, in_flight = dlq_ops.depth(target, dlq)
    assert visible + in_flight == 4
    # When it runs again (the second pair reappears after its visibility timeout)
    again = nfe_json("dlq", "redrive", "estoque-reserva", "--visibility-timeout", "2", "--state-file", str(state_file))
    assert again["failed"] == 0 and again["moved"] == 4
    # Then every nota is authorized once: stock dropped by 1+2+...+6, one reservation each, DLQ empty
    for nota in notas:
        assert api.wait_for(nota, "AUTORIZADA") == "AUTORIZADA"
    assert api.stock(produto) == 100 - 21
    reservas = sql(state, "SELECT nota_fiscal_id FROM estoque.reservas WHERE produto_id = %s", (produto,))
    assert sorted(str(r["nota_fiscal_id"]) for r in reservas) == sorted(notas)
    # And the second pair, delivered twice, was applied once (the inbox kept one row per event)
    criadas = sql(
        state,
        "SELECT count(*) AS n FROM estoque.mensagens_processadas m JOIN faturamento.eventos_outbox o "
        "ON o.id = m.evento_id WHERE o.agregado_id = ANY(%s)",
        ([uuid.UUID(n) for n in notas],),
    )
    assert criadas[0]["n"] == 6
    assert depth(state_file, "estoque-reserva-dlq-local") == 0


def snapshot(state: dict[str, Any], except_nota: str) -> dict[str, Any]:
    return {
        "notas": sql(
            state,
            "SELECT id, status, atualizada_em, cancelada_em FROM faturamento.notas_fiscais WHERE id <> %s ORDER BY id",
            (except_nota,),
        ),
        "produtos": sql(state, "SELECT id, quantidade, atualizado_em FROM estoque.produtos ORDER BY id"),
        "reservas": sql(
            state,
            "SELECT id, status, liberada_em FROM estoque.reservas WHERE nota_fiscal_id <> %s ORDER BY id",
            (except_nota,),
        ),
    }


def test_a_replay_changes_nothing_applied_and_applies_an_event_dropped_before_delivery(
    state: dict[str, Any], state_file: Path, api: Api
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    # Given an authorized, a compensated and a canceled saga in the window (SEFAZ's answers and the
    # NotaFiscalEmitida they answer are archived too: replayed, SEFAZ answers 204 and the consulta)
    produto = api.produto(5)
    confirmed = api.nota(produto, 2)
    compensated = api.nota(produto, 50)
    canceled = api.nota(produto, 1)
    assert api.wait_for(confirmed, "AUTORIZADA") == "AUTORIZADA"
    assert api.wait_for(compensated, "ERRO_ESTOQUE") == "ERRO_ESTOQUE"
    assert api.wait_for(canceled, "AUTORIZADA") == "AUTORIZADA"
    api.cancelar(canceled)
    assert api.wait_for(canceled, "CANCELADA") == "CANCELADA"
    # And a nota whose NotaFiscalCriada is deleted from its queue before the consumer sees it
    sqs = from_state_file(state_file).client("sqs")
    queue = state["queues"]["estoque-reserva"]["url"]
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"DelaySeconds": "30"})
    try:
        dropped = api.nota(produto, 1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            delayed = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
            if delayed["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1":
                break
            time.sleep(0.05)
        sqs.purge_queue(QueueUrl=queue)
    finally:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"DelaySeconds": "0"})
    time.sleep(1.5)
    assert api.status(dropped) == "PENDING"
    before = snapshot(state, dropped)
    stock_before = api.stock(produto)
    # When the window is replayed from the archive (every event type), waiting for it to end
    ended = datetime.now(UTC)
    result = nfe(
        "replay",
        "--from",
        started.isoformat(),
        "--to",
        ended.isoformat(),
        "--wait",
        "--json",
        "--state-file",
        str(state_file),
    )
    replay = json.loads(result.stdout)
    assert replay["state"] == "COMPLETED" and replay["replayName"].startswith("nfe-")
    assert "COMPLETED" in result.stderr  # progress
    # Then the dropped event is applied: the nota is authorized and its unit reserved
    assert api.wait_for(dropped, "AUTORIZADA") == "AUTORIZADA"
    time.sleep(1.0)  # every other replayed event has reached its consumer by now
    # And nothing already applied changed: every other nota, every stock figure, every reserva
    after = snapshot(state, dropped)
    assert after["notas"] == before["notas"]
    assert after["reservas"] == before["reservas"]
    changed = [(b, a) for b, a in zip(before["produtos"], after["produtos"], strict=True) if b != a]
    assert [(str(b["id"]), b["quantidade"] - a["quantidade"]) for b, a in changed] == [(produto, 1)]
    assert api.stock(produto) == stock_before - 1
    # And the duplicates were recognised as such (the consumers' inbox), not applied
    story = nfe_json("saga", "show", confirmed, "--state-file", str(state_file))
    assert story["status"] == "AUTORIZADA"
    applied = [s["what"] for s in story["timeline"] if "applied SEFAZ's NotaFiscalAutorizada" in s["what"]]
    assert len(applied) == 1, applied


def test_a_replay_of_one_event_type_reaches_only_its_rules(state: dict[str, Any], state_file: Path, api: Api) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    produto = api.produto(3)
    nota = api.nota(produto, 1)
    assert api.wait_for(nota, "AUTORIZADA") == "AUTORIZADA"
    result = nfe_json(
        "replay",
        "--from",
        started.isoformat(),
        "--to",
        datetime.now(UTC).isoformat(),
        "--event-type",
        "ReservaConfirmada",
        "--wait",
        "--state-file",
        str(state_file),
    )
    assert result["state"] == "COMPLETED" and "ReservaConfirmada" in result["replayName"]
    assert api.stock(produto) == 2
    nfe(
        "replay",
        "--from",
        "-1h",
        "--to",
        "now",
        "--event-type",
        "NoSuchEvent",
        "--state-file",
        str(state_file),
        expect=2,
    )


def sefaz_switches(state: dict[str, Any], **patch: Any) -> dict[str, Any]:
    """Set the emulated SEFAZ's switches over its admin endpoint (mutual TLS with the test A1), as a
    team's own tests would; the switches after the change."""
    import requests

    sefaz = state["sefaz"]
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`
    answer = session.post(
        f"{sefaz['url']}/_emulator/switches",
        json=patch,
        cert=(sefaz["clientCert"], sefaz["clientKey"]),
        verify=sefaz["caFile"],
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def story(state_file: Path, nota: str) -> tuple[dict[str, Any], list[str]]:
    """`nfe saga show --json`, checked for its shape: the answer and its timeline's texts in order."""
    shown = nfe_json("saga", "show", nota, "--state-file", str(state_file))
    assert shown["notaId"] == nota and set(shown) >= {"notaId", "status", "nfe", "timeline"}
    assert all(set(step) == {"at", "what"} for step in shown["timeline"])
    assert [s["at"] for s in shown["timeline"]] == sorted(s["at"] for s in shown["timeline"])
    return shown, [s["what"] for s in shown["timeline"]]


def index(steps: list[str], prefix: str) -> int:
    return next(i for i, s in enumerate(steps) if s.startswith(prefix) or prefix in s)


def test_saga_show_tells_an_authorized_a_compensated_and_a_canceled_story(
    state: dict[str, Any], state_file: Path, api: Api
) -> None:
    produto = api.produto(4)
    confirmed, compensated, canceled = api.nota(produto, 1), api.nota(produto, 40), api.nota(produto, 2)
    assert api.wait_for(confirmed, "AUTORIZADA") == "AUTORIZADA"
    assert api.wait_for(compensated, "ERRO_ESTOQUE") == "ERRO_ESTOQUE"
    assert api.wait_for(canceled, "AUTORIZADA") == "AUTORIZADA"
    api.cancelar(canceled)
    assert api.wait_for(canceled, "CANCELADA") == "CANCELADA"

    shown, steps = story(state_file, confirmed)
    assert steps[0] == "nota PENDING (created)"
    order = [
        "faturamento outbox: NotaFiscalCriada",
        "estoque consumer applied NotaFiscalCriada",
        "reserva made: 1 x OPS-",
        "estoque outbox: ReservaConfirmada",
        "faturamento consumer applied ReservaConfirmada",
        "NF-e numbered: série 1 número",
        "faturamento outbox: NotaFiscalEmitida",
        "published to the bus (to sefaz-autorizador)",
        "faturamento consumer applied SEFAZ's NotaFiscalAutorizada",
        "SEFAZ authorized the NF-e: protocolo",
        "nota AUTORIZADA",
    ]
    assert [index(steps, p) for p in order] == sorted(index(steps, p) for p in order), steps
    assert any(s.startswith("NotaFiscalCriada") and s.endswith("published to the bus") for s in steps)
    assert "nota CONFIRMADA" in steps
    # And the NF-e's identity and SEFAZ's protocol, as the nota keeps them
    nfe_ = shown["nfe"]
    nota = api.call("GET", f"/api/v1/notas/{confirmed}", expect=200)
    assert (nfe_["chave"], nfe_["numero"], nfe_["serie"]) == (nota["chave"], nota["numero"], nota["serie"])
    assert nfe_["protocolo"] == nota["protocolo"] and len(nfe_["protocolo"]) == 15
    assert nfe_["cStat"] is None and nfe_["estoqueLiberadoEm"] is None
    assert f"protocolo {nota['protocolo']}" in steps[index(steps, "SEFAZ authorized the NF-e")]
    # An authorization is Faturamento's alone: Estoque has nothing to release
    assert not any(s.startswith("estoque consumer applied SEFAZ's") for s in steps)

    _, steps = story(state_file, compensated)
    assert any(s.startswith("estoque refused the reservation: ESTOQUE_INSUFICIENTE") for s in steps)
    assert "nota ERRO_ESTOQUE (compensated)" in steps
    assert any(s.startswith("faturamento consumer applied ReservaFalhou") for s in steps)
    assert not any(s.startswith("reserva made") or "NotaFiscalEmitida" in s for s in steps)

    _, steps = story(state_file, canceled)
    for wanted in ("nota AUTORIZADA", "cancelation requested", "reserva released: 2 x OPS-", "nota CANCELADA"):
        assert any(s.startswith(wanted) for s in steps), (wanted, steps)
    # (where "nota CANCELADA" falls is the cancelation's own story: its time is SEFAZ's dhRegEvento)
    assert index(steps, "nota AUTORIZADA") < index(steps, "cancelation requested") < index(steps, "reserva released")
    human = nfe("saga", "show", canceled, "--state-file", str(state_file)).stdout
    assert human.startswith(f"nota {canceled}: CANCELADA\nNF-e série 1 número ")
    nfe("saga", "show", str(uuid.uuid4()), "--state-file", str(state_file), expect=1)


def test_saga_show_tells_a_rejection_and_a_denial_with_their_compensation(
    state: dict[str, Any], state_file: Path, api: Api
) -> None:
    produto = api.produto(10)
    # Given SEFAZ rejects the next NF-e (610), then denies one for its destinatário's status (302)
    sefaz_switches(state, forcedRejection={"cStat": 610, "xMotivo": "Rejeição: Total da NF difere", "count": 1})
    rejected = api.nota(produto, 3)
    assert api.wait_for(rejected, "REJEITADA") == "REJEITADA"
    sefaz_switches(state, irregularDestinatarios=[re.sub(r"[^0-9]", "", DESTINATARIO["documento"])])
    try:
        denied = api.nota(produto, 2)
        assert api.wait_for(denied, "DENEGADA") == "DENEGADA"
    finally:
        sefaz_switches(state, irregularDestinatarios=[])
    # When the compensation has run (Estoque released both notas' stock)
    deadline = time.monotonic() + 15
    while api.stock(produto) != 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.stock(produto) == 10

    # Then the rejected nota's story: SEFAZ's answer applied by both services, the cStat and motivo, the
    # stock released, the compensation's end, and its número's inutilização deadline
    for _ in range(100):
        shown, steps = story(state_file, rejected)
        if shown["nfe"]["estoqueLiberadoEm"]:
            break
        time.sleep(0.1)
    assert shown["status"] == "REJEITADA"
    assert (shown["nfe"]["cStat"], shown["nfe"]["motivo"]) == (610, "Rejeição: Total da NF difere")
    assert shown["nfe"]["protocolo"] is None
    order = [
        "faturamento outbox: NotaFiscalEmitida",
        "SEFAZ rejected the NF-e: cStat 610 Rejeição: Total da NF difere",
        "nota REJEITADA (SEFAZ kept nothing; Estoque releases the stock)",
        "reserva released: 3 x OPS-",
        "estoque outbox: ReservaLiberada",
        "faturamento consumer applied ReservaLiberada",
        "compensation finished: Estoque released the stock",
    ]
    assert [index(steps, p) for p in order] == sorted(index(steps, p) for p in order), steps
    for schema in ("faturamento", "estoque"):
        assert sum(s.startswith(f"{schema} consumer applied SEFAZ's NotaFiscalRejeitada") for s in steps) == 1
    numero = shown["nfe"]["numero"]
    awaits = steps[index(steps, f"número {numero} of série 1 awaits inutilização")]
    assert re.search(r"\(by [0-9]{4}-[0-9]{2}-10\)$", awaits), awaits
    human = nfe("saga", "show", rejected, "--state-file", str(state_file)).stdout
    assert "cStat 610 Rejeição: Total da NF difere" in human.splitlines()[1]

    # And the denied one's: the protocol of the denial, the número consumed, the stock released too
    for _ in range(100):
        shown, steps = story(state_file, denied)
        if shown["nfe"]["estoqueLiberadoEm"]:
            break
        time.sleep(0.1)
    assert shown["status"] == "DENEGADA" and shown["nfe"]["cStat"] == 302
    assert shown["nfe"]["protocolo"] is not None
    assert any(s.startswith("SEFAZ denied the NF-e: cStat 302") and "protocolo" in s for s in steps)
    assert "nota DENEGADA (the número is consumed; Estoque releases the stock)" in steps
    assert any(s.startswith("estoque consumer applied SEFAZ's NotaFiscalDenegada") for s in steps)
    assert any(s.startswith("reserva released: 2 x OPS-") for s in steps)
    assert not any("awaits inutilização" in s for s in steps)


class RefusesForGood:
    """A bus that refuses every entry with an error no retry fixes (as a wrong resource policy would)."""

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "FailedEntryCount": len(Entries),
            "Entries": [{"ErrorCode": "AccessDeniedException", "ErrorMessage": "not authorized"} for _ in Entries],
        }


def test_parked_outbox_rows_are_listed_with_their_reason_and_retried(pg_admin_url: str, tmp_path: Path) -> None:
    from functions.shared.outbox import OutboxRelay

    # Given local mode publishing only on a schedule that won't fire during the test
    path = tmp_path / "state.json"
    system = start_local(
        create_database(pg_admin_url), "--no-eager-publish", "--outbox-interval", "3600", "--state-file", str(path)
    )
    try:
        state = json.loads(path.read_text())
        api = Api(state)
        produto = api.produto(5)
        nota = api.nota(produto, 2)
        pending = nfe_json("outbox", "status", "--state-file", str(path))
        # (the nota's NotaFiscalCriada, and the produto's own announcement to Faturamento)
        assert [(r["schema"], r["unpublished"], r["parked"]) for r in pending] == [
            ("faturamento", 1, 0),
            ("estoque", 1, 0),
        ]
        assert pending[0]["oldestAgeSeconds"] >= 0
        # And a publisher run whose bus refused the row for good
        with psycopg.connect(state["databaseUrl"], row_factory=dict_row) as conn:
            refused = OutboxRelay(RefusesForGood(), state["busName"]).relay_batch(conn, "faturamento")
        assert refused is not None and refused.parked == 1
        # When the operator looks / Then the row is listed as parked, with the reason
        status = nfe_json("outbox", "status", "--state-file", str(path))
        assert set(status[0]) >= {"schema", "unpublished", "oldestAgeSeconds", "parked"}
        assert status[0]["unpublished"] == 0 and status[0]["parked"] == 1
        row = status[0]["parkedRows"][0]
        assert row["eventType"] == "NotaFiscalCriada" and row["notaId"] == nota
        assert "AccessDeniedException" in row["reason"]
        assert "AccessDeniedException" in nfe("outbox", "status", "--state-file", str(path)).stdout
        assert any("PARKED" in s["what"] for s in nfe_json("saga", "show", nota, "--state-file", str(path))["timeline"])
        # When the cause is fixed and the rows retried
        assert nfe_json("outbox", "retry", "--all", "--state-file", str(path)) == {
            "unparked": 1,
            "published": 1,
            "parkedAgain": 0,
            "pending": 0,
        }
        # Then the reservation is made and its answer waits in estoque's outbox for the publisher, beside
        # the produto's own announcement (ProdutoCadastrado), which waits there from the start
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = nfe_json("outbox", "status", "--state-file", str(path))
            if status[1]["unpublished"] == 2:
                break
            time.sleep(0.2)
        assert [(r["unpublished"], r["parked"]) for r in status] == [(0, 0), (2, 0)]
        assert api.stock(produto) == 3
        with psycopg.connect(state["databaseUrl"], row_factory=dict_row) as conn:
            OutboxRelay(from_state_file(path).client("events"), state["busName"]).relay_batch(conn, "estoque")
        assert api.wait_for(nota, "CONFIRMADA") == "CONFIRMADA"
        # And nothing is left to retry
        nfe("outbox", "retry", "--id", str(uuid.uuid4()), "--state-file", str(path), expect=2)
        assert nfe_json("outbox", "retry", "--all", "--state-file", str(path))["unparked"] == 0
    finally:
        assert system.stop() == 0


def test_local_mode_runs_the_emulated_sefaz_and_the_state_file_says_how_to_reach_it(state: dict[str, Any]) -> None:
    import requests

    sefaz = state["sefaz"]
    # Given the state file's SEFAZ: its UF and ambiente are the demo emitente's, its test A1 carries its CNPJ
    assert (sefaz["uf"], sefaz["tpAmb"], sefaz["cnpj"]) == ("SP", "2", "11222333000181")
    envelope = (
        '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">'
        '<soap:Body><nfeDadosMsg xmlns="http://www.portalfiscal.inf.br/nfe/wsdl/NFeStatusServico4">'
        '<consStatServ xmlns="http://www.portalfiscal.inf.br/nfe" versao="4.00"><tpAmb>2</tpAmb><cUF>35</cUF>'
        "<xServ>STATUS</xServ></consStatServ></nfeDadosMsg></soap:Body></soap:Envelope>"
    )
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace `verify`
    url = sefaz["endpoints"]["NFeStatusServico4"]
    headers = {"Content-Type": "application/soap+xml; charset=utf-8"}
    # When a client asks its status with the test A1, trusting the test CA
    answer = session.post(
        url,
        data=envelope.encode(),
        headers=headers,
        cert=(sefaz["clientCert"], sefaz["clientKey"]),
        verify=sefaz["caFile"],
        timeout=10,
    )
    # Then SEFAZ is in operation (107); and a client without a certificate is refused at TLS
    assert answer.status_code == 200 and "<cStat>107</cStat>" in answer.text
    with pytest.raises(requests.exceptions.SSLError):
        session.post(url, data=envelope.encode(), headers=headers, verify=sefaz["caFile"], timeout=10)


# Last in the module: its nota waiting for a SEFAZ that is down is only backed off, and comes back
# (authorized) minutes later, which would change the notas an earlier test compares.
def test_fiscal_status_lists_what_waits_for_sefaz_what_it_refused_and_the_numeros_to_inutilizar(
    state: dict[str, Any], state_file: Path, api: Api
) -> None:
    from nfe.local.fiscal_demo import DEMO_EMITENTE

    target = ("--state-file", str(state_file))
    produto = api.produto(20)
    # Given two notas SEFAZ rejects with 612, the second with another motivo
    rejected = []
    for motivo in ("Rejeição: primeira", "Rejeição: segunda"):
        sefaz_switches(state, forcedRejection={"cStat": 612, "xMotivo": motivo, "count": 1})
        rejected.append(api.nota(produto, 1))
        assert api.wait_for(rejected[-1], "REJEITADA") == "REJEITADA"
    # And one it denies for the emitente's status (301)
    sefaz_switches(state, irregularEmitentes=[DEMO_EMITENTE["cnpj"]])
    try:
        denied = api.nota(produto, 1)
        assert api.wait_for(denied, "DENEGADA") == "DENEGADA"
    finally:
        sefaz_switches(state, irregularEmitentes=[])
    # And one waiting while SEFAZ answers 108 (paralisado): numbered, CONFIRMADA, with SEFAZ
    sefaz_switches(state, down="108")
    try:
        waiting = api.nota(produto, 1)
        assert api.wait_for(waiting, "CONFIRMADA") == "CONFIRMADA"
        time.sleep(1.0)
        assert api.status(waiting) == "CONFIRMADA"
        # When the operator asks
        status = nfe_json("fiscal", "status", *target)
        human = nfe("fiscal", "status", *target).stdout
    finally:
        sefaz_switches(state, down=None)
    notas = {n: api.call("GET", f"/api/v1/notas/{n}", expect=200) for n in [*rejected, denied, waiting]}
    # Then the waiting nota is pending, with its age since dhEmi
    pending = {p["notaId"]: p for p in status["pending"]["notas"]}
    assert status["pending"]["count"] >= 1 and waiting in pending
    row = pending[waiting]
    assert (row["serie"], row["numero"], row["chave"]) == (
        notas[waiting]["serie"],
        notas[waiting]["numero"],
        notas[waiting]["chave"],
    )
    assert row["ageSeconds"] >= 1.0 and row["emitidaEm"].endswith("Z")
    ages = [p["ageSeconds"] for p in status["pending"]["notas"]]
    assert ages == sorted(ages, reverse=True) and status["pending"]["oldestAgeSeconds"] == ages[0]
    # And the refusals are counted per cStat, REJEITADA and DENEGADA apart, with the latest motivo
    by_cstat = {(s, r["cStat"]): r for s, rows in status["refusals"].items() for r in rows}
    assert by_cstat[("REJEITADA", 612)]["count"] == 2
    assert by_cstat[("REJEITADA", 612)]["latestMotivo"] == "Rejeição: segunda"
    assert by_cstat[("DENEGADA", 301)]["count"] == 1
    assert ("REJEITADA", 301) not in by_cstat and ("DENEGADA", 612) not in by_cstat
    # And each rejected número awaits inutilização by the 10th of next month; the denied one does not
    numeros = {n["notaId"]: n for n in status["inutilizacao"]["numeros"]}
    assert set(rejected) <= set(numeros) and denied not in numeros and waiting not in numeros
    for nota in rejected:
        found = numeros[nota]
        assert (found["numero"], found["cStat"]) == (notas[nota]["numero"], 612)
        assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-10", found["deadline"]) and found["overdue"] is False
        assert 10 <= found["daysLeft"] <= 41
    assert status["inutilizacao"]["count"] >= 2
    # And the same for a person: three sections, the waiting chave, the two cStats
    assert human.startswith("authorizations pending: ")
    assert notas[waiting]["chave"] in human
    assert re.search(r"^REJEITADA\s+612\s+2\s", human, re.MULTILINE), human
    assert re.search(r"^DENEGADA\s+301\s+1\s", human, re.MULTILINE), human
    assert "números awaiting inutilização: " in human
    # And a window is a duration or a time; anything else is one line and exit 2
    since = nfe_json("fiscal", "status", "--since", "2000-01-01T00:00:00Z", *target)["window"]["since"]
    assert since == "2000-01-01T00:00:00.000Z"
    wrong = nfe("fiscal", "status", "--since", "yesterday", *target, expect=2)
    assert len(wrong.stderr.strip().splitlines()) == 1 and wrong.stderr.startswith("nfe fiscal: ")
