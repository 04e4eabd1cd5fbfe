"""An ingest's batches run on several connections at once: the threads, their checkpoints and stopping.

DuckDB runs each batch's statements on about one core, so :func:`run` hands whole *units* (all the batches
of one source, since a source's de-duplication reads what its earlier batches stored) to ``workers``
threads, each with its own connection (:meth:`nhiwatch.store.Store.on_cursor`). Each batch is still its own
transaction (appends from two connections do not conflict). On any failure or interrupt the other threads
stop after their current statement (it is interrupted and rolled back; batches already committed stay, as in
a serial ingest), and the error is raised in the caller once they have.

DuckDB checkpoints after each large commit by itself; with another transaction open (with two workers one
nearly always is) the blocks a checkpoint frees cannot be reused until it ends, and the store grew by a third
of free blocks (~106 bytes an event instead of ~72). So while the workers run DuckDB's own checkpoints are
off and large appends are kept in memory until their commit (two database-wide settings, restored after);
after every ``CHECKPOINT_EVERY`` bytes of input a checkpoint is due, taken while no worker is *storing* a
batch (from its first write to the database until it ends). A batch is read and mapped into its own
connection's temp tables before it writes, so a worker that finds a checkpoint due goes on reading and
mapping its next batch, and waits (or takes the checkpoint itself) only when it is about to store: the
worker that passed the mark used to wait idle for the other's batch (~1.2 s on the bench, behind a
145k-record Google Workspace batch). With less than a checkpoint's worth of input left no checkpoint is due:
the one after the run takes it.

DuckDB's thread pool is shared by the connections of one database, and each worker's thread runs its own
statements too: with ``threads = 2`` and two workers, four threads took turns on two cores. The pool is shared
out while the workers run (``threads`` divided by the workers, at least one: on two cores each worker runs its
statements on its own thread); on the bench's mix that cost ~9 % less CPU and up to ~10 % less wall time. A
checkpoint taken while no other worker is in a batch gets the whole pool back (it compresses row groups on
every thread), and a worker starting a batch meanwhile waits for it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

import duckdb

from nhiwatch import rollups
from nhiwatch.errors import ConfigError
from nhiwatch.sources.base import sql_str
from nhiwatch.store import Store

WORKERS_ENV = "NHIWATCH_INGEST_WORKERS"
# Input (as the caller weighs it) stored between two checkpoints: bounds what is held in memory and the
# write-ahead log before it is checkpointed.
CHECKPOINT_EVERY = 256 * 1024 * 1024
SETTINGS = ("wal_autocheckpoint", "enable_optimistic_write", "threads")

B = TypeVar("B")  # one batch, as the caller plans it

_local = threading.local()  # .stop: the Event that tells a worker thread its ingest is being abandoned


def workers() -> int:
    """Threads that map and store batches at once: two on a machine with two cores or more (DuckDB runs
    each batch's statements on about one core), unless ``NHIWATCH_INGEST_WORKERS`` says otherwise."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if value:
        if not value.isdigit() or not 1 <= int(value) <= 64:
            raise ConfigError(f"{WORKERS_ENV} {value!r} is not a number of threads from 1 to 64")
        return int(value)
    return max(1, min(2, os.cpu_count() or 1))


def storing() -> None:
    """Called by a worker just before its batch first writes to the database (events, quarantine, the batch
    sequence): from then until the batch ends no checkpoint runs. A no-op outside a parallel ingest."""
    gate = getattr(_local, "gate", None)
    if gate is not None and not _local.storing:
        gate.enter(_local.con)
        _local.storing = True


def stopping() -> bool:
    """Whether this thread's ingest is being abandoned (another worker failed): a failure then is that
    stop, not the batch's fault."""
    stop = getattr(_local, "stop", None)
    return stop is not None and stop.is_set()


class Stopped(Exception):
    """This worker's ingest is being abandoned (another worker failed): its batch is rolled back."""


class _Checkpoints:
    """Checkpoints taken only while no worker is storing (see the module docstring).

    A batch is read and mapped into its connection's temp tables first, then stored; only storing touches
    the database a checkpoint writes. A worker that finds a checkpoint due goes on reading and mapping its
    next batch, and waits (or checkpoints itself) only when it is about to store."""

    def __init__(
        self, every: int, stop: threading.Event, pool: tuple[int, int] = (1, 1), total: int = 0
    ) -> None:
        self.cond = threading.Condition()
        self.every = every
        self.left = total  # input not yet stored
        self.stop = stop
        self.pool = pool  # DuckDB threads (all of them, each worker's share while the workers run)
        self.inside = 0  # workers inside a batch (reading, mapping or storing it)
        self.busy = 0  # workers storing a batch
        self.pending = 0  # input stored since the last checkpoint
        self.due = False  # a checkpoint is due: no worker starts storing until it is taken
        self.running = False  # a worker is checkpointing
        self.whole = False  # ... with the whole pool: no worker starts a batch until it ends

    def _take(self) -> bool:
        """Whether the calling thread should checkpoint now (holding ``cond``); it then owns the checkpoint."""
        if self.due and not self.running and self.busy == 0 and not self.stop.is_set():
            self.running = True
            return True
        return False

    def begin(self) -> None:
        """A worker starts a batch (it waits only while a checkpoint holds the whole pool)."""
        with self.cond:
            self.cond.wait_for(lambda: not self.whole or self.stop.is_set())
            self.inside += 1

    def enter(self, store: Store) -> None:
        """Wait until the calling worker may store: no checkpoint due or running (it takes a due one).
        Raises :class:`Stopped` once the ingest is being abandoned: nothing more is stored."""
        while True:
            with self.cond:
                if self.stop.is_set():
                    raise Stopped("another ingest worker failed or was interrupted")
                if not (self.due or self.running):
                    self.busy += 1
                    return
                mine = self._take()
                if not mine:
                    self.cond.wait()
                    continue
            self._checkpoint(store, in_batch=True)

    def leave(self, store: Store, size: int, stored: bool) -> None:
        """A worker ends a batch (``stored``: it had started storing); it takes a checkpoint now due."""
        with self.cond:
            self.inside -= 1
            if stored:
                self.busy -= 1
            self.pending += size
            self.left -= size
            # Less than a checkpoint's worth of input left: the checkpoint after the run takes it, alone on the
            # whole pool (one late in the run held the other worker ~1 s on the bench).
            if self.pending >= self.every and self.left >= self.every:
                self.due = True
            mine = self._take()
            self.cond.notify_all()
        if mine:
            self._checkpoint(store, in_batch=False)

    def _checkpoint(self, store: Store, in_batch: bool) -> None:
        """Checkpoint (the caller took it); ``in_batch``: whether the caller is inside a batch itself."""
        # With no other worker in a batch the checkpoint gets the whole pool: it compresses row groups on every
        # thread (on one it took ~1 s of the bench's ~11); otherwise it keeps this worker's share.
        with self.cond:
            self.whole = self.inside == int(in_batch) and self.pool[0] != self.pool[1]
        try:
            if self.whole:
                store.execute(f"SET threads = {self.pool[0]}")
            try:
                checkpoint(store)
            finally:
                if self.whole:
                    store.execute(f"SET threads = {self.pool[1]}")
        finally:
            with self.cond:
                self.pending = 0
                self.due = False
                self.running = False
                self.whole = False
                self.cond.notify_all()


def checkpoint(store: Store) -> None:
    """CHECKPOINT; the events are committed whether it succeeds or not (DuckDB retries at the next).

    DuckDB runs the statement as one task, which any of its threads may take, and compresses the row groups
    on the others. When one of its pool's threads takes it the calling thread only waits, and the bench's
    last checkpoint ran on one core: 1.4 s instead of 0.9, in about one run of three or four. One more
    thread in the pool while it runs keeps a thread for the compression beside the one running the statement;
    the last checkpoint still varies (0.9-1.3 s on the bench) with which thread takes it."""
    with contextlib.suppress(duckdb.Error):
        threads = int(store.scalar("SELECT current_setting('threads')"))
        if threads > 1:
            store.execute(f"SET threads = {threads + 1}")
        try:
            store.execute("CHECKPOINT")
        finally:
            if threads > 1:
                store.execute(f"SET threads = {threads}")


def run(
    store: Store,
    units: Sequence[Sequence[B]],
    *,
    threads: int,
    weight: Callable[[B], int],
    setup: Callable[[Store], None],
    do: Callable[[Store, int, B], int],
    progress: Callable[[int], None] | None,
) -> None:
    """Run every batch of ``units`` on ``threads`` threads, a unit on one thread at a time, largest first.

    ``setup`` prepares a worker's connection (its temp tables); ``do(store, unit index, batch)`` stores one
    batch and returns how many files it took, reported to ``progress`` from the calling thread."""
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    # Largest units first, so the last one to finish is a short one.
    for i in sorted(range(len(units)), key=lambda i: -sum(weight(b) for b in units[i])):
        todo.put(i)
    done: queue.SimpleQueue[int] = queue.SimpleQueue()
    stop = threading.Event()
    cursors: list[Store] = []
    # Created here, once: two transactions each creating them would conflict.
    rollups.ensure_tables(store)
    saved = {name: store.scalar("SELECT current_setting(?)", [name]) for name in SETTINGS}
    all_threads = int(saved["threads"])
    total = sum(weight(b) for unit in units for b in unit)
    gate = _Checkpoints(CHECKPOINT_EVERY, stop, (all_threads, max(1, all_threads // threads)), total)

    def work(con: Store) -> None:
        _local.stop, _local.gate, _local.con = stop, gate, con
        try:
            setup(con)
            while not stop.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                for batch in units[i]:
                    _local.storing = False
                    gate.begin()
                    try:
                        if stop.is_set():
                            return
                        done.put(do(con, i, batch))
                    finally:
                        gate.leave(con, weight(batch), _local.storing)
                        _local.storing = False
        finally:
            _local.stop = _local.gate = _local.con = None

    try:
        store.execute("SET wal_autocheckpoint = '1TB'")
        store.execute("SET enable_optimistic_write = false")
        store.execute(f"SET threads = {gate.pool[1]}")
        cursors = [store.on_cursor() for _ in range(threads)]
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nhiwatch-ingest") as pool:
            futures = {pool.submit(work, c) for c in cursors}
            try:
                while futures:
                    finished, futures = wait(futures, timeout=0.2, return_when=FIRST_EXCEPTION)
                    _report(done, progress)
                    for f in finished:
                        f.result()  # a worker's failure is raised here
            except BaseException:
                stop.set()
                with gate.cond:
                    gate.cond.notify_all()
                for c in cursors:
                    with contextlib.suppress(duckdb.Error):
                        c.con.interrupt()
                wait(futures)
                raise
        _report(done, progress)
    finally:
        for c in cursors:
            with contextlib.suppress(duckdb.Error):
                c.close()
        with contextlib.suppress(duckdb.Error):
            store.execute(f"SET wal_autocheckpoint = {sql_str(str(saved['wal_autocheckpoint']))}")
            optimistic = str(saved["enable_optimistic_write"]).lower() == "true"
            store.execute(f"SET enable_optimistic_write = {'true' if optimistic else 'false'}")
            store.execute(f"SET threads = {int(saved['threads'])}")
        checkpoint(store)


def _report(done: queue.SimpleQueue[int], progress: Callable[[int], None] | None) -> None:
    n = 0
    while True:
        try:
            n += done.get_nowait()
        except queue.Empty:
            break
    if n and progress:
        progress(n)
