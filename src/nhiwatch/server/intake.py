"""Ingesting accepted pushes: the spool's queue, drained in order, many pushes at a time, and each push's status.

A push handler only spools the body and queues its ticket (:mod:`nhiwatch.server.spool`); it never waits
for the store. :meth:`Intake.drain` (called by the worker, or by a handler when no worker runs) takes the
oldest pushes — up to :data:`BATCH_BYTES` or :data:`BATCH_PUSHES`, all with the same ``?source=`` — and
reads them through the library ingest in one call (:func:`nhiwatch.pipeline.ingest_all`: one scan for many
small bodies, attribution and rollups advanced once). Then, in one transaction, each push's quarantine rows
are relabelled with the push (the spool path never leaves the server) and its outcome is written to
``push_log``; only after that commit are its spool files removed. A crash anywhere in between replays the
push at the next start: the store's de-duplication keeps its events once, and a push already in
``push_log`` is not ingested again.

Per push, ``stored`` and ``quarantined`` are exact. ``duplicates`` is exact for a push ingested on its own
or in a batch without duplicates; for a push ingested together with others when the batch held duplicates
it is ``null`` and ``batch_duplicates`` says how many the batch held (the ingest counts them per call).

A push the ingest fails on (a bug, a full disk) stays queued and is retried; after :data:`ATTEMPTS` failures
it is set aside in the spool's ``failed`` folder (kept for an operator, never silently dropped) and its
status says so.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nhiwatch import rollups
from nhiwatch.errors import NhiwatchError
from nhiwatch.pipeline import ingest_all
from nhiwatch.redact import redact
from nhiwatch.server.spool import Spool, Ticket
from nhiwatch.server.state import ServerState
from nhiwatch.store import Store

log = logging.getLogger("nhiwatch.server.intake")
BODY = "the pushed body"
BATCH_BYTES = 16 * 1024 * 1024  # spooled bytes ingested per drain (~35k events): keeps a worker cycle short
BATCH_PUSHES = 500
ATTEMPTS = 3
MAX_REASONS = 100
PUSH_LOG_DDL = """CREATE TABLE IF NOT EXISTS push_log (
    push_id VARCHAR PRIMARY KEY, label VARCHAR, token VARCHAR, received TIMESTAMP, ingested TIMESTAMP,
    state VARCHAR, stored BIGINT, duplicates BIGINT, quarantined BIGINT, detail VARCHAR, extra VARCHAR)"""
KEEP_LOG_DAYS = 30


def hide_path(text: str, path: Path) -> str:
    """``text`` with a spool file's path (and its directory) said as the pushed body."""
    return text.replace(str(path), BODY).replace(str(path.parent), "the server's spool")


