"""Inside one local container: what Lambda's runtime interface client does in a Python runtime.

`python -m nfe.local.bootstrap READ_FD WRITE_FD [--measure]`, started by nfe/local/containers.py
with the function's environment and nothing else. Init imports the handler named by `_HANDLER`
(the function's module-level code runs here, as in Lambda's init phase) and reports `ready`; then
each invocation arrives as one JSON line, runs with `_X_AMZN_TRACE_ID` set as the runtime sets it,
and its result or error goes back as one JSON line. The handler's stdout and stderr are the
function's log.

Only the standard library is imported before the handler, so init measures the function's own
imports. `--measure` (the cold-request benchmark, the init-imports test) reports the modules init
loaded and times the first invocation's database
connection and AWS client creation, by wrapping psycopg.connect and boto3.client once the handler
has imported them (or, for a client built on first use, when boto3 is first imported).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any


class Context:
    """The parts of the Lambda context object that handlers and Powertools read."""

    def __init__(self, request_id: str, deadline_epoch_ms: float) -> None:
        self.aws_request_id = request_id
        self._deadline = deadline_epoch_ms
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline - time.time() * 1000))


class Timers:
    """Time spent in the first invocation's connection and client creation (`--measure`)."""

    def __init__(self) -> None:
        self.ms = {"connect": 0.0, "client": 0.0}
        self.active = False

    def wrap(self, owner: Any, attribute: str, key: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.active:
                    self.ms[key] += (time.perf_counter() - t0) * 1000

        setattr(owner, attribute, timed)

    def install(self) -> None:
        if "psycopg" in sys.modules:
            self.wrap(sys.modules["psycopg"], "connect", "connect")
        if "boto3" in sys.modules:
            self.wrap(sys.modules["boto3"], "client", "client")
        else:
            sys.meta_path.insert(0, _Boto3Hook(self))


class _Boto3Hook(importlib.abc.MetaPathFinder):
    """Times a lazy `import boto3` as client creation and wraps boto3.client once it exists."""

    def __init__(self, timers: Timers) -> None:
        self.timers = timers

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "boto3":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        execute = loader.exec_module
        timers = self.timers

        def exec_module(module: Any) -> None:
            t0 = time.perf_counter()
            execute(module)
            if timers.active:
                timers.ms["client"] += (time.perf_counter() - t0) * 1000
            timers.wrap(module, "client", "client")

        loader.exec_module = exec_module
        return spec


def _resolve(handler_path: str) -> Callable[[Any, Any], Any]:
    module_name, _, attribute = handler_path.rpartition(".")
    handler: Callable[[Any, Any], Any] = getattr(importlib.import_module(module_name), attribute)
    return handler


def main(argv: list[str]) -> int:
    reader = os.fdopen(int(argv[0]), "r", encoding="utf-8")
    writer = os.fdopen(int(argv[1]), "w", encoding="utf-8")
    measure = "--measure" in argv[2:]

    def send(message: dict[str, Any]) -> None:
        writer.write(json.dumps(message, default=str) + "\n")
        writer.flush()

    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        handler = _resolve(os.environ["_HANDLER"])
    except Exception as exc:  # Runtime.ImportModuleError / an init error: the container never runs
        traceback.print_exc()
        send({"initError": {"errorType": type(exc).__name__, "errorMessage": str(exc)}})
        return 1
    timers = Timers()
    if measure:
        timers.install()
    ready: dict[str, Any] = {"initMs": (time.perf_counter() - t0) * 1000, "cpuMs": (time.process_time() - cpu0) * 1000}
    if measure:
        ready["modules"] = sorted(sys.modules)  # what init loaded (tests/test_containers.py checks it)
    send({"ready": ready})

    for line in reader:
        request = json.loads(line)
        os.environ["_X_AMZN_TRACE_ID"] = request["traceId"]
        context = Context(request["requestId"], request["deadlineEpochMs"])
        timers.active = measure
        timers.ms = {"connect": 0.0, "client": 0.0}
        cpu0, t0 = time.process_time(), time.perf_counter()
        try:
            result = handler(request["event"], context)
            reply: dict[str, Any] = {"result": result}
        except Exception as exc:  # the function's error: Lambda answers it as the invocation's result
            traceback.print_exc()
            reply = {
                "error": {"errorType": type(exc).__name__, "errorMessage": str(exc)},
            }
        reply["ms"] = (time.perf_counter() - t0) * 1000
        reply["cpuMs"] = (time.process_time() - cpu0) * 1000
        if measure:
            reply["timers"] = timers.ms
            timers.active = measure = False
        sys.stdout.flush()
        send(reply)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
