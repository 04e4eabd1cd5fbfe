"""Baselines: maturity states, local-time envelope across DST, month end, cadence, value sets, bad input."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from nhiwatch.baseline import learn, show
from nhiwatch.cli import app
from nhiwatch.errors import NhiwatchError
from nhiwatch.store import Store
from tests.detectors.world import T0, World

UNTIL = T0 + timedelta(days=35)


def _world(store: Store) -> World:
    w = World(store)
    w.integration("crm-sync", tz="America/New_York", days="mon-fri", hours="08:00-19:00")
    w.daily("crm-sync", T0, 35, range(9, 18), per_hour=4, weekdays=range(1, 6), records=40)
    w.integration("poller", every="15m")
    w.every("poller", T0, UNTIL, timedelta(minutes=15))
    w.integration("young", kind="bot", vendor="slack")
    w.daily("young", UNTIL - timedelta(days=3), 3, [10], per_hour=10)
    w.integration("growing", kind="bot", vendor="slack")
    w.daily("growing", UNTIL - timedelta(days=12), 12, [10], per_hour=10)
    w.integration("declared-only")
    w.flush()
    return w


def test_states_by_history(store: Store) -> None:
    _world(store)
    s = learn(store, until=UNTIL)
    assert s.states == {"established": 2, "provisional": 1, "learning": 2}
    states = dict(store.fetchall("SELECT integration_id, state FROM baseline_integrations"))
    assert states == {
        "crm-sync": "established",
        "poller": "established",
        "young": "learning",
        "growing": "provisional",
        "declared-only": "learning",
    }


def test_state_is_keyed_by_integration_and_serialisable(store: Store) -> None:
    _world(store)
    learn(store, until=UNTIL)
    data = show(store, "crm-sync")
    assert orjson.loads(orjson.dumps(data))["profile"]["tz"] == "America/New_York"
    assert data["envelope"]["active_local_hours"]["mon"] == list(range(9, 18))
    assert "sat" not in data["envelope"]["active_local_hours"]
    hourly = {
        (r["action_class"], r["metric"]): r for r in data["volume"]["hourly"] if r["regime"] == "normal"
    }
    assert hourly[("read", "records")]["med"] == 160 and hourly[("read", "events")]["max"] == 4
    values = {(r["dimension"], r["value"]): r for r in data["values"]["top_values"]}
    assert values[("ip24", "52.10.1.0/24")]["events"] == 25 * 9 * 4


def test_cadence_and_failures(store: Store) -> None:
    w = _world(store)
    for i in range(3):
        w.event("poller", T0 + timedelta(days=3, seconds=30 + i), status="Failure", status_detail="401")
    w.flush()
    learn(store, until=UNTIL)
    p = show(store, "poller")["profile"]
    assert p["period_s"] == 900 and p["period_mad_s"] == 0 and p["runs"] > 3000
    assert p["fail_run_max"] == 3 and 0 < p["failure_ratio"] < 0.01
    assert p["hours_per_day_max"] == 24


def test_envelope_is_local_across_dst(store: Store) -> None:
    w = World(store)
    w.integration("paris-batch", tz="Europe/Paris")
    w.daily("paris-batch", datetime(2026, 10, 1), 40, [9], per_hour=3)  # summer time ends on 2026-10-25
    w.flush()
    learn(store, until=datetime(2026, 11, 10))
    hours = show(store, "paris-batch")["envelope"]["active_local_hours"]
    assert all(h == [9] for h in hours.values()) and len(hours) == 7
    utc = {r[0] for r in store.fetchall("SELECT DISTINCT hour(time) FROM events")}
    assert utc == {7, 8}  # the same local hour is two UTC hours


def test_month_end_pattern_is_learned(store: Store) -> None:
    w = World(store)
    w.integration("ledger-export", tz="UTC")  # nothing declared
    for d in range(70):
        day = datetime(2026, 8, 1) + timedelta(days=d)
        if day.isoweekday() <= 5:
            last3 = (day.month == 8 and day.day >= 27) or (day.month == 9 and day.day >= 28)
            w.daily(
                "ledger-export", day, 1, [6], per_hour=10 if last3 else 2, action_class="export", records=100
            )
    w.flush()
    learn(store, until=datetime(2026, 10, 10), history_days=70)
    learned = show(store, "ledger-export")["regimes"]["learned"]
    assert [r["regime"] for r in learned] == ["month_end"]
    assert learned[0]["ratio"] >= 2 and learned[0]["occurrences"] == 2 and learned[0]["p_value"] < 0.01
    regimes = {r["regime"] for r in show(store, "ledger-export")["volume"]["hourly"]}
    assert regimes == {"normal", "month_end", "close"}  # close: every close pooled


def test_peer_group_rows(store: Store) -> None:
    _world(store)
    learn(store, until=UNTIL)
    peers = {
        r[0]
        for r in store.fetchall(
            "SELECT DISTINCT integration_id FROM baseline_volume WHERE starts_with(integration_id, 'peer:')"
        )
    }
    assert peers == {"peer:oauth_app|salesforce", "peer:bot|slack"}


def test_bad_input_changes_nothing(store: Store) -> None:
    with pytest.raises(NhiwatchError, match="no events"):
        learn(store)
    _world(store)
    learn(store, until=UNTIL)
    before = store.fetchall("SELECT * FROM baseline_integrations ORDER BY integration_id")
    with pytest.raises(NhiwatchError, match="nothing to learn"):
        learn(store, until=datetime(2020, 1, 1))
    with pytest.raises(NhiwatchError, match="positive"):
        learn(store, until=UNTIL, history_days=0)
    assert store.fetchall("SELECT * FROM baseline_integrations ORDER BY integration_id") == before
    with pytest.raises(NhiwatchError, match=r"unknown integration 'crm'.*crm-sync"):
        show(store, "crm")


def test_show_before_learning(store: Store) -> None:
    _world(store)
    with pytest.raises(NhiwatchError, match="no baseline"):
        show(store, "crm-sync")


def test_cli(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    runner = CliRunner()
    r = runner.invoke(app, ["baseline", "--db", str(db)])
    assert r.exit_code == 2 and "no store" in r.output
    Store(db).close()
    r = runner.invoke(app, ["baseline", "--db", str(db)])
    assert r.exit_code == 2 and "no events" in r.output
    with Store(db) as s:
        _world(s)
    r = runner.invoke(app, ["baseline", "--db", str(db), "--until", UNTIL.isoformat() + "Z"])
    assert r.exit_code == 0, r.output
    assert "established" in r.output
    r = runner.invoke(app, ["baseline", "show", "poller", "--db", str(db)])
    assert r.exit_code == 0 and orjson.loads(r.output)["profile"]["period_s"] == 900
    r = runner.invoke(app, ["baseline", "show", "nope", "--db", str(db)])
    assert r.exit_code == 2 and "unknown integration" in r.output
    r = runner.invoke(app, ["baseline", "--db", str(db), "--until", "yesterday"])
    assert r.exit_code == 2 and "ISO 8601" in r.output
