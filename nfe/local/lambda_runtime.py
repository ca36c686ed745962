"""Lambda's scaling on one machine: each function has up to its reserved concurrency of containers.

A container never runs two invocations at once (the handlers rely on it: Powertools' resolver keeps
the current event on the app object; the database connection is per container). An invocation takes
a warm idle container, the most recently used first, as Lambda reuses warm environments; with none
idle and fewer containers than the function's reserved concurrency it starts one (a real cold start,
paid by that invocation); at the limit it waits for one to come free. Containers idle for longer
than the idle limit are reaped. A container that crashes or times out is dropped, the invocation
fails as Lambda's does, and the next one starts a fresh container. Which invocations are traced is
the sampler's decision (nfe/local/sampling.py: X-Ray's default rule, as on Lambda).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nfe import topology
from nfe.local.containers import Container, ContainerLost, FunctionError, Invocation
from nfe.local.sampling import DefaultSamplingRule, Sampler

# Lambda keeps an idle environment for minutes, not documented exactly; local mode's default.
IDLE_SECONDS = 300.0

__all__ = ["ContainerLost", "FunctionError", "FunctionRuntime", "FunctionStats"]


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0
    cold_starts: int = 0
    sampled: int = 0  # invocations traced (the trace header's Sampled=1)
    lost: int = 0  # containers that crashed or timed out
    reaped: int = 0
    cpu_ms: float = 0.0  # inside invocations, all containers (what Lambda bills as duration, in CPU)
    init_ms: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "invocations": self.invocations,
            "errors": self.errors,
            "coldStarts": self.cold_starts,
            "sampled": self.sampled,
            "lost": self.lost,
            "reaped": self.reaped,
            "cpuMs": round(self.cpu_ms, 1),
            "cpuMsPerInvocation": round(self.cpu_ms / self.invocations, 2) if self.invocations else None,
        }


class FunctionRuntime:
    """The containers of one function."""

    def __init__(
        self,
        function: topology.Function,
        environment: Mapping[str, str],
        *,
        concurrency: int,
        timeout_seconds: float,
        log: Path | None = None,
        idle_seconds: float = IDLE_SECONDS,
        on_container: Callable[[Container], None] | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        self.function = function
        self.environment = dict(environment)
        self.concurrency = concurrency
        self.timeout_seconds = timeout_seconds
        self.log = log
        self.idle_seconds = idle_seconds
        self.on_container = on_container
        self.sampler: Sampler = sampler or DefaultSamplingRule()
        self.stats = FunctionStats()
        self._idle: list[Container] = []
        self._containers: set[Container] = set()
        self._starting = 0
        self._cond = threading.Condition()
        self._closed = False

    @property
    def containers(self) -> list[Container]:
        with self._cond:
            return list(self._containers)

    def _acquire(self) -> Container:
        with self._cond:
            while True:
                if self._closed:
                    raise FunctionError("Local.Stopped", f"{self.function.name}: local mode is stopping")
                while self._idle:
                    container = self._idle.pop()
                    if container.alive():
                        return container
                    self._forget(container)
                if len(self._containers) + self._starting < self.concurrency:
                    self._starting += 1
                    break
                self._cond.wait()
        try:
            container = Container(self.function, self.environment, self.log)
            container.wait_ready()
        except BaseException:
            with self._cond:
                self._starting -= 1
                self.stats.lost += 1
                self._cond.notify()
            raise
        with self._cond:
            self._starting -= 1
            self._containers.add(container)
            self.stats.cold_starts += 1
            self.stats.init_ms.append(container.init_ms)
        if self.on_container is not None:
            self.on_container(container)
        return container

    def _forget(self, container: Container) -> None:
        self._containers.discard(container)
        self._cond.notify()

    def invoke(self, event: Any) -> Any:
        return self.invoke_measured(event).result

    def invoke_measured(self, event: Any) -> Invocation:
        container = self._acquire()
        sampled = self.sampler.sample()
        try:
            invocation = container.invoke(event, self.timeout_seconds, sampled=sampled)
        except ContainerLost:
            with self._cond:
                self.stats.invocations += 1
                self.stats.sampled += int(sampled)
                self.stats.errors += 1
                self.stats.lost += 1
                self._forget(container)
            raise
        except FunctionError:
            self._release(container, sampled, error=True)
            raise
        self._release(container, sampled, cpu_ms=invocation.cpu_ms)
        return invocation

    def _release(self, container: Container, sampled: bool, *, error: bool = False, cpu_ms: float = 0.0) -> None:
        with self._cond:
            self.stats.invocations += 1
            self.stats.sampled += int(sampled)
            self.stats.errors += int(error)
            self.stats.cpu_ms += cpu_ms
            if self._closed:
                self._containers.discard(container)
            else:
                self._idle.append(container)
                self._cond.notify()
                return
        container.stop()

    def reap_idle(self, now: float | None = None) -> int:
        """Stop the containers idle for longer than the idle limit; how many."""
        now = time.monotonic() if now is None else now
        with self._cond:
            old = [c for c in self._idle if now - c.last_used > self.idle_seconds]
            for container in old:
                self._idle.remove(container)
                self._containers.discard(container)
            self.stats.reaped += len(old)
        for container in old:
            container.stop()
        return len(old)

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            for container in idle:
                self._containers.discard(container)
            busy = list(self._containers)
            self._cond.notify_all()
        for container in idle:
            container.stop()
        # Busy containers finish their invocation and are stopped on release; a stuck one is killed.
        deadline = time.monotonic() + 5
        for container in busy:
            while container.alive() and container in self._containers and time.monotonic() < deadline:
                time.sleep(0.05)
            if container.alive():
                container.kill()
