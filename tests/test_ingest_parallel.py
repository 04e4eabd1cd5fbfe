"""Ingest on two threads: different sources are mapped and stored at once, each on its own connection, and
the store ends exactly as a serial ingest leaves it — same events, same quarantine, same rollups — also after
a repeated, interrupted or conflicting run."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest

from nhiwatch import ingest as ingest_mod
from nhiwatch import ingest_parallel as parallel_mod
from nhiwatch.errors import ConfigError
from nhiwatch.ingest import ingest
from nhiwatch.pipeline import ingest_all
from nhiwatch.simulate import simulate
from nhiwatch.store import Store
from tests.test_rollups import _assert_matches_recount

EVENTS = """SELECT * EXCLUDE (ingest_batch, integration_id) FROM events ORDER BY metadata_uid"""
QUARANTINE = "SELECT ingest_file, ingest_line, source, reason, raw_data FROM quarantine ORDER BY ALL"


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parallel")
    simulate(out, integrations=12, days=3, seed=7)
    logs = out / "logs"
    # A bad record in two sources, so quarantine rows come from both threads.
    with (next(logs.rglob("*.jsonl"))).open("a") as fh:
        fh.write('{"broken": \n')
    with (next(logs.rglob("*.csv"))).open("a") as fh:
        fh.write('"only one column\n')
    return out


def _serial_and_parallel(company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    out = []
    for workers in ("1", "2"):
        monkeypatch.setenv("NHIWATCH_INGEST_WORKERS", workers)
        with Store(tmp_path / f"w{workers}.duckdb") as store:
            report = ingest_all(store, [company / "logs"], inventory=company / "inventory.yaml").report
            out.append(
                (report.as_dict() | {"seconds": 0}, store.fetchall(EVENTS), store.fetchall(QUARANTINE))
            )
            _assert_matches_recount(store)
            again = ingest(store, [company / "logs"])  # everything again: stored once
            assert (again.stored, again.duplicates) == (0, report.stored)
    return out


def test_parallel_ingest_stores_what_a_serial_one_does(
    company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial, parallel = _serial_and_parallel(company, tmp_path, monkeypatch)
    assert serial[0]["quarantined"] >= 2 and len(serial[0]["by_source"]) >= 5
    assert parallel == serial


def test_two_sources_are_mapped_at_the_same_time(
    company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both threads are inside a mapping at once (with one thread the barrier would time out)."""
    monkeypatch.setenv("NHIWATCH_INGEST_WORKERS", "2")
    barrier = threading.Barrier(2, timeout=20)
    threads: dict[str, set[str]] = {}
    original = ingest_mod._map_and_store

    def mapping(store: Store, src: Any, *args: Any, **kw: Any) -> None:
        seen = threads.setdefault(src.name, set())
        if not seen and len(threads) <= 2:
            barrier.wait()  # the first two sources meet here: they are in flight together
        seen.add(threading.current_thread().name)
        original(store, src, *args, **kw)

    monkeypatch.setattr(ingest_mod, "_map_and_store", mapping)
    with Store(tmp_path / "s.duckdb") as store:
        report = ingest(store, [company / "logs"])
        assert report.quarantined == 2 and report.unreadable == []
        assert len({name for names in threads.values() for name in names}) == 2
        assert all(len(names) == 1 for names in threads.values())  # a source never changes thread


