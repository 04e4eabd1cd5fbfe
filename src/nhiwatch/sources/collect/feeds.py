"""Feeds: streams read as a listing of objects (S3 keys, Salesforce log files, queue messages), not by
time window.

A time-window cursor fits an API that pages through events in time order. A bucket of log files does
not: keys sort by name, a file can arrive after a later-named one was listed, and a queue has no
position at all. A :class:`Feed` is read from a *floor* (its checkpoint, stored as the cursor: a day for
S3, a time for Salesforce) and yields one :class:`Batch` per object not yet read; the objects read are
recorded in ``collector_objects`` (:mod:`.objects`) in the transaction that stores their events, so a
crash re-reads at most the object in flight and never skips one. When a pass reaches the end of the
listing, the feed says where the next pass may start (``settle``), ``since`` becomes the time the pass
started (everything listed by then is stored) and the records older than the new floor are pruned.

Each object is ingested in its own transaction: an ingest call with several files may commit them in
several transactions, and the checkpoint must never run ahead of the events. A file that no parser can
read is quarantined by ingest (with its reason) and still counts as read: the feed moves past it, and
nothing valid is lost. ``acknowledge`` runs after the commit (deleting an SQS message): a crash before
it means the message comes back, and its object is found already read.

Objects that grow (Azure append blobs) are read in parts: such an item says how far its fetch read
(``end``), and that offset is recorded in ``collector_offsets`` with the part's events; the feed asks
``known.offsets`` where to go on. A listed object the feed will not read (a name outside the layout)
is an item with ``refuse``: one quarantine row with the reason, and it counts as read.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from nhiwatch.ingest import ingest
from nhiwatch.redact import redact
from nhiwatch.sources.collect import objects, state
from nhiwatch.store import Store

Known = Callable[[Sequence[str]], set[str]]  # which of these keys were read already


class ReadRecord:
    """What a stream has read: whole objects (calling it, a :data:`Known`) and parts of growing ones."""

    def __init__(self, store: Store, name: str, object_set: str) -> None:
        self._store, self._name, self._set = store, name, object_set

    def __call__(self, keys: Sequence[str]) -> set[str]:
        return objects.known(self._store, self._name, self._set, keys)

    def offsets(self, keys: Sequence[str]) -> dict[str, int]:
        """Bytes already read of each growing object among ``keys`` (absent: none)."""
        return objects.offsets(self._store, self._name, self._set, keys)


@dataclass(frozen=True)
class Item:
    """One object to read: its identity in ``collector_objects``, its time (pruning), and how to get it."""

    key: str
    at: datetime
    name: str  # spool file name; the suffix tells ingest about compression
    fetch: Callable[[Path], None]  # writes the object's bytes to the path
    # An object read in parts: after ``fetch``, the offset read up to (recorded in collector_offsets).
    # A fetch that wrote nothing (no complete line yet) stores and records nothing.
    end: Callable[[], int] | None = None
    refuse: str | None = None  # not to be read: quarantined once with this reason, and counted as read


@dataclass
class Batch:
    item: Item | None = None
    acknowledge: Callable[[], None] | None = None  # after the commit
    newest: datetime | None = None  # time of the newest data in it, for the lag


@runtime_checkable
class Feed(Protocol):
    instance: str
    source: str

    def start(self, since: datetime) -> str:
        """The floor of a read that begins at ``since`` (a first run, or ``--since``)."""
        ...

    def batches(self, floor: str, known: Known) -> Iterator[Batch]:
        """The objects from ``floor`` on that ``known`` does not list, one batch each, in listing order."""
        ...

    def settle(self, floor: str, started: datetime) -> tuple[str, datetime]:
        """After a complete pass begun at ``started``: the next floor, and the time before which read
        objects may be forgotten (they are below the next floor)."""
        ...


@dataclass
class FeedRun:
    """What one pass did: counted into the runner's stream report."""

    pages: int = 0
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    caught_up: bool = False
    since: datetime | None = None
    unreadable: list[str] = field(default_factory=list)


def run_feed(
    store: Store,
    name: str,
    feed: Feed,
    *,
    since: datetime | None,
    lookback_start: datetime,
    max_pages: int,
    now: Callable[[], datetime],
    spool: Path,
) -> FeedRun:
    objects.ensure(store)
    cp = state.load(store, name, feed.instance)
    t_run = now()
    if since is not None:
        floor = feed.start(since)
    elif cp.cursor:
        floor = cp.cursor
    else:
        floor = feed.start(lookback_start)
    out = FeedRun(since=cp.since)
    # Feeds over one bucket (its listing and its notification queue) share one record of objects read.
    object_set: str = getattr(feed, "object_set", feed.instance)

    batches = feed.batches(floor, ReadRecord(store, name, object_set))
    while out.pages < max_pages:
        batch = next(batches, None)
        if batch is None:
            out.caught_up = True
            break
        out.pages += 1
        t = now()
        cp = cp.evolve(cursor=floor, pages=cp.pages + 1, last_success=t, updated_at=t)
        if cp.since is not None:
            cp = cp.evolve(lag_seconds=max(0.0, (t - cp.since).total_seconds()))
        if batch.item is not None:
            cp = _store_item(store, name, feed.source, object_set, batch.item, cp, spool, out, t)
        else:
            with store.transaction():
                state.save(store, cp)
        if batch.acknowledge is not None:
            batch.acknowledge()
    if out.caught_up:
        nxt, forget_before = feed.settle(floor, t_run)
        t = now()
        cp = cp.evolve(
            cursor=nxt,
            since=t_run,
            window_start=None,
            window_end=None,
            lag_seconds=max(0.0, (t - t_run).total_seconds()),
            last_success=t,
            updated_at=t,
        )
        with store.transaction():
            state.save(store, cp)
            objects.prune(store, name, object_set, forget_before)
        out.since = t_run
    return out


def _store_item(
    store: Store,
    name: str,
    source: str,
    object_set: str,
    item: Item,
    cp: state.Checkpoint,
    spool: Path,
    out: FeedRun,
    t: datetime,
) -> state.Checkpoint:
    def record(s: Store) -> None:
        if item.end is None:
            objects.add(s, name, object_set, [(item.key, item.at)], t)
        else:
            objects.advance(s, name, object_set, item.key, item.at, item.end(), t)

    if item.refuse is not None:
        reason = redact(item.refuse)
        with store.transaction():
            state.save(store, cp)
            record(store)
            store.execute(
                "INSERT INTO quarantine (ingest_file, ingest_line, source, reason, raw_data) "
                "VALUES (?, NULL, ?, ?, NULL)",
                [f"{object_set}/{item.key}"[:2048], source, reason],
            )
        out.quarantined += 1
        out.unreadable.append(f"{item.key[:200]}: {reason}")
        return cp
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", item.name)[-120:] or "object"
    path = spool / f"{out.pages:05d}-{safe}"
    saved: list[bool] = []
    try:
        item.fetch(path)
        if item.end is not None and path.stat().st_size == 0:
            return cp  # a growing object with no complete line yet: read again next time

        def checkpoint(s: Store) -> None:
            state.save(s, cp)
            record(s)
            saved.append(True)

        rep = ingest(store, [path], source=source, before_commit=checkpoint, keep_copy=True)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    cp = cp.evolve(records=cp.records + rep.read)
    if not saved:
        # The whole object was quarantined (empty, not the format): it is read; move past it.
        with store.transaction():
            state.save(store, cp)
            record(store)
        out.unreadable.extend(rep.unreadable)
    out.read += rep.read
    out.stored += rep.stored
    out.duplicates += rep.duplicates
    out.quarantined += rep.quarantined
    return cp
