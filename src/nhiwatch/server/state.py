"""What one server process shares: the store behind one lock, settings, sessions, counters and the worker.

The server opens the store once. Writes are serialized: every request that changes the store and the
background scorer take :attr:`ServerState.lock` through :meth:`ServerState.db`, which also leaves the
connection clean after any failure (an open transaction rolled back, a dead connection reopened), so one
failing request never poisons the next. Reads do not wait behind a long ingest: :meth:`ServerState.reader`
hands out a cursor of its own (DuckDB's MVCC shows it the last committed state). Handlers are plain
``def`` functions, run in the thread pool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from fastapi import Request

from nhiwatch.errors import NhiwatchError
from nhiwatch.response.config import ResponseConfig
from nhiwatch.store import Store

if TYPE_CHECKING:
    from nhiwatch.server.auth import FailureLimiter, RateLimit, Sessions
    from nhiwatch.server.intake import Intake
    from nhiwatch.server.respond import Responder
    from nhiwatch.server.worker import Worker

log = logging.getLogger("nhiwatch.server")
HEALTH_DDL = "CREATE TABLE IF NOT EXISTS server_health (probe INTEGER PRIMARY KEY, probed_at TIMESTAMP)"


@dataclass
class Settings:
    db_path: Path
    max_body_bytes: int = 32 * 1024 * 1024  # push bodies (compressed or not) and their decompressed size
    max_form_bytes: int = 64 * 1024
    worker_interval: float = 2.0  # longest a push waits before the worker looks (a push also wakes it)
    worker_enabled: bool = True
    session_hours: float = 8.0
    auth_failures_per_minute: int = 10
    inventory: Path | None = None  # file `POST /api/v1/inventory/reload` re-reads when sent no body
    max_push_lines: int = 250_000  # lines in one push (decompressed)
    max_record_bytes: int = (
        4 * 1024 * 1024
    )  # one record: a text/CSV line, or a JSON object holding no records
    max_nesting_depth: int = 64  # JSON arrays and objects inside each other, in pushes and API bodies
    pushes_per_minute: int = 120  # per token; past it 429 with Retry-After
    max_spool_bytes: int = 1024 * 1024 * 1024  # accepted, not yet ingested; past it 503 with Retry-After
    max_queued_pushes: int = 20_000
    url: str | None = None  # where a local CLI reaches this server: set, the server file is written
    listen_host: str | None = None
    response: ResponseConfig | None = None  # one-click response (off unless enabled)
    collectors: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # their settings, for response actions


@dataclass
class Metrics:
    """Counters exported at ``/metrics`` (Prometheus text format)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counters: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    started: float = field(default_factory=time.time)

    def inc(self, name: str, value: float = 1.0) -> None:
        with self.lock:
            self.counters[name] += value

    def set(self, name: str, value: float) -> None:
        with self.lock:
            self.counters[name] = value

    def snapshot(self) -> dict[str, float]:
        with self.lock:
            return dict(self.counters)


