"""Learning every baseline from a trailing window, and showing one integration's learned state.

``learn`` checks its input first (an empty store or a window without events is refused with a clear
message and nothing stored changes), brings the rollups up to date (:mod:`nhiwatch.rollups`), takes the
window's hourly rollups with their local time and the business calendar (:mod:`.calendar`), then runs the
estimators in order inside one transaction: the calendar regimes first (:mod:`.regimes`), whose days the
volume baseline learns apart.
Estimators read rollups only, never raw events: a daily run costs what the window's summaries cost, not
what the history's events would. Hours that overlap a change ticket of the integration (a backfill, a
migration) are left out of the volume, envelope and cadence baselines: that work was planned, not normal,
and would otherwise hide the next unplanned burst.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwatch import rollups
from nhiwatch.baseline.calendar import build_calendar, build_regime_days
from nhiwatch.baseline.contract import Estimator, HistoryWindow
from nhiwatch.baseline.envelope import Envelope
from nhiwatch.baseline.frames import TZ_JOIN, ensure_views, ts
from nhiwatch.baseline.profile import Profile
from nhiwatch.baseline.regimes import LONG_MEMORY_DAYS, Regimes
from nhiwatch.baseline.values import Values
from nhiwatch.baseline.volume import Volume
from nhiwatch.errors import NhiwatchError
from nhiwatch.store import Store

ESTIMATORS: tuple[Estimator, ...] = (Regimes(), Profile(), Envelope(), Volume(), Values())  # type: ignore[assignment]
DEFAULT_HISTORY_DAYS = 35.0


@dataclass(frozen=True)
class BaselineSummary:
    start: datetime
    until: datetime
    events: int
    integrations: int
    states: dict[str, int]
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def ensure_tables(store: Store) -> None:
    for est in ESTIMATORS:
        store.ensure(*est.ddl)


def learned(store: Store) -> bool:
    return store.table_exists("baseline_integrations") and bool(
        store.scalar("SELECT count(*) FROM baseline_integrations")
    )


def learn(
    store: Store, until: datetime | None = None, history_days: float = DEFAULT_HISTORY_DAYS
) -> BaselineSummary:
    """Learn every estimator from ``[until - history_days, until)``; ``until`` defaults to just after the
    latest event. Raises :class:`NhiwatchError` on an empty store or a window with no resolved events."""
    t0 = _time.perf_counter()
    if history_days <= 0:
        raise NhiwatchError(f"history must be a positive number of days, got {history_days}")
    if store.event_count() == 0:
        raise NhiwatchError("the store holds no events: run `nhiwatch ingest` first")
    if until is None:
        latest = store.scalar("SELECT max(time) FROM events")
        until = latest + timedelta(microseconds=1)
    until = until if until.tzinfo is None else until.astimezone(UTC).replace(tzinfo=None)
    window = HistoryWindow.ending(until, history_days)
    ensure_views(store)
    rollups.advance(store)
    n = int(
        store.scalar(
            "SELECT sum(events) FROM rollup_hourly WHERE hour >= ? AND hour < ? AND action_class = '*'"
            " AND status = '*'",
            [window.start, window.until],
        )
        or 0
    )
    if n == 0:
        raise NhiwatchError(
            f"no events attributed to an integration between {window.start:%Y-%m-%d %H:%M} and "
            f"{window.until:%Y-%m-%d %H:%M} UTC: nothing to learn (check --until and the inventory)"
        )
    ensure_tables(store)
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_hours AS
        SELECT e.*, timezone(coalesce(z.tz, 'UTC'), e.hour::TIMESTAMPTZ) AS lt
        FROM rollup_hourly e {TZ_JOIN}
        WHERE e.hour >= {ts(window.start)} AND e.hour < {ts(window.until)} AND e.status = '*'
          AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.integration_id = e.integration_id
                          AND t.start_time < e.hour + INTERVAL 1 HOUR AND t.end_time >= e.hour)"""
    )
    # Size histograms are kept per UTC day: the day stands for the local day, and a day that overlaps a
    # change ticket is left out whole.
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_sizes AS
        SELECT s.*, CAST(s.day AS TIMESTAMP) AS lt FROM rollup_sizes s
        WHERE s.day >= CAST(? AS DATE) AND s.day < ?
          AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.integration_id = s.integration_id
                          AND t.start_time < s.day + INTERVAL 1 DAY AND t.end_time >= s.day)""",
        [window.start, window.until],
    )
    rows: dict[str, int] = {}
    try:
        with store.transaction():
            for (
                est
            ) in ESTIMATORS:  # state is replaced wholesale: a store from an older version is upgraded too
                for table in est.tables:
                    store.execute(f"DROP TABLE IF EXISTS {table}")
                store.ensure(*est.ddl)
            long_start = window.until - timedelta(days=max(LONG_MEMORY_DAYS, history_days))
            build_calendar(store, long_start, window.until)
            for est in ESTIMATORS:
                rows[est.name] = est.learn(store, window)
                if est.name == "regimes":  # the learned regimes join the declared bursty days
                    build_regime_days(store, "baseline_regimes")
                    _bursty_hours(store, long_start, window.until)
    finally:
        for table in ("nw_hours", "nw_sizes", "nw_bursty_hours", "nw_bursty_sizes"):
            store.execute(f"DROP TABLE IF EXISTS {table}")
    states = dict(store.fetchall("SELECT state, count(*) FROM baseline_integrations GROUP BY state"))
    return BaselineSummary(
        window.start, window.until, n, sum(states.values()), states, rows, round(_time.perf_counter() - t0, 3)
    )


def _bursty_hours(store: Store, start: datetime, until: datetime) -> None:
    """Temp tables ``nw_bursty_hours`` and ``nw_bursty_sizes``: the hourly and size rollups of every
    bursty-by-design local day (declared windows, learned regimes) over the long memory, with the day's
    regime, change-ticket hours (days, for sizes) left out."""
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_bursty_hours AS
        SELECT h.*, r.regime FROM (
          SELECT e.*, timezone(coalesce(z.tz, 'UTC'), e.hour::TIMESTAMPTZ) AS lt
          FROM rollup_hourly e {TZ_JOIN}
          WHERE e.hour >= ? AND e.hour < ? AND e.status = '*'
            AND e.integration_id IN (SELECT integration_id FROM nw_regime_days)
            AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.integration_id = e.integration_id
                            AND t.start_time < e.hour + INTERVAL 1 HOUR AND t.end_time >= e.hour)) h
        JOIN nw_regime_days r ON r.integration_id = h.integration_id AND r.d = CAST(h.lt AS DATE)""",
        [start, until],
    )
    store.execute(
        """CREATE OR REPLACE TEMP TABLE nw_bursty_sizes AS
        SELECT s.*, CAST(s.day AS TIMESTAMP) AS lt, r.regime FROM rollup_sizes s
        JOIN nw_regime_days r ON r.integration_id = s.integration_id AND r.d = s.day
        WHERE s.day >= CAST(? AS DATE) AND s.day < ?
          AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.integration_id = s.integration_id
                          AND t.start_time < s.day + INTERVAL 1 DAY AND t.end_time >= s.day)""",
        [start, until],
    )


def show(store: Store, integration_id: str) -> dict[str, Any]:
    """One integration's declared facts and learned state, as JSON-able data."""
    if not learned(store):
        raise NhiwatchError("no baseline has been learned yet: run `nhiwatch baseline` first")
    known = store.scalar(
        "SELECT count(*) FROM baseline_integrations WHERE integration_id = ?", [integration_id]
    )
    if not known:
        hint = store.fetchall(
            "SELECT integration_id FROM baseline_integrations WHERE contains(integration_id, ?) LIMIT 5",
            [integration_id],
        )
        extra = f" (did you mean {', '.join(h[0] for h in hint)}?)" if hint else ""
        raise NhiwatchError(f"unknown integration {integration_id!r}{extra}")
    out: dict[str, Any] = {"integration_id": integration_id}
    for est in ESTIMATORS:
        out[est.name] = est.show(store, integration_id)
    return out


__all__ = [
    "DEFAULT_HISTORY_DAYS",
    "ESTIMATORS",
    "LONG_MEMORY_DAYS",
    "BaselineSummary",
    "learn",
    "learned",
    "show",
    "ts",
]
