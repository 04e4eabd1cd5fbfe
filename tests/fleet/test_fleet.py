"""Fleet context end to end: a vendor outage is one fleet event and explains (does not raise) each
integration's failures and catch-up; one integration failing alone, or an attack during the outage, still
alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nhiwatch import rollups
from nhiwatch.detection import DetectionResult, run_detection
from nhiwatch.fleet import load_events
from nhiwatch.store import Store
from tests.detectors.world import World
from tests.fleet.world import DAY, OUT0, OUT1, day, fleet, outage

MINE = ["probing", "volume_spike", "unticketed_burst", "cadence_change", "scope_expansion"]


def detect(w: World, since: object = DAY, until: object = None) -> DetectionResult:
    w.flush()
    return run_detection(w.store, since, until or DAY + timedelta(days=1), only=MINE)  # type: ignore[arg-type]


def open_alerts(res: DetectionResult, integ: str | None = None) -> list[str]:
    return sorted(d for a in res.alerts if integ in (None, a.integration_id) for d in a.detectors)


def test_vendor_outage_is_one_fleet_event_and_raises_no_behaviour_alert(store: Store) -> None:
    w = World(store)
    ids = fleet(w)
    outage(w, ids)
    res = detect(w)
    total, events = load_events(store)
    assert total == 1
    e = events[0]
    assert (e["kind"], e["group_name"], e["affected"], e["total"]) == ("outage", "salesforce", 6, 6)
    assert (
        OUT0 <= e["start_time"] < OUT0 + timedelta(minutes=20)
        and OUT1 - timedelta(minutes=20) < e["end_time"]
    )
    assert e["reasons"] == ["UNKNOWN_EXCEPTION"]
    assert e["summary"].startswith("Salesforce outage 2026-10-06 14:")
    assert "hit 6 of 6 Salesforce integrations" in e["summary"]
    assert open_alerts(res) == []
    # kept as context: every integration's failures and catch-up, set aside by the fleet event
    assert {a.integration_id for a in res.suppressed} == set(ids)
    assert {a.suppressed_by for a in res.suppressed} == {"fleet:" + e["event_id"]}
    probing = [a for a in res.suppressed if "probing" in a.detectors]
    assert len(probing) == 6 and all("Salesforce outage" in a.explanation for a in probing)
    bursts = [a for a in res.suppressed if {"volume_spike", "unticketed_burst"} & set(a.detectors)]
    assert bursts and all("repays a backlog of" in a.explanation for a in bursts)


def test_the_same_failures_on_one_integration_alone_alert(store: Store) -> None:
    w = World(store)
    ids = fleet(w)
    day(w, ids[0], fail=(OUT0, OUT1))
    for integ in ids[1:]:
        day(w, integ)
    res = detect(w)
    assert load_events(store)[0] == 0
    assert "probing" in open_alerts(res, ids[0])
    assert not res.suppressed


def test_failures_of_a_vendor_in_different_hours_are_no_outage(store: Store) -> None:
    w = World(store)
    ids = fleet(w)
    for k, integ in enumerate(ids):  # each fails for two hours, none at the same time as another
        start = DAY + timedelta(hours=1 + 3 * k)
        day(w, integ, fail=(start, start + timedelta(hours=2)))
    res = detect(w)
    assert load_events(store)[0] == 0
    assert {a.integration_id for a in res.alerts if "probing" in a.detectors} == set(ids)


def test_attack_on_one_integration_during_the_outage_still_alerts(store: Store) -> None:
    w = World(store)
    ids = fleet(w)
    outage(w, ids)
    # an attacker tries stolen tokens against sf-3 while Salesforce is failing: other errors, then in
    t = OUT0 + timedelta(minutes=40)
    for k in range(8):
        w.event(
            "sf-3",
            t + timedelta(seconds=30 * k),
            status="Failure",
            status_detail="INVALID_SESSION_ID",
            src_endpoint_ip="185.220.101.7",
            api_operation="Login",
        )
    res = detect(w)
    assert load_events(store)[0] == 1
    assert "probing" in open_alerts(res, "sf-3")
    alert = next(a for a in res.alerts if a.integration_id == "sf-3")
    assert "the rest are not" in alert.explanation  # the fleet event is named, and why it is not enough
    assert open_alerts(res, "sf-1") == []


def test_catchup_far_beyond_the_backlog_still_alerts(store: Store) -> None:
    w = World(store)
    ids = fleet(w)
    outage(w, ids[1:])
    day(w, ids[0], fail=(OUT0, OUT1), catchup=20_000)  # "catching up" 20x what it missed
    res = detect(w)
    assert load_events(store)[0] == 1
    burst = {"volume_spike", "unticketed_burst"} & set(open_alerts(res, ids[0]))
    assert burst
    alert = next(a for a in res.alerts if a.integration_id == ids[0])
    assert "is more than a backlog of" in alert.explanation
    assert all(open_alerts(res, i) == [] for i in ids[1:])


def test_fleet_events_are_idempotent_across_runs_and_slices(store: Store) -> None:
    w = World(store)
    ids = fleet(w)
    outage(w, ids)
    detect(w)
    first = load_events(store)[1]
    detect(w)  # the same day again
    detect(w, OUT0 - timedelta(hours=1), OUT0 + timedelta(hours=1))  # a micro-batch seeing its start
    detect(w, OUT1, OUT1 + timedelta(hours=2))  # ... and one seeing only its catch-up
    total, again = load_events(store)
    assert total == 1 and again[0]["event_id"] == first[0]["event_id"]
    assert again[0]["affected"] == 6


def test_streaming_micro_batch_uses_the_fleet(store: Store) -> None:
    from nhiwatch.baseline import learn
    from nhiwatch.pipeline import score_new, start_streaming

    w = World(store)
    ids = fleet(w)
    w.flush()
    store.execute("UPDATE events SET ingest_batch = 1")  # what ingest stamps, as two deliveries
    rollups.advance(store)
    start_streaming(store)
    outage(w, ids)
    w.flush()
    store.execute("UPDATE events SET ingest_batch = 2 WHERE ingest_batch IS NULL")
    rollups.advance(store)
    batch = score_new(store, learner=lambda s, until, days: learn(s, until, history_days=days))
    assert not batch.errors and batch.spans == [(DAY, DAY + timedelta(days=1))]
    assert load_events(store)[0] == 1
    behaviour = [a for r in batch.results for a in r.alerts if a.kind == "behaviour"]
    assert not [a for a in behaviour if {"probing", "volume_spike", "unticketed_burst"} & set(a.detectors)]


def test_vendor_silence_is_a_fleet_event(store: Store) -> None:
    w = World(store)
    ids = fleet(w)
    quiet = (DAY.replace(hour=13), DAY.replace(hour=17))
    for k, integ in enumerate(ids):
        t = DAY + timedelta(minutes=k + 1)
        while t < DAY + timedelta(days=1):
            if not (k < 4 and quiet[0] <= t < quiet[1]):
                w.event(integ, t, records=100)
            t += timedelta(minutes=15)
    detect(w)
    total, events = load_events(store, kind="silence")
    assert total == 1
    e = events[0]
    assert (e["start_time"], e["end_time"], e["affected"], e["total"]) == (quiet[0], quiet[1], 4, 6)
    assert e["integrations"] == ids[:4]


@pytest.mark.parametrize("silent", [2, 3])
def test_a_few_quiet_integrations_are_no_silence(store: Store, silent: int) -> None:
    """Two of six is under both the minimum (3) and half; three of seven is under half."""
    w = World(store)
    ids = fleet(w, n=6 if silent == 2 else 7)
    for k, integ in enumerate(ids):
        t = DAY + timedelta(minutes=k + 1)
        while t < DAY + timedelta(days=1):
            if not (k < silent and DAY.replace(hour=13) <= t < DAY.replace(hour=17)):
                w.event(integ, t, records=100)
            t += timedelta(minutes=15)
    detect(w)
    assert load_events(store)[0] == 0


def test_a_catchup_spread_over_hours_cannot_repay_the_backlog_many_times(store: Store) -> None:
    w = World(store)
    ids = fleet(w)
    outage(w, ids)
    # on top of its real catch-up, sf-1 moves a backlog's worth again every hour for six hours
    for h in range(17, 23):
        for k in range(10):
            w.event("sf-1", DAY.replace(hour=h, minute=20) + timedelta(seconds=20 * k), records=100)
    res = detect(w)
    assert {"volume_spike", "unticketed_burst"} & set(open_alerts(res, "sf-1"))
    assert all(open_alerts(res, i) == [] for i in ids[1:])


def test_signing_in_again_after_the_outage_is_no_new_reach_but_new_actions_are(store: Store) -> None:
    w = World(store)
    ids = fleet(w)
    outage(w, ids)
    # during the catch-up sf-2 also starts deleting: a kind of action no outage explains
    for k in range(5):
        w.event("sf-2", OUT1 + timedelta(minutes=20, seconds=30 * k), action_class="delete", records=50)
    res = detect(w)
    assert open_alerts(res, "sf-1") == []  # its new sign-in is the reconnect
    alert = next(a for a in res.alerts if a.integration_id == "sf-2")
    assert "scope_expansion" in alert.detectors and "delete" in alert.explanation
    assert "auth" not in alert.explanation
