"""Where a run's CPU goes: the function containers, local mode's own process, PostgreSQL, the client.

Read from /proc (Linux): each process's utime + stime, in clock ticks, at the start and the end of a
window. `nfe local`'s own process holds the AWS emulator (moto), the API gateway and the pollers;
its children are the function containers (their command line names the bootstrap and the
function's handler comes from their environment, so they are grouped by the function they run);
PostgreSQL is every process named postgres. A process that starts inside the window counts from
zero; one that ends inside it loses what it used since the last snapshot, so snapshots are taken
while the containers are warm and the backends connected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    comm: str
    ticks: int


def _read(pid: int) -> Process | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm is in parentheses and may hold spaces; the fields after it are space-separated.
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return Process(pid, int(fields[1]), comm, int(fields[11]) + int(fields[12]))


def snapshot() -> dict[int, Process]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            process = _read(int(entry))
            if process is not None:
                found[process.pid] = process
    return found


def _function_of(pid: int) -> str:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return "?"
    for item in environ:
        if item.startswith(b"POWERTOOLS_SERVICE_NAME="):
            return item.split(b"=", 1)[1].decode()
    return "?"


def split(before: dict[int, Process], after: dict[int, Process], local_pid: int) -> dict[str, float]:
    """CPU ms used in the window: per function (its containers), 'emulator' (nfe local's process:
    moto, gateway, pollers), 'postgresql', and 'benchClient' (this process)."""
    used: dict[str, float] = {}

    def add(key: str, ticks: int) -> None:
        used[key] = used.get(key, 0.0) + ticks * TICK_MS

    for pid, process in after.items():
        start = before.get(pid)
        ticks = process.ticks - (start.ticks if start is not None and start.comm == process.comm else 0)
        if pid == local_pid:
            add("emulator", ticks)
        elif process.ppid == local_pid:
            add(f"function:{_function_of(pid)}", ticks)
        elif process.comm == "postgres" or process.comm.startswith("postgres"):
            add("postgresql", ticks)
        elif pid == os.getpid():
            add("benchClient", ticks)
    return {key: round(value, 1) for key, value in sorted(used.items())}
