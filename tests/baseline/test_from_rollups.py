"""Baselines learned from rollups keep what the events say: failure runs that cross hours, the polling
period across hour boundaries, per-operation sizes, and no learning step reads the raw events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nhiwatch import rollups
from nhiwatch.baseline import learn
from nhiwatch.store import Store
from tests.detectors.world import T0, World

UNTIL = T0 + timedelta(days=30)


def _profile(store: Store, integ: str) -> dict[str, object]:
    return store.records("SELECT * FROM baseline_integrations WHERE integration_id = ?", [integ])[0]


def test_failure_run_across_three_hours_is_one_run(store: Store) -> None:
    w = World(store)
    w.integration("flaky")
    day = T0 + timedelta(days=10)
    w.every("flaky", T0, day, timedelta(hours=1), status="Success")
    w.every("flaky", day + timedelta(days=1), UNTIL, timedelta(hours=1), status="Success")
    # success 10:50, then failures 10:55 .. 12:05 (every 5 min: 15 of them), success again at 12:10
    w.event("flaky", day.replace(hour=10, minute=50), status="Success")
    for k in range(15):
        w.event("flaky", day.replace(hour=10, minute=55) + timedelta(minutes=5 * k), status="Failure")
    w.event("flaky", day.replace(hour=12, minute=10), status="Success")
    # and a run of 2 inside one hour on another day
    other = T0 + timedelta(days=20)
    w.event("flaky", other.replace(hour=9, minute=10), status="Success")
    w.event("flaky", other.replace(hour=9, minute=20), status="Failure")
    w.event("flaky", other.replace(hour=9, minute=21), status="Failure")
    w.event("flaky", other.replace(hour=9, minute=30), status="Success")
    w.flush()
    learn(store, until=UNTIL)
    p = _profile(store, "flaky")
    assert p["fail_run_max"] == 15
    assert p["failure_ratio"] == pytest.approx(17 / store.scalar("SELECT count(*) FROM events"))


def test_polling_period_across_hours(store: Store) -> None:
    w = World(store)
    w.integration("poller", every="25m")
    w.every("poller", T0, UNTIL, timedelta(minutes=25))
    w.flush()
    learn(store, until=UNTIL)
    p = _profile(store, "poller")
    assert p["period_s"] == 1500 and p["period_mad_s"] == 0


def test_per_operation_sizes_from_histograms(store: Store) -> None:
    w = World(store)
    w.integration("exporter")
    w.daily("exporter", T0, 30, range(9, 17), per_hour=2, action_class="export", records=5000)
    w.flush()
    learn(store, until=UNTIL)
    row = store.records(
        "SELECT * FROM baseline_volume WHERE integration_id = 'exporter' AND metric = 'records_per_op'"
    )[0]
    # a fixed page size sits alone in its bucket: exact
    assert row["med"] == 5000 and row["p99"] == 5000 and row["max"] == 5000 and row["sigma"] == 0


def test_learning_reads_no_raw_events(store: Store) -> None:
    w = World(store)
    w.integration("poller", every="15m")
    w.every("poller", T0, UNTIL, timedelta(minutes=15))
    w.flush()
    rollups.advance(store)
    # Hide the raw events: learning must still produce the same state from the rollups alone.
    store.execute("ALTER TABLE events RENAME TO events_hidden")
    store.execute("CREATE TABLE events AS SELECT * FROM events_hidden LIMIT 1")  # non-empty, wrong data
    learn(store, until=UNTIL)
    assert _profile(store, "poller")["period_s"] == 900
    assert _profile(store, "poller")["events"] == store.scalar("SELECT count(*) FROM events_hidden")