def test_an_interrupt_in_one_thread_stops_both_and_leaves_no_half_batch(
    company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NHIWATCH_INGEST_WORKERS", "2")
    original = ingest_mod._map_and_store

    def mapping(store: Store, src: Any, *args: Any, **kw: Any) -> None:
        original(store, src, *args, **kw)
        if src.name == "salesforce":
            raise KeyboardInterrupt  # after its rows were inserted, before the commit

    with Store(tmp_path / "s.duckdb") as store:
        ingest_all(store, [], inventory=company / "inventory.yaml")
        monkeypatch.setattr(ingest_mod, "_map_and_store", mapping)
        with pytest.raises(KeyboardInterrupt):
            ingest_all(store, [company / "logs"])
        monkeypatch.undo()
        assert store.scalar("SELECT count(*) FROM events WHERE source = 'salesforce'") == 0
        kept = store.event_count()
        report = ingest_all(store, [company / "logs"]).report
        assert report.duplicates == kept  # what committed before the interrupt is not stored twice
        _assert_matches_recount(store)
        with Store(tmp_path / "serial.duckdb") as serial:
            monkeypatch.setenv("NHIWATCH_INGEST_WORKERS", "1")
            ingest_all(serial, [company / "logs"], inventory=company / "inventory.yaml")
            assert serial.fetchall(EVENTS) == store.fetchall(EVENTS)


def test_a_write_conflict_is_retried_not_blamed_on_the_file(
    company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NHIWATCH_INGEST_WORKERS", "2")
    original = ingest_mod._map_and_store
    conflicts: list[str] = []

    def mapping(store: Store, src: Any, *args: Any, **kw: Any) -> None:
        if conflicts.count(src.name) < 2:  # twice for each source: the first two attempts of its batch
            conflicts.append(src.name)
            raise duckdb.TransactionException("Catalog write-write conflict on create")
        original(store, src, *args, **kw)

    monkeypatch.setattr(ingest_mod, "_map_and_store", mapping)
    with Store(tmp_path / "s.duckdb") as store:
        report = ingest(store, [company / "logs"])
        assert len(conflicts) >= 10
        assert report.unreadable == [] and report.quarantined == 2
        assert report.stored == store.event_count() > 0


@pytest.mark.parametrize("value", ["0", "two", "-1", "1000"])
def test_a_bad_worker_count_is_refused_plainly(
    value: str, company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NHIWATCH_INGEST_WORKERS", value)
    with Store(tmp_path / "s.duckdb") as store, pytest.raises(ConfigError, match="NHIWATCH_INGEST_WORKERS"):
        ingest(store, [company / "logs"])


def test_checkpoints_run_only_between_batches_and_settings_come_back(
    company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two writers DuckDB's own checkpoints ran beside an open transaction and the blocks they freed
    were not reused (the store grew by a third): the ingest's checkpoints wait until no batch is in flight."""
    monkeypatch.setenv("NHIWATCH_INGEST_WORKERS", "2")
    monkeypatch.setattr(parallel_mod, "CHECKPOINT_EVERY", 1)  # after every batch
    in_flight = [0]
    seen: list[int] = []
    lock = threading.Lock()
    original_group, original_checkpoint = ingest_mod._ingest_group, parallel_mod.checkpoint

    pools: set[int] = set()
    checkpoint_pools: set[int] = set()

    def group(*args: Any, **kw: Any) -> None:
        pools.add(int(args[0].scalar("SELECT current_setting('threads')")))
        with lock:
            in_flight[0] += 1
        try:
            original_group(*args, **kw)
        finally:
            with lock:
                in_flight[0] -= 1

    def checkpoint(store: Store) -> None:
        with lock:
            seen.append(in_flight[0])
        checkpoint_pools.add(int(store.scalar("SELECT current_setting('threads')")))
        original_checkpoint(store)

    monkeypatch.setattr(ingest_mod, "_ingest_group", group)
    monkeypatch.setattr(parallel_mod, "checkpoint", checkpoint)
    with Store(tmp_path / "s.duckdb") as store:
        settings = (
            "SELECT current_setting('wal_autocheckpoint'), current_setting('enable_optimistic_write'),"
            " current_setting('threads')"
        )
        store.execute("SET threads = 4")
        before = store.fetchall(settings)
        report = ingest(store, [company / "logs"])
        assert report.stored == store.event_count() > 0
        assert len(seen) >= 5 and set(seen) == {0}
        assert pools == {2}  # DuckDB's four threads shared out between the two workers
        assert checkpoint_pools == {4}  # and all four for a checkpoint, which runs while no worker does
        assert store.fetchall(settings) == before
