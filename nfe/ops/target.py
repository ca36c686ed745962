"""Where the operator's commands act: local mode (its state file) or a deployed stack (its outputs).

Both give the same facts (nfe/local/system.py writes them, __main__.py exports them): the bus and
its archive, every queue with its DLQ, the DLQs of the bus's targets, the region, and for local
mode the emulator's endpoint and the database URL. A deployed stack's database is private, so the
commands that need it take `--database-url` (through the admin prefix list and the team's network).
Credentials are boto3's standard chain on AWS; local mode's emulator takes any.

Anything wrong with the target (a missing file, a stack without outputs, an endpoint nobody answers,
no credentials) is a `TargetError`: one line, exit code 2.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nfe import topology

LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


class TargetError(Exception):
    """The target can't be read or reached; the message is the one line the operator sees."""


@dataclass(frozen=True)
class Dlq:
    """A dead-letter queue and what it serves."""

    name: str
    url: str
    kind: str  # "queue": a queue's redrive DLQ; "target": EventBridge's DLQ of a service's rules; "log"
    source: str  # the queue (kind "queue") or the rules (others) whose failures it holds
    source_url: str | None = None  # kind "queue": where a redrive sends its messages


@dataclass
class Target:
    description: str
    region: str | None
    bus_name: str
    archive_name: str
    dlqs: list[Dlq]
    endpoint_url: str | None = None  # local mode's emulator; None on AWS
    database_url: str | None = None
    api_url: str | None = None
    # Local mode's emulated SEFAZ as its state file describes it (URL, CA, test A1); None on AWS.
    sefaz: dict[str, Any] | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def environment(self) -> str:
        return self.bus_name.removeprefix(f"{topology.BUS_NAME_PREFIX}-")

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            kwargs: dict[str, Any] = {"config": Config(retries={"max_attempts": 3, "mode": "standard"})}
            if self.region:
                kwargs["region_name"] = self.region
            if self.endpoint_url:
                kwargs.update(endpoint_url=self.endpoint_url, **LOCAL_CREDENTIALS)
            try:
                self._clients[service] = boto3.client(service, **kwargs)
            except Exception as exc:  # NoRegionError and friends
                raise TargetError(f"{self.description}: cannot build an AWS {service} client: {exc}") from exc
        return self._clients[service]

    def dlq(self, name: str) -> Dlq:
        """A DLQ by its name, its logical queue name (`estoque-reserva`) or its service (`estoque`)."""
        for dlq in self.dlqs:
            logical = dlq.source if dlq.kind == "queue" else None
            if name in (dlq.name, logical, f"{logical}-dlq", dlq.url):
                return dlq
        for dlq in self.dlqs:
            if dlq.kind == "target" and dlq.name.startswith(f"{name}-events-target-dlq"):
                return dlq
        names = ", ".join(d.name for d in self.dlqs)
        raise TargetError(f"no DLQ named {name!r} in {self.description}; there are: {names}")

    def require_database(self, override: str | None) -> str:
        url = override or self.database_url
        if not url:
            raise TargetError(
                f"{self.description}: this command reads the database; pass --database-url "
                "(the stack's database is private: reach it through the admin prefix list)"
            )
        return url


def _queue_dlqs(queues: dict[str, tuple[str, str]], dlq_urls: dict[str, str]) -> list[Dlq]:
    """queues: logical name -> (url, dlq url or ''), dlq_urls for stacks."""
    found = []
    for spec in topology.QUEUES:
        if spec.name not in queues:
            continue
        url, dlq_url = queues[spec.name]
        dlq_url = dlq_url or dlq_urls.get(spec.name, "")
        if dlq_url:
            found.append(Dlq(dlq_url.rsplit("/", 1)[-1], dlq_url, "queue", spec.name, url))
    return found


def _target_source(service: str, environment: str) -> str:
    rules = [
        f"{q.rule_name}-{environment}" for q in topology.QUEUES if topology.function(q.consumer).service == service
    ]
    return "rules " + ", ".join(rules)


