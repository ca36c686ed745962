"""Local mode traces invocations as Lambda samples them: the first each second, 5 % of the rest."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from nfe.local.sampling import FIXED_RATE, RESERVOIR_PER_SECOND, DefaultSamplingRule, SampleAll


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_the_default_rule_is_lambdas_one_a_second_and_five_percent() -> None:
    assert (RESERVOIR_PER_SECOND, FIXED_RATE) == (1, 0.05)


def test_the_first_invocation_of_each_second_is_traced_and_the_rest_by_the_fixed_rate() -> None:
    now = [100.2]
    never = DefaultSamplingRule(rng=FixedRandom(0.999), clock=lambda: now[0])
    assert [never.sample() for _ in range(4)] == [True, False, False, False]
    now[0] = 100.9  # the same second: its reservoir is spent
    assert never.sample() is False
    now[0] = 101.0  # a new second, a new reservoir
    assert [never.sample() for _ in range(3)] == [True, False, False]
    # Past the reservoir, a draw under the fixed rate is traced and one at it or over is not
    assert [DefaultSamplingRule(rng=FixedRandom(0.049), clock=lambda: 5.0).sample() for _ in range(2)] == [True, True]
    at_rate = DefaultSamplingRule(rng=FixedRandom(0.05), clock=lambda: 5.0)
    assert [at_rate.sample() for _ in range(2)] == [True, False]


def test_past_the_reservoir_about_five_percent_are_traced() -> None:
    rule = DefaultSamplingRule(rng=random.Random(15), clock=lambda: 7.0)
    traced = sum(rule.sample() for _ in range(20_001)) - 1  # the reservoir's one
    assert 0.04 < traced / 20_000 < 0.06


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        DefaultSamplingRule(fixed_rate=1.5)
    with pytest.raises(ValueError):
        DefaultSamplingRule(reservoir_per_second=-1)


@pytest.fixture
def local_system(database_url: str) -> Iterator[Any]:
    from moto.moto_api._internal.models import moto_api_backend

    from nfe.local.system import LocalOptions, LocalSystem

    moto_api_backend.reset()  # moto's backends are per process: a system started earlier left its bus
    options = LocalOptions(port=0, database_url=database_url, outbox_interval_seconds=3600, log=lambda m: None)
    system = LocalSystem(options).start()
    yield system
    system.stop()


def xray_documents_for(system: Any, service: str, want: int, timeout: float = 5.0) -> int:
    """Segments and subsegments the local daemon got for `service`, once `want` arrived or time ran out."""
    deadline = time.monotonic() + timeout
    while True:
        counts = system.xray.summary().get(service, {})
        total = int(counts.get("segments", 0) + counts.get("subsegments", 0))
        if total >= want or time.monotonic() > deadline:
            return total
        time.sleep(0.05)


def test_only_sampled_invocations_reach_the_daemon_and_trace_all_sends_every_one(local_system: Any) -> None:
    from nfe.local.demo import HttpClient

    api = HttpClient(local_system.url, local_system.sign_in("estoquista@example.com"))
    runtime = local_system.functions["estoque-api"]
    # Given the default rule with a spent reservoir never drawing under the rate, after one traced request
    runtime.sampler = DefaultSamplingRule(rng=FixedRandom(0.999), clock=lambda: 0.0)
    api.expect(200, "GET", "/api/v1/produtos")
    per_request = xray_documents_for(local_system, "estoque-api", 1)
    assert per_request > 0, "the first request of a second is traced"
    # When three more requests come in the same second
    for _ in range(3):
        api.expect(200, "GET", "/api/v1/produtos")
    # Then none of them is traced, and the function's stats say so
    time.sleep(0.3)
    assert xray_documents_for(local_system, "estoque-api", per_request + 1, timeout=0.5) == per_request
    assert (runtime.stats.invocations, runtime.stats.sampled) == (4, 1)
    # And with --trace-all every request is
    runtime.sampler = SampleAll()
    for _ in range(3):
        api.expect(200, "GET", "/api/v1/produtos")
    assert xray_documents_for(local_system, "estoque-api", 4 * per_request) == 4 * per_request
    assert (runtime.stats.invocations, runtime.stats.sampled) == (7, 4)
