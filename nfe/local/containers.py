"""One container of one function: its own process, with the environment Lambda gives it.

The process runs nfe/local/bootstrap.py, the local stand-in for Lambda's runtime interface client,
with exactly these variables: what the Lambda runtime sets (function name, memory, region, handler,
task root, log group and, as for every function the stack deploys with active tracing, the X-Ray
daemon's address), what the stack sets (nfe/function_env.py, the one computation components/ uses
too) and, local mode's only additions, the emulator's endpoint and credentials. The database URL
stands in for the DB_* endpoint variables. The handler's output goes to the function's log file.

Invocations travel as JSON lines over two pipes. A container that dies (its process exits) or runs
past its timeout (it is killed) is lost: the invocation fails as Lambda's would, and the pool
(nfe/local/lambda_runtime.py) starts a fresh one for the next.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from nfe import topology

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_VERSION = "python3.13"
# Lambda's limit on a function's init phase.
INIT_TIMEOUT_SECONDS = 10.0
# What any process needs from the caller's environment; nothing that configures a function.
PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT")


class FunctionError(RuntimeError):
    """The invocation failed: the handler raised, the container died, or it ran out of time."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


class ContainerLost(FunctionError):
    """The container is gone (crash or timeout); Lambda reports Runtime.ExitError or a timeout."""


def runtime_environment(
    function: topology.Function,
    physical_name: str,
    *,
    region: str,
    xray_daemon: str | None,
    memory_mb: int,
) -> dict[str, str]:
    """The variables the Lambda runtime itself sets in a function's execution environment."""
    env = {key: os.environ[key] for key in PASSTHROUGH if key in os.environ}
    env.update(
        {
            "_HANDLER": function.handler,
            "LAMBDA_TASK_ROOT": str(ROOT),
            "LAMBDA_RUNTIME_DIR": str(ROOT),
            "PYTHONPATH": str(ROOT),
            "TZ": ":UTC",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME_VERSION}",
            "AWS_LAMBDA_FUNCTION_NAME": physical_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{physical_name}",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",  # the stack's logging_config
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }
    )
    if xray_daemon:
        # Lambda sets these for a function with active tracing (the stack's tracing_config).
        host, _, port = xray_daemon.rpartition(":")
        env.update(
            {
                "AWS_XRAY_DAEMON_ADDRESS": xray_daemon,
                "_AWS_XRAY_DAEMON_ADDRESS": host,
                "_AWS_XRAY_DAEMON_PORT": port,
                "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            }
        )
    return env


def trace_header(sampled: bool = True) -> str:
    """`_X_AMZN_TRACE_ID` as Lambda sets it: the segment the service opened, and whether it is traced."""
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    return f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled={int(sampled)};Lineage=1:local:0"


@dataclass
class Invocation:
    result: Any
    ms: float
    cpu_ms: float
    timers: dict[str, float] = field(default_factory=dict)


class Container:
    """A started container process; `invoke` runs one event at a time, as Lambda does."""

    def __init__(
        self,
        function: topology.Function,
        environment: Mapping[str, str],
        log: Path | None,
        *,
        measure: bool = False,
    ) -> None:
        self.function = function
        self.spawned_at = time.perf_counter()
        self.last_used = time.monotonic()
        self.invocations = 0
        self.init_ms = 0.0
        self.init_cpu_ms = 0.0
        self.init_modules: list[str] = []
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        log_file: IO[bytes] | int = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nfe.local.bootstrap", str(child_read), str(child_write)]
                + (["--measure"] if measure else []),
                cwd=ROOT,
                env=dict(environment),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                pass_fds=(child_read, child_write),
                start_new_session=True,  # Ctrl-C reaches local mode, which stops its containers
            )
        finally:
            os.close(child_read)
            os.close(child_write)
            if not isinstance(log_file, int):
                log_file.close()
        self._read_fd = parent_read
        self._writer = os.fdopen(parent_write, "w", encoding="utf-8")
        self._buffer = b""

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        """The next JSON line from the container; None if the deadline passed; EOFError if it exited."""
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._read_fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._read_fd, 1 << 16)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    def wait_ready(self, timeout: float = INIT_TIMEOUT_SECONDS) -> None:
        try:
            message = self._read_message(time.monotonic() + timeout)
        except EOFError:
            message = None
        if message is None or "ready" not in message:
            self.kill()
            error = (message or {}).get("initError")
            if error:
                raise ContainerLost("Runtime.InitError", f"{error['errorType']}: {error['errorMessage']}")
            raise ContainerLost("Runtime.InitError", f"{self.function.name}: init did not finish in {timeout:g} s")
        self.init_ms = float(message["ready"]["initMs"])
        self.init_cpu_ms = float(message["ready"]["cpuMs"])
        self.init_modules = list(message["ready"].get("modules", []))

    def invoke(self, event: Any, timeout_seconds: float, *, sampled: bool = True) -> Invocation:
        deadline = time.monotonic() + timeout_seconds
        request = {
            "requestId": str(uuid.uuid4()),
            "traceId": trace_header(sampled),
            "deadlineEpochMs": time.time() * 1000 + timeout_seconds * 1000,
            "event": event,
        }
        self.invocations += 1
        try:
            self._writer.write(json.dumps(request) + "\n")
            self._writer.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise ContainerLost("Runtime.ExitError", f"{self.function.name}: the container exited") from None
        try:
            reply = self._read_message(deadline)
        except EOFError:
            self.kill()
            raise ContainerLost(
                "Runtime.ExitError", f"{self.function.name}: the container exited ({self.process.returncode})"
            ) from None
        self.last_used = time.monotonic()
        if reply is None:
            self.kill()
            raise ContainerLost("Sandbox.Timedout", f"Task timed out after {timeout_seconds:g} seconds")
        if "error" in reply:
            error = reply["error"]
            raise FunctionError(error["errorType"], error["errorMessage"])
        return Invocation(reply.get("result"), reply["ms"], reply["cpuMs"], reply.get("timers", {}))

    def kill(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.close_pipes()

    def stop(self, timeout: float = 2.0) -> None:
        """The shutdown Lambda gives an environment it reaps: end of input, then SIGKILL if need be."""
        self.close_pipes()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def close_pipes(self) -> None:
        with contextlib.suppress(OSError):
            self._writer.close()
        if self._read_fd >= 0:
            os.close(self._read_fd)
            self._read_fd = -1
