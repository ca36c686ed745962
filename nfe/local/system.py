"""Local mode: the whole saga on one machine, with the same handlers that run on Lambda.

PostgreSQL (given, or a throwaway server), the AWS emulator with the topology's bus and queues, the
API gateway, the SQS pollers and the publisher schedule. Each function runs as Lambda runs it
(nfe/local/lambda_runtime.py): its containers are processes started on demand, up to its reserved
concurrency, each with exactly the environment the stack gives that function (nfe/function_env.py)
but for the endpoints and the database URL; tracing goes to a local X-Ray listener, metrics (EMF)
and logs to each function's log file. Each queue has as many pollers as its event source mapping's
maximum concurrency.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.shared.redelivery import DEFAULT_OUTAGE_TOLERANCE_SECONDS
from nfe import function_env, topology
from nfe.config import LambdaConfig
from nfe.local import cognito, emulator, fiscal_demo
from nfe.local.authorizer import CognitoAuthorizer
from nfe.local.console import DEFAULT_DIST, ConsoleSite
from nfe.local.containers import runtime_environment
from nfe.local.gateway import make_server, serve_in_thread
from nfe.local.lambda_runtime import FunctionRuntime
from nfe.local.pollers import EventSourceSqs, QueuePoller, Schedule
from nfe.local.sampling import DefaultSamplingRule, SampleAll
from nfe.local.xray_listener import XRayListener

ENVIRONMENT = "local"
# The functions local mode runs: everything but the migrator, which `migrate` replaces here.
LOCAL_FUNCTIONS = tuple(fn for fn in topology.FUNCTIONS if fn.kind != "migrator")
# The emitente's A1 in the emulator's Secrets Manager, as the stack keeps the real one.
SEFAZ_CERTIFICATE_SECRET_NAME = f"nfe-sefaz-certificado-{ENVIRONMENT}"


@dataclass(frozen=True)
class SefazTarget:
    """Where the SEFAZ participant finds SEFAZ locally: the emulator, its CA, the certificate's secret."""

    base_url: str
    ca_file: str
    certificate_secret: str


def provision_certificate(aws: emulator.LocalAws, sefaz_info: dict[str, Any]) -> str:
    """Put the emulator's test A1 into Secrets Manager in the documented format; the secret's ARN.

    The secret's value is made here from files the emulator generated for this run; it is never
    printed or written to the state file (which names the files, as a team testing against the
    emulator needs them).
    """
    secrets = aws.client("secretsmanager")
    value = json.dumps(
        {
            "pkcs12": base64.b64encode(Path(sefaz_info["clientPkcs12"]).read_bytes()).decode(),
            "password": sefaz_info["clientPassword"],
        }
    )
    try:
        return str(secrets.create_secret(Name=SEFAZ_CERTIFICATE_SECRET_NAME, SecretString=value)["ARN"])
    except secrets.exceptions.ResourceExistsException:
        # moto's backends live as long as the process: a second local system in it (tests) replaces it.
        return str(secrets.put_secret_value(SecretId=SEFAZ_CERTIFICATE_SECRET_NAME, SecretString=value)["ARN"])


