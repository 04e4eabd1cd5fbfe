"""run_detection with hand-made findings: alerts stored, stable ids, explanations, suppression, triage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nhiwatch.alerts import tables
from nhiwatch.alerts.suppress import add_rule, make_rule
from nhiwatch.alerts.triage import triage
from nhiwatch.detection import run_detection
from nhiwatch.errors import ConfigError, NhiwatchError, NotFoundError
from nhiwatch.store import Store
from tests.alerts.helpers import T0, add_ticket, detect, finding, integration, setup_store

NOW = T0 + timedelta(days=3)


@pytest.fixture
def crm(store: Store) -> Store:
    setup_store(
        store,
        [
            integration("crm-sync", risk_tier="high", data_sensitivity="confidential"),
            integration("ci-bot", owner=None, purpose=None),
        ],
    )
    return store


def test_alerts_grouped_scored_explained_and_stored(crm: Store) -> None:
    fs = [
        finding(deviation=0.7),
        finding(detector="new_destination", at=T0 + timedelta(days=1, hours=4), hosts=["webhook.site"]),
        finding("ci-bot", detector="ownerless"),
    ]
    r = detect(crm, fs)
    assert len(r.alerts) == 1 and len(r.posture) == 1
    a = r.alerts[0]
    assert a.detectors == ["new_destination", "volume_spike"]
    assert a.first_seen == fs[0].first_seen and a.last_seen == fs[1].last_seen
    assert a.owner == "team-data" and a.purpose == "nightly CRM sync"
    assert "41,200 records in 1 h" in a.explanation and "p99 1,150" in a.explanation
    assert "team-data" in a.explanation and "nightly CRM sync" in a.explanation
    assert a.references["nist_csf"] and "DE.CM-08" not in a.references["nist_csf"]
    assert {t["id"] for t in a.references["attack"]} == {"T1119", "T1213", "T1567"}
    assert a.evidence and a.severity in ("medium", "high", "critical")
    stored = tables.load_alerts(crm)
    assert {s.alert_id for s in stored} == {a.alert_id, r.posture[0].alert_id}
    assert crm.scalar("SELECT count(*) FROM findings") == 3
    assert crm.scalar("SELECT count(*) FROM detection_runs") == 1


def test_alert_ids_are_stable_across_reruns(crm: Store) -> None:
    fs = [finding(), finding(detector="new_destination", hosts=["x.example"])]
    first = detect(crm, fs)
    again = detect(crm, fs)
    assert [a.alert_id for a in first.alerts] == [a.alert_id for a in again.alerts]
    assert crm.scalar("SELECT count(*) FROM alerts") == 1


def test_ticket_lowers_the_stored_score(crm: Store) -> None:
    plain = detect(crm, [finding()]).alerts[0].risk_score
    add_ticket(crm, "CHG-7", "crm-sync", T0 + timedelta(days=1), T0 + timedelta(days=1, hours=6))
    a = detect(crm, [finding()]).alerts[0]
    assert a.risk_score < plain
    assert "CHG-7" in a.explanation


def test_empty_store_and_empty_window_change_nothing(store: Store) -> None:
    with pytest.raises(NhiwatchError, match="no events"):
        run_detection(store, runner=lambda ctx: [], metas={})
    setup_store(store, [integration("crm-sync")])
    with pytest.raises(
        NhiwatchError, match=r"no events between 2026-09-01 00:00 .* holds events from 2025-09-01"
    ):
        run_detection(
            store,
            T0.replace(year=2026),
            T0.replace(year=2026) + timedelta(days=1),
            runner=lambda ctx: [],
            metas={},
        )
    with pytest.raises(ConfigError, match="window is empty"):
        run_detection(store, T0 + timedelta(days=2), T0 + timedelta(days=1), runner=lambda ctx: [], metas={})
    assert not store.table_exists("alerts") or store.scalar("SELECT count(*) FROM alerts") == 0


def test_suppression_with_expiry(crm: Store) -> None:
    f = finding(detector="new_destination", hosts=["partner.example.com"])
    detect(crm, [f])
    rule = make_rule(
        integration_id="crm-sync",
        match={"hosts": "*.example.com"},
        reason="partner",
        owner="ana",
        expires=NOW + timedelta(days=5),
    )
    assert add_rule(crm, rule, now=NOW, by="ana") == 1
    r = detect(crm, [f])
    assert not r.alerts and len(r.suppressed) == 1 and r.suppressed[0].suppressed_by == rule.rule_id
    later = detect(crm, [f], now=NOW + timedelta(days=6))  # the rule has expired
    assert len(later.alerts) == 1 and not later.suppressed


def test_rule_matching_nothing_is_refused_and_reported(crm: Store) -> None:
    detect(crm, [finding()])
    for fields, message in (
        ({"integration_id": "nope"}, "integration 'nope' is not a known integration"),
        ({"detector": "off_hours"}, "no finding from detector 'off_hours'"),
        ({"match": {"hosts": "evil.example"}}, "none of 1 stored finding"),
    ):
        with pytest.raises(ConfigError, match=message):
            add_rule(crm, make_rule(reason="r", owner="o", **fields), now=NOW, by="t")
    assert crm.scalar("SELECT count(*) FROM suppressions") == 0
    with pytest.raises(ConfigError, match="needs a scope"):
        make_rule(reason="r", owner="o")
    add_rule(crm, make_rule(detector="volume_spike", reason="r", owner="o"), now=NOW, by="t")
    r = detect(crm, [finding(detector="new_destination", hosts=["a.b"])])
    assert r.unmatched_rules == [make_rule(detector="volume_spike", reason="r", owner="o").rule_id]


def test_benign_verdict_stops_the_same_alert_and_is_audited(crm: Store) -> None:
    f = finding(detector="new_destination", hosts=["files.partner.io"])
    a = detect(crm, [f]).alerts[0]
    out = triage(crm, a.alert_id, "benign", note="partner file drop", analyst="ana", now=NOW)
    assert "allowance" in out.effect
    again = detect(crm, [f])
    assert not again.alerts and again.allowed == 1
    # another new value is still news
    other = detect(crm, [finding(detector="new_destination", hosts=["evil.example"])])
    assert len(other.alerts) == 1
    log = crm.records("SELECT * FROM triage_log")
    assert (
        log[0]["analyst"] == "ana" and log[0]["verdict"] == "benign" and log[0]["note"] == "partner file drop"
    )
    assert log[0]["previous_status"] == "open" and "allowance" in log[0]["effect"]
    assert tables.load_alerts(crm, "alert_id = ?", [a.alert_id])[0].status == "benign"


def test_benign_magnitude_allows_only_similar_sizes(crm: Store) -> None:
    a = detect(crm, [finding(deviation=0.5, metric="records")]).alerts[0]
    triage(crm, a.alert_id, "benign", analyst="ana", now=NOW)
    assert not detect(crm, [finding(deviation=0.55, metric="records")]).alerts
    assert detect(crm, [finding(deviation=0.9, metric="records")]).alerts


def test_malicious_verdict_revokes_allowances(crm: Store) -> None:
    f = finding(detector="new_destination", hosts=["x.io"])
    a = detect(crm, [f]).alerts[0]
    triage(crm, a.alert_id, "benign", analyst="ana", now=NOW)
    out = triage(crm, a.alert_id, "malicious", note="actually exfil", analyst="bo", now=NOW)
    assert "revoked 1 allowance" in out.effect
    assert crm.scalar("SELECT count(*) FROM triage_log") == 2
    assert detect(crm, [f]).alerts[0].status == "malicious"  # the verdict survives a re-run


def test_unknown_alert_and_bad_verdict(crm: Store) -> None:
    with pytest.raises(NotFoundError, match="no alert 'al-nope'"):
        triage(crm, "al-nope", "benign", analyst="a", now=NOW)
    a = detect(crm, [finding()]).alerts[0]
    with pytest.raises(ConfigError, match="benign or malicious"):
        triage(crm, a.alert_id, "fine", analyst="a", now=NOW)
    assert crm.scalar("SELECT count(*) FROM triage_log") == 0


def test_a_failing_detector_is_reported_and_the_others_still_run(crm: Store) -> None:
    from nhiwatch.detection import isolated
    from nhiwatch.detectors.base import Detector
    from tests.alerts.helpers import METAS, runner_of

    def broken(ctx: object) -> list:  # type: ignore[type-arg]
        raise ZeroDivisionError("float division by zero")

    errors: list[str] = []
    dets = {
        "broken": Detector(METAS["ownerless"], broken),
        "ok": Detector(METAS["volume_spike"], runner_of([finding()])),
    }
    r = run_detection(
        crm,
        T0 + timedelta(days=1),
        T0 + timedelta(days=3),
        runner=isolated(dets, errors),
        metas=METAS,
        now=NOW,
    )
    assert len(r.alerts) == 1
    assert errors == [
        "detector broken failed on the step from 2025-09-02 00:00: ZeroDivisionError: float division by zero",
        "detector broken failed on the step from 2025-09-03 00:00: ZeroDivisionError: float division by zero",
    ]


def test_company_event_lowers_bursts_but_not_new_values(crm: Store) -> None:
    burst = finding(metric="records")
    new_host = finding(detector="new_destination", hosts=["webhook.site"])
    plain_burst = detect(crm, [burst]).alerts[0].risk_score
    plain_host = detect(crm, [new_host]).alerts[0].risk_score
    add_ticket(crm, "BIZ-202509", None, T0, T0 + timedelta(days=3))  # a quarter close, for every integration
    lowered = detect(crm, [burst]).alerts[0]
    assert (
        lowered.risk_score < plain_burst and "company-wide business event BIZ-202509" in lowered.explanation
    )
    assert detect(crm, [new_host]).alerts[0].risk_score == plain_host
