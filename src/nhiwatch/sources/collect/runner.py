"""Runs a collector once: every stream from its checkpoint, page by page, into the normal ingest path.

Each page's records are written as JSON lines (the vendor's own export shape) to a private spool folder
and ingested with the stream's source forced; the stream's new checkpoint is written by ingest's
``before_commit`` hook, inside the transaction that stores the page's events. A crash therefore loses
at most the page in flight, which the next run asks for again (from the stored cursor); duplicates from
overlapping windows or a repeated page are dropped by ``metadata_uid``.

Windows: a stream reads [start, end] with end = now (or start + ``max_window`` while backfilling). The
first run starts ``lookback`` ago (or at ``--since``); later runs at the checkpoint minus the stream's
``overlap``, so events the vendor publishes late are still read. A window completes when the API gives
no next cursor; only then does ``since`` move to its end.

Feeds (listings of objects: S3 buckets, Salesforce log files) are read by :func:`.feeds.run_feed`
instead, with the same spool, checkpoint table and error handling.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from nhiwatch.errors import NhiwatchError
from nhiwatch.ingest import ingest
from nhiwatch.sources.collect import state
from nhiwatch.sources.collect.base import MAX_CURSOR, Collector, Page, Stream, Window
from nhiwatch.sources.collect.errors import BadResponse, CollectError, RejectedRequest
from nhiwatch.sources.collect.feeds import Feed, run_feed
from nhiwatch.store import Store

DEFAULT_MAX_PAGES = 100


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class StreamReport:
    instance: str
    pages: int = 0
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    since: datetime | None = None
    caught_up: bool = False
    error: str | None = None


@dataclass
class RunReport:
    collector: str
    streams: list[StreamReport] = field(default_factory=list)
    resolved: int = 0

    @property
    def ok(self) -> bool:
        return all(s.error is None for s in self.streams)

    @property
    def stored(self) -> int:
        return sum(s.stored for s in self.streams)


def run(
    store: Store,
    collector: Collector,
    *,
    since: datetime | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    now: Callable[[], datetime] = utcnow,
) -> RunReport:
    """Read every stream of ``collector`` from its checkpoint (or ``since``), at most ``max_pages`` pages
    each; errors end a stream's run and are recorded as its ``last_error``, never raised."""
    if max_pages < 1:
        raise CollectError("max pages must be at least 1")
    state.ensure(store)
    report = RunReport(collector.name)
    spool = Path(tempfile.mkdtemp(prefix="nhiwatch-collect-"))  # mode 0700: the records stay private
    try:
        for stream in collector.streams:
            sr = StreamReport(stream.instance)
            report.streams.append(sr)
            try:
                if isinstance(stream, Feed):
                    _run_feed(store, collector, stream, since, max_pages, now, spool, sr)
                else:
                    _run_stream(store, collector, stream, since, max_pages, now, spool, sr)
            except NhiwatchError as exc:
                sr.error = collector.scrub(str(exc))
            except Exception as exc:  # a vendor answer no rule foresaw: a reason, not a traceback
                sr.error = collector.scrub(f"unexpected {type(exc).__name__}: {exc}")
            if sr.error is not None:
                state.record_error(store, collector.name, stream.instance, sr.error, now())
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    if report.stored:
        from nhiwatch.inventory.resolve import ensure_tables
        from nhiwatch.pipeline import attribute

        ensure_tables(store)
        report.resolved = attribute(store)
    return report


def _first_window(
    cp: state.Checkpoint, collector: Collector, stream: Stream, since: datetime | None, t: datetime
) -> tuple[Window, str | None]:
    if since is not None:
        return _window(since, stream, t), None
    if cp.in_window:
        assert cp.window_start is not None and cp.window_end is not None
        return Window(cp.window_start, cp.window_end), cp.cursor
    start = cp.since - stream.overlap if cp.since is not None else t - collector.lookback
    return _window(start, stream, t), None


def _window(start: datetime, stream: Stream, t: datetime) -> Window:
    start = min(start, t)
    end = t if stream.max_window is None else min(t, start + stream.max_window)
    return Window(start, end)


