"""A PostgreSQL persistence layer for Powertools idempotency (it ships only DynamoDB and Redis).

Same semantics as the DynamoDB layer, in SQL:
- `_put_record` inserts, or takes over a record that has expired or whose in-progress lease ran out
  (`INSERT ... ON CONFLICT DO UPDATE ... WHERE expired`); otherwise it reads the existing record,
  checks the payload hash (a different body under the same key is IdempotencyValidationError) and
  raises IdempotencyItemAlreadyExistsError with it, so Powertools returns the stored response or
  reports the call as still in progress.
- Expiries are Unix epoch numbers computed by Powertools in Python; comparisons here use the same
  clock, never the database's.
Each operation is its own short transaction, committed at once, so a concurrent request with the
same key sees the in-progress record immediately. The one exception is `complete_in`: the record is
completed inside the transaction of the work it guards, so the work and its recorded answer commit
together (see there why).

Importing this module pulls in the Powertools idempotency package, which imports boto3 for its
DynamoDB layer; callers import it lazily, only when a request carries an Idempotency-Key.
"""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
from aws_lambda_powertools.shared.json_encoder import Encoder
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord

from functions.shared.db import CONNECTION_ERRORS, Database, UnitOfWork

# Identifiers cannot be bound parameters; only these tables ever reach SQL text.
IDEMPOTENCY_TABLES = frozenset({"faturamento.idempotencia"})
# Expired records removed per insert: enough to keep the table bounded, cheap enough to be invisible.
PURGE_BATCH = 10

_COLUMNS = "chave, status, expira_em, em_andamento_expira_em, hash_payload, resposta"


