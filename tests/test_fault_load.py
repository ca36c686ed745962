"""Faults under load: scarce stock raced for by concurrent containers, and a database restart.

- Scarce stock: eight threads, each with its own API and consumer "containers" (own connections),
  run sagas at once against the same products, so reservations really race for the same rows.
- Restart: its own `nfe local` process on its own PostgreSQL (moto server, the real handlers, eager
  publishing, the publisher schedule at 1 s, a 2 s visibility timeout), driven over HTTP by eight
  clients while the server is restarted under them.
- Killed containers: the same, with a random function container (a process of `nfe local`'s)
  SIGKILLed every 0.4 s, 20 times, while the sagas run.
The figures each test measures are printed (`pytest -s` shows them) and quoted in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from functions.shared.events import EventName
from nfe import topology
from nfe.local.demo import HttpClient
from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL
from nfe.pgserver import PostgresServer
from tests.helpers.db import envelope_of
from tests.helpers.events import (
    JUSTIFICATIVA,
    FakeLambdaContext,
    autorizada_de,
    cancelamento_homologado_de,
    failed_ids,
    saga_envelope,
    sqs_event,
)
from tests.test_faults import CONSUMER_OF, Services, new_produto, wire
from tests.test_local_mode import LocalProcess, start_local

DESTINATARIO = DESTINATARIO_SP
# Where a saga ends. CONFIRMADA is a step: the NF-e is with SEFAZ.
TERMINAL = ("AUTORIZADA", "REJEITADA", "DENEGADA", "ERRO_ESTOQUE", "CANCELADA")
# `make soak` raises these: more sagas, more restarts under them.
SAGAS = int(os.environ.get("NFE_SOAK_SAGAS", "100"))
RESTARTS = int(os.environ.get("NFE_SOAK_RESTARTS", "3"))
# What the schedule and redelivery need to finish whatever the eager path dropped. Time is scaled
# down for the test: a 2 s visibility timeout instead of 90 s, and an outage tolerance of 30 s
# instead of 15 minutes (the consumers' backoff delays of 2, 4, 8 and 16 s instead of 1-8 minutes).
VISIBILITY_SECONDS = 2
OUTAGE_TOLERANCE_SECONDS = 30
SAFETY_NET = (
    "--outbox-interval",
    "1",
    "--visibility-timeout",
    str(VISIBILITY_SECONDS),
    "--outage-tolerance",
    str(OUTAGE_TOLERANCE_SECONDS),
)


def query(url: str, sql: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row, connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchall()


def new_produtos(api: HttpClient, stock: dict[str, int]) -> dict[str, str]:
    """SKU -> id for products created with the given stock."""
    ids = {}
    for sku, quantidade in stock.items():
        ids[sku] = api.expect(
            201, "POST", "/api/v1/produtos", {"sku": sku, "nome": sku, "quantidade": quantidade, **PRODUTO_FISCAL}
        )["id"]
    return ids


def nota_body(rng: random.Random, produtos: list[str], max_items: int, max_quantidade: int) -> dict[str, Any]:
    chosen = rng.sample(produtos, rng.randint(1, max_items))
    return {
        "destinatario": DESTINATARIO,
        "items": [
            {"produtoId": p, "quantidade": rng.randint(1, max_quantidade), "valorUnitario": "2.50"} for p in chosen
        ],
    }


def wait_until_no_pending(url: str, expected: int, timeout: float) -> float:
    """Seconds until `expected` notas exist and none is PENDING or waiting for SEFAZ (CONFIRMADA);
    fails with the stragglers."""
    started = time.monotonic()
    found: list[dict[str, Any]] = []
    while time.monotonic() - started < timeout:
        found = query(url, "SELECT status, count(*) AS n FROM faturamento.notas_fiscais GROUP BY status")
        by_status = {r["status"]: r["n"] for r in found}
        if sum(by_status.values()) == expected and not by_status.get("PENDING") and not by_status.get("CONFIRMADA"):
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"sagas still not terminal after {timeout} s: {found}")


def stock_ledger(url: str) -> list[dict[str, Any]]:
    """Per product: stock now, units in ATIVA reservas, units in LIBERADA ones."""
    return query(
        url,
        "SELECT p.sku, p.quantidade, "
        "COALESCE(sum(r.quantidade) FILTER (WHERE r.status = 'ATIVA'), 0) AS ativa, "
        "COALESCE(sum(r.quantidade) FILTER (WHERE r.status = 'LIBERADA'), 0) AS liberada "
        "FROM estoque.produtos p LEFT JOIN estoque.reservas r ON r.produto_id = p.id GROUP BY p.sku, p.quantidade",
    )


def assert_reservas_match_items(url: str) -> None:
    """A CONFIRMADA or AUTORIZADA nota holds one ATIVA reserva per item, of its quantity; no other nota
    (refused, compensated, cancelled) holds any."""
    mismatched = query(
        url,
        "SELECT n.id, n.status FROM faturamento.notas_fiscais n WHERE "
        "(SELECT coalesce(array_agg((i.produto_id, i.quantidade) ORDER BY i.produto_id), '{}') "
        " FROM faturamento.itens_nota i WHERE i.nota_fiscal_id = n.id AND n.status IN ('CONFIRMADA', 'AUTORIZADA')) "
        "IS DISTINCT FROM "
        "(SELECT coalesce(array_agg((r.produto_id, r.quantidade) ORDER BY r.produto_id), '{}') "
        " FROM estoque.reservas r WHERE r.nota_fiscal_id = n.id AND r.status = 'ATIVA')",
    )
    assert mismatched == []


def dlq_depths(local: LocalProcess) -> dict[str, int]:
    sqs = local.aws("sqs")
    depths = {}
    for url in sqs.list_queues()["QueueUrls"]:
        if url.endswith("-dlq-local"):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            depths[url.rsplit("/", 1)[1]] = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    return depths


# --- 200 notas, 10 products, scarce stock, 8 threads ------------------------------------------


class Worker:
    """One client thread and the containers serving it: its own API and consumers, own connections.

    On AWS each concurrent Lambda invocation is its own container with its own connection; eight
    of these running at once is eight reservations racing for the same rows, which one local-mode
    process (one container per function) would serialize.
    """

    def __init__(self, services: Services) -> None:
        self.services = services

    def deliver(self, schema: str, tipo: str, notas: list[str]) -> None:
        events = query(
            self.services.url,
            f"SELECT id, tipo, payload FROM {schema}.eventos_outbox WHERE tipo = ANY(%s) AND agregado_id = ANY(%s)",
            (tipo.split(","), notas),
        )
        by_consumer: dict[str, list[dict[str, Any]]] = {}
        for row in events:
            by_consumer.setdefault(CONSUMER_OF[EventName(row["tipo"])], []).append(envelope_of(row))
        for consumer, envelopes in by_consumer.items():
            response = self.services.consumers[consumer].handle(sqs_event(envelopes), FakeLambdaContext())
            assert failed_ids(response) == []

    def sagas(self, bodies: list[dict[str, Any]]) -> list[str]:
        """Post the notas five at a time; each five travel as one SQS batch, as a mapping would batch them."""
        created = []
        for start in range(0, len(bodies), 5):
            chunk = []
            for body in bodies[start : start + 5]:
                result = self.services.notas.post("/api/v1/notas", body)
                assert result.status == 201, result.body
                chunk.append(str(result.body["id"]))
            self.deliver("faturamento", "NotaFiscalCriada", chunk)
            self.deliver("estoque", "ReservaConfirmada,ReservaFalhou", chunk)
            self.authorize(chunk)
            created += chunk
        return created

    def authorize(self, notas: list[str]) -> None:
        """SEFAZ's answer for the numbered notas, as the SEFAZ participant announces it (these tests are
        about stock and numbering under concurrency; tests/test_sefaz_saga.py and the fault suite's
        duplicate-delivery test run the participant itself against the emulated SEFAZ)."""
        numbered = query(
            self.services.url,
            "SELECT id FROM faturamento.notas_fiscais "
            "WHERE id = ANY(%s) AND status = 'CONFIRMADA' AND chave IS NOT NULL",
            (notas,),
        )
        envelopes = [
            saga_envelope(EventName.NOTA_FISCAL_AUTORIZADA, autorizada_de(self.services.url, str(r["id"])))
            for r in numbered
        ]
        if envelopes:
            consumer = self.services.consumers["faturamento-consumer"]
            assert failed_ids(consumer.handle(sqs_event(envelopes), FakeLambdaContext())) == []

    def cancel(self, notas: list[str]) -> None:
        for nota in notas:
            assert self.services.notas.post(f"/api/v1/notas/{nota}/cancelamento", JUSTIFICATIVA).status == 202
        # SEFAZ's registration of each cancelamento, as the participant announces it
        envelopes = [
            saga_envelope(
                EventName.NOTA_FISCAL_CANCELAMENTO_HOMOLOGADO, cancelamento_homologado_de(self.services.url, n)
            )
            for n in notas
        ]
        consumer = self.services.consumers["faturamento-consumer"]
        assert failed_ids(consumer.handle(sqs_event(envelopes), FakeLambdaContext())) == []
        self.deliver("faturamento", "NotaFiscalCancelada", notas)
        self.deliver("estoque", "ReservaLiberada", notas)


def test_200_notas_from_8_threads_never_oversell_and_all_end(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 10 products with 20 units each, and 200 notas asking for about four times that in total
    workers = [Worker(wire(database_url, monkeypatch)) for _ in range(8)]
    initial = {f"ESC-{i:02d}": 20 for i in range(10)}
    produtos = [new_produto(workers[0].services.produtos, sku, n) for sku, n in initial.items()]
    rng = random.Random(8)
    bodies = [nota_body(rng, produtos, max_items=3, max_quantidade=3) for _ in range(200)]
    try:
        # When 8 threads, each with its own containers, run 25 sagas each at the same time
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            created = [nota for chunk in pool.map(lambda i: workers[i].sagas(bodies[i::8]), range(8)) for nota in chunk]
        elapsed = time.monotonic() - started
        # Then every nota is terminal, and for each product initial = current + reserved, never negative
        statuses = Counter(r["status"] for r in query(database_url, "SELECT status FROM faturamento.notas_fiscais"))
        assert len(set(created)) == 200 and sum(statuses.values()) == 200
        assert set(statuses) <= set(TERMINAL)
        assert statuses["AUTORIZADA"] > 0 and statuses["ERRO_ESTOQUE"] > 0  # stock really was scarce
        ledger = stock_ledger(database_url)
        assert {r["sku"]: r["quantidade"] + r["ativa"] for r in ledger} == initial
        assert all(r["quantidade"] >= 0 for r in ledger)
        assert_reservas_match_items(database_url)

        # And when the 8 threads cancel 40 confirmed notas at once, the units come back exactly
        confirmed = [
            str(r["id"])
            for r in query(database_url, "SELECT id FROM faturamento.notas_fiscais WHERE status = 'AUTORIZADA'")
        ]
        cancelled = confirmed[:40]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: workers[i].cancel(cancelled[i::8]), range(8)))
        ledger = stock_ledger(database_url)
        assert {r["sku"]: r["quantidade"] + r["ativa"] for r in ledger} == initial
        assert sum(r["liberada"] for r in ledger) > 0
        assert_reservas_match_items(database_url)
        after = Counter(r["status"] for r in query(database_url, "SELECT status FROM faturamento.notas_fiscais"))
        assert after["CANCELADA"] == len(cancelled)
    finally:
        for worker in workers:
            worker.services.close()
    print(
        f"\n200 notas / 10 products / 8 threads with their own containers: all terminal in {elapsed:.2f} s; "
        f"{dict(statuses)}; {len(cancelled)} concurrent cancelations released their stock"
    )


# --- PostgreSQL restarts during 100 sagas ------------------------------------------------------


class HeaderClient(HttpClient):
    def call_with_headers(
        self, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 (loopback URL built by us)
            self.base_url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={**self.headers(), **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


@dataclass
class Client:
    """A client that retries a POST with the same Idempotency-Key until it gets its 201."""

    api: HeaderClient
    answers: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, body: dict[str, Any], deadline: float) -> str:
        key = str(uuid.uuid4())
        delay = 0.05
        while time.monotonic() < deadline:
            try:
                status, payload = self.api.call_with_headers("POST", "/api/v1/notas", body, {"Idempotency-Key": key})
            except OSError as exc:  # the gateway itself never goes away, but a request may time out
                with self.lock:
                    self.errors[type(exc).__name__] += 1
                status, payload = 0, None
            with self.lock:
                self.answers[status] += 1
            if status == 201:
                return str(payload["id"])
            assert status in (0, 409, 502, 503), (status, payload)  # an outage, or the key's lease, nothing else
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise AssertionError(f"no 201 before the deadline; answers so far {self.answers}")


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    # Its own server: restarting the session's would cut every other test's connections.
    server = PostgresServer().start()
    yield server
    server.stop()


def run_through_restarts(server: PostgresServer, sagas: int, restarts: int, pause_seconds: float) -> str:
    """`sagas` posted by 8 clients through local mode while `server` is stopped `restarts` times for
    `pause_seconds` each; checks every invariant and returns a line of figures."""
    # Given local mode on a server of its own, 10 products, and 8 clients about to post the notas
    logs = Path(tempfile.mkdtemp(prefix="nfe-restarts-"))
    local = start_local(server.url, *SAFETY_NET, "--logs-dir", str(logs))
    try:
        api = HeaderClient(local.url, local.sign_in())
        initial = {f"RST-{i:02d}": sagas * 12 // 100 for i in range(10)}
        produtos = new_produtos(api, initial)
        rng = random.Random(sagas)
        bodies = [nota_body(rng, list(produtos.values()), max_items=2, max_quantidade=2) for _ in range(sagas)]
        client = Client(api)
        created: list[str] = []
        outages: list[tuple[float, float]] = []

        def create(body: dict[str, Any]) -> str:
            nota_id = client.create(body, deadline=time.monotonic() + 60 + pause_seconds * restarts)
            with client.lock:
                created.append(nota_id)
            return nota_id

        def restart_along_the_way() -> None:
            for k in range(1, restarts + 1):
                while len(created) < k * sagas // (restarts + 2):
                    time.sleep(0.005)
                down = time.monotonic()
                server.restart(pause_seconds=pause_seconds)
                outages.append((down, time.monotonic()))

        # When PostgreSQL is stopped (sessions killed) along the way and started again each time
        started = time.monotonic()
        restarter = threading.Thread(target=restart_along_the_way)
        restarter.start()
        with ThreadPoolExecutor(max_workers=8) as pool:
            ids = list(pool.map(create, bodies))
        restarter.join()
        posted = time.monotonic() - started
        settled = wait_until_no_pending(server.url, sagas, timeout=60 + OUTAGE_TOLERANCE_SECONDS)
        recovered = time.monotonic() - outages[-1][1]

        # Then each nota exists exactly once and reached a terminal state
        assert len(outages) == restarts
        assert len(set(ids)) == sagas
        assert {str(r["id"]) for r in query(server.url, "SELECT id FROM faturamento.notas_fiscais")} == set(ids)
        # And nothing was lost or stuck on the way: stock adds up, every event published, no DLQ
        ledger = stock_ledger(server.url)
        assert {r["sku"]: r["quantidade"] + r["ativa"] for r in ledger} == initial
        assert_reservas_match_items(server.url)
        for schema in ("faturamento", "estoque"):
            unpublished = query(server.url, f"SELECT count(*) AS n FROM {schema}.eventos_outbox WHERE NOT publicado")
            assert unpublished == [{"n": 0}]
        assert sum(dlq_depths(local).values()) == 0
        # And SEFAZ's answer was applied once per nota it authorized, each with its own protocol
        autorizadas = query(server.url, "SELECT protocolo FROM faturamento.notas_fiscais WHERE status = 'AUTORIZADA'")
        applied = query(
            server.url,
            "SELECT count(*) AS n FROM faturamento.mensagens_processadas WHERE tipo = 'NotaFiscalAutorizada'",
        )
        assert applied == [{"n": len(autorizadas)}]
        assert len({r["protocolo"] for r in autorizadas}) == len(autorizadas)
        # And the outage was real: the API refused requests while it lasted
        assert client.answers[503] > 0
        statuses = Counter(r["status"] for r in query(server.url, "SELECT status FROM faturamento.notas_fiscais"))
        down = ", ".join(f"{end - start:.1f}" for start, end in outages)
        delayed = sum(
            log.read_text(errors="replace").count("a dependency is down; the message comes back later")
            for log in logs.glob("*-consumer.log")
        )
        return (
            f"{sagas} sagas, PostgreSQL stopped {restarts}x (down {down} s): {sagas}/{sagas} terminal "
            f"{recovered:.1f} s after it last came back ({posted:.1f} s to post all, {settled:.1f} s more to settle); "
            f"{dict(statuses)}; answers {dict(client.answers)}; client errors {dict(client.errors)}; "
            f"{delayed} consumer receives backed off; DLQs empty"
        )
    finally:
        assert local.stop() == 0


def test_postgres_restart_during_100_sagas_loses_none_and_duplicates_none(own_server: PostgresServer) -> None:
    # 3 restarts of 2 s under 100 sagas here; `make soak`: 5 restarts under 1,000
    print("\n" + run_through_restarts(own_server, SAGAS, RESTARTS, pause_seconds=2))


def test_one_outage_longer_than_visibility_times_receives_dead_letters_nothing(own_server: PostgresServer) -> None:
    # Given the queues' 2 s visibility and 5 receives: without the backoff, every message in flight
    # would be dead-lettered 10 s into an outage. When PostgreSQL stays down 12 s under 50 sagas
    outage = VISIBILITY_SECONDS * topology.MAX_RECEIVE_COUNT + 2
    assert outage < OUTAGE_TOLERANCE_SECONDS
    # Then every saga ends and no DLQ holds anything (run_through_restarts checks each)
    print("\n" + run_through_restarts(own_server, 50, 1, pause_seconds=outage))


KILLS = 20


def container_pids(parent: int) -> list[int]:
    """The function containers (nfe/local/bootstrap.py processes) of the `nfe local` process `parent`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"nfe.local.bootstrap" in command:
            found.append(int(entry))
    return found


