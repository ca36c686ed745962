"""The X-Ray daemon's side of local mode: a UDP listener on loopback that counts what arrives.

Functions deployed with active tracing send their segments to the daemon at AWS_XRAY_DAEMON_ADDRESS
(UDP, one JSON document per datagram behind a `{"format": "json", "version": 1}` header line).
Local mode's containers get this listener's address there, so the X-Ray SDK runs as on AWS; the
listener keeps a summary per service (segments and subsegments, AWS calls by operation, errors and
faults) instead of forwarding anything.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from typing import Any


class XRayListener:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self._socket.bind((host, 0))
        self.documents = 0
        self.malformed = 0
        self._by_name: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="xray-listener", daemon=True)
        self._stopped = False

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"{host}:{port}"

    def start(self) -> XRayListener:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopped:
            try:
                data = self._socket.recv(1 << 16)
            except OSError:
                return
            self._record(data)

    def _record(self, data: bytes) -> None:
        _, _, body = data.partition(b"\n")
        try:
            document = json.loads(body)
        except ValueError:
            with self._lock:
                self.malformed += 1
            return
        with self._lock:
            self.documents += 1
            # Powertools annotates the handler's subsegment with its service (the function's name).
            service = document.get("annotations", {}).get("Service") or document.get("name", "?")
            self._count(document, str(service))

    def _count(self, document: dict[str, Any], service: str) -> None:
        counts = self._by_name.setdefault(service, Counter())
        counts["subsegments" if document.get("type") == "subsegment" or "parent_id" in document else "segments"] += 1
        if document.get("namespace") == "aws":
            operation = document.get("aws", {}).get("operation", "?")
            counts[f"aws:{document.get('name', '?')}.{operation}"] += 1
        for flag in ("error", "fault", "throttle"):
            if document.get(flag):
                counts[flag] += 1
        for child in document.get("subsegments", []):
            self._count(child, service)

    def summary(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {name: dict(counts) for name, counts in sorted(self._by_name.items())}

    def stop(self) -> None:
        self._stopped = True
        self._socket.close()
