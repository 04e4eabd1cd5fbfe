"""False alerts by cause: attribution to the truth's benign labels, the alert's own context as a fallback,
and the by-cause figures in the text and JSON reports (library and command line)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from nhiwatch.cli import app
from nhiwatch.errors import ConfigError
from nhiwatch.evaluate import Span, evaluate, load_truth
from nhiwatch.evaluate.causes import alert_cause, attribute, by_cause
from nhiwatch.evaluate.truth import BenignLabel, load_benign
from nhiwatch.store import Store
from tests.alerts.helpers import T0, integration, setup_store

H = timedelta(hours=1)
SLACK = timedelta(minutes=30)


def label(cause: str, detail: str, start: datetime, hours: float, *integs: str) -> BenignLabel:
    return BenignLabel(cause, detail, start, start + hours * H, frozenset(integs))


def _z(t: datetime) -> str:
    return t.isoformat() + "Z"


def benign_line(cause: str, detail: str, start: datetime, hours: float, integs: list[str]) -> dict[str, Any]:
    return {
        "kind": "benign",
        "label_id": f"BN-{cause}",
        "cause": cause,
        "detail": detail,
        "start": _z(start),
        "end": _z(start + hours * H),
        "integrations": integs,
        "description": "",
    }


def test_outage_wins_over_the_calendar_day_it_falls_on() -> None:
    labels = [
        label("calendar", "month_end", T0, 72, "a", "b"),
        label("outage", "vendor_outage", T0 + 30 * H, 3, "a"),
        label("vendor_change", "network_move", T0 + 29 * H, 48, "a"),
    ]
    assert attribute(Span("a", T0 + 31 * H, T0 + 32 * H), labels, SLACK) == ("outage", "vendor_outage")
    assert attribute(Span("a", T0 + 40 * H, T0 + 41 * H), labels, SLACK) == ("vendor_change", "network_move")
    assert attribute(Span("b", T0 + 31 * H, T0 + 32 * H), labels, SLACK) == ("calendar", "month_end")


def test_a_false_alert_beside_a_label_is_not_explained_by_it() -> None:
    labels = [label("outage", "vendor_outage", T0, 2, "a")]
    # another integration at the same time, and the same integration an hour after (beyond the slack)
    assert attribute(Span("b", T0, T0 + H), labels, SLACK) == ("other", "")
    assert attribute(Span("a", T0 + 3 * H, T0 + 4 * H), labels, SLACK) == ("other", "")
    # within the slack it is
    assert attribute(Span("a", T0 + 2 * H + timedelta(minutes=20), T0 + 3 * H), labels, SLACK)[0] == "outage"


def test_without_labels_the_alert_says_why_or_it_is_other() -> None:
    assert attribute(Span("a", T0, T0, cause="fleet_outage"), [], SLACK) == ("outage", "fleet_outage")
    assert attribute(Span("a", T0, T0, cause="year_end"), [], SLACK) == ("calendar", "year_end")
    assert attribute(Span("a", T0, T0, cause="vendor_change"), [], SLACK) == ("vendor_change", "")
    assert attribute(Span("a", T0, T0, cause="solar flare"), [], SLACK) == ("other", "solar_flare")
    assert attribute(Span("a", T0, T0), [], SLACK) == ("other", "")


@pytest.mark.parametrize(
    ("alert", "cause"),
    [
        ({"cause": "outage"}, "outage"),
        ({"context": {"cause": "holiday", "country": "US"}}, "holiday"),
        ({"context": [{"note": "x"}, {"cause": "sdk_upgrade"}]}, "sdk_upgrade"),
        ({"score_factors": {"context": {"cause": "quarter_end"}}}, "quarter_end"),
        ({"score_factors": {"fleet_event": {"id": "fe-1", "vendor": "salesforce"}}}, "outage"),
        ({"references": {"cause": "network_move"}}, "network_move"),
        ({"kind": "vendor_change"}, "vendor_change"),
        ({"detectors": ["vendor_change"]}, "vendor_change"),
        ({"detectors": ["vendor_change", "fan_out"]}, ""),  # one of its findings is no vendor change
        ({}, ""),
        ({"cause": None, "context": 5, "score_factors": "x", "references": [1], "detectors": "fan_out"}, ""),
    ],
)
def test_alert_cause_reads_what_context_there_is(alert: dict[str, Any], cause: str) -> None:
    assert alert_cause(alert) == cause


def test_by_cause_counts_add_up() -> None:
    labels = [label("calendar", "holiday", T0, 24, "a"), label("on_demand", "burst", T0 + 30 * H, 1, "b")]
    spans = [Span("a", T0, T0 + H), Span("b", T0 + 30 * H, T0 + 30 * H), Span("c", T0, T0)]
    causes, details = by_cause(spans, labels, SLACK)
    assert causes == {"calendar": 1, "on_demand": 1, "other": 1}
    assert details[("calendar", "holiday")] == 1 and sum(causes.values()) == len(spans)


def test_truth_file_holds_episodes_and_benign_labels(tmp_path: Path) -> None:
    p = tmp_path / "truth.jsonl"
    episode = {"episode_id": "e", "family": "f", "integration_id": "a", "start": _z(T0), "end": _z(T0 + H)}
    lines = [episode, benign_line("outage", "vendor_outage", T0, 2, ["a", "b"])]
    p.write_text("\n".join(orjson.dumps(x).decode() for x in lines) + "\n")
    assert [e.episode_id for e in load_truth(p)] == ["e"]
    (lab,) = load_benign(p)
    assert (lab.cause, lab.integrations, lab.end - lab.start) == ("outage", frozenset({"a", "b"}), 2 * H)
    bad = dict(lines[1], integrations="a")
    p.write_text(orjson.dumps(episode).decode() + "\n" + orjson.dumps(bad).decode() + "\n")
    with pytest.raises(ConfigError, match=r"truth.jsonl:2: integrations must be a list"):
        load_benign(p)
    p.write_text(orjson.dumps(lines[1]).decode() + "\n")  # labels alone: nothing to score recall on
    with pytest.raises(ConfigError, match="no episodes"):
        load_truth(p)


def _evaluation_files(tmp_path: Path, *, with_labels: bool) -> tuple[Path, Path]:
    start = T0 + timedelta(days=3, hours=5)
    truth = tmp_path / "truth.jsonl"
    lines: list[dict[str, Any]] = [
        {
            "episode_id": "e",
            "family": "burst",
            "integration_id": "b",
            "start": _z(start),
            "end": _z(start + H),
        }
    ]
    if with_labels:
        lines.append(benign_line("outage", "vendor_outage", start + 2 * H, 3, ["a", "b"]))
        lines.append(benign_line("calendar", "year_end", start - 5 * H, 24, ["a"]))
    truth.write_text("\n".join(orjson.dumps(x).decode() for x in lines) + "\n")

    def alert(i: str, integ: str, t0: datetime, **extra: Any) -> bytes:
        return orjson.dumps(
            {
                "alert_id": i,
                "kind": "behaviour",
                "integration_id": integ,
                "first_seen": _z(t0),
                "last_seen": _z(t0),
                **extra,
            }
        )

    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(
        b"\n".join(
            [
                alert("al-hit", "b", start + timedelta(minutes=5)),
                alert("al-outage", "a", start + 3 * H, cause="calendar"),  # the truth's outage wins
                alert("al-cal", "a", start - 4 * H, context={"cause": "fleet_outage"}),
                alert("al-other", "b", start - 4 * H),
            ]
        )
    )
    return truth, alerts


def test_evaluation_reports_false_alerts_by_cause(store: Store, tmp_path: Path) -> None:
    setup_store(store, [integration("a"), integration("b")], days=4)
    truth, alerts = _evaluation_files(tmp_path, with_labels=True)
    window = {"since": T0 + timedelta(days=3), "until": T0 + timedelta(days=4)}
    ev = evaluate(store, truth, alerts=alerts, generic=False, **window)
    m = ev.results["nhiwatch"]
    assert (m.alerts, m.true_alerts) == (4, 1)
    assert m.false_by_cause == {"outage": 1, "calendar": 1, "other": 1}
    assert m.cause_per_100_days("outage") == pytest.approx(50.0)  # 1 alert over 2 integration-days
    text = ev.as_text()
    assert "from the truth's 2 benign labels" in text and "| outage | 50.00 (1) |" in text
    assert "| vendor change | 0.00 (0) |" in text and "calendar/year_end 1" in text
    data = ev.as_dict()["detectors"]["nhiwatch"]
    assert data["false_by_cause"]["calendar"] == {
        "alerts": 1,
        "per_100_integration_days": 50.0,
        "details": {"year_end": 1},
    }
    assert sum(c["alerts"] for c in data["false_by_cause"].values()) == data["false_alerts"] == 3
    # the same alerts without labels: the alerts' own context decides
    truth, alerts = _evaluation_files(tmp_path, with_labels=False)
    ev = evaluate(store, truth, alerts=alerts, generic=False, **window)
    assert ev.results["nhiwatch"].false_by_cause == {"calendar": 1, "outage": 1, "other": 1}
    assert ev.as_dict()["cause_source"] == "alerts"


def test_evaluate_command_prints_json(store: Store, tmp_path: Path) -> None:
    setup_store(store, [integration("a"), integration("b")], days=4)
    db = Path(store.path)
    truth, alerts = _evaluation_files(tmp_path, with_labels=True)
    store.close()
    args = ["evaluate", "--truth", str(truth), "--alerts", str(alerts), "--no-generic", "--db", str(db)]
    window = [
        "--since",
        (T0 + timedelta(days=3)).isoformat(),
        "--until",
        (T0 + timedelta(days=4)).isoformat(),
    ]
    result = CliRunner().invoke(app, [*args, *window, "--format", "json"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.output)
    assert data["detectors"]["nhiwatch"]["false_by_cause"]["outage"]["alerts"] == 1
    bad = CliRunner().invoke(app, [*args, *window, "--format", "xml"])
    assert bad.exit_code == 2 and "--format must be text or json" in bad.output
