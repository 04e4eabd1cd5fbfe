"""``GET /api/v1/fleet-events`` and the console's fleet page: authenticated, filtered, redacted, escaped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from nhiwatch.fleet.table import store_events
from nhiwatch.server.app import create_app
from nhiwatch.server.state import Settings
from nhiwatch.server.tokens import create_token
from nhiwatch.store import Store
from tests.server.conftest import Company, auth
from tests.server.test_console import signed_in

SECRET = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"


def _outage(app: FastAPI, reason: str = "UNKNOWN_EXCEPTION") -> str:
    with app.state.nw.db() as store:
        [eid] = store_events(
            store,
            [
                {
                    "kind": "outage",
                    "group_kind": "source",
                    "group_name": "salesforce",
                    "start_time": datetime(2026, 3, 26, 14, 10),
                    "end_time": datetime(2026, 3, 26, 16, 40),
                    "integrations": ["crm-sync", "<b>odd</b>", "sf-3"],
                    "total": 4,
                    "failures": 120,
                    "reasons": [reason],
                }
            ],
            datetime(2026, 3, 27),
        )
    return eid


def test_fleet_events_need_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/fleet-events").status_code == 401
    assert client.get("/api/v1/fleet-events", headers=auth("nhw_wrong")).status_code == 401


def test_fleet_events_listed_filtered_and_redacted(
    app: FastAPI, client: TestClient, company: Company
) -> None:
    eid = _outage(app, reason=f"key {SECRET} rejected")
    h = auth(company.tokens["viewer"])
    body = client.get("/api/v1/fleet-events", headers=h).json()
    assert body["total"] == 1
    e = body["fleet_events"][0]
    assert e["event_id"] == eid and e["label"] == "Salesforce" and (e["affected"], e["total"]) == (3, 4)
    assert e["summary"].startswith("Salesforce outage 2026-03-26 14:10-16:40 UTC hit 3 of 4")
    assert e["explained_alerts"] == 0
    assert SECRET not in str(body)
    assert client.get("/api/v1/fleet-events?kind=silence", headers=h).json()["total"] == 0
    assert client.get("/api/v1/fleet-events?group=github", headers=h).json()["total"] == 0
    assert client.get("/api/v1/fleet-events?group=Salesforce", headers=h).json()["total"] == 1
    assert client.get("/api/v1/fleet-events?since=2026-03-27T00:00:00Z", headers=h).json()["total"] == 0
    assert client.get("/api/v1/fleet-events?kind=attack", headers=h).status_code == 422
    assert client.get("/api/v1/fleet-events?since=9999-01-01", headers=h).status_code == 422


def test_a_store_never_searched_answers_empty(tmp_path: Path, company: Company) -> None:
    db = tmp_path / "bare.duckdb"
    with Store(db) as store:  # a store from before fleet context: no fleet_events table
        token = create_token(store, "v", "viewer")
    app = create_app(db, settings=Settings(db, worker_enabled=False))
    try:
        r = TestClient(app, base_url="http://127.0.0.1").get("/api/v1/fleet-events", headers=auth(token))
        assert r.status_code == 200 and r.json()["total"] == 0 and r.json()["fleet_events"] == []
    finally:
        app.state.nw.close()


def test_console_fleet_page(app: FastAPI, company: Company) -> None:
    c = signed_in(app, company.tokens["viewer"])
    before = c.get("/fleet")
    assert before.status_code == 200 and "Salesforce outage" not in before.text
    _outage(app)
    page = c.get("/fleet")
    assert page.status_code == 200
    assert "Salesforce outage 2026-03-26 14:10-16:40 UTC" in page.text
    assert "<b>odd</b>" not in page.text and "&lt;b&gt;odd&lt;/b&gt;" in page.text
    assert 'href="/fleet"' in c.get("/alerts").text
    anon = TestClient(app, base_url="http://127.0.0.1")
    assert anon.get("/fleet", follow_redirects=False).status_code in (303, 401)
