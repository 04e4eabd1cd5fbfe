"""Retention: raw events are kept for weeks, their rollups for a year and more.

Learning and detection read the rollups for history (:mod:`nhiwatch.rollups`), so raw events are only
needed for the window being scored, for evidence and for re-attribution after an inventory change.
:func:`prune` deletes raw events older than ``raw_days`` (default 35) — except the evidence of every alert
an analyst has not closed as benign, which stays as long as its alert — and rollups older than
``rollup_days`` (default 400, enough for a year-end to be compared with the last one). Before it deletes
anything it folds every stored event into the rollups and records the raw horizon, so nothing pruned is
forgotten and a late event for a pruned hour is added to, not recounted over, what the rollups hold.
The compressed copies kept of pushed bodies (:mod:`nhiwatch.raw_copies`) go once none of their events is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from nhiwatch import raw_copies, rollups
from nhiwatch.errors import NhiwatchError
from nhiwatch.pipeline import attribute
from nhiwatch.store import Store

DEFAULT_RAW_DAYS = 35
DEFAULT_ROLLUP_DAYS = 400


@dataclass(frozen=True)
class PruneReport:
    raw_before: datetime
    rollups_before: datetime
    events_deleted: int
    evidence_kept: int
    rollup_rows_deleted: int
    copies_deleted: int = 0


def prune(
    store: Store,
    *,
    raw_days: float = DEFAULT_RAW_DAYS,
    rollup_days: float = DEFAULT_ROLLUP_DAYS,
    now: datetime | None = None,
) -> PruneReport:
    """Delete raw events older than ``raw_days`` and rollups older than ``rollup_days`` (from ``now``,
    naive UTC, default the latest event)."""
    if raw_days < 1 or rollup_days < 1:
        raise NhiwatchError("retention must be at least one day for raw events and for rollups")
    if rollup_days < raw_days:
        raise NhiwatchError(
            f"rollups ({rollup_days:g} days) must be kept at least as long as raw events ({raw_days:g} days)"
        )
    rollups.ensure_tables(store)
    attribute(store)  # everything stored is resolved and folded before any of it goes
    if now is None:
        now = store.scalar("SELECT max(time) FROM events") or datetime.utcnow()
    # Whole days, so a day of day-grain rollups is either recountable from raw events or wholly kept.
    raw_before = (now - timedelta(days=raw_days)).replace(hour=0, minute=0, second=0, microsecond=0)
    rollups_before = (now - timedelta(days=rollup_days)).replace(hour=0, minute=0, second=0, microsecond=0)
    kept_evidence = (
        "SELECT uid FROM (SELECT DISTINCT unnest(evidence) AS uid FROM alerts"
        " WHERE coalesce(status, 'open') <> 'benign') WHERE uid IS NOT NULL"  # NOT IN with a NULL keeps all
        if store.table_exists("alerts")
        else "SELECT NULL::VARCHAR AS uid WHERE false"
    )
    with store.transaction():
        rollups.set_raw_horizon(store, raw_before)
        kept = int(
            store.scalar(
                f"SELECT count(*) FROM events WHERE time < ? AND metadata_uid IN ({kept_evidence})",
                [raw_before],
            )
            or 0
        )
        deleted = store.execute(
            f"DELETE FROM events WHERE time < ? AND metadata_uid NOT IN ({kept_evidence})", [raw_before]
        ).fetchall()[0][0]
        gone = 0
        for table, col in (
            ("rollup_hourly", "hour"),
            ("rollup_sizes", "day"),
            ("rollup_values", "day"),
            ("rollup_lifecycle", "time"),
        ):
            gone += store.execute(f"DELETE FROM {table} WHERE {col} < ?", [rollups_before]).fetchall()[0][0]
    copies = raw_copies.prune(store)  # after the commit: a copy goes only once its events are gone for good
    store.execute("CHECKPOINT")  # hand the freed blocks back to the file
    return PruneReport(raw_before, rollups_before, int(deleted), kept, gone, copies)


__all__ = ["DEFAULT_RAW_DAYS", "DEFAULT_ROLLUP_DAYS", "PruneReport", "prune"]