def _run_stream(
    store: Store,
    collector: Collector,
    stream: Stream,
    since: datetime | None,
    max_pages: int,
    now: Callable[[], datetime],
    spool: Path,
    sr: StreamReport,
) -> None:
    if collector.http is None:
        raise CollectError(f"{collector.name}: a windowed stream needs an HTTP client")
    http = collector.http
    cp = state.load(store, collector.name, stream.instance)
    t_run = now()
    window, cursor = _first_window(cp, collector, stream, since, t_run)
    resumed = cursor is not None
    seen: set[str] = set()
    while sr.pages < max_pages:
        try:
            page = stream.fetch(http, window, cursor)
        except RejectedRequest:
            if not resumed:
                raise
            cursor, resumed = None, False  # the stored cursor expired: read its window again, once
            continue
        resumed = False
        nxt = _checked_cursor(page, cursor, seen)
        sr.pages += 1
        t = now()
        new = cp.evolve(
            pages=cp.pages + 1, records=cp.records + len(page.records), last_success=t, updated_at=t
        )
        if nxt is None:
            new = new.evolve(since=window.end, window_start=None, window_end=None, cursor=None)
        else:
            new = new.evolve(window_start=window.start, window_end=window.end, cursor=nxt)
        if new.since is not None:
            new = new.evolve(lag_seconds=max(0.0, (t - new.since).total_seconds()))
        _commit(store, stream, page, new, spool, sr, f"{collector.name}-{sr.pages:05d}")
        cp = new
        sr.since = cp.since
        if nxt is not None:
            cursor = nxt
            continue
        if window.end >= t_run:
            sr.caught_up = True
            return
        # The next window overlaps this one: events the vendor published late are still read.
        following = _window(window.end - stream.overlap, stream, t_run)
        if following.end <= window.end:  # an overlap as long as the window: still make progress
            following = Window(following.start, t_run)
        window, cursor = following, None
        seen.clear()


def _run_feed(
    store: Store,
    collector: Collector,
    feed: Feed,
    since: datetime | None,
    max_pages: int,
    now: Callable[[], datetime],
    spool: Path,
    sr: StreamReport,
) -> None:
    out = run_feed(
        store,
        collector.name,
        feed,
        since=since,
        lookback_start=now() - collector.lookback,
        max_pages=max_pages,
        now=now,
        spool=spool,
    )
    sr.pages, sr.read, sr.stored = out.pages, out.read, out.stored
    sr.duplicates, sr.quarantined, sr.caught_up, sr.since = (
        out.duplicates,
        out.quarantined,
        out.caught_up,
        out.since,
    )


def _checked_cursor(page: Page, cursor: str | None, seen: set[str]) -> str | None:
    nxt = page.next_cursor
    if not isinstance(page.records, list):
        raise BadResponse("the page's records are not a list")
    if nxt is None:
        return None
    if not isinstance(nxt, str) or not nxt or len(nxt) > MAX_CURSOR:
        raise BadResponse("the next-page cursor is empty, not text, or too long")
    if nxt == cursor or nxt in seen:
        raise BadResponse("pagination loop: the API returned a next-page cursor it had already given")
    seen.add(nxt)
    return nxt


def _commit(
    store: Store, stream: Stream, page: Page, cp: state.Checkpoint, spool: Path, sr: StreamReport, name: str
) -> None:
    """Store the page's records and the checkpoint after it, in one transaction."""
    if not page.records:
        with store.transaction():
            state.save(store, cp)
        return
    path = spool / (re.sub(r"[^A-Za-z0-9_.-]", "_", f"{name}-{stream.instance}")[:120] + ".jsonl")
    with path.open("wb") as fh:
        for record in page.records:
            fh.write(_line(record))
    saved: list[bool] = []

    def checkpoint(s: Store) -> None:
        state.save(s, cp)
        saved.append(True)

    try:
        # keep_copy: the spool folder goes when the run ends; evidence reads the compressed copy
        rep = ingest(store, [path], source=stream.source, before_commit=checkpoint, keep_copy=True)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    if not saved:
        why = rep.unreadable[0].split(": ", 1)[-1] if rep.unreadable else "nothing was stored"
        raise CollectError(f"page {sr.pages} could not be stored ({why}); the checkpoint stays before it")
    sr.read += rep.read
    sr.stored += rep.stored
    sr.duplicates += rep.duplicates
    sr.quarantined += rep.quarantined


def _line(record: Any) -> bytes:
    try:
        return orjson.dumps(record) + b"\n"
    except (TypeError, orjson.JSONEncodeError):  # not JSON-serialisable: quarantined by ingest as text
        return orjson.dumps(str(record)) + b"\n"