def test_containers_killed_at_random_during_100_sagas_lose_none_and_duplicate_none(pg_admin_url: str) -> None:
    import signal

    from tests.conftest import create_database

    # Given local mode (eager publishing, the schedule at 1 s, a 2 s visibility timeout) and 8 clients
    database_url = create_database(pg_admin_url)
    local = start_local(database_url, *SAFETY_NET)
    try:
        api = HeaderClient(local.url, local.sign_in())
        initial = {f"KIL-{i:02d}": SAGAS * 12 // 100 for i in range(10)}
        produtos = new_produtos(api, initial)
        rng = random.Random(SAGAS + 1)
        bodies = [nota_body(rng, list(produtos.values()), max_items=2, max_quantidade=2) for _ in range(SAGAS)]
        client = Client(api)
        done = threading.Event()
        killed: list[int] = []

        def kill_along_the_way() -> None:
            # When a random container of any function is SIGKILLed every 0.4 s, 20 times, while the
            # sagas run. (Unbounded, the last requests meet few containers and lose each new one;
            # and a message whose batch dies three times goes to its DLQ, as on AWS.)
            chooser = random.Random(7)
            while len(killed) < KILLS and not done.wait(0.4):
                pids = container_pids(local.process.pid)
                if pids:
                    pid = chooser.choice(pids)
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                    except ProcessLookupError:
                        pass

        killer = threading.Thread(target=kill_along_the_way)
        killer.start()
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                ids = list(pool.map(lambda body: client.create(body, deadline=time.monotonic() + 60), bodies))
        finally:
            done.set()
            killer.join()
        settled = wait_until_no_pending(database_url, SAGAS, timeout=60)

        # Then each nota exists once and ended; stock adds up; every event was published; no DLQ
        assert len(killed) >= KILLS // 2
        assert len(set(ids)) == SAGAS
        assert {str(r["id"]) for r in query(database_url, "SELECT id FROM faturamento.notas_fiscais")} == set(ids)
        ledger = stock_ledger(database_url)
        assert {r["sku"]: r["quantidade"] + r["ativa"] for r in ledger} == initial
        assert_reservas_match_items(database_url)
        for schema in ("faturamento", "estoque"):
            unpublished = query(database_url, f"SELECT count(*) AS n FROM {schema}.eventos_outbox WHERE NOT publicado")
            assert unpublished == [{"n": 0}]
        assert sum(dlq_depths(local).values()) == 0
        statuses = Counter(r["status"] for r in query(database_url, "SELECT status FROM faturamento.notas_fiscais"))
        print(
            f"\n{SAGAS} sagas with {len(killed)} containers killed under them: all terminal {settled:.1f} s after the "
            f"last POST; {dict(statuses)}; answers {dict(client.answers)}"
        )
    finally:
        assert local.stop() == 0