class PostgresPersistenceLayer(BasePersistenceLayer):
    def __init__(self, db: Database, table: str = "faturamento.idempotencia") -> None:
        super().__init__()
        if table not in IDEMPOTENCY_TABLES:
            raise ValueError(f"unknown idempotency table {table!r}")
        self.db = db
        self.table = table
        # This container's in-progress leases (key -> lease end), and the in-progress records it
        # could not delete because the database was unreachable (see `_delete_record`).
        self._leases: dict[str, int | None] = {}
        self._abandoned: dict[str, int | None] = {}

    @staticmethod
    def _record(row: dict[str, Any]) -> DataRecord:
        return DataRecord(
            idempotency_key=row["chave"],
            status=row["status"],
            expiry_timestamp=row["expira_em"],
            in_progress_expiry_timestamp=row["em_andamento_expira_em"],
            response_data=row["resposta"] or "",
            payload_hash=row["hash_payload"] or "",
        )

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with UnitOfWork(self.db) as uow:
            row = uow.conn.execute(
                f"SELECT {_COLUMNS} FROM {self.table} WHERE chave = %s", (idempotency_key,)
            ).fetchone()
        if row is None:
            raise IdempotencyItemNotFoundError
        return self._record(row)

    def _put_record(self, data_record: DataRecord) -> None:
        now = time.time()
        abandoned = dict(self._abandoned)
        with UnitOfWork(self.db) as uow:
            for key, lease in abandoned.items():
                # Only the very attempt that failed: not one that committed (COMPLETED with its
                # nota) and not a later attempt that took the key over (another lease).
                uow.conn.execute(
                    f"DELETE FROM {self.table} WHERE chave = %s AND status = %s "
                    "AND em_andamento_expira_em IS NOT DISTINCT FROM %s",
                    (key, STATUS_CONSTANTS["INPROGRESS"], lease),
                )
            uow.conn.execute(
                f"DELETE FROM {self.table} WHERE chave IN (SELECT chave FROM {self.table} WHERE expira_em < %s "
                "ORDER BY expira_em LIMIT %s FOR UPDATE SKIP LOCKED)",
                (int(now), PURGE_BATCH),
            )
            inserted = uow.conn.execute(
                f"INSERT INTO {self.table} AS r (chave, status, expira_em, em_andamento_expira_em, hash_payload) "
                "VALUES (%(key)s, %(status)s, %(expiry)s, %(in_progress_expiry)s, %(hash)s) "
                "ON CONFLICT (chave) DO UPDATE SET status = EXCLUDED.status, expira_em = EXCLUDED.expira_em, "
                "em_andamento_expira_em = EXCLUDED.em_andamento_expira_em, hash_payload = EXCLUDED.hash_payload, "
                "resposta = NULL, criada_em = now() "
                "WHERE r.expira_em < %(now)s OR (r.status = %(in_progress)s "
                "AND r.em_andamento_expira_em IS NOT NULL AND r.em_andamento_expira_em < %(now_ms)s) "
                "RETURNING chave",
                {
                    "key": data_record.idempotency_key,
                    "status": data_record.status,
                    "expiry": data_record.expiry_timestamp,
                    "in_progress_expiry": data_record.in_progress_expiry_timestamp,
                    "hash": data_record.payload_hash or None,
                    "now": int(now),
                    "now_ms": int(now * 1000),
                    "in_progress": STATUS_CONSTANTS["INPROGRESS"],
                },
            ).fetchone()
            existing = None
            if inserted is None:
                existing = uow.conn.execute(
                    f"SELECT {_COLUMNS} FROM {self.table} WHERE chave = %s", (data_record.idempotency_key,)
                ).fetchone()
            uow.commit()
        for key in abandoned:
            self._abandoned.pop(key, None)
        if inserted is not None:
            self._leases[data_record.idempotency_key] = data_record.in_progress_expiry_timestamp
            return
        if existing is None:
            # Deleted between our insert and our read: Powertools reads again and retries.
            raise IdempotencyItemAlreadyExistsError
        old = self._record(existing)
        self._validate_payload(data_payload=data_record, stored_data_record=old)
        raise IdempotencyItemAlreadyExistsError(old_data_record=old)

    def _update_record(self, data_record: DataRecord) -> None:
        with UnitOfWork(self.db) as uow:
            self._write(uow.conn, data_record)
            uow.commit()
        self._leases.pop(data_record.idempotency_key, None)

    def _write(self, conn: psycopg.Connection[Any], data_record: DataRecord) -> None:
        conn.execute(
            f"UPDATE {self.table} SET status = %s, expira_em = %s, resposta = %s, "
            "hash_payload = COALESCE(%s, hash_payload) WHERE chave = %s",
            (
                data_record.status,
                data_record.expiry_timestamp,
                data_record.response_data,
                data_record.payload_hash or None,
                data_record.idempotency_key,
            ),
        )

    def complete_in(self, conn: psycopg.Connection[Any], data: dict[str, Any], result: dict[str, Any]) -> None:
        """Powertools' `save_success`, inside the caller's transaction (call it just before its commit).

        Powertools completes the record in a transaction of its own after the function returns. If
        the database fails between the two, the work is committed but its key still reads "in
        progress"; once that lease runs out, the client's retry takes the key over and does the
        work a second time. Completed here, the record commits with the work or not at all.
        Powertools' own `save_success` afterwards writes the same answer again.
        """
        key = self._get_hashed_idempotency_key(data=data)
        if key is None:
            return
        self._write(
            conn,
            DataRecord(
                idempotency_key=key,
                status=STATUS_CONSTANTS["COMPLETED"],
                expiry_timestamp=self._get_expiry_timestamp(),
                response_data=json.dumps(result, cls=Encoder, sort_keys=True),
                payload_hash=self._get_hashed_payload(data=data),
            ),
        )

    def _delete_record(self, data_record: DataRecord) -> None:
        key = data_record.idempotency_key
        lease = self._leases.pop(key, None)
        try:
            with UnitOfWork(self.db) as uow:
                uow.conn.execute(f"DELETE FROM {self.table} WHERE chave = %s", (key,))
                uow.commit()
        except CONNECTION_ERRORS:
            # The call failed because the database went away, so its record can't be deleted now:
            # left alone it reads "in progress" until the lease ends (the invocation's remaining
            # time, up to 30 s) and every retry of the key gets a 409 meanwhile. Remembered here,
            # it is deleted by this container's next idempotent request, once the database is back.
            self._abandoned[key] = lease
            raise
