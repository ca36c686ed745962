"""Lambda semantics on one machine: one warm container per function, invoked one event at a time.

A Lambda container never runs two invocations at once, and the handlers rely on that (Powertools'
resolver keeps the current event on the app object; the database connection is per container). So
each function gets a single worker thread, which is its container: its module-level state and its
database connection live there, and invocations queue for it as they would for a function whose
concurrency is one.
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from nfe import topology


@dataclass
class LocalContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    _deadline: float

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def resolve_handler(handler_path: str) -> Callable[[dict[str, Any], Any], Any]:
    module_name, _, attribute = handler_path.rpartition(".")
    module = importlib.import_module(module_name)
    handler: Callable[[dict[str, Any], Any], Any] = getattr(module, attribute)
    return handler


class Container:
    """One warm container of one function."""

    def __init__(self, function: topology.Function, default_timeout_seconds: int = 30) -> None:
        self.function = function
        self.timeout_seconds = function.timeout_seconds or default_timeout_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=function.name)
        self._handler: Callable[[dict[str, Any], Any], Any] | None = None
        self.invocations = 0

    def _run(self, event: dict[str, Any]) -> Any:
        if self._handler is None:
            # The cold start: importing the handler module builds its settings, clients and app.
            self._handler = resolve_handler(self.function.handler)
        context = LocalContext(
            function_name=self.function.name,
            memory_limit_in_mb=self.function.memory_mb or 512,
            timeout_seconds=self.timeout_seconds,
            aws_request_id=str(uuid.uuid4()),
            _deadline=time.monotonic() + self.timeout_seconds,
        )
        self.invocations += 1
        return self._handler(event, context)

    def warm(self) -> None:
        self._executor.submit(lambda: resolve_handler(self.function.handler)).result()

    def invoke(self, event: dict[str, Any]) -> Any:
        return self._executor.submit(self._run, event).result()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