def container_environment(
    fn: topology.Function,
    aws: emulator.LocalAws,
    xray_address: str,
    database_url: str,
    *,
    eager_publish: bool = True,
    cors_origin: str | None = None,
    outage_tolerance_seconds: int = DEFAULT_OUTAGE_TOLERANCE_SECONDS,
    sefaz: SefazTarget | None = None,
) -> dict[str, str]:
    """A container's variables: the Lambda runtime's, the stack's (the same computation as
    components/lambdas.py) with a database URL for the DB_* endpoint, and the emulator's endpoint."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    # Handlers log in as their own roles (DB_USER), so the URL they get carries no user or
    # password: least privilege holds locally too.
    params = {k: str(v) for k, v in conninfo_to_dict(database_url).items() if v is not None}
    params.pop("user", None)
    params.pop("password", None)
    config = LambdaConfig()
    env = runtime_environment(
        fn,
        f"{fn.name}-{ENVIRONMENT}",
        region=emulator.LOCAL_REGION,
        xray_daemon=xray_address,
        memory_mb=fn.memory_mb or config.memory_mb,
    )
    env.update(aws.environment())
    env.pop(topology.ENV_EVENT_BUS_NAME, None)
    stack = function_env.function_environment(
        fn,
        # A function outside the VPC has no route to the database on AWS, and none here.
        function_env.local_database(make_conninfo("", **params)) if fn.in_vpc else {},
        aws.bus_name,
        cors_origin,
        outage_tolerance_seconds,
        fiscal_demo.emitente_json(),
        fiscal_archive_bucket=aws.fiscal_archive_bucket or None,
        sefaz_certificate_secret=sefaz.certificate_secret if sefaz else None,
        sefaz_ca_bundle=sefaz.ca_file if sefaz else None,
        sefaz_base_url=sefaz.base_url if sefaz else None,
    )
    env.update({k: str(v) for k, v in stack.items()})
    if not eager_publish:
        env[topology.ENV_EAGER_PUBLISH] = "false"  # `--no-eager-publish`, a local option
    return env


@dataclass
class LocalOptions:
    port: int = 3000
    database_url: str | None = None
    outbox_interval_seconds: float = topology.PUBLISHER_INTERVAL_SECONDS
    eager_publish: bool = True
    visibility_timeout_seconds: int = topology.QUEUE_VISIBILITY_TIMEOUT_SECONDS
    # The consumers' outage tolerance (`--outage-tolerance`): the stack's 15 minutes by default;
    # fault tests scale it down with the visibility timeout.
    outage_tolerance_seconds: int = DEFAULT_OUTAGE_TOLERANCE_SECONDS
    host: str = "127.0.0.1"
    log: Callable[[str], None] = print
    # The user pool's users (`--users FILE`); the demo users by default.
    users: tuple[cognito.LocalUser, ...] = cognito.DEMO_USERS
    # Where each function's log (its containers' stdout and stderr) is written; a temporary directory by default.
    logs_dir: Path | None = None
    # The one other origin the API's CORS answers allow (`--cors-origin`); this server's own by default.
    cors_origin: str | None = None
    # The built console served at `/` (frontend's `make build` output by default).
    console_dir: Path = DEFAULT_DIST
    # Trace every invocation (`--trace-all`) instead of X-Ray's default rule, as Lambda samples.
    trace_all: bool = False


@dataclass
class LocalSystem:
    options: LocalOptions
    database_url: str = ""
    aws: emulator.LocalAws | None = None
    user_pool: cognito.LocalUserPool | None = None
    functions: dict[str, FunctionRuntime] = field(default_factory=dict)
    xray: XRayListener | None = None
    sefaz: Any = None  # nfe.local.sefaz.server.SefazEmulator, imported on start
    sefaz_target: SefazTarget | None = None
    _sefaz_dir: Path | None = None
    logs_dir: Path | None = None
    pollers: list[QueuePoller] = field(default_factory=list)
    schedule: Schedule | None = None
    _pg: Any = None
    _server: Any = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _own_logs: bool = False  # a temporary logs directory, removed on stop

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def state(self) -> dict[str, Any]:
        """What the operator's tools need to reach this system (nfe/ops/target.py reads it).

        The same facts a deployed stack's outputs give: the API, the AWS endpoint and region, the
        bus and its archive, every queue with its DLQ and rule, the DLQs of the bus's targets, and
        the database (the owner's URL: the tools read both schemas and un-park outbox rows).
        """
        assert self.aws is not None
        return {
            "apiUrl": self.url,
            "awsEndpoint": self.aws.endpoint_url,
            "region": emulator.LOCAL_REGION,
            "busName": self.aws.bus_name,
            "archiveName": self.aws.archive_name,
            "queues": {
                q.name: {
                    "name": q.url.rsplit("/", 1)[-1],
                    "url": q.url,
                    "dlqName": q.dlq_url.rsplit("/", 1)[-1],
                    "dlqUrl": q.dlq_url,
                    "consumer": q.consumer,
                }
                for q in self.aws.queues.values()
            },
            "targetDlqs": {
                service: {"name": t.name, "url": t.url, "rules": list(t.rules)}
                for service, t in self.aws.target_dlqs.items()
            },
            "databaseUrl": self.database_url,
            # The user pool a client signs in to (InitiateAuth USER_PASSWORD_AUTH at awsEndpoint).
            "userPoolId": self.user_pool.pool_id if self.user_pool else None,
            "userPoolClientId": self.user_pool.client_id if self.user_pool else None,
            # The emulated SEFAZ (nfe/local/sefaz/, docs/sefaz-emulator.md): its URL, endpoints, the test
            # CA to trust and the test A1 certificate a client presents (generated here, never a real one).
            "sefaz": self.sefaz.info() if self.sefaz is not None else None,
        }

    def write_state_file(self, path: Path) -> None:
        # Written whole and renamed into place: a tool never reads half a file.
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(self.state(), indent=2) + "\n")
        temporary.replace(path)

    def sign_in(self, email: str, password: str | None = None) -> str:
        """An ID token for one of the pool's users, as the console gets it (USER_PASSWORD_AUTH)."""
        assert self.aws is not None and self.user_pool is not None
        if password is None:
            password = next((u.password for u in self.user_pool.users if u.email == email), cognito.DEMO_PASSWORD)
        tokens = cognito.sign_in(self.aws.client("cognito-idp"), self.user_pool.client_id, email, password)
        return str(tokens["IdToken"])

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        return self.functions[function].invoke(event)

    def function_environment(self, fn: topology.Function) -> dict[str, str]:
        assert self.aws is not None and self.xray is not None
        return container_environment(
            fn,
            self.aws,
            self.xray.address,
            self.database_url,
            eager_publish=self.options.eager_publish,
            cors_origin=self.cors_origin,
            outage_tolerance_seconds=self.options.outage_tolerance_seconds,
            sefaz=self.sefaz_target,
        )

    @property
    def cors_origin(self) -> str:
        """The one origin the API's CORS answers allow: `--cors-origin`, else this server's own."""
        return self.options.cors_origin or f"http://{self.options.host}:{self.options.port}"

    def stats(self) -> dict[str, Any]:
        """Per function: invocations, cold starts, lost containers, CPU ms per invocation; X-Ray's summary."""
        return {
            "functions": {name: runtime.stats.as_dict() for name, runtime in self.functions.items()},
            "xray": self.xray.summary() if self.xray is not None else {},
        }

    def start(self) -> LocalSystem:
        log = self.options.log
        try:
            if self.options.database_url:
                self.database_url = self.options.database_url
                log("postgres: using the given database")
            else:
                from nfe.pgserver import PostgresServer

                log("postgres: starting a throwaway server")
                self._pg = PostgresServer(log=log).start()
                self.database_url = self._pg.url
            log(f"postgres: {self.database_url}")
            from functions.migrator.runner import migrate

            applied = migrate(self.database_url)
            log(f"postgres: migrations applied ({len(applied)} new)")

            self.aws = emulator.start(ENVIRONMENT, self.options.visibility_timeout_seconds)
            log(
                f"aws emulator: {self.aws.endpoint_url} (bus {self.aws.bus_name}, {len(self.aws.queues)} queues + DLQs)"
            )
            self.user_pool = cognito.provision(
                self.aws.client("cognito-idp"),
                self.aws.endpoint_url,
                emulator.LOCAL_REGION,
                ENVIRONMENT,
                self.options.users,
            )
            log(f"user pool: {self.user_pool.pool_id}, console client {self.user_pool.client_id}")
            for line in cognito.describe_users(self.user_pool.users):
                log(f"  user {line}")
            self.xray = XRayListener().start()
            from nfe.local.sefaz.server import SefazEmulator

            # The SEFAZ the emitente's notas go to (its UF and ambiente). Its test PKI is made afresh
            # for this run: the A1-like certificate carries the demo emitente's CNPJ.
            self._sefaz_dir = Path(tempfile.mkdtemp(prefix="nfe-local-sefaz-"))
            emitente = fiscal_demo.DEMO_EMITENTE
            self.sefaz = SefazEmulator(
                self._sefaz_dir, uf=emitente["endereco"]["uf"], ambiente=emitente["ambiente"], cnpj=emitente["cnpj"]
            )
            log(f"sefaz (emulated): {self.sefaz.start()} (trust {self.sefaz.info()['caFile']})")
            info = self.sefaz.info()
            self.sefaz_target = SefazTarget(info["url"], info["caFile"], provision_certificate(self.aws, info))
            log(f"sefaz: the emitente's test A1 is in secret {SEFAZ_CERTIFICATE_SECRET_NAME}")
            if self.options.logs_dir is None:
                self._own_logs = True
            self.logs_dir = self.options.logs_dir or Path(tempfile.mkdtemp(prefix="nfe-local-logs-"))
            self.logs_dir.mkdir(parents=True, exist_ok=True)
            config = LambdaConfig()
            for fn in LOCAL_FUNCTIONS:
                self.functions[fn.name] = FunctionRuntime(
                    fn,
                    self.function_environment(fn),
                    concurrency=fn.reserved_concurrency or config.reserved_concurrency,
                    timeout_seconds=fn.timeout_seconds
                    or (config.consumer_timeout_seconds if fn.kind == "consumer" else config.api_timeout_seconds),
                    log=self.logs_dir / f"{fn.name}.log",
                    sampler=SampleAll() if self.options.trace_all else DefaultSamplingRule(),
                )
            log(
                f"functions: {', '.join(self.functions)}: containers on demand, up to each one's reserved "
                f"concurrency; logs in {self.logs_dir}; X-Ray daemon {self.xray.address} "
                f"({'every invocation traced' if self.options.trace_all else 'traced as Lambda samples: 1/s + 5 %'})"
            )
            threading.Thread(target=self._reap, name="container-reaper", daemon=True).start()

            for queue in self.aws.queues.values():
                consumer = topology.function(queue.consumer)
                share = function_env.maximum_concurrency(
                    consumer.reserved_concurrency or config.reserved_concurrency,
                    len(topology.queues_for(queue.consumer)),
                )
                for _ in range(share):
                    poller = QueuePoller(EventSourceSqs(), queue, self.invoke, self._stop)
                    poller.start()
                    self.pollers.append(poller)
            publisher = next(fn.name for fn in LOCAL_FUNCTIONS if fn.kind == "publisher")
            self.schedule = Schedule(publisher, self.options.outbox_interval_seconds, self.invoke, self._stop)
            self.schedule.start()
            log(
                f"pollers: {len(self.pollers)} for {len(self.aws.queues)} queues; "
                f"publisher every {self.options.outbox_interval_seconds:g} s; "
                f"eager publish {'on' if self.options.eager_publish else 'off'}"
            )
            authorizer = CognitoAuthorizer(self.user_pool.issuer, self.user_pool.jwks_url)
            console = ConsoleSite(
                self.options.console_dir,
                # The console's RuntimeConfig: the API on this origin, sign-in at the emulated pool.
                {
                    "apiBaseUrl": "",
                    "region": emulator.LOCAL_REGION,
                    "cognitoEndpoint": self.aws.endpoint_url + "/",
                    "userPoolClientId": self.user_pool.client_id,
                },
            )
            self._server = make_server(
                self.options.port,
                self.invoke,
                self.options.host,
                authorizer,
                cors_origin=self.cors_origin,
                console=console,
            )
            serve_in_thread(self._server)
            if console.built:
                log(f"web console: {self.url}/ (sign in as a user above)")
            else:
                log(f"web console: not built ({console.root}); run `make build` to serve it, the API works without it")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for poller in self.pollers:
            poller.join(timeout=5)
        if self.schedule is not None:
            self.schedule.join(timeout=5)
        for runtime in self.functions.values():
            runtime.shutdown()
        if self.functions:
            self.options.log(f"stats: {json.dumps(self.stats())}")
        if self.xray is not None:
            self.xray.stop()
            self.xray = None
        if self.sefaz is not None:
            self.sefaz.stop()
            self.sefaz = None
        if self._sefaz_dir is not None:
            shutil.rmtree(self._sefaz_dir, ignore_errors=True)
            self._sefaz_dir = None
        if self._own_logs and self.logs_dir is not None:
            shutil.rmtree(self.logs_dir, ignore_errors=True)
            self._own_logs = False
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        if self._pg is not None:
            self._pg.stop()
            self._pg = None

    def _reap(self) -> None:
        while not self._stop.wait(5):
            for runtime in self.functions.values():
                runtime.reap_idle()

    def __enter__(self) -> LocalSystem:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
