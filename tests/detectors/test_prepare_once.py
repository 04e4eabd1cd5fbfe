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
