"""A function's environment variables, computed once for the stack and for local mode.

components/lambdas.py sets exactly `function_environment(...)` on each Lambda function, and local
mode starts each container of a function with the same call's result. What differs is where the
database is (the stack's DB_* endpoint variables, local mode's DATABASE_URL, which the functions'
settings accept in their place) and the AWS endpoint local mode adds beside it.

Generic in the value type: the stack's values are Pulumi inputs (an instance address, a bus name
output), local mode's are strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from nfe import topology

V = TypeVar("V")

METRICS_NAMESPACE = "nfe"
DB_PORT = 5432


def aws_database(
    host: V, *, via_proxy: bool, sslmode: str, sslrootcert: str | None, iam_auth: bool = True
) -> dict[str, V | str]:
    """Where an application function finds the database on AWS: the proxy or instance, IAM auth, TLS."""
    env: dict[str, V | str] = {
        topology.ENV_DB_HOST: host,
        topology.ENV_DB_PORT: str(DB_PORT),
        topology.ENV_DB_NAME: topology.DATABASE_NAME,
        topology.ENV_DB_IAM_AUTH: "true" if iam_auth else "false",
        topology.ENV_DB_SSLMODE: sslmode,
        topology.ENV_DB_PROXY: "true" if via_proxy else "false",
    }
    if sslrootcert:
        env[topology.ENV_DB_SSLROOTCERT] = sslrootcert
    return env


def local_database(database_url: str) -> dict[str, str]:
    """Local mode's stand-in for the DB_* variables: one URL without user or password (the function
    logs in as its own role, from DB_USER, as on AWS)."""
    return {"DATABASE_URL": database_url}


def uses_fiscal_archive(spec: topology.Function) -> bool:
    """The SEFAZ participant archives what SEFAZ authorized or denied (the nfeProc), Faturamento's API
    serves the documents and keeps the DANFE beside them; no other function may touch the archive."""
    return spec.name in ("faturamento-api", "sefaz-autorizador")


def function_environment(
    spec: topology.Function,
    database: Mapping[str, V | str],
    bus_name: V | None = None,
    cors_allow_origin: V | None = None,
    outage_tolerance_seconds: int | None = None,
    emitente: str | None = None,
    *,
    fiscal_archive_bucket: V | None = None,
    sefaz_certificate_secret: V | None = None,
    sefaz_ca_bundle: str | None = None,
    sefaz_base_url: str | None = None,
) -> dict[str, V | str]:
    """Every variable the stack sets on `spec`'s function.

    Powertools' service name (the function's own: logs, traces and metrics say which function) and
    metrics namespace, where the database is, the login role of a function that has one, the bus
    of a function that is given one, and an API function's one allowed CORS origin (the functions'
    own answers name it, as the gateway's do; never `*`), and a consumer's outage tolerance (how
    long its messages survive a dependency being down, functions/shared/redelivery.py), and to
    Faturamento's functions and the SEFAZ participant the emitente, as JSON (nfe:emitente: names,
    addresses, no secret; the participant inutiliza números in its name),
    and the fiscal archive's bucket to the functions that keep NF-e documents (`uses_fiscal_archive`),
    and to the SEFAZ participant alone where its certificate is kept (a secret's ARN), the CA bundle
    it trusts SEFAZ with and, in local mode only, the emulated SEFAZ's base URL.
    """
    env: dict[str, V | str] = {
        "POWERTOOLS_SERVICE_NAME": spec.name,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        **database,
    }
    if spec.database_role:
        env[topology.ENV_DB_USER] = spec.database_role
    if bus_name is not None:
        env[topology.ENV_EVENT_BUS_NAME] = bus_name
    if spec.kind == "api" and cors_allow_origin is not None:
        env[topology.ENV_CORS_ALLOW_ORIGIN] = cors_allow_origin
    if spec.kind == "consumer" and outage_tolerance_seconds is not None:
        env[topology.ENV_OUTAGE_TOLERANCE_SECONDS] = str(outage_tolerance_seconds)
    if spec.service in ("faturamento", "sefaz") and emitente is not None:
        env[topology.ENV_EMITENTE] = emitente
    if fiscal_archive_bucket is not None and uses_fiscal_archive(spec):
        env[topology.ENV_FISCAL_ARCHIVE_BUCKET] = fiscal_archive_bucket
    if spec.service == "sefaz":
        if sefaz_certificate_secret is not None:
            env[topology.ENV_SEFAZ_CERTIFICATE_SECRET] = sefaz_certificate_secret
        if sefaz_ca_bundle is not None:
            env[topology.ENV_SEFAZ_CA_BUNDLE] = sefaz_ca_bundle
        if sefaz_base_url is not None:
            env[topology.ENV_SEFAZ_BASE_URL] = sefaz_base_url
    return env


# Lambda's floor for an SQS event source's maximum concurrency.
MIN_MAXIMUM_CONCURRENCY = 2


def maximum_concurrency(reserved_concurrency: int, queue_count: int) -> int:
    """Split a consumer's reserved concurrency between its queues' event source mappings.

    Above the reserved concurrency the mappings would be throttled by Lambda and messages would
    come back as failed receives, counting toward the DLQ; so each mapping gets a share and the
    shares never exceed the reservation. The stack sets it on each mapping; local mode runs that
    many pollers per queue.
    """
    share = max(MIN_MAXIMUM_CONCURRENCY, reserved_concurrency // max(queue_count, 1))
    if share > reserved_concurrency:
        raise ValueError(
            f"nfe:lambda.reservedConcurrency is {reserved_concurrency}: an SQS consumer needs at least "
            f"{MIN_MAXIMUM_CONCURRENCY} (Lambda's minimum maximum concurrency for a queue)"
        )
    return share
