"""Migrations and the schema they create, against a real PostgreSQL server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from functions.migrator.runner import DEFAULT_SQL_DIR, MigrationError, discover, migrate

ROOT = Path(__file__).resolve().parents[1]


def applied_versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_migrates_from_empty_and_second_run_changes_nothing(empty_database_url: str) -> None:
    # Given an empty database / When migrated twice
    first = migrate(empty_database_url)
    second = migrate(empty_database_url)
    # Then every migration applies once and the second run applies none
    assert first == [m.version for m in discover()]
    assert second == []
    assert applied_versions(empty_database_url) == first
    with psycopg.connect(empty_database_url) as conn:
        tables = {
            f"{s}.{t}"
            for s, t in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema IN ('faturamento', 'estoque')"
            )
        }
    # Later migrations may add tables (idempotency records, ...); these are the seed's.
    assert tables >= {
        "faturamento.notas_fiscais",
        "faturamento.itens_nota",
        "faturamento.eventos_outbox",
        "faturamento.mensagens_processadas",
        "faturamento.idempotencia",
        "estoque.produtos",
        "estoque.reservas",
        "estoque.eventos_outbox",
        "estoque.mensagens_processadas",
    }


def test_edited_applied_migration_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(DEFAULT_SQL_DIR, sql_dir)
    migrate(empty_database_url, sql_dir)
    first = sorted(sql_dir.glob("V001__*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
    with pytest.raises(MigrationError, match=r"V001__schemas_and_tables.sql was edited after it was applied"):
        migrate(empty_database_url, sql_dir)


def test_failed_migration_leaves_nothing_behind(empty_database_url: str, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(DEFAULT_SQL_DIR, sql_dir)
    (sql_dir / "V900__broken.sql").write_text("CREATE TABLE estoque.x (id int);\nSELECT 1/0;\n")
    with pytest.raises(psycopg.errors.DivisionByZero):
        migrate(empty_database_url, sql_dir)
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT to_regclass('estoque.x')").fetchone() == (None,)
    assert 900 not in applied_versions(empty_database_url)


def test_concurrent_cli_runs_apply_each_migration_once(empty_database_url: str) -> None:
    # Given two `nfe migrate` processes started together
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nfe.cli", "migrate", "--database-url", empty_database_url],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run(), range(2)))
    # Then both succeed and each migration is recorded exactly once
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    outputs = sorted(r.stdout for r in results)
    assert any("applied 0 migration(s)" in o for o in outputs)
    assert applied_versions(empty_database_url) == [m.version for m in discover()]


def test_cli_requires_a_database_url() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nfe.cli", "migrate"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 2
    assert "--database-url" in result.stderr


@pytest.mark.parametrize(
    ("role", "forbidden"),
    [
        ("estoque_app", "SELECT * FROM faturamento.notas_fiscais"),
        ("faturamento_app", "SELECT * FROM estoque.produtos"),
        ("outbox_publisher", "SELECT * FROM faturamento.notas_fiscais"),
        (
            "outbox_publisher",
            "INSERT INTO estoque.eventos_outbox (tipo, agregado_id, payload) VALUES ('x', gen_random_uuid(), '{}')",
        ),
        ("outbox_publisher", "DELETE FROM faturamento.eventos_outbox"),
    ],
)
def test_roles_are_confined(database_url: str, role: str, forbidden: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(f"SET ROLE {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(forbidden)


def test_roles_can_do_their_own_work(role_url) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(role_url("estoque_app")) as conn:
        conn.execute("INSERT INTO estoque.produtos (sku, nome, quantidade) VALUES ('A-1', 'A', 1)")
    with psycopg.connect(role_url("faturamento_app")) as conn:
        conn.execute(
            "INSERT INTO faturamento.eventos_outbox (tipo, agregado_id, payload) "
            "VALUES ('NotaFiscalCriada', gen_random_uuid(), '{}')"
        )
    with psycopg.connect(role_url("outbox_publisher")) as conn:
        rows = conn.execute(
            "SELECT id FROM faturamento.eventos_outbox WHERE NOT publicado FOR UPDATE SKIP LOCKED"
        ).fetchall()
        conn.execute("UPDATE faturamento.eventos_outbox SET publicado = true, publicado_em = now()")
    assert len(rows) == 1


def test_stock_cannot_go_negative(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO estoque.produtos (sku, nome, quantidade) VALUES ('P-1', 'P', 2)")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE estoque.produtos SET quantidade = quantidade - 3 WHERE sku = 'P-1'")


def test_invalid_status_is_refused(database_url: str) -> None:
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO faturamento.notas_fiscais (destinatario_documento, destinatario_nome, status, valor_total) "
            "VALUES ('11222333000181', 'ACME', 'APROVADA', 10)"
        )


def test_duplicate_sku_and_duplicate_reserva_are_refused(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        pid = conn.execute(
            "INSERT INTO estoque.produtos (sku, nome, quantidade) VALUES ('S-1', 'S', 5) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO estoque.produtos (sku, nome, quantidade) VALUES ('S-1', 'T', 5)")
        conn.execute(
            "INSERT INTO estoque.reservas (nota_fiscal_id, produto_id, quantidade) "
            "VALUES ('00000000-0000-0000-0000-000000000001', %s, 1)",
            (pid,),
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO estoque.reservas (nota_fiscal_id, produto_id, quantidade) "
                "VALUES ('00000000-0000-0000-0000-000000000001', %s, 2)",
                (pid,),
            )


def test_money_is_numeric_15_2(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = 'faturamento' AND table_name = 'notas_fiscais' AND column_name = 'valor_total'"
        ).fetchone()
    assert row == (15, 2)
