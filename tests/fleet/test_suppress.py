"""The alert stage sets aside what a fleet event explains, after the people's own suppression rules."""

from __future__ import annotations

from datetime import datetime

from nhiwatch.alerts.model import finding_id
from nhiwatch.alerts.suppress import apply, fleet_explanation, make_rule
from nhiwatch.detectors.base import Finding

T = datetime(2026, 3, 26, 15)


def _f(detector: str = "probing", kind: str = "behaviour", **details: object) -> Finding:
    return Finding(detector, "sf-1", T, T, 0.8, "12 failures", "ratio 0.1 %", "s", details=details, kind=kind)  # type: ignore[arg-type]


def test_explained_findings_are_suppressed_by_their_fleet_event() -> None:
    explained = _f(fleet_event="fe-abc", fleet_explained=True)
    context_only = _f("volume_spike", fleet_event="fe-abc", fleet_explained=False)
    plain = _f("cadence_change")
    suppressed, hits = apply([], [explained, context_only, plain], T)
    assert suppressed == {finding_id(explained): "fleet:fe-abc"}
    assert hits == {}


def test_a_rule_wins_over_the_fleet_and_counts_its_hit() -> None:
    rule = make_rule(integration_id="sf-1", detector="probing", reason="known", owner="sec")
    f = _f(fleet_event="fe-abc", fleet_explained=True)
    suppressed, hits = apply([rule], [f], T)
    assert suppressed == {finding_id(f): rule.rule_id} and hits == {rule.rule_id: 1}


def test_only_behaviour_findings_with_an_event_id_are_explained() -> None:
    assert fleet_explanation(_f(kind="posture", fleet_event="fe-abc", fleet_explained=True)) is None
    assert fleet_explanation(_f(fleet_event=None, fleet_explained=True)) is None
    assert fleet_explanation(_f(fleet_event=["fe-abc"], fleet_explained=True)) is None
    assert fleet_explanation(_f(fleet_event="fe-abc", fleet_explained=True)) == "fleet:fe-abc"