class _CursorStore(Store):
    """A :class:`Store` over a cursor of the server's connection (no DDL, no settings of its own)."""

    def __init__(self, path: str, con: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self.con = con

    def close(self) -> None:
        self.con.close()


class ServerState:
    def __init__(self, settings: Settings, limiter: FailureLimiter, sessions: Sessions) -> None:
        self.settings = settings
        self.store = self._open()
        self.lock = threading.RLock()
        self._depth = 0  # db() blocks open in the thread holding the lock
        self.metrics = Metrics()
        self.limiter = limiter
        self.sessions = sessions
        self.worker: Worker | None = None
        self._intake: Intake | None = None
        self.push_limiter: RateLimit | None = None
        self.health_probe: tuple[float, bool, str] | None = None  # (monotonic time, writable, what)
        self.local_digest: str | None = None  # the server file's credential (see nhiwatch.server.local)
        self.responder: Responder | None = None  # one-click response, when enabled
        self._readers: deque[_CursorStore] = deque()
        self._readers_lock = threading.Lock()
        self._generation = 0  # bumped when the connection is reopened: older cursors are dropped
        self.store.ensure(HEALTH_DDL)

    @property
    def intake(self) -> Intake:
        """The queue of accepted pushes (set up by the app factory)."""
        assert self._intake is not None, "the app factory sets up the intake"
        return self._intake

    @intake.setter
    def intake(self, value: Intake) -> None:
        self._intake = value

    @contextmanager
    def db(self) -> Iterator[Store]:
        """The store, held exclusively for the block (every write goes through here).

        Whatever happens in the block, the connection is left clean: a transaction still open is rolled
        back (after an error, or after a block that forgot to finish it), and a connection that no longer
        answers is reopened. The block's exception still propagates to the caller.
        """
        with self.lock:
            self._depth += 1
            outermost = self._depth == 1  # a nested block must not end the outer block's transaction
            try:
                yield self.store
            except BaseException:
                if outermost:
                    self._recover(failed=True)
                raise
            else:
                if outermost:
                    self._recover(failed=False)
            finally:
                self._depth -= 1

    def _recover(self, *, failed: bool) -> None:
        try:
            self.store.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass  # no transaction open: the normal case
        except duckdb.Error:
            log.warning("store rollback failed; reopening the connection", exc_info=True)
            self._reopen()
            return
        else:
            if not failed:
                log.error("a request left a store transaction open; it was rolled back")
        try:
            self.store.execute("SELECT 1").fetchall()
        except duckdb.Error:
            log.warning("store connection unusable after a failed request; reopening", exc_info=True)
            self._reopen()

    def _reopen(self) -> None:
        with suppress(duckdb.Error):
            self.store.close()
        with self._readers_lock:
            self._generation += 1
            self._readers.clear()
        self.store = self._open()

    def _open(self) -> Store:
        store = Store(self.settings.db_path)
        store.execute("SET enable_progress_bar = false")  # a server's stderr is its log, not a terminal
        return store

    @contextmanager
    def reader(self) -> Iterator[Store]:
        """A store for reads only, on a cursor of its own: it never waits for the writer lock.

        It sees the last committed state. Only read-only routes use it; every write goes through
        :meth:`db`.
        """
        with self._readers_lock:
            generation = self._generation
            cur = self._readers.pop() if self._readers else None
        if cur is None:
            con = self.store.con.cursor()
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            cur = _CursorStore(self.store.path, con)
        healthy = False
        try:
            yield cur
            healthy = True
        finally:
            try:
                cur.execute("ROLLBACK")
            except duckdb.TransactionException:
                pass
            except duckdb.Error:
                healthy = False
            with self._readers_lock:
                if healthy and generation == self._generation and len(self._readers) < 16:
                    self._readers.append(cur)
                    cur = None
            if cur is not None:
                with suppress(duckdb.Error):
                    cur.close()

    def write_probe(self, timeout: float = 2.0) -> tuple[bool, str]:
        """(whether the store takes a write now, what was found). A writer holding the lock is healthy.

        The probe rewrites one row of a one-row table and commits, so a store that cannot commit (a
        read-only file, a full disk, a poisoned connection) is found; :meth:`db` cleans up after it.
        """
        if not self.lock.acquire(timeout=timeout):
            return True, "busy: a long write holds the store"
        try:
            with self.db() as store:
                store.execute("BEGIN TRANSACTION")
                store.execute("INSERT OR REPLACE INTO server_health VALUES (1, current_timestamp)")
                store.execute("COMMIT")
        except (duckdb.Error, NhiwatchError) as exc:
            return False, f"the store cannot write: {type(exc).__name__}"
        finally:
            self.lock.release()
        return True, "ok"

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        with self.lock:
            with self._readers_lock:
                self._generation += 1
                while self._readers:
                    self._readers.pop().close()
            self.store.close()


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.nw
    return state
