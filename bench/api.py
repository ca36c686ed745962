"""API latency through the local HTTP server: POST /api/v1/notas and GET /api/v1/notas/{id}.

Each client thread keeps one HTTP/1.1 keep-alive connection and sends its requests back to back;
a request's latency is from writing it to reading the whole response. Each client's first
requests are a warm-up, not measured: at concurrency 8 they start the function's containers (up to
8, as on AWS), whose cold requests bench/coldstart.py measures apart. Every POST also starts a saga,
which runs on the same machine while later requests are measured; each run waits until the
previous one's sagas are done.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.harness import ApiClient, LocalProcess, Log, median, ms, nota_body, percentile, say, wait_until_quiet

CONCURRENCIES = (1, 8)
WARMUP_PER_CLIENT = 3


def _measure(
    local: LocalProcess, concurrency: int, total: int, request: Callable[[ApiClient, random.Random], None]
) -> list[float]:
    """`total` requests from `concurrency` threads started together; latencies in ms."""
    per_client = max(1, total // concurrency)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(concurrency)

    def client(index: int) -> None:
        api = local.client()
        rng = random.Random(index)  # noqa: S311 (picking ids, not secrets)
        try:
            for _ in range(WARMUP_PER_CLIENT):
                request(api, rng)
            barrier.wait()
            for _ in range(per_client):
                t0 = time.perf_counter()
                request(api, rng)
                latencies[index].append((time.perf_counter() - t0) * 1000)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            api.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"API latency run failed: {errors[0]!r}") from errors[0]
    return [value for values in latencies for value in values]


def run(
    local: LocalProcess,
    produto_id: str,
    nota_ids: Sequence[str],
    requests_per_run: int,
    rounds: int,
    log: Log = say,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`apiLatencyMs` (median over rounds of each round's p50 and p95) and the per-round figures."""
    if not nota_ids:
        raise ValueError("GET needs existing notas")

    def post(api: ApiClient, rng: random.Random) -> None:
        api.expect(201, "POST", "/api/v1/notas", nota_body(produto_id))

    def get(api: ApiClient, rng: random.Random) -> None:
        api.expect(200, "GET", f"/api/v1/notas/{rng.choice(nota_ids)}")

    operations = {"post": post, "get": get}
    figures: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for name, request in operations.items():
        figures[name] = {}
        for concurrency in CONCURRENCIES:
            p50s, p95s = [], []
            for round_number in range(1, rounds + 1):
                wait_until_quiet(local.database_url)
                latencies = _measure(local, concurrency, requests_per_run, request)
                p50s.append(percentile(latencies, 50))
                p95s.append(percentile(latencies, 95))
                log(
                    f"api latency: {name.upper()} c{concurrency} round {round_number}/{rounds}: "
                    f"p50 {p50s[-1]:.1f} ms, p95 {p95s[-1]:.1f} ms ({len(latencies)} requests)"
                )
            figures[name][f"c{concurrency}"] = {"p50": ms(median(p50s)), "p95": ms(median(p95s))}
            details[f"{name}C{concurrency}Rounds"] = [
                {"p50": ms(a), "p95": ms(b)} for a, b in zip(p50s, p95s, strict=True)
            ]
    wait_until_quiet(local.database_url)
    return figures, details
