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
from nhiwatch import rollups as rollups_mod
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
    original = ingest_mod.map_and_store

    def mapping(store: Store, src: Any, *args: Any, **kw: Any) -> None:
        seen = threads.setdefault(src.name, set())
        if not seen and len(threads) <= 2:
            barrier.wait()  # the first two sources meet here: they are in flight together
        seen.add(threading.current_thread().name)
        original(store, src, *args, **kw)

    monkeypatch.setattr(ingest_mod, "map_and_store", mapping)
    with Store(tmp_path / "s.duckdb") as store:
        report = ingest(store, [company / "logs"])
        assert report.quarantined == 2 and report.unreadable == []
        assert len({name for names in threads.values() for name in names}) == 2
        assert all(len(names) == 1 for names in threads.values())  # a source never changes thread


def test_an_interrupt_in_one_thread_stops_both_and_leaves_no_half_batch(
    company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NHIWATCH_INGEST_WORKERS", "2")
    original = ingest_mod.map_and_store

    def mapping(store: Store, src: Any, *args: Any, **kw: Any) -> None:
        original(store, src, *args, **kw)
        if src.name == "salesforce":
            raise KeyboardInterrupt  # after its rows were inserted, before the commit

    with Store(tmp_path / "s.duckdb") as store:
        ingest_all(store, [], inventory=company / "inventory.yaml")
        monkeypatch.setattr(ingest_mod, "map_and_store", mapping)
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
    original = ingest_mod.map_and_store
    conflicts: list[str] = []

    def mapping(store: Store, src: Any, *args: Any, **kw: Any) -> None:
        if conflicts.count(src.name) < 2:  # twice for each source: the first two attempts of its batch
            conflicts.append(src.name)
            raise duckdb.TransactionException("Catalog write-write conflict on create")
        original(store, src, *args, **kw)

    monkeypatch.setattr(ingest_mod, "map_and_store", mapping)
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


def test_checkpoints_run_only_while_no_batch_is_stored_and_settings_come_back(
    company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two writers DuckDB's own checkpoints ran beside an open transaction and the blocks they freed
    were not reused (the store grew by a third): the ingest's checkpoints wait until no batch is being
    stored (from its first write to its end); a batch may be read and mapped meanwhile."""
    monkeypatch.setenv("NHIWATCH_INGEST_WORKERS", "2")
    monkeypatch.setattr(parallel_mod, "CHECKPOINT_EVERY", 1)  # after every batch
    storing: set[str] = set()  # threads between their batch's first write and its end
    seen: list[int] = []
    lock = threading.Lock()
    original_group, original_checkpoint = ingest_mod._ingest_group, parallel_mod.checkpoint
    original_next_batch = rollups_mod.next_batch

    pools: set[int] = set()
    checkpoint_pools: set[int] = set()
    checkpointing = [False]  # a checkpoint holds its one extra thread (ingest_parallel.checkpoint)

    def group(*args: Any, **kw: Any) -> None:
        with lock:  # a batch begun while another worker checkpoints sees that thread: not the worker's share
            if not checkpointing[0]:
                pools.add(int(args[0].scalar("SELECT current_setting('threads')")))
        try:
            original_group(*args, **kw)
        finally:
            with lock:
                storing.discard(threading.current_thread().name)

    def next_batch(store: Store) -> int:  # a batch's first write: the events' batch number
        with lock:
            storing.add(threading.current_thread().name)
        return original_next_batch(store)

    def checkpoint(store: Store) -> None:
        with lock:
            seen.append(len(storing))
        checkpoint_pools.add(int(store.scalar("SELECT current_setting('threads')")))
        with lock:
            checkpointing[0] = True
        try:
            original_checkpoint(store)
        finally:
            with lock:
                checkpointing[0] = False

    monkeypatch.setattr(ingest_mod, "_ingest_group", group)
    monkeypatch.setattr(rollups_mod, "next_batch", next_batch)
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
        # all four for a checkpoint while no other worker is in a batch, this worker's share while one maps
        assert checkpoint_pools <= {2, 4}
        assert store.fetchall(settings) == before


class _Settings:
    """A stand-in connection for the checkpoint gate: it records the statements it is given."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.sql: list[str] = []

    def execute(self, sql: str) -> None:
        self.sql.append(sql)


def test_a_due_checkpoint_waits_for_the_batch_being_stored_and_lets_mapping_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker A passes the mark while B stores: A is not held (it goes on to map its next batch); the
    checkpoint runs when B ends its batch, on B's thread, with B's share of the pool (A is mapping); A stores
    after it."""
    taken: list[str] = []
    monkeypatch.setattr(parallel_mod, "checkpoint", lambda store: taken.append(store.name))
    gate = parallel_mod._Checkpoints(100, threading.Event(), (4, 2), total=10_000)
    a, b = _Settings("a"), _Settings("b")
    for worker in (b, a):
        gate.begin()
        gate.enter(worker)  # both store
    gate.leave(a, 150, stored=True)  # A passes the mark while B is still storing
    assert taken == [] and gate.due
    gate.begin()  # A maps its next batch: nothing holds it
    entered = threading.Event()
    waiting = threading.Thread(target=lambda: (gate.enter(a), entered.set()))
    waiting.start()  # ... and would store it: it waits
    assert not entered.wait(0.2)
    gate.leave(b, 10, stored=True)  # B's batch ends: B takes the checkpoint
    waiting.join(5)
    assert entered.is_set() and taken == ["b"] and not gate.due and gate.pending == 0
    assert b.sql == []  # A was in a batch: the checkpoint kept B's share of the pool


def test_a_checkpoint_no_worker_runs_beside_gets_the_whole_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last worker's checkpoint runs alone: it gets all the threads, and a worker starting a batch then
    waits for it (its statements would otherwise run on the whole pool too)."""
    started = threading.Event()
    release = threading.Event()

    def slow(store: Any) -> None:
        started.set()
        release.wait(5)

    monkeypatch.setattr(parallel_mod, "checkpoint", slow)
    gate = parallel_mod._Checkpoints(100, threading.Event(), (4, 2), total=10_000)
    a = _Settings("a")
    gate.begin()
    gate.enter(a)
    leaving = threading.Thread(target=lambda: gate.leave(a, 150, stored=True))
    leaving.start()
    assert started.wait(5)
    began = threading.Event()
    other = threading.Thread(target=lambda: (gate.begin(), began.set()))
    other.start()
    assert not began.wait(0.2)  # held while the checkpoint holds the whole pool
    release.set()
    leaving.join(5)
    other.join(5)
    assert began.is_set() and a.sql == ["SET threads = 4", "SET threads = 2"]


def test_a_worker_about_to_store_takes_a_due_checkpoint_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[int] = []
    monkeypatch.setattr(parallel_mod, "checkpoint", lambda store: taken.append(1))
    gate = parallel_mod._Checkpoints(100, threading.Event(), (2, 1), total=10_000)
    gate.begin()
    gate.leave(_Settings(), 150, stored=False)  # a batch that stored nothing still counts its input
    assert taken == [1]  # nobody was storing: taken at once
    gate.begin()
    gate.enter(_Settings())
    gate.leave(_Settings(), 150, stored=True)
    assert taken == [1, 1]


def test_a_worker_about_to_store_stops_when_the_ingest_is_abandoned() -> None:
    stop = threading.Event()
    gate = parallel_mod._Checkpoints(100, stop)
    stop.set()
    with pytest.raises(parallel_mod.Stopped):
        gate.enter(_Settings())
    assert gate.busy == 0


def test_no_checkpoint_is_due_with_less_than_a_checkpoints_worth_of_input_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last stretch of input is left to the checkpoint after the run, which runs alone on the whole pool:
    one taken just before it held the other worker idle."""
    taken: list[int] = []
    monkeypatch.setattr(parallel_mod, "checkpoint", lambda store: taken.append(1))
    gate = parallel_mod._Checkpoints(100, threading.Event(), (2, 1), total=300)
    for size in (110, 110, 80):
        gate.begin()
        gate.leave(_Settings(), size, stored=False)
    assert taken == [1]  # after the first batch (190 left); not after the second (80 left) nor the last
    assert gate.pending == 190 and gate.left == 0


def test_a_checkpoint_has_one_more_thread_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement is one task a pool thread may take (the caller then only waits): one more thread keeps
    every core on it, and the setting comes back."""
    seen: list[int] = []
    original = Store.execute

    def execute(self: Store, sql: str, *args: Any, **kw: Any) -> Any:
        if sql == "CHECKPOINT":
            seen.append(int(original(self, "SELECT current_setting('threads')").fetchall()[0][0]))
        return original(self, sql, *args, **kw)

    monkeypatch.setattr(Store, "execute", execute)
    with Store(tmp_path / "s.duckdb") as store:
        for threads in (3, 1):
            store.execute(f"SET threads = {threads}")
            parallel_mod.checkpoint(store)
            assert int(store.scalar("SELECT current_setting('threads')")) == threads
    assert seen == [4, 1]  # alone on one thread, the caller runs it itself
