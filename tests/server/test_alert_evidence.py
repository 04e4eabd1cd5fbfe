"""The alert page's evidence (charts from the rollups, cards, response) and the HTML report, on the server
tests' company: ``release-bot`` clones one repository on weekday office hours (UTC) for four weeks, then
thirty repositories at 03:00 on a Monday from a new address."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import altair as alt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nhiwatch.alerts import tables
from nhiwatch.alerts.model import Alert
from nhiwatch.cli import app as cli
from nhiwatch.detectors.base import DetectorMeta, Finding
from nhiwatch.outputs import report_html
from nhiwatch.server import alert_frame
from nhiwatch.server.alert_charts import alert_evidence, usual_range
from nhiwatch.server.alert_frame import window
from nhiwatch.server.cards import cards, context, new_values, why_it_matters
from nhiwatch.store import Store
from tests.server import data
from tests.server.conftest import Company
from tests.server.test_console import signed_in


@pytest.fixture
def store(company: Company, tmp_path: Path) -> Any:
    db = tmp_path / "copy.duckdb"
    shutil.copy(company.db, db)
    with Store(db) as s:
        yield s


def release_alert(store: Store) -> tuple[Alert, list[Finding]]:
    alerts = tables.load_alerts(store, "integration_id = 'release-bot' AND kind = 'behaviour'")
    assert alerts, "the fixture company raises a behaviour alert for release-bot"
    a = max(alerts, key=lambda a: a.risk_score)
    return a, tables.load_findings(store, a.finding_ids)


def layer(spec: dict[str, Any], name: str) -> dict[str, Any]:
    found = [x for x in spec.get("layer", []) if x.get("name") == name]
    assert found, f"no layer {name!r} in {[x.get('name') for x in spec.get('layer', [])]}"
    return found[0]


def test_volume_chart_highlights_the_alert_window_on_the_usual_range(store: Store) -> None:
    a, findings = release_alert(store)
    ev = alert_evidence(store, a, findings)
    assert ev.tz == "UTC"  # the inventory's schedule.timezone
    spec = ev.specs["volume"]
    w0, w1 = window(a)
    hl = layer(spec, "alert_window")["data"]["values"][0]
    assert (hl["from"], hl["to"]) == (f"{w0:%Y-%m-%dT%H:%M:%SZ}", f"{w1:%Y-%m-%dT%H:%M:%SZ}")
    bars = layer(spec, "hourly")["data"]["values"]
    inside = [b for b in bars if b["in_alert"]]
    assert inside and all(hl["from"] <= b["hour"] < hl["to"] for b in inside)
    # Sep 29 is the young release-bot's first quarter end, whose volume bound is its normal times the burst
    # allowance: the clones alert as a fan-out (and a new network), so the chart is the fan-out's series
    assert {f.detector for f in findings} >= {"fan_out", "new_network"}
    assert spec["title"].startswith("Hourly resources")
    band = layer(spec, "baseline_band")["data"]["values"][0]
    # one repository an hour on office hours: that is the usual range, and the alert's hour is far above it
    assert band["lo"] <= 1 <= band["hi"] and max(b["value"] for b in inside) == 30 > band["max"]
    bounds = {(f.details.get("measure") or {}).get("bound") for f in findings if f.detector == "fan_out"}
    (drawn,) = layer(spec, "alert_bound")["data"]["values"]
    assert drawn["bound"] in bounds and 1 < drawn["bound"] < 30  # the detector's own bound, between the two


def test_usual_range_is_read_from_the_weeks_before_not_the_relearned_baseline(store: Store) -> None:
    """The learned baseline is relearned as time goes on; for an alert in the past it would hold the alert's
    own hours. The band comes from the rollups before the alert, so the spike is never inside it."""
    a, _ = release_alert(store)
    w0, _ = window(a)
    before = usual_range(store, "release-bot", "*", "events", w0)
    assert before is not None and before[3] == 2  # at most two clones an hour before the attack
    after = usual_range(store, "release-bot", "*", "events", w0 + timedelta(days=1))
    assert after is not None and after[3] >= 30  # a window that includes the attack would have its hour


def test_novelty_counts_new_values_against_the_known_set(store: Store) -> None:
    a, findings = release_alert(store)
    ev = alert_evidence(store, a, findings)
    by_dim = {n.dimension: n for n in ev.novelty}
    assert by_dim["ip24"].known == 1 and by_dim["ip24"].new == 1
    assert [v.value for v in by_dim["ip24"].values] == ["198.51.100.0/24"]
    assert by_dim["resource"].known == 1 and by_dim["resource"].new >= 29
    first = by_dim["ip24"].values[0].first_seen
    assert first.startswith("2025-09-29 03:") and first.endswith("UTC")
    assert "novelty" in ev.specs


def test_heatmap_marks_the_alerts_local_hours_in_the_integrations_zone(store: Store) -> None:
    a, findings = release_alert(store)
    store.execute(
        "UPDATE integrations SET schedule = json_object('timezone', 'Europe/Berlin') WHERE id = 'release-bot'"
    )
    ev = alert_evidence(store, a, findings)
    assert ev.tz == "Europe/Berlin"
    spec = ev.specs["heatmap"]
    assert "Europe/Berlin" in spec["title"]
    marked = {(c["day"], c["hour"]) for c in layer(spec, "alert_hours")["data"]["values"]}
    assert marked == {("mon", 5)}  # 03:00 UTC is 05:00 in Berlin in September (CEST)
    assert ev.specs["volume"]["layer"][-1]["encoding"]["x"]["title"] == "local time (Europe/Berlin)"


def test_an_unknown_zone_is_read_as_utc(store: Store) -> None:
    a, findings = release_alert(store)
    store.execute(
        "UPDATE integrations SET schedule = json_object('timezone', 'Mars/Olympus'); "
        "UPDATE integrations SET schedule = NULL WHERE id = 'sync-bot'"
    )
    assert alert_evidence(store, a, findings).tz == "UTC"


def test_every_spec_is_valid_vega_lite(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alert_frame, "VALIDATE", True)  # off when serving: the schema check is slow
    a, findings = release_alert(store)
    ev = alert_evidence(store, a, findings)
    assert set(ev.specs) == {"volume", "novelty", "heatmap"}
    for spec in ev.specs.values():
        alt.Chart.from_dict({k: v for k, v in spec.items() if k != "$schema"}, validate=False)


META = DetectorMeta("volume_spike", "Volume spike", "behaviour", "An hour with far more.", (), (), ())


def _alert(**kw: Any) -> Alert:
    base: dict[str, Any] = {
        "alert_id": "al-1",
        "kind": "behaviour",
        "integration_id": "hr-sync",
        "integration_name": "HR sync",
        "owner": "hr-it@acme.example",
        "purpose": "Writes HR attributes to Entra users",
        "risk_tier": "high",
        "data_sensitivity": "restricted",
        "detectors": ["volume_spike"],
        "first_seen": datetime(2026, 3, 19, 15, 26),
        "last_seen": datetime(2026, 3, 19, 21, 5),
        "risk_score": 90,
        "severity": "critical",
        "title": "t",
        "explanation": "e",
        "evidence": [],
        "references": {},
        "finding_ids": [],
    }
    return Alert(**{**base, **kw})


def _finding(details: dict[str, Any]) -> Finding:
    return Finding(
        "volume_spike",
        "hr-sync",
        datetime(2026, 3, 19, 15, 26),
        datetime(2026, 3, 19, 21, 5),
        0.9,
        "18.7 MB (read) in its largest hour",
        "a bound of 376.0 KB",
        "hr-sync moved 50× its normal bound",
        (),
        details,
    )


def test_card_states_the_measure_in_human_units_and_local_time() -> None:
    measure = {
        "observed": 18_674_933,
        "bound": 376_013.9,
        "unit": "byte",
        "direction": "above",
        "usual": 2980.5,
        "largest": 13_271,
    }
    (card,) = cards(_alert(), [_finding({"measure": measure})], {"volume_spike": META}, "Asia/Singapore")
    assert card.figure == "18.7 MB"
    assert card.ratios == ["1,407× the usual maximum", "50× the detector's bound"]
    assert (
        card.when
        == "2026-03-19 23:26 to 2026-03-20 05:05 Asia/Singapore (2026-03-19 15:26 to 2026-03-19 21:05 UTC)"
    )
    assert card.observed == "18.7 MB (read) in its largest hour"  # the detector's own sentence, unchanged


def test_card_without_a_measure_keeps_the_detectors_sentences() -> None:
    (card,) = cards(_alert(), [_finding({"hosts": ["webhook.site"]})], {"volume_spike": META}, "UTC")
    assert card.figure == "" and card.ratios == []
    assert card.expected == "a bound of 376.0 KB" and card.new_values == ["webhook.site"]


def test_why_it_matters_is_said_for_this_integrations_purpose_and_data() -> None:
    assert context(_alert()) == (
        "HR sync is declared for: Writes HR attributes to Entra users. It handles restricted data: the most "
        "sensitive it holds."
    )
    bare = context(_alert(owner=None, purpose=None, data_sensitivity=None))
    assert "has no declared purpose" in bare and "Nobody owns it" in bare
    why = why_it_matters(_alert(), "volume_spike", META)
    assert "bulk theft" in why and why.endswith("The data at stake is restricted.")
    assert "Nothing in its declared purpose calls for it." in why_it_matters(
        _alert(), "new_destination", None
    )
    assert why_it_matters(_alert(), "some_new_detector", META) == "An hour with far more."  # its description


def test_new_values_are_read_from_lists_and_per_dimension_sets() -> None:
    details = {"scope": {"new": ["Mail.Read", "full_access_as_app"], "events": 1920}, "new_values": 12}
    assert new_values(details) == ["Mail.Read", "full_access_as_app"]  # not the dict's keys, not a count
    assert new_values({"hosts": ["webhook.site"], "events": 1}) == ["webhook.site"]


def test_alert_page_shows_charts_cards_and_response(app: FastAPI, company: Company, store: Store) -> None:
    a, _ = release_alert(store)
    page = signed_in(app, company.tokens["viewer"]).get(f"/alerts/{a.alert_id}")
    assert page.status_code == 200
    html = page.text
    for name in ("volume", "novelty", "heatmap"):
        assert f'id="chart-{name}"' in html and f'id="spec-{name}"' in html
    assert html.count('<article class="card"') == len(a.finding_ids)
    assert (
        "why it matters" in html
        and '<p class="context">Release bot is declared for: Clones the payments' in html
    )
    assert 'id="response"' in html and "platform@acme.example, who owns Release bot" in html
    assert "198.51.100.0/24" in html


def test_posture_alert_page_draws_no_charts(app: FastAPI, company: Company, store: Store) -> None:
    (p, *_) = tables.load_alerts(store, "kind = 'posture'")
    html = signed_in(app, company.tokens["viewer"]).get(f"/alerts/{p.alert_id}").text
    assert 'data-spec="spec-' not in html and "Against its baseline" not in html
    assert 'id="response"' in html  # the to-do for the inventory owner is still there


def test_report_file_is_self_contained_and_redacted(store: Store, tmp_path: Path) -> None:
    # a secret and markup that reached the store's texts (an explanation, an inventory purpose)
    store.execute("UPDATE alerts SET explanation = explanation || ' token ' || ?", [data.LEAKED])
    store.execute("UPDATE integrations SET purpose = ? WHERE id = 'release-bot'", [data.XSS])
    path = report_html.write(store, tmp_path / "report.html", evaluation="episodes detected 1/1")
    html = path.read_text(encoding="utf-8")
    assert "&lt;script&gt;document.title" in html
    assert "<script src" not in html and "vega-embed" in html  # scripts inline: opens offline
    assert 'src="http' not in html and '<link rel="stylesheet"' not in html  # nothing fetched
    assert data.LEAKED not in html and data.XSS not in html  # redacted, and escaped
    assert "Release bot" in html and "episodes detected 1/1" in html
    assert 'id="chart-timeline"' in html and 'id="chart-a1"' in html


def test_report_served_by_the_console_loads_scripts_from_static(app: FastAPI, company: Company) -> None:
    page = signed_in(app, company.tokens["viewer"]).get("/report")
    assert page.status_code == 200
    assert '<script src="/static/vendor/vega.min.js">' in page.text
    assert "<script>" not in page.text  # no inline script: the console's CSP forbids it
    assert data.LEAKED not in page.text
    assert TestClient(app).get("/report", follow_redirects=False).status_code in (401, 303)  # signed in only


def test_report_command_writes_the_page(company: Company, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    shutil.copy(company.db, db)
    out = tmp_path / "r.html"
    r = CliRunner().invoke(cli, ["report", "--html", str(out), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>") and "report:" in r.output
    r = CliRunner().invoke(cli, ["report", "--html", str(tmp_path), "--db", str(db)])
    assert r.exit_code == 2 and "is a directory" in r.output
    r = CliRunner().invoke(cli, ["report", "--html", str(out), "--db", str(tmp_path / "none.duckdb")])
    assert r.exit_code == 2 and "no store" in r.output


def test_human_helpers_examples() -> None:
    import doctest

    from nhiwatch.server import human

    assert doctest.testmod(human).failed == 0
    assert human.span(datetime(2026, 1, 1, 23, 0), datetime(2026, 1, 2, 1, 0), "Nowhere/Invalid") == (
        "2026-01-01 23:00 to 2026-01-02 01:00 UTC"
    )


def test_report_without_the_server_extra_says_what_to_install(
    company: Company, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import nhiwatch.outputs

    monkeypatch.delattr(nhiwatch.outputs, "report_html", raising=False)
    monkeypatch.setitem(sys.modules, "nhiwatch.outputs.report_html", None)  # as if altair/jinja2 were absent
    db = tmp_path / "s.duckdb"
    shutil.copy(company.db, db)
    r = CliRunner().invoke(cli, ["report", "--html", str(tmp_path / "r.html"), "--db", str(db)])
    assert r.exit_code == 2 and "pip install 'nhiwatch[server]'" in r.output


def test_heatmap_marks_the_off_hours_detectors_own_hours(store: Store) -> None:
    """The off-hours detection lists the local hours it judged; those are the ones marked, not every active
    hour of the alert's span (a garbled entry is skipped)."""
    from nhiwatch.server.alert_heatmap import alert_slots

    a, _ = release_alert(store)
    off = Finding(
        "off_hours",
        "release-bot",
        a.first_seen,
        a.last_seen,
        0.6,
        "o",
        "e",
        "s",
        details={"local_hours": ["Sat 2026-03-21 21:00", "Sun 2026-03-22 02:00", "not a time"]},
    )
    assert alert_slots(store, a, [off], "UTC") == {(5, 21), (6, 2)}
    assert alert_slots(store, a, [], "UTC") == {(0, 3)}  # else the active hours of its window: Monday 03:00


def test_heatmap_outlines_the_declared_hours_not_the_relearned_envelope(store: Store) -> None:
    a, findings = release_alert(store)
    spec = alert_evidence(store, a, findings).specs["heatmap"]
    declared = {(c["day"], c["hour"]) for c in layer(spec, "declared_hours")["data"]["values"]}
    assert len(declared) == 5 * 9 and ("mon", 9) in declared and ("sat", 9) not in declared  # mon-fri 09-18
    assert "learned_envelope" not in [x.get("name") for x in spec["layer"]]
    store.execute("UPDATE integrations SET schedule = '{\"days\": \"someday\"}' WHERE id = 'release-bot'")
    spec = alert_evidence(store, a, findings).specs["heatmap"]  # a schedule that does not parse: none drawn
    assert [x.get("name") for x in spec["layer"]] == ["usual_hours", "alert_hours"]
