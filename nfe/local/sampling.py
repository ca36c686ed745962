"""Which invocations local mode traces: X-Ray's default sampling rule, as Lambda applies it.

A function with active tracing does not trace every invocation. AWS Lambda's developer guide
(services-xray): "The default sampling rule is 1 request per second and 5 percent of additional
requests. This sampling rate cannot be configured for Lambda functions." The API stage has tracing
on too (components/rest_api.py, `xray_tracing_enabled`), and API Gateway applies the same default
rule and passes its decision in the trace header, which Lambda honours. So a traced invocation is
the first of its second, or one of 5 % of the rest; the others run with `Sampled=0`, and the X-Ray
SDK then records nothing and sends nothing.

Until issue 15's second pass local mode traced every invocation, which made each one dearer than
it is on Lambda at any rate above one a second. `nfe local --trace-all` keeps that behaviour for a
developer who wants every trace.

The reservoir is kept per function: each function is its own entry point here (on AWS, X-Ray's
service splits a rule's reservoir among the hosts that use it, which local mode has no way to
mirror more closely).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

# The default rule's two figures (Lambda developer guide, services-xray).
RESERVOIR_PER_SECOND = 1
FIXED_RATE = 0.05


class Sampler(Protocol):
    def sample(self) -> bool: ...


class DefaultSamplingRule:
    """The first `reservoir_per_second` invocations of each second, then `fixed_rate` of the rest."""

    def __init__(
        self,
        reservoir_per_second: int = RESERVOIR_PER_SECOND,
        fixed_rate: float = FIXED_RATE,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if reservoir_per_second < 0 or not 0.0 <= fixed_rate <= 1.0:
            raise ValueError("the reservoir is a count of 0 or more, the fixed rate a fraction from 0 to 1")
        self.reservoir_per_second = reservoir_per_second
        self.fixed_rate = fixed_rate
        # Not for security: which invocations are traced only needs to be spread evenly.
        self._rng = rng or random.Random()  # noqa: S311
        self._clock = clock
        self._second: int | None = None
        self._taken = 0
        self._lock = threading.Lock()

    def sample(self) -> bool:
        with self._lock:
            second = int(self._clock())
            if second != self._second:
                self._second, self._taken = second, 0
            if self._taken < self.reservoir_per_second:
                self._taken += 1
                return True
            return self._rng.random() < self.fixed_rate


class SampleAll:
    """`nfe local --trace-all`: every invocation traced, as local mode did before it sampled."""

    def sample(self) -> bool:
        return True
