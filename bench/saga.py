"""Saga latency: from just before `POST /api/v1/notas` to the moment the nota is AUTORIZADA.

The end of each saga is SEFAZ's authorization as Faturamento applied it: the nota's
`sefaz_respondida_em`, written by the faturamento consumer's AUTORIZADA transaction (PostgreSQL's
`now()`, the start of that short transaction); the start is the client's wall clock read just before
the request; both are this machine's clock. The CONFIRMADA step (stock reserved, NF-e numbered, the
figure before SEFAZ joined the saga) is kept beside it from `confirmada_em`. The client still polls
the database (every 2 ms, never the API under test) to know when to go on, but the poll interval
does not enter the figure. SEFAZ is local mode's emulator, whose answer delay is a switch: the eager
run is measured at its default and at zero (`sefaz_delay`).

- Eager publish (schedule 60 s): a closed loop, one saga at a time, after a few warm-up sagas:
  the latency of a saga on an otherwise idle system.
- Schedule only (`--no-eager-publish --outbox-interval 1`): an open loop at a fixed arrival rate,
  because each saga waits for two publisher ticks and one at a time would take minutes; the
  latency is set by where a nota lands between ticks, not by the other sagas in flight. Three
  outbox rows wait for a tick each (NotaFiscalCriada, ReservaConfirmada, NotaFiscalEmitida); SEFAZ's
  answers go on the bus straight from the SEFAZ function.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.harness import ApiClient, LocalProcess, Log, NotaWatcher, median, ms, nota_body, percentiles, say

SAGA_TIMEOUT_SECONDS = 30


@dataclass
class SagaRun:
    latencies_ms: list[float] = field(default_factory=list)
    confirmed_ms: list[float] = field(default_factory=list)  # the same sagas, to CONFIRMADA
    post_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    first_saga_ms: float | None = None
    first_post_ms: float | None = None
    ids: list[str] = field(default_factory=list)
    sent: dict[str, datetime] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        if not self.latencies_ms:
            raise RuntimeError(f"no saga reached AUTORIZADA: {dict(self.statuses)}")
        return percentiles(self.latencies_ms, 50, 95, 99)

    def details(self) -> dict[str, Any]:
        return {
            "sagas": len(self.latencies_ms),
            "statuses": dict(self.statuses),
            "toConfirmadaMs": percentiles(self.confirmed_ms, 50, 95, 99) if self.confirmed_ms else None,
            "postP50Ms": ms(median(self.post_ms)),
            "maxMs": ms(max(self.latencies_ms)),
            "firstSagaMs": None if self.first_saga_ms is None else ms(self.first_saga_ms),
            "firstPostMs": None if self.first_post_ms is None else ms(self.first_post_ms),
        }


def _post(api: ApiClient, produto_id: str) -> tuple[str, datetime, float]:
    sent = datetime.now(UTC)
    t0 = time.perf_counter()
    nota = api.expect(201, "POST", "/api/v1/notas", nota_body(produto_id))
    return str(nota["id"]), sent, (time.perf_counter() - t0) * 1000


def _collect(run: SagaRun, watcher: NotaWatcher, sent: dict[str, datetime]) -> None:
    run.ids.extend(sent)
    run.sent.update(sent)
    done = watcher.milestones(list(sent))
    for nota_id, (status, at, confirmed) in done.items():
        run.statuses[status] += 1
        if status == "AUTORIZADA":
            run.latencies_ms.append((at - sent[nota_id]).total_seconds() * 1000)
            run.confirmed_ms.append((confirmed - sent[nota_id]).total_seconds() * 1000)
    if len(done) < len(sent):
        run.statuses["PENDING"] += len(sent) - len(done)


# Where a saga's time goes: the timestamp each step left, as (label, SQL expression over the joined
# rows). `now()` is a transaction's start, so each step is when that transaction began.
ANATOMY_STEPS = (
    ("POST transaction began (nota row)", "n.criada_em"),
    ("eager relay of NotaFiscalCriada began", "fo.publicado_em"),
    ("estoque consumer transaction began", "ep.processada_em"),
    ("eager relay of ReservaConfirmada began", "eo.publicado_em"),
    ("faturamento consumer transaction began (CONFIRMADA, NF-e numbered)", "n.confirmada_em"),
    ("eager relay of NotaFiscalEmitida began", "fe.publicado_em"),
    ("faturamento consumer transaction began (AUTORIZADA)", "n.sefaz_respondida_em"),
)
# Between the last two: the SEFAZ function's receive, signing, the call to SEFAZ (and its delay), the
# archive of the nfeProc, its PutEvents, and the answer's delivery to Faturamento's queue.
_ANATOMY_SQL = (
    "SELECT n.id::text, " + ", ".join(expr for _, expr in ANATOMY_STEPS) + " FROM faturamento.notas_fiscais n"
    " JOIN faturamento.eventos_outbox fo ON fo.agregado_id = n.id AND fo.tipo = 'NotaFiscalCriada'"
    " JOIN estoque.mensagens_processadas ep ON ep.evento_id = fo.id"
    " JOIN estoque.eventos_outbox eo ON eo.agregado_id = n.id AND eo.tipo = 'ReservaConfirmada'"
    " JOIN faturamento.eventos_outbox fe ON fe.agregado_id = n.id AND fe.tipo = 'NotaFiscalEmitida'"
    " WHERE n.id = ANY(%s::uuid[]) AND n.status = 'AUTORIZADA'"
)


def anatomy(database_url: str, sent: dict[str, datetime]) -> list[dict[str, Any]]:
    """Median milliseconds from the client's send to each step, over the given sagas."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(_ANATOMY_SQL, (list(sent),)).fetchall()
    steps = []
    for index, (label, _) in enumerate(ANATOMY_STEPS, start=1):
        offsets = [(row[index] - sent[row[0]]).total_seconds() * 1000 for row in rows if row[index] is not None]
        if offsets:
            steps.append({"step": label, "p50Ms": ms(median(offsets))})
    return steps


