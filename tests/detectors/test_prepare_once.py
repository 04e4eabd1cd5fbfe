"""The tables every detector joins (time zones, baselines, the business calendar) are built once per scored
step and shared, not rebuilt by each of the sixteen detectors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from nhiwatch.detection import run_detection
from nhiwatch.detectors import _common
from nhiwatch.store import Store
from tests.detectors.cases import SINCE
from tests.detectors.cases.volume import _burst
from tests.detectors.world import World


def test_one_scored_step_builds_the_calendar_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    w = World(store)
    _burst(w)
    w.flush()
    built: list[tuple[Any, ...]] = []
    real = _common.build_calendar
    monkeypatch.setattr(_common, "build_calendar", lambda *a: built.append(a) or real(*a))
    result = run_detection(store, SINCE, SINCE + timedelta(days=1))
    assert not result.errors
    assert result.alerts  # the burst is still found with the shared tables
    assert len(built) == 1  # one step, one calendar (sixteen before)
    # a second run (a new step) prepares again: its window and learned regimes may differ
    run_detection(store, SINCE + timedelta(hours=12), SINCE + timedelta(days=1))
    assert len(built) == 2


@pytest.fixture
def burst(store: Store) -> Store:
    """A store holding the volume cases' burst: volume, hours and novelty detectors all have work."""
    w = World(store)
    _burst(w)
    w.flush()
    return store


def test_the_volume_hours_and_allowed_hours_are_built_once_per_step(
    burst: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = burst
    built: list[str] = []
    real = Store.execute

    def spy(self: Store, sql: str, params: Any = None) -> Any:
        for table in ("nw_volume_hours", "nw_allowed"):
            if f"CREATE OR REPLACE TEMP TABLE {table} " in sql:
                built.append(table)
        return real(self, sql, params)

    monkeypatch.setattr(Store, "execute", spy)
    result = run_detection(store, SINCE, SINCE + timedelta(days=1))
    assert not result.errors
    assert {d for a in result.alerts for d in a.detectors} >= {"volume_spike", "unticketed_burst"}
    # read by volume_spike and unticketed_burst, by off_hours and dormant_reactivation: built once each
    assert sorted(built) == ["nw_allowed", "nw_volume_hours"]
    run_detection(store, SINCE + timedelta(hours=12), SINCE + timedelta(days=1))
    assert sorted(built) == ["nw_allowed", "nw_allowed", "nw_volume_hours", "nw_volume_hours"]


def test_shared_work_that_failed_is_done_again_by_the_next_detector(
    burst: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = burst
    from nhiwatch.detectors import _volume

    real, calls = _volume.build_backlog, []

    def flaky(ctx: Any) -> None:
        calls.append(ctx)
        if len(calls) == 1:
            raise RuntimeError("disk hiccup")
        real(ctx)

    monkeypatch.setattr(_volume, "build_backlog", flaky)
    result = run_detection(store, SINCE, SINCE + timedelta(days=1))
    assert len(result.errors) == 1 and "disk hiccup" in result.errors[0]  # the first of the two failed
    assert len(calls) == 2  # the second built the hours itself instead of reading a missing or stale table
    assert {d for a in result.alerts for d in a.detectors} & {"volume_spike", "unticketed_burst"}
