"""Vendor changes become one low-severity alert per vendor; anything else on the integration keeps its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from nhiwatch.alerts.build import build_alerts
from nhiwatch.alerts.config import default_config
from nhiwatch.alerts.group import group_findings
from nhiwatch.detectors.registry import all_detectors
from nhiwatch.store import Store
from tests.alerts.helpers import T0, finding
from tests.detectors.cases import DAY, SINCE, business
from tests.detectors.cases.change import OPS, _history
from tests.detectors.world import World

GAP = timedelta(hours=6)


def _change(integ: str, vendor: str | None, at: datetime = T0) -> object:
    f = finding(integ, "new_network", at=at, deviation=0.2)
    return replace(f, details={"change": "vendor_change", "vendor": vendor})


def test_sdk_upgrade_across_five_integrations_is_one_low_alert(store: Store) -> None:
    w = World(store)
    for i in range(5):
        _history(w, f"zap-{i}", vendor="Zapier")
        business(w, f"zap-{i}", start=SINCE, days=1, http_request_user_agent="Zapier/2.0", **OPS)
    det = all_detectors()["new_network"]
    findings = w.detect(det, SINCE, SINCE + DAY)
    assert len(findings) == 5 and all(f.details["change"] == "vendor_change" for f in findings)
    built = build_alerts(
        store, findings, {"new_network": det.meta}, default_config(), run_id="r", now=SINCE + 2 * DAY
    )
    assert len(built.alerts) == 1
    alert = built.alerts[0]
    assert alert.severity == "low"
    assert alert.title.startswith("Vendor change at Zapier: 5 integrations")
    assert all(f"zap-{i}" in alert.title for i in range(5))
    assert len(alert.finding_ids) == 5


def test_the_same_upgrade_at_two_vendors_is_two_alerts() -> None:
    fs = [_change(f"a{i}", "Zapier") for i in range(3)] + [_change(f"b{i}", "Gong") for i in range(3)]
    groups = group_findings(fs, GAP)
    assert sorted(len(g) for g in groups) == [3, 3]
    assert all(len({f.details["vendor"] for f in g}) == 1 for g in groups)


def test_a_staged_rollout_over_five_days_is_one_alert() -> None:
    steps = [0, 40, 80, 120]  # hours: each region a day and a half after the last
    fs = [_change(f"s{i}", "Snyk", T0 + timedelta(hours=h)) for i, h in enumerate(steps)]
    assert [len(g) for g in group_findings(fs, GAP)] == [4]


def test_a_rollout_over_two_days_is_one_alert_a_week_later_another() -> None:
    fs = [_change("a", "Zapier"), _change("b", "Zapier", T0 + timedelta(hours=20))]
    fs.append(_change("c", "Zapier", T0 + timedelta(days=8)))
    assert [len(g) for g in group_findings(fs, GAP)] == [2, 1]


def test_a_vendor_change_next_to_other_findings_stays_with_its_integration() -> None:
    """Look-alike: the change explains nothing else the integration did; it must not leave that episode."""
    burst = finding("a", "volume_spike", at=T0 + timedelta(hours=1), deviation=0.9)
    fs = [_change("a", "Zapier"), _change("b", "Zapier"), _change("c", "Zapier"), burst]
    groups = group_findings(fs, GAP)
    by_integ = {frozenset(f.integration_id for f in g): g for g in groups}
    assert set(by_integ) == {frozenset({"a"}), frozenset({"b", "c"})}
    assert {f.detector for f in by_integ[frozenset({"a"})]} == {"new_network", "volume_spike"}


def test_findings_without_the_change_mark_are_grouped_per_integration() -> None:
    fs = [finding(f"x{i}", "new_network", at=T0) for i in range(4)]
    assert len(group_findings(fs, GAP)) == 4
