"""The store's catalog cache: an idempotent ``ensure`` statement runs once, and runs again whenever its
object may be gone (dropped, replaced, renamed, or made by a transaction that rolled back)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from nhiwatch.store import Store

T = "CREATE TABLE IF NOT EXISTS kept (a INTEGER)"
COL = "ALTER TABLE kept ADD COLUMN IF NOT EXISTS b INTEGER"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "cache.duckdb")
    yield s
    s.close()


def columns(store: Store) -> list[str]:
    return [
        r[0] for r in store.fetchall("SELECT column_name FROM duckdb_columns() WHERE table_name = 'kept'")
    ]


def test_ensure_runs_a_statement_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.ensure(T, COL)
    ran: list[str] = []
    real = store.con

    class Spy:
        def execute(self, sql: str, *args: object) -> object:
            ran.append(sql)
            return real.execute(sql, *args)

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    monkeypatch.setattr(store, "con", Spy())
    store.ensure(T, COL)
    assert ran == []
    assert store.table_exists("kept") and ran.count(T) == 0


@pytest.mark.parametrize(
    "gone", ["DROP TABLE kept", "DROP TABLE IF EXISTS kept", 'DROP TABLE "kept"', "DROP TABLE main.kept"]
)
def test_a_dropped_table_is_made_again(store: Store, gone: str) -> None:
    store.ensure(T)
    assert store.table_exists("kept")
    store.execute(gone)
    assert not store.table_exists("kept")
    store.ensure(T)
    store.execute("INSERT INTO kept VALUES (1)")


def test_a_table_replaced_gets_its_columns_again(store: Store) -> None:
    store.ensure(T, COL)
    store.execute("CREATE OR REPLACE TABLE kept (a INTEGER)")
    store.ensure(T, COL)
    assert columns(store) == ["a", "b"]


def test_a_renamed_table_is_made_again(store: Store) -> None:
    store.ensure(T)
    store.execute("ALTER TABLE kept RENAME TO moved")
    store.ensure(T)
    assert store.table_exists("kept") and store.table_exists("moved")


def test_a_table_made_in_a_rolled_back_transaction_is_made_again(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.ensure(T)
        assert store.table_exists("kept")
        raise RuntimeError("the step failed")
    assert not store.table_exists("kept")
    store.ensure(T)
    store.execute("INSERT INTO kept VALUES (1)")


def test_a_raw_rollback_forgets_what_the_transaction_made(store: Store) -> None:
    store.execute("BEGIN TRANSACTION")
    store.ensure(T)
    store.execute("ROLLBACK")
    store.ensure(T)
    store.execute("INSERT INTO kept VALUES (1)")


def test_a_rollback_with_nothing_open_keeps_the_cache(store: Store) -> None:
    store.ensure(T)
    with pytest.raises(duckdb.TransactionException):
        store.execute("ROLLBACK")
    assert store._ensured  # nothing was rolled back: what was made is still there


def test_a_committed_transaction_keeps_what_it_made(store: Store) -> None:
    with store.transaction():
        store.ensure(T)
    assert T in store._ensured
    store.execute("DROP TABLE kept")
    assert T not in store._ensured
