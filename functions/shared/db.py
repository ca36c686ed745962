"""Database access shared by every function: one connection per container, and a unit of work.

A Lambda container handles one request at a time, so one connection per container is the whole
pool; it is opened on first use, reused across invocations, and replaced when it breaks (database
restart, proxy idle timeout). Local mode runs several handlers in threads of one process, so the
connection is per thread, which on Lambda is the same thing as per container.

On AWS the password is an RDS IAM token (15-minute lifetime, signed locally by boto3, so a fresh
one per new connection costs no network call) and TLS is verified against the RDS CA bundle
shipped in the package.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from functions.shared.redelivery import DependencyUnavailable
from functions.shared.settings import DatabaseSettings

# Errors after which the connection cannot be trusted and must be replaced.
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


class DatabaseUnreachable(psycopg.OperationalError, DependencyUnavailable):
    """No connection could be opened: the server is down, restarting, starting up or refusing.

    Unlike one connection killed mid-transaction (the next record reconnects and goes on), this is
    an outage every following record would meet, so a consumer stops attempting its batch. Still an
    OperationalError, so the API answers it with its 503 like any other database failure.
    """


class Database:
    def __init__(self, settings: DatabaseSettings, application_name: str = "nfe") -> None:
        self.settings = settings
        self.application_name = application_name
        self._local = threading.local()
        self._rds_client: Any = None

    def _password(self) -> str | None:
        if not self.settings.db_iam_auth:
            return None
        if self._rds_client is None:
            import boto3  # only on AWS paths; keeps local cold starts light

            self._rds_client = boto3.client("rds")
        token: str = self._rds_client.generate_db_auth_token(
            DBHostname=self.settings.db_host,
            Port=self.settings.db_port,
            DBUsername=self.settings.db_user,
        )
        return token

    def conninfo(self) -> str:
        s = self.settings
        params: dict[str, Any]
        if s.database_url:
            params = {k: v for k, v in conninfo_to_dict(s.database_url).items() if v is not None}
            params["user"] = s.db_user
            params.pop("password", None)
        else:
            params = {
                "host": s.db_host,
                "port": s.db_port,
                "dbname": s.db_name,
                "user": s.db_user,
                "sslmode": s.db_sslmode,
            }
            if s.db_sslrootcert:
                params["sslrootcert"] = s.db_sslrootcert
        params["application_name"] = self.application_name
        params["connect_timeout"] = s.db_connect_timeout_seconds
        return make_conninfo("", **{k: str(v) for k, v in params.items()})

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        kwargs: dict[str, Any] = {"row_factory": dict_row, "autocommit": False}
        password = self._password()
        if password is not None:
            kwargs["password"] = password
        if self.settings.db_proxy:
            kwargs["prepare_threshold"] = None
        try:
            return psycopg.connect(self.conninfo(), **kwargs)
        except psycopg.OperationalError as exc:
            raise DatabaseUnreachable(str(exc)) from exc

    def connection(self) -> psycopg.Connection[dict[str, Any]]:
        """The container's connection, reopened if the previous one was closed or broken."""
        conn: psycopg.Connection[dict[str, Any]] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            conn = self._connect()
            self._local.conn = conn
        return conn

    def discard(self) -> None:
        """Drop the container's connection after an error that may have broken it."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        self.discard()

    def ping(self) -> bool:
        try:
            with UnitOfWork(self) as uow:
                uow.conn.execute("SELECT 1")
            return True
        except CONNECTION_ERRORS:
            return False


class UnitOfWork:
    """`with UnitOfWork(db) as uow: ...; uow.commit()`: leaving without commit rolls back.

    Callbacks registered with `after_commit` run once the transaction is durable, outside it, and
    their failures never undo the commit (eager outbox publishing uses this).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.committed = False
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> UnitOfWork:
        try:
            self.conn = self.db.connection()
            # A connection left idle in an aborted or open transaction would leak state between requests.
            if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.conn.rollback()
        except DatabaseUnreachable:
            raise  # a fresh connection just failed: trying again at once would only wait twice
        except CONNECTION_ERRORS:
            self.db.discard()
            # One retry: the cached connection may have died while the container was frozen.
            self.conn = self.db.connection()
        return self

    def commit(self) -> None:
        self.conn.commit()
        self.committed = True

    def rollback(self) -> None:
        self.conn.rollback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, CONNECTION_ERRORS):
            self.db.discard()
            return
        if not self.committed:
            try:
                self.conn.rollback()
            except CONNECTION_ERRORS:
                self.db.discard()
            return
        for callback in self._after_commit:
            callback()
