"""What a vendor collector provides: streams that fetch one page of a time window at a time.

A vendor module (``sources/<vendor>/collector.py``) builds a :class:`Collector` from settings (non-secret,
from the command line, the environment or the config) and credentials (environment or secret files only,
:mod:`.secrets`). Each :class:`Stream` knows one API listing: given a window and the cursor of the page to
read (None for the first), it returns the page's records, in the shape the vendor's file export has, and
the cursor of the next page (None when the window is read). Everything else (windows, checkpoints,
spooling into ingest, crash recovery) is the runner's (:mod:`.runner`), the same for every vendor.
Sources that are listings of objects rather than time-ordered pages (S3 buckets, Salesforce log files)
provide a :class:`~.feeds.Feed` instead of a :class:`Stream`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from nhiwatch.sources.collect.feeds import Feed
from nhiwatch.sources.collect.http import HttpClient
from nhiwatch.sources.collect.secrets import Secret, scrub


@dataclass(frozen=True)
class Window:
    """Events published in [start, end] (both inclusive for vendors whose filters are; overlap is free)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Page:
    records: list[Any]
    next_cursor: str | None


class Stream(Protocol):
    instance: str  # distinguishes streams of one collector in collector_state
    source: str  # the file source its records are ingested as, e.g. "okta.system_log"
    overlap: timedelta  # each window starts this much before the last one ended: late events are caught
    max_window: timedelta | None  # backfills read in windows this long (None: one window to now)

    def fetch(self, http: HttpClient, window: Window, cursor: str | None) -> Page:
        """One page of ``window``: the first when ``cursor`` is None."""
        ...


@dataclass
class Collector:
    name: str
    http: HttpClient | None  # None for collectors that speak through an SDK (boto3) and read feeds only
    streams: Sequence[Stream | Feed]
    lookback: timedelta = timedelta(days=1)  # a first run without --since reads this far back
    on_close: list[Callable[[], None]] = field(default_factory=list)
    secrets: Sequence[Secret | str | None] = ()  # masked in messages besides the HTTP client's own

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
        for fn in self.on_close:
            fn()

    def scrub(self, text: str) -> str:
        """``text`` with every credential of this collector masked."""
        if self.http is not None:
            text = self.http.scrub(text)
        return scrub(text, self.secrets)


MAX_CURSOR = 16 * 1024  # a cursor or next link longer than this is not one


def iso(t: datetime) -> str:
    """UTC time as the APIs take it: ``2026-11-30T18:00:00Z`` (milliseconds when there are any)."""
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += f".{t.microsecond // 1000:03d}"
    return text + "Z"
