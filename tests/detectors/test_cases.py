"""The shared harness: every detection's positive, negative and cold-start cases (see ``cases.py``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nhiwatch.detectors.registry import all_detectors
from nhiwatch.store import Store
from tests.detectors.cases import CASES, Case
from tests.detectors.world import World


@pytest.mark.parametrize("c", CASES, ids=[f"{c.detector}-{c.kind}-{c.name}" for c in CASES])
def test_case(c: Case, store: Store) -> None:
    w = World(store)
    since, until = c.build(w)
    findings = w.detect(all_detectors()[c.detector], since, until, params={c.detector: c.params})
    assert c.expect(findings), [(f.observed, f.expected, dict(f.details)) for f in findings]
    for f in findings:
        assert f.detector == c.detector and 0 <= f.deviation <= 1
        assert f.first_seen <= f.last_seen
        assert len(f.evidence) <= 20
        assert f.observed and f.expected and f.summary


def test_every_detector_has_positive_negative_and_cold_start_cases() -> None:
    kinds: dict[str, set[str]] = {}
    for c in CASES:
        kinds.setdefault(c.detector, set()).add(c.kind)
    missing = {d: {"positive", "negative", "cold_start"} - kinds.get(d, set()) for d in all_detectors()}
    assert not {d: m for d, m in missing.items() if m}


def test_run_all_names_covering_tickets(store: Store) -> None:
    from nhiwatch.baseline import learn
    from nhiwatch.detectors.base import DetectContext
    from nhiwatch.detectors.registry import run_all
    from tests.detectors.cases import SINCE
    from tests.detectors.cases.volume import _burst

    w = World(store)
    _burst(w)
    # the burst (15:00-15:30 local) runs just past its ticket: scored, and the ticket is named
    w.ticket("CHG-7", SINCE, w.local("crm-sync", SINCE, 14, 45), "crm-sync", "planned backfill")
    w.flush()
    learn(store, until=SINCE)
    findings = run_all(DetectContext(store, SINCE, SINCE + timedelta(days=1)))
    behaviour = [f for f in findings if f.kind == "behaviour"]
    assert behaviour and all(f.details["ticket_id"] == "CHG-7" for f in behaviour)