def from_state(state: dict[str, Any], description: str) -> Target:
    try:
        queues = {name: (q["url"], q["dlqUrl"]) for name, q in state["queues"].items()}
        bus = state["busName"]
        environment = bus.removeprefix(f"{topology.BUS_NAME_PREFIX}-")
        dlqs = _queue_dlqs(queues, {})
        for service, t in sorted(state.get("targetDlqs", {}).items()):
            dlqs.append(Dlq(t["name"], t["url"], "target", _target_source(service, environment)))
        return Target(
            description=description,
            region=state.get("region"),
            bus_name=bus,
            archive_name=state.get("archiveName") or f"{bus}-archive",
            dlqs=dlqs,
            endpoint_url=state["awsEndpoint"],
            database_url=state.get("databaseUrl"),
            api_url=state.get("apiUrl"),
            sefaz=state.get("sefaz"),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise TargetError(f"{description} is not an nfe local state file (missing {exc})") from None


def _read_json_object(path: Path, description: str, missing: str, not_an_object: str) -> dict[str, Any]:
    """The JSON object in `path`, or a TargetError naming the file: `missing` when there is none,
    `not_an_object` when it holds other JSON."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TargetError(f"{description}: {missing}") from None
    except (OSError, ValueError) as exc:
        raise TargetError(f"{description}: unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise TargetError(f"{description}{not_an_object}")
    return data


def from_state_file(path: Path) -> Target:
    description = f"state file {path}"
    state = _read_json_object(
        path,
        description,
        missing=f"no such file (is `nfe local --state-file {path}` running?)",
        not_an_object=" is not an nfe local state file",
    )
    return from_state(state, description)


def from_outputs(outputs: dict[str, Any], description: str) -> Target:
    try:
        bus = outputs["eventBusName"]
        environment = bus.removeprefix(f"{topology.BUS_NAME_PREFIX}-")
        queue_urls: dict[str, str] = outputs["queueUrls"]
        dlq_urls: dict[str, str] = outputs.get("dlqUrls") or {}
        dlqs = _queue_dlqs({n: (u, "") for n, u in queue_urls.items()}, dlq_urls)
        for service, url in sorted((outputs.get("targetDlqUrls") or {}).items()):
            dlqs.append(Dlq(url.rsplit("/", 1)[-1], url, "target", _target_source(service, environment)))
        # The event log's target DLQ lives beside the others, named after the bus (components/event_bus.py).
        any_url = next(iter(queue_urls.values()), "")
        log_url = outputs.get("eventLogDlqUrl") or (
            f"{any_url.rsplit('/', 1)[0]}/{bus}-log-target-dlq" if any_url else ""
        )
        if log_url:
            dlqs.append(Dlq(log_url.rsplit("/", 1)[-1], log_url, "log", f"rule {bus}-all-to-logs"))
    except (KeyError, TypeError, AttributeError) as exc:
        raise TargetError(f"{description}: not this project's stack outputs (missing {exc})") from None
    if not dlq_urls:
        raise TargetError(f"{description}: no dlqUrls output; deploy the stack with this version first")
    region = outputs.get("region")
    if not region:
        # A queue URL names its region: https://sqs.<region>.amazonaws.com/<account>/<name>
        host = next(iter(queue_urls.values()), "").split("/")[2:3]
        parts = host[0].split(".") if host else []
        region = parts[1] if len(parts) > 2 and parts[0] == "sqs" else None
    return Target(
        description=description,
        region=region,
        bus_name=bus,
        archive_name=outputs.get("eventArchiveName") or f"{bus}-archive",
        dlqs=dlqs,
        api_url=outputs.get("apiUrl"),
    )


def stack_outputs(stack: str, outputs_file: Path | None) -> tuple[dict[str, Any], str]:
    if outputs_file is not None:
        description = f"outputs file {outputs_file}"
        data = _read_json_object(
            outputs_file,
            description,
            missing="no such file",
            not_an_object=": expected the JSON object of `pulumi stack output --json`",
        )
        return data, f"stack {stack} ({description})"
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise TargetError(
            f"stack {stack}: no pulumi CLI on PATH; save `pulumi stack output --json -s {stack}` "
            "and pass --outputs FILE"
        )
    result = subprocess.run(
        [pulumi, "stack", "output", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        line = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"stack {stack}: pulumi stack output failed: {line}")
    try:
        data = json.loads(result.stdout)
    except ValueError as exc:
        raise TargetError(f"stack {stack}: pulumi stack output gave no JSON: {exc}") from None
    return data, f"stack {stack}"


def resolve(state_file: Path | None, stack: str | None, outputs_file: Path | None) -> Target:
    if state_file is not None and (stack or outputs_file):
        raise TargetError("give either --state-file (local mode) or --stack/--outputs (a deployed stack), not both")
    if state_file is not None:
        return from_state_file(state_file)
    if stack or outputs_file:
        data, description = stack_outputs(stack or "(outputs)", outputs_file)
        return from_outputs(data, description)
    raise TargetError("no target: pass --state-file PATH (nfe local) or --stack NAME [--outputs FILE]")


def aws_failure(target: Target, exc: BaseException) -> TargetError:
    """One line for an AWS call that failed because of the target (unreachable, no credentials, ...)."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(exc, EndpointConnectionError):
        hint = " (is nfe local still running?)" if target.is_local else ""
        return TargetError(f"{target.description}: cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}{hint}")
    if isinstance(exc, NoCredentialsError):
        return TargetError(f"{target.description}: no AWS credentials (boto3's standard chain found none)")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return TargetError(f"{target.description}: {error.get('Code', 'error')}: {error.get('Message', exc)}")
    return TargetError(f"{target.description}: {type(exc).__name__}: {exc}")


def connect_database(target: Target, override: str | None) -> Any:
    import psycopg
    from psycopg.rows import dict_row

    url = target.require_database(override)
    try:
        return psycopg.connect(url, row_factory=dict_row, connect_timeout=5, application_name="nfe-ops")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TargetError(f"{target.description}: cannot reach the database: {first}") from None
