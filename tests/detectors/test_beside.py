"""A step's detectors run on two connections at once (``run_detection(..., other=...)``, the server's
micro-batches): the same findings as one after the other, and the detectors that read the fleet context
(found and stored once per step) stay on the step's own connection."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nhiwatch import detection
from nhiwatch.alerts.config import default_config
from nhiwatch.baseline import learn
from nhiwatch.detectors.base import Finding
from nhiwatch.detectors.registry import all_detectors
from nhiwatch.errors import NhiwatchError
from nhiwatch.store import Store
from tests.detectors.cases import CASES, Case
from tests.detectors.world import World

SRC = Path(detection.__file__).parent / "detectors"


def fleet_readers() -> set[str]:
    out = set()
    for name in all_detectors():
        text = (SRC / f"{name}.py").read_text()
        if re.search(r"nhiwatch\.fleet|nhiwatch\.detectors\._volume", text):
            out.add(name)
    return out


def test_every_detector_that_reads_the_fleet_runs_on_the_steps_own_connection() -> None:
    assert fleet_readers() == detection.FLEET_READERS


def canon(f: Finding) -> tuple[object, ...]:
    return (
        f.detector,
        f.integration_id,
        f.first_seen,
        f.last_seen,
        f.observed,
        f.expected,
        round(f.deviation, 9),
    )


# one positive case per detector: each finds something, so a detector that lost its tables would show
# (off_hours's scores weeks step by step: 20 s for what dormant_reactivation's case covers, nw_allowed)
POSITIVE = [
    c for c in {c.detector: c for c in CASES if c.kind == "positive"}.values() if c.detector != "off_hours"
]


FIRED: set[str] = set()


@pytest.mark.parametrize("c", POSITIVE, ids=[c.detector for c in POSITIVE])
def test_two_connections_find_what_one_finds(c: Case, store: Store) -> None:
    w = World(store)
    since, until = c.build(w)
    w.flush()
    cfg = default_config().model_copy(deep=True)
    cfg.params[c.detector] = dict(c.params)

    def learner(s: Store, t: datetime, _days: int) -> None:
        with contextlib.suppress(NhiwatchError):  # no history at all: judged on declarations alone
            learn(s, until=t, history_days=35)

    one = detection.run_detection(store, since, until, cfg, learner=learner)
    other = store.on_cursor()
    try:
        two = detection.run_detection(store, since, until, cfg, learner=learner, other=other)
    finally:
        other.close()
    assert not one.errors and not two.errors
    assert sorted(canon(f) for f in two.findings) == sorted(canon(f) for f in one.findings)
    FIRED.update(f.detector for f in one.findings)
    assert {a.alert_id for a in two.alerts} == {a.alert_id for a in one.alerts}
    assert timedelta(0) < until - since


def test_the_cases_made_both_connections_find_something() -> None:
    # runs after the cases in this module (same worker with --dist loadfile): a comparison of two empty
    # lists would prove nothing, so most detectors, on both connections, must have fired in them
    if not FIRED:
        pytest.skip("run with the cases above")
    assert len(FIRED & detection.FLEET_READERS) >= 3
    assert len(FIRED - detection.FLEET_READERS) >= 6
