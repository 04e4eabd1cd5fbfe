"""Delivery of the alerts a real ingest and scoring run raises: every alert reaches each receiver once,
a second scoring run over the same data delivers nothing again, and nothing from the logs leaks."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.alerts import tables
from nhiwatch.detection import run_detection
from nhiwatch.outputs.sinks import deliver
from nhiwatch.outputs.sinks.config import DeliveryConfig
from nhiwatch.pipeline import ingest_all
from nhiwatch.store import Store
from tests.outputs.sinks.helpers import Script
from tests.outputs.sinks.test_http_sinks import HEC_TOKEN, hec_check, hec_events, slack_shape
from tests.server import data

NOW = datetime(2025, 10, 1)


def test_alerts_of_a_scored_store_are_delivered_once(
    store: Store, tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs, inv = data.write_company(tmp_path / "company")
    ingest_all(store, [logs], inventory=inv)
    run_detection(store)
    alerts = tables.load_alerts(store)
    assert len(alerts) >= 3 and {a.kind for a in alerts} == {"behaviour", "posture"}

    slack, hec = (
        Script([(200, {}, "ok")], check=slack_shape),
        Script([(200, {}, '{"code":0}')], check=hec_check),
    )
    httpserver.expect_request("/slack").respond_with_handler(slack)
    httpserver.expect_request("/services/collector/event").respond_with_handler(hec)
    monkeypatch.setenv("SLACK_URL", httpserver.url_for("/slack"))
    monkeypatch.setenv("HEC_TOKEN", HEC_TOKEN)
    cfg = DeliveryConfig.model_validate(
        {
            "console_url": "https://nhiwatch.example.com",
            "sinks": [
                {"name": "slack", "type": "slack", "url_env": "SLACK_URL", "min_severity": "low"},
                {"name": "hec", "type": "splunk_hec", "url": httpserver.url_for("/"), "token_env": "HEC_TOKEN",
                 "batch_size": 2, "format": "ocsf"},
            ],
        }
    )  # fmt: skip
    reports = deliver.run(store, cfg, now=NOW, sleep=lambda s: None)
    active = [a for a in alerts if a.status in ("open", "malicious")]
    assert [(r.delivered, r.dead) for r in reports] == [(len(active), 0), (len(active), 0)]
    events = [e for _, body in hec.requests for e in hec_events(body)]
    assert sorted(e["event"]["finding_info"]["uid"] for e in events) == sorted(a.alert_id for a in active)
    sent = b"".join(body for _, body in slack.requests + hec.requests).decode()
    assert data.LEAKED not in sent and "<script>" not in sent

    # scoring the same data again re-saves every alert; none of them changed, so nothing goes out again
    run_detection(store)
    again = deliver.run(store, cfg, now=NOW, sleep=lambda s: None)
    assert [(r.queued, r.delivered) for r in again] == [(0, 0), (0, 0)]
    assert len(slack.requests) == len(active)
    assert json.loads(slack.requests[0][1])["blocks"][0]["type"] == "header"
