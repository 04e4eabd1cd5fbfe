"""Collector checkpoints: the ``collector_state`` table, one row per collector stream.

A row says how far a stream is read: ``since`` (everything published before it is stored), the window
being read now (``window_start`` .. ``window_end``) and the vendor's ``cursor`` for the next page of that
window. The runner writes the row inside the transaction that stores the page's events, so after a
crash the checkpoint and the events agree: the next run asks for the page after the last one stored
(at-least-once delivery; ``metadata_uid`` de-duplication makes it exactly-once in the store).
``last_error`` is written in its own transaction and never moves the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from nhiwatch.store import Store

DDL = """CREATE TABLE IF NOT EXISTS collector_state (
    source VARCHAR NOT NULL, instance VARCHAR NOT NULL,
    since TIMESTAMP, window_start TIMESTAMP, window_end TIMESTAMP, cursor VARCHAR,
    pages BIGINT DEFAULT 0, records BIGINT DEFAULT 0,
    last_success TIMESTAMP, last_error VARCHAR, last_error_at TIMESTAMP, lag_seconds DOUBLE,
    updated_at TIMESTAMP)"""

COLUMNS = (
    "source",
    "instance",
    "since",
    "window_start",
    "window_end",
    "cursor",
    "pages",
    "records",
    "last_success",
    "last_error",
    "last_error_at",
    "lag_seconds",
    "updated_at",
)


@dataclass(frozen=True)
class Checkpoint:
    source: str  # collector name, e.g. "okta"
    instance: str  # the stream within it, e.g. the org host or "signIns.servicePrincipal"
    since: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    cursor: str | None = None
    pages: int = 0
    records: int = 0
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    lag_seconds: float | None = None
    updated_at: datetime | None = None

    @property
    def in_window(self) -> bool:
        return self.window_start is not None and self.window_end is not None

    def evolve(self, **changes: Any) -> Checkpoint:
        return replace(self, **changes)


def ensure(store: Store) -> None:
    store.ensure(DDL)


def load(store: Store, source: str, instance: str) -> Checkpoint:
    ensure(store)
    rows = store.records(
        f"SELECT {', '.join(COLUMNS)} FROM collector_state WHERE source = ? AND instance = ?",
        [source, instance],
    )
    return Checkpoint(**rows[0]) if rows else Checkpoint(source, instance)


def save(store: Store, cp: Checkpoint) -> None:
    """Replace the stream's row; call inside the transaction that stores the events it accounts for."""
    store.execute("DELETE FROM collector_state WHERE source = ? AND instance = ?", [cp.source, cp.instance])
    store.execute(
        f"INSERT INTO collector_state ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
        [getattr(cp, c) for c in COLUMNS],
    )


def record_error(store: Store, source: str, instance: str, message: str, at: datetime) -> None:
    """Note a failed run; the checkpoint stays where the last stored page left it."""
    with store.transaction():
        cp = load(store, source, instance)
        save(store, cp.evolve(last_error=message[:2000], last_error_at=at, updated_at=at))


def all_states(store: Store) -> list[Checkpoint]:
    if not store.table_exists("collector_state"):
        return []
    rows = store.records(f"SELECT {', '.join(COLUMNS)} FROM collector_state ORDER BY source, instance")
    return [Checkpoint(**r) for r in rows]