class Intake:
    def __init__(self, state: ServerState, spool: Spool) -> None:
        self.state = state
        self.spool = spool
        self._queue: deque[Ticket] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._drain_lock = threading.Lock()  # one drain at a time: pushes are ingested in order
        self._attempts: dict[str, int] = {}
        self._queued_at: dict[str, float] = {}  # monotonic time each queued push was accepted
        self.on_queued: Callable[[], None] | None = None  # wakes the worker
        self.on_ingested: Callable[[], None] | None = None  # tells the worker there are events to score

    # --- the queue -------------------------------------------------------------------------------------

    def replay(self, store: Store) -> int:
        """At start: queue every push the spool holds that the store has not logged; returns how many."""
        store.ensure(PUSH_LOG_DDL)
        store.execute(
            f"DELETE FROM push_log WHERE received < now()::TIMESTAMP - INTERVAL {KEEP_LOG_DAYS} DAY"
        )
        tickets = self.spool.recover()
        if not tickets:
            return 0
        done = {
            r[0]
            for r in store.fetchall(
                "SELECT push_id FROM push_log WHERE list_contains(?::VARCHAR[], push_id)",
                [[t.id for t in tickets]],
            )
        }
        for t in tickets:
            if t.id in done:  # ingested and logged; the crash came before its files were removed
                self.spool.remove(t)
            else:
                self.queue(t)
        return len(tickets) - len(done)

    def queue(self, ticket: Ticket) -> None:
        with self._cond:
            self._queue.append(ticket)
            self._bytes += ticket.size
            self._queued_at[ticket.id] = time.monotonic()
        if self.on_queued is not None:
            self.on_queued()

    def backlog(self) -> tuple[int, int]:
        """(pushes, bytes) accepted and not yet ingested."""
        with self._cond:
            return len(self._queue), self._bytes

    def oldest_wait(self) -> float | None:
        """When (monotonic) the oldest queued push was accepted; None with an empty queue."""
        with self._cond:
            return self._queued_at[self._queue[0].id] if self._queue else None

    def position(self, push_id: str) -> int | None:
        """How many pushes are ahead of ``push_id`` in the queue; None if it is not queued."""
        with self._cond:
            for i, t in enumerate(self._queue):
                if t.id == push_id:
                    return i
        return None

    def wait(self, push_id: str, timeout: float) -> bool:
        """Wait until ``push_id`` has left the queue (ingested, or set aside); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: all(t.id != push_id for t in self._queue), timeout)

    # --- draining -------------------------------------------------------------------------------------

    def drain(self) -> int:
        """Ingest the oldest queued pushes (one batch); returns how many pushes left the queue."""
        with self._drain_lock:
            batch = self._next_batch()
            if not batch:
                return 0
            try:
                with self.state.db() as store:
                    self._ingest(store, batch)
            except Exception as exc:  # a bug or a full disk: the pushes stay queued, nothing is lost
                log.exception("ingest of %d queued push(es) failed", len(batch))
                self.state.metrics.inc("intake_errors")
                if len(batch) > 1:  # find the push that fails; the others go in on the next drains
                    return self._one_by_one(batch)
                return self._failed(batch[0], exc)
            self._done(batch)
            return len(batch)

    def _next_batch(self) -> list[Ticket]:
        with self._cond:
            if not self._queue:
                return []
            batch = [self._queue[0]]
            size = batch[0].size
            for t in list(self._queue)[1:BATCH_PUSHES]:
                if t.source != batch[0].source or size + t.size > BATCH_BYTES:
                    break
                batch.append(t)
                size += t.size
            return batch

    def _one_by_one(self, batch: list[Ticket]) -> int:
        left = 0
        for t in batch:
            try:
                with self.state.db() as store:
                    self._ingest(store, [t])
            except Exception as exc:
                log.exception("ingest of push %s failed", t.id)
                return left + self._failed(t, exc)
            self._done([t])
            left += 1
        return left

    def _failed(self, ticket: Ticket, exc: Exception) -> int:
        n = self._attempts.get(ticket.id, 0) + 1
        self._attempts[ticket.id] = n
        if n < ATTEMPTS:
            return 0
        detail = f"could not be ingested after {n} attempts ({type(exc).__name__}); kept aside on the server"
        try:
            with self.state.db() as store:
                _log_rows(store, [(ticket, "failed", None, None, 0, detail, None)])
        except Exception:
            log.exception("could not log the failure of push %s", ticket.id)
        self.spool.set_aside(ticket)
        self._done([ticket], remove=False)
        return 1

    def _done(self, batch: list[Ticket], *, remove: bool = True) -> None:
        ids = {t.id for t in batch}
        for t in batch:
            if remove:
                self.spool.remove(t)
            self._attempts.pop(t.id, None)
        with self._cond:
            self._queue = deque(t for t in self._queue if t.id not in ids)
            self._bytes = sum(t.size for t in self._queue)
            for i in ids:
                self._queued_at.pop(i, None)
            self._cond.notify_all()
        if remove and self.on_ingested is not None:
            self.on_ingested()

    def _ingest(self, store: Store, batch: list[Ticket]) -> None:
        paths = [self.spool.body(t) for t in batch]
        names = [str(p) for p in paths]
        first = rollups.next_batch(store)  # every event this ingest stores gets a later ingest_batch
        try:
            # keep_copy: the spool file goes once ingested; a compressed copy stays as the events' evidence
            outcome = ingest_all(store, paths, source=batch[0].source, keep_copy=True)
        except NhiwatchError as exc:
            reason = str(exc)
            for p in paths:
                reason = hide_path(reason, p)
            reason = redact(reason)
            with store.transaction():
                _log_rows(store, [(t, "failed", 0, None, 0, reason, None) for t in batch])
            return
        copy_of = (
            dict(store.fetchall("SELECT file, copy FROM nw_copy")) if store.table_exists("nw_copy") else {}
        )
        copies = [copy_of.get(n, n) for n in names]
        by_copy = dict(
            store.fetchall(
                "SELECT ingest_file, count(*) FROM events WHERE ingest_batch > ? AND list_contains(?, ingest_file)"
                " GROUP BY ingest_file",
                [first, copies],
            )
        )
        stored = {n: by_copy.get(c, 0) for n, c in zip(names, copies, strict=True)}
        quarantined = dict(
            store.fetchall(
                "SELECT ingest_file, count(*) FROM quarantine WHERE list_contains(?, ingest_file) GROUP BY ALL",
                [names],
            )
        )
        r = outcome.report
        alone = len(batch) == 1
        rows: list[_Row] = []
        for t, name in zip(batch, names, strict=True):
            q = int(quarantined.get(name, 0))
            extra: dict[str, Any] | None = None
            if alone:
                dup: int | None = r.duplicates
                extra = {"read": r.read, "by_source": dict(r.by_source), "resolved": outcome.resolved}
            elif r.duplicates == 0:
                dup = 0
            else:
                dup, extra = None, {"batch_duplicates": r.duplicates, "batch_pushes": len(batch)}
            rows.append((t, "ingested", int(stored.get(name, 0)), dup, q, None, extra))
        with store.transaction():
            for t, name in zip(batch, names, strict=True):
                if not quarantined.get(name):
                    continue  # nothing of this push was quarantined: no rows to relabel
                # the spool path is the server's business: the push's rows name the push instead
                store.execute(
                    "UPDATE quarantine SET ingest_file = ?, reason = replace(replace(reason, ?, ?), ?, ?)"
                    " WHERE ingest_file = ?",
                    [t.label, name, BODY, str(self.spool.dir), "the server's spool", name],
                )
            _log_rows(store, rows)
        m = self.state.metrics
        m.inc("ingest_requests", len(batch))
        m.inc("events_stored", r.stored)
        m.inc("events_duplicate", r.duplicates)
        m.inc("events_quarantined", r.quarantined)


_Row = tuple[Ticket, str, int | None, int | None, int, str | None, dict[str, Any] | None]


def _log_rows(store: Store, rows: list[_Row]) -> None:
    store.ensure(PUSH_LOG_DDL)
    now = datetime.now(UTC).replace(tzinfo=None)
    store.insert_rows(
        "push_log",
        [
            "push_id",
            "label",
            "token",
            "received",
            "ingested",
            "state",
            "stored",
            "duplicates",
            "quarantined",
            "detail",
            "extra",
        ],
        [
            (
                t.id,
                t.label,
                t.token,
                t.received,
                now,
                state,
                stored,
                dup,
                q,
                detail,
                json.dumps(extra) if extra else None,
            )
            for t, state, stored, dup, q, detail, extra in rows
        ],
    )


def outcome(store: Store, push_id: str) -> dict[str, Any] | None:
    """A logged push's outcome as the API shows it (None if the store has no record of it)."""
    if not store.table_exists("push_log"):
        return None
    row = store.records("SELECT * FROM push_log WHERE push_id = ?", [push_id])
    if not row:
        return None
    r = row[0]
    body: dict[str, Any] = {"id": push_id, "status": r["state"]}
    if r["state"] == "failed":
        body["detail"] = r["detail"]
        return body
    body.update(stored=r["stored"], duplicates=r["duplicates"], quarantined=r["quarantined"])
    body.update(json.loads(r["extra"]) if r["extra"] else {})
    if r["quarantined"] or (r["stored"] == 0 and r["duplicates"] == 0):  # None: not counted per push
        bad = store.fetchall(
            "SELECT ingest_line, reason, left(coalesce(raw_data, ''), 300) FROM quarantine "
            "WHERE ingest_file = ? ORDER BY ingest_line NULLS FIRST LIMIT ?",
            [r["label"], MAX_REASONS],
        )
        body["errors"] = [
            {"line": line, "reason": redact(reason), "record": redact(rec)} for line, reason, rec in bad
        ] or [{"line": None, "reason": "no records recognised in the body", "record": ""}]
        body["detail"] = (
            f"{r['quarantined']} record(s) quarantined, {r['stored']} stored; reasons per record in 'errors'"
        )
    return body


def http_status(body: dict[str, Any]) -> int:
    """200 for a push stored cleanly, 400 when records were quarantined or nothing was usable."""
    return 400 if body["status"] == "failed" or "errors" in body else 200
