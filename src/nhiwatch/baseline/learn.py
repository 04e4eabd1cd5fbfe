"""Learning every baseline from a trailing window, and showing one integration's learned state.

``learn`` checks its input first (an empty store or a window without events is refused with a clear
message and nothing stored changes), builds one narrow temp table of the window's events with their
local time, then runs the estimators in order inside one transaction. Activity inside a change ticket of the
integration (a backfill, a migration) is left out of the volume, envelope and cadence baselines: it was
planned, not normal, and would otherwise hide the next unplanned burst.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwatch.baseline.contract import Estimator, HistoryWindow
from nhiwatch.baseline.envelope import Envelope
from nhiwatch.baseline.frames import LOCAL, TZ_JOIN, build_regime_days, ensure_views, ts
from nhiwatch.baseline.profile import Profile
from nhiwatch.baseline.values import Values
from nhiwatch.baseline.volume import Volume
from nhiwatch.errors import NhiwatchError
from nhiwatch.store import Store

ESTIMATORS: tuple[Estimator, ...] = (Profile(), Envelope(), Volume(), Values())  # type: ignore[assignment]
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
    n = int(store.scalar(f"SELECT count(*) FROM events e WHERE {window.where()}") or 0)
    if n == 0:
        raise NhiwatchError(
            f"no events attributed to an integration between {window.start:%Y-%m-%d %H:%M} and "
            f"{window.until:%Y-%m-%d %H:%M} UTC: nothing to learn (check --until and the inventory)"
        )
    ensure_tables(store)
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_hist AS
        SELECT e.integration_id, e.time, {LOCAL} AS lt, e.action_class, e.status, e.records,
               CASE WHEN e.traffic_bytes_in IS NULL AND e.traffic_bytes_out IS NULL THEN NULL
                    ELSE coalesce(e.traffic_bytes_in, 0) + coalesce(e.traffic_bytes_out, 0) END AS bytes,
               e.resource_name, lower(e.dst_endpoint_hostname) AS dst_endpoint_hostname, e.metadata_tenant_uid
        FROM events e {TZ_JOIN} WHERE {window.where()}
          AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.integration_id = e.integration_id
                          AND e.time BETWEEN t.start_time AND t.end_time)"""
    )
    rows: dict[str, int] = {}
    store.execute("BEGIN TRANSACTION")
    try:
        for (
            est
        ) in ESTIMATORS:  # state is replaced wholesale, so a store from an older version is upgraded too
            for table in est.tables:
                store.execute(f"DROP TABLE IF EXISTS {table}")
            store.ensure(*est.ddl)
        build_regime_days(store, window.start, window.until)
        for est in ESTIMATORS:
            rows[est.name] = est.learn(store, window)
            if est.name == "profile":  # the learned month end joins the declared bursty days
                build_regime_days(store, window.start, window.until, "baseline_integrations")
        store.execute("COMMIT")
    except Exception:
        store.execute("ROLLBACK")
        raise
    finally:
        store.execute("DROP TABLE IF EXISTS nw_hist")
    states = dict(store.fetchall("SELECT state, count(*) FROM baseline_integrations GROUP BY state"))
    return BaselineSummary(
        window.start, window.until, n, sum(states.values()), states, rows, round(_time.perf_counter() - t0, 3)
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


__all__ = ["DEFAULT_HISTORY_DAYS", "ESTIMATORS", "BaselineSummary", "learn", "learned", "show", "ts"]
