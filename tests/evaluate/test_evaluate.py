"""Matching alerts to episodes, the alert budget of the generic detectors, and a whole evaluation run."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from nhiwatch.errors import ConfigError
from nhiwatch.evaluate import Span, evaluate, load_truth, score_spans
from nhiwatch.evaluate.features import NAMES, HourlyFeatures, hourly
from nhiwatch.evaluate.generic import budget_spans
from nhiwatch.evaluate.truth import Episode
from nhiwatch.store import Store
from tests.alerts.helpers import T0, integration, setup_store

H = timedelta(hours=1)
SLACK = timedelta(minutes=30)


def ep(i: str, fam: str, integ: str, start: datetime, hours: float = 1) -> Episode:
    return Episode(i, fam, integ, start, start + hours * H)


def test_recall_delay_precision_and_false_rate() -> None:
    eps = [ep("1", "fanout", "a", T0), ep("2", "fanout", "b", T0), ep("3", "exfil", "c", T0 + 5 * H)]
    spans = [
        Span("a", T0 + timedelta(minutes=10), T0 + H),  # 10 min late
        Span("a", T0 + 2 * H, T0 + 3 * H),  # 1 h after the end: beyond the slack, false
        Span("c", T0 + 5 * H - timedelta(minutes=20), T0 + 6 * H),  # within slack before the start: delay 0
        Span("z", T0, T0),
    ]
    m = score_spans(eps, spans, integration_days=200, slack=SLACK)
    assert (m.families["fanout"].detected, m.families["fanout"].episodes) == (1, 2)
    assert m.families["exfil"].recall == 1.0 and m.families["exfil"].median_delay_s == 0.0
    assert m.overall.delays_s == [600.0, 0.0]
    assert (m.alerts, m.true_alerts) == (4, 2) and m.precision == 0.5
    assert m.false_per_100_days == 1.0
    assert [e.episode_id for e in m.missed] == ["2"]


def test_budget_spans_group_hours_like_alerts() -> None:
    hours = [T0 + i * H for i in range(6)]
    w = HourlyFeatures(["a", "a", "b", "a", "b", "c"], hours, np.zeros((6, len(NAMES))))
    scores = np.array([9.0, 8.0, 7.0, 1.0, 0.5, 6.0])
    spans = budget_spans(w, scores, 3, timedelta(hours=6))
    assert sorted((s.integration_id, s.first, s.last) for s in spans) == [
        ("a", T0, T0 + 2 * H),
        ("b", T0 + 2 * H, T0 + 3 * H),
        ("c", T0 + 5 * H, T0 + 6 * H),
    ]
    assert budget_spans(w, scores, 0, timedelta(hours=6)) == []


def test_truth_file_errors(tmp_path: Path) -> None:
    p = tmp_path / "truth.jsonl"
    p.write_text(
        '{"episode_id": "1", "family": "f", "integration_id": "a", "start": "2025-09-01T00:00:00Z"}\n'
    )
    with pytest.raises(ConfigError, match=r"truth.jsonl:1: missing end"):
        load_truth(p)
    p.write_text("")
    with pytest.raises(ConfigError, match="no episodes"):
        load_truth(p)


def test_hourly_features_are_standardised_per_integration(store: Store) -> None:
    setup_store(store, [integration("a"), integration("b")], days=4)
    history, window = hourly(store, T0 + timedelta(days=3), T0 + timedelta(days=4), history_days=3)
    assert len(history.x) == 2 * 72 and len(window.x) == 2 * 24
    assert history.x.shape[1] == len(NAMES)
    assert np.allclose(history.x.mean(axis=0), 0.0)


def test_evaluation_run_with_generic_detectors(store: Store, tmp_path: Path) -> None:
    setup_store(store, [integration("a"), integration("b")], days=4)
    rng = np.random.default_rng(3)
    noise = [
        (T0 + timedelta(hours=h, minutes=5 + k), f"n{h}-{k}-{i}", "test", i, "read", "Success", "oauth_app")
        for h in range(96)
        for i in ("a", "b")
        for k in range(rng.integers(0, 4))
    ]
    burst = [
        (T0 + timedelta(days=3, hours=5, minutes=i), f"x{i}", "test", "b", "export", "Success", "oauth_app")
        for i in range(50)
    ]
    store.insert_rows(
        "events",
        ["time", "metadata_uid", "source", "integration_id", "action_class", "status", "actor_user_type"],
        noise + burst,
    )
    truth = tmp_path / "truth.jsonl"
    start = T0 + timedelta(days=3, hours=5)
    truth.write_text(
        orjson.dumps(
            {
                "episode_id": "e",
                "family": "burst",
                "integration_id": "b",
                "start": start.isoformat() + "Z",
                "end": (start + H).isoformat() + "Z",
            }
        ).decode()
    )
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(
        orjson.dumps(
            {
                "alert_id": "al-1",
                "kind": "behaviour",
                "integration_id": "b",
                "first_seen": start.isoformat() + "Z",
                "last_seen": (start + 49 * timedelta(minutes=1)).isoformat() + "Z",
            }
        ).decode()
    )
    ev = evaluate(store, truth, alerts=alerts, since=T0 + timedelta(days=3), until=T0 + timedelta(days=4))
    assert ev.integration_days == pytest.approx(2.0)
    assert set(ev.results) == {"nhiwatch", "River HalfSpaceTrees", "IsolationForest"}
    assert ev.results["nhiwatch"].overall.detected == 1
    for name in ("River HalfSpaceTrees", "IsolationForest"):
        assert ev.results[name].alerts == 1  # held to nhiwatch's budget
    assert ev.results["IsolationForest"].overall.detected == 1  # an obvious burst
    text = ev.as_text()
    assert "| burst | 1/1 (100 %) | 0 min |" in text and "false alerts per 100 integration-days" in text
