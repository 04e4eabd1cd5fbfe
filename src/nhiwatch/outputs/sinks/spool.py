"""The delivery spool: one row per (sink, alert update) in the store's ``deliveries`` table.

Statuses: ``pending`` (queued), ``retrying`` (failed in a way worth retrying; ``next_attempt`` says when),
``delivered``, ``dead`` (gave up: the attempts ran out or the receiver refused the payload; kept with
``last_error`` until ``nhiwatch deliver --retry``) and ``superseded`` (a newer update of the same alert
replaced it before it went out). The table is created here, by the delivery stage that owns it.
Nothing secret is stored: errors are scrubbed by the sink and redacted again on the way in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nhiwatch.redact import redact, redact_value
from nhiwatch.store import Store

DDL = """CREATE TABLE IF NOT EXISTS deliveries (
    sink VARCHAR NOT NULL, alert_id VARCHAR NOT NULL, update_key VARCHAR NOT NULL, fingerprint VARCHAR,
    status VARCHAR NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error VARCHAR,
    next_attempt TIMESTAMP, remote_id VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP,
    delivered_at TIMESTAMP, PRIMARY KEY (sink, update_key))"""

OPEN_STATUSES = ("pending", "retrying", "dead")


def ensure(store: Store) -> None:
    store.ensure(DDL)


@dataclass(frozen=True)
class Row:
    sink: str
    alert_id: str
    update_key: str
    status: str
    attempts: int
    remote_id: str | None


@dataclass(frozen=True)
class Known:
    """What the spool holds for one sink: every update key, the alerts delivered at least once, the
    remote id of each alert's latest delivery, and the keys not delivered yet per alert."""

    keys: set[str]
    delivered: set[str]
    remote: dict[str, str]
    undelivered: dict[str, set[str]]


def known(store: Store, sink: str) -> Known:
    keys: set[str] = set()
    delivered: set[str] = set()
    remote: dict[str, str] = {}
    undelivered: dict[str, set[str]] = {}
    for key, alert_id, status, remote_id in store.fetchall(
        "SELECT update_key, alert_id, status, remote_id FROM deliveries WHERE sink = ? "
        "ORDER BY delivered_at NULLS FIRST",
        [sink],
    ):
        keys.add(key)
        if status == "delivered":
            delivered.add(alert_id)
            if remote_id:
                remote[alert_id] = remote_id
        elif status in OPEN_STATUSES:
            undelivered.setdefault(alert_id, set()).add(key)
    return Known(keys, delivered, remote, undelivered)


def enqueue(
    store: Store,
    sink: str,
    new: Sequence[tuple[str, str, str]],
    stale: Sequence[tuple[str, str]],
    now: datetime,
) -> None:
    """Queue ``new`` (alert id, update key, fingerprint) and mark ``stale`` (alert id, current update key)
    superseded: every undelivered row of that alert with another key."""
    with store.transaction():
        for alert_id, key in stale:
            store.execute(
                "UPDATE deliveries SET status = 'superseded', updated_at = ? WHERE sink = ? AND alert_id = ? "
                "AND update_key <> ? AND status IN ('pending', 'retrying', 'dead')",
                [now, sink, alert_id, key],
            )
        store.insert_rows(
            "deliveries",
            [
                "sink",
                "alert_id",
                "update_key",
                "fingerprint",
                "status",
                "attempts",
                "created_at",
                "updated_at",
            ],
            [(sink, a, k, f, "pending", 0, now, now) for a, k, f in new],
        )


def due(store: Store, sink: str, now: datetime, *, include_dead: bool = False) -> list[Row]:
    """Rows to attempt now: pending, retrying whose time has come, and with ``include_dead`` the dead."""
    statuses = ["pending", "retrying", *(["dead"] if include_dead else [])]
    rows = store.fetchall(
        "SELECT sink, alert_id, update_key, status, attempts, remote_id FROM deliveries WHERE sink = ? "
        "AND status IN (SELECT unnest(?::VARCHAR[])) AND (status <> 'retrying' OR next_attempt IS NULL "
        "OR next_attempt <= ?) ORDER BY created_at, update_key",
        [sink, statuses, now],
    )
    return [Row(*r) for r in rows]


def record(
    store: Store,
    sink: str,
    key: str,
    *,
    status: str,
    attempts: int,
    now: datetime,
    error: str | None = None,
    next_attempt: datetime | None = None,
    remote_id: str | None = None,
) -> None:
    store.execute(
        "UPDATE deliveries SET status = ?, attempts = ?, last_error = ?, next_attempt = ?, "
        "remote_id = coalesce(?, remote_id), updated_at = ?, "
        "delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END "
        "WHERE sink = ? AND update_key = ?",
        [
            status,
            attempts,
            redact(error) if error else None,
            next_attempt,
            remote_id,
            now,
            status,
            now,
            sink,
            key,
        ],
    )


def for_alert(store: Store, alert_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The delivery rows of one alert, newest first per sink (for the API and the console)."""
    if not store.table_exists("deliveries"):
        return []
    rows = store.records(
        "SELECT sink, status, attempts, last_error, next_attempt, delivered_at, updated_at, update_key "
        "FROM deliveries WHERE alert_id = ? ORDER BY sink, created_at DESC, update_key LIMIT ?",
        [alert_id, limit],
    )
    return [dict(redact_value(r)) for r in rows]


def summary(store: Store) -> list[dict[str, Any]]:
    """Rows per sink and status (for ``nhiwatch deliver --status``)."""
    if not store.table_exists("deliveries"):
        return []
    return store.records(
        "SELECT sink, status, count(*) AS n, max(updated_at) AS last FROM deliveries "
        "GROUP BY sink, status ORDER BY sink, status"
    )