def closed_loop(
    local: LocalProcess, produto_id: str, sagas: int, warmup: int = 5, log: Log = say, label: str = "eager"
) -> SagaRun:
    """One saga at a time; the first one after start (cold connections, lazy clients) is kept apart."""
    api = local.client()
    watcher = NotaWatcher(local.database_url)
    run = SagaRun()
    try:
        for i in range(warmup + sagas):
            nota_id, at, post_ms = _post(api, produto_id)
            if not watcher.wait([nota_id], SAGA_TIMEOUT_SECONDS):
                raise RuntimeError(f"nota {nota_id} not at the end of its saga after {SAGA_TIMEOUT_SECONDS} s")
            if i == 0:
                _, done = watcher.completion_times([nota_id])[nota_id]
                # Every function's first container is cold here, the SEFAZ function's included.
                run.first_saga_ms = (done - at).total_seconds() * 1000
                run.first_post_ms = post_ms
            if i < warmup:
                continue
            run.post_ms.append(post_ms)
            _collect(run, watcher, {nota_id: at})
            done_count = i + 1 - warmup
            if done_count % 50 == 0 or done_count == sagas:
                log(f"saga latency ({label}): {done_count}/{sagas}, p50 so far {median(run.latencies_ms):.1f} ms")
    finally:
        api.close()
        watcher.close()
    return run


def open_loop(
    local: LocalProcess, produto_id: str, sagas: int, rate_per_second: float, log: Log = say, label: str = "schedule"
) -> SagaRun:
    """Notas sent at a fixed rate regardless of completions, then all awaited."""
    api = local.client()
    watcher = NotaWatcher(local.database_url)
    run = SagaRun()
    sent: dict[str, datetime] = {}
    try:
        start = time.perf_counter()
        for i in range(sagas):
            # Pace against the schedule, not the previous request, so slow POSTs do not lower the rate.
            delay = start + i / rate_per_second - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            nota_id, at, post_ms = _post(api, produto_id)
            sent[nota_id] = at
            run.post_ms.append(post_ms)
            if (i + 1) % 50 == 0:
                log(f"saga latency ({label}): sent {i + 1}/{sagas}")
        seen = watcher.wait(list(sent), SAGA_TIMEOUT_SECONDS, interval=0.05)
        log(f"saga latency ({label}): {len(seen)}/{sagas} terminal")
        _collect(run, watcher, sent)
    finally:
        api.close()
        watcher.close()
    return run
