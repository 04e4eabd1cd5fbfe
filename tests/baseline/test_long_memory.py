"""Long memory: a quarter end is compared with the last quarter ends (months back, in the rollups), not with
the recent ordinary weeks — a normal quarter-end export stays quiet, an abnormal one still alerts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from nhiwatch.baseline import learn
from nhiwatch.detectors.volume_spike import DETECTOR
from nhiwatch.store import Store
from tests.detectors.world import World

SCORED = datetime(2026, 9, 28)  # a Monday, the first of the last three business days of a quarter
HISTORY = SCORED - timedelta(days=200)
QUARTER_END_DAYS = {datetime(2026, 3, d) for d in (27, 30, 31)} | {datetime(2026, 6, d) for d in (26, 29, 30)}


def _company(store: Store, scored_records: int) -> World:
    w = World(store)
    w.integration("finance-export", bursty=[{"calendar": "quarter_end", "business_days": 3}])
    day = HISTORY
    while day < SCORED:
        if day.isoweekday() <= 5:
            big = day in QUARTER_END_DAYS
            w.daily(
                "finance-export",
                day,
                1,
                range(9, 17),
                per_hour=4,
                action_class="export",
                records=5000 if big else 100,
            )
        day += timedelta(days=1)
    w.daily(
        "finance-export", SCORED, 1, range(9, 17), per_hour=4, action_class="export", records=scored_records
    )
    w.flush()
    return w


def _findings(w: World) -> list[object]:
    return [
        f
        for f in w.detect(DETECTOR, SCORED, SCORED + timedelta(days=1))
        if f.integration_id == "finance-export"
    ]


def test_the_previous_quarter_ends_are_in_the_bursty_baseline(store: Store) -> None:
    _company(store, 5000)
    learn(store, until=SCORED)
    n = store.scalar(
        "SELECT max(n) FROM baseline_volume WHERE integration_id = 'finance-export' AND regime = 'quarter_end'"
    )
    assert n and n >= 40  # the hours of six quarter-end days, all older than the 35-day window


def test_a_normal_quarter_end_does_not_alert(store: Store) -> None:
    assert _findings(_company(store, 5000)) == []


@pytest.mark.parametrize("records", [500_000])
def test_an_abnormal_quarter_end_still_alerts(store: Store, records: int) -> None:
    found = _findings(_company(store, records))
    assert found and any("records" in str(f.details) for f in found)
