"""The read and triage API: alerts with filters, one alert with evidence, triage, suppression,
integrations with baseline summary and charts, metrics, OpenAPI; secrets never leave redacted."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.server import data
from tests.server.conftest import Company, auth


def alerts(client: TestClient, token: str, **params: str) -> dict:
    r = client.get("/api/v1/alerts", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def test_alert_list_filters(client: TestClient, company: Company) -> None:
    v = company.tokens["viewer"]
    every = alerts(client, v)
    assert every["total"] == len(every["alerts"]) >= 3
    kinds = {a["integration_id"]: a for a in every["alerts"]}
    assert {"release-bot", "sync-bot", "discovered:github:actor:mystery[bot]"} <= set(kinds)
    behaviour = kinds["release-bot"]
    assert behaviour["kind"] == "behaviour" and behaviour["status"] == "open"
    assert alerts(client, v, integration="sync-bot")["total"] == 1
    det = behaviour["detectors"][0]
    assert all(det in a["detectors"] for a in alerts(client, v, detector=det)["alerts"])
    sev = behaviour["severity"]
    assert {a["severity"] for a in alerts(client, v, severity=sev)["alerts"]} == {sev}
    assert alerts(client, v, status="benign")["total"] == 0
    assert alerts(client, v, since="2030-01-01T00:00:00Z")["total"] == 0
    assert alerts(client, v, until="2020-01-01")["total"] == 0
    page = alerts(client, v, limit="1", offset="1")
    assert len(page["alerts"]) == 1 and page["alerts"][0]["alert_id"] == every["alerts"][1]["alert_id"]
    assert client.get("/api/v1/alerts", params={"status": "bogus"}, headers=auth(v)).status_code == 400
    assert client.get("/api/v1/alerts", params={"limit": "0"}, headers=auth(v)).status_code == 422


def test_one_alert_has_explanation_references_and_redacted_evidence(
    client: TestClient, company: Company
) -> None:
    v = auth(company.tokens["viewer"])
    items = alerts(client, company.tokens["viewer"])["alerts"]
    for a in items:
        r = client.get(f"/api/v1/alerts/{a['alert_id']}", headers=v)
        assert r.status_code == 200
        one = r.json()
        assert one["explanation"] and isinstance(one["references"], dict)
        assert data.LEAKED not in r.text
    mystery = next(a for a in items if a["integration_id"].startswith("discovered:"))
    one = client.get(f"/api/v1/alerts/{mystery['alert_id']}", headers=v).json()
    behaviour = next(a for a in items if a["integration_id"] == "release-bot")
    full = client.get(f"/api/v1/alerts/{behaviour['alert_id']}", headers=v).json()
    ev = full["evidence_events"]
    assert ev and all(e["raw_data"] for e in ev)
    steps = full["response"]["contain"]
    assert steps and all(s["step"] for s in steps) and full["response"]["investigate"]
    assert full["response"]["contact"]
    assert one["integration_name"] == "mystery[bot]"
    assert client.get("/api/v1/alerts/al-does-not-exist", headers=v).status_code == 404


def test_triage_moves_an_alert_out_of_the_open_queue(client: TestClient, company: Company) -> None:
    a = alerts(client, company.tokens["viewer"], integration="release-bot")["alerts"][0]
    url = f"/api/v1/alerts/{a['alert_id']}/triage"
    r = client.post(url, json={"verdict": "maybe"}, headers=auth(company.tokens["analyst"]))
    assert r.status_code == 422
    r = client.post(
        url, json={"verdict": "benign", "note": "release day"}, headers=auth(company.tokens["analyst"])
    )
    assert r.status_code == 200 and r.json()["previous_status"] == "open"
    assert "allowance" in r.json()["effect"]
    open_ids = {x["alert_id"] for x in alerts(client, company.tokens["viewer"], status="open")["alerts"]}
    assert a["alert_id"] not in open_ids
    one = client.get(f"/api/v1/alerts/{a['alert_id']}", headers=auth(company.tokens["viewer"])).json()
    assert one["status"] == "benign" and one["triage"][0]["analyst"] == "analyst-1"
    r = client.post(
        "/api/v1/alerts/nope/triage", json={"verdict": "benign"}, headers=auth(company.tokens["analyst"])
    )
    assert r.status_code == 404


def test_suppression_with_reason_and_expiry(client: TestClient, company: Company) -> None:
    a = alerts(client, company.tokens["viewer"], integration="sync-bot")["alerts"][0]
    admin = auth(company.tokens["admin"])
    url = f"/api/v1/alerts/{a['alert_id']}/suppress"
    assert client.post(url, json={"reason": ""}, headers=admin).status_code == 422
    r = client.post(
        url, json={"reason": "owner being assigned", "expires": "2099-01-01T00:00:00Z"}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "suppressed" and r.json()["rules"]
    rules = client.get("/api/v1/suppressions", headers=admin).json()["rules"]
    assert any(x["reason"] == "owner being assigned" and x["integration_id"] == "sync-bot" for x in rules)
    assert alerts(client, company.tokens["viewer"], status="suppressed")["total"] == 1
    past = client.post(url, json={"reason": "x", "expires": "2001-01-01T00:00:00Z"}, headers=admin)
    assert past.status_code == 400 and "past" in past.json()["detail"]


def test_integrations_inventory_and_discovered(client: TestClient, company: Company) -> None:
    v = auth(company.tokens["viewer"])
    body = client.get("/api/v1/integrations", headers=v).json()
    by_id = {i["id"]: i for i in body["integrations"]}
    rb = by_id["release-bot"]
    assert rb["owner"] == "platform@acme.example" and rb["purpose"] and rb["risk_tier"] == "high"
    assert rb["last_activity"] and rb["events"] > 300 and rb["open_alerts"] >= 1
    assert rb["baseline"] and rb["baseline"]["state"]
    assert by_id["sync-bot"]["ownerless"] is True
    mystery = by_id["discovered:github:actor:mystery[bot]"]
    assert mystery["discovered"] is True and mystery["ownerless"] is True
    one = client.get("/api/v1/integrations/release-bot", headers=v)
    assert one.status_code == 200 and one.json()["schedule"]
    assert client.get("/api/v1/integrations/nope", headers=v).status_code == 404
    base = client.get("/api/v1/integrations/release-bot/baseline", headers=v)
    assert base.status_code == 200 and {"profile", "envelope", "volume"} <= set(base.json())


def test_chart_specs_are_vega_lite(client: TestClient, company: Company) -> None:
    r = client.get("/api/v1/integrations/release-bot/charts", headers=auth(company.tokens["viewer"]))
    specs = r.json()
    assert set(specs) == {"volume", "heatmap", "destinations"}
    for spec in specs.values():
        assert spec["$schema"].endswith("vega-lite/v5.json") and spec["layer"]
    volume_data = [layer["data"]["values"] for layer in specs["volume"]["layer"]]
    assert any("lo" in rows[0] for rows in volume_data if rows)  # the baseline band is drawn
    dests = specs["destinations"]["data"]["values"]  # both layers share the top-level data
    assert any(d["first_seen"] for d in dests)


def test_metrics_and_openapi(client: TestClient, company: Company) -> None:
    r = client.get("/metrics", headers=auth(company.tokens["viewer"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "# TYPE nhiwatch_store_events gauge" in r.text
    assert 'nhiwatch_alerts{status="open"' in r.text
    spec = client.get("/api/v1/openapi.json", headers=auth(company.tokens["viewer"])).json()
    assert spec["openapi"].startswith("3.") and "/api/v1/ingest" in spec["paths"]
    assert not any(p.startswith(("/alerts", "/login")) for p in spec["paths"])  # console pages excluded


def test_no_stack_traces_reach_clients(client: TestClient, company: Company, monkeypatch) -> None:
    from nhiwatch.server import queries

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(queries, "list_integrations", boom)
    client = TestClient(client.app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    r = client.get("/api/v1/integrations", headers=auth(company.tokens["viewer"]))
    assert r.status_code == 500
    assert "secret internal detail" not in r.text and "Traceback" not in r.text


def test_security_headers(client: TestClient, company: Company) -> None:
    r = client.get("/api/v1/alerts", headers=auth(company.tokens["viewer"]))
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


def test_inventory_reload_replaces_declared_integrations(client: TestClient, company: Company) -> None:
    admin = auth(company.tokens["admin"])
    owned = data.INVENTORY.replace(
        "  purpose: Syncs docs", "  owner: docs@acme.example\n  purpose: Syncs docs"
    )
    r = client.post("/api/v1/inventory/reload", content=owned.encode(), headers=admin)
    assert r.status_code == 200 and r.json()["integrations"] == 2
    one = client.get("/api/v1/integrations/sync-bot", headers=admin).json()
    assert one["owner"] == "docs@acme.example" and one["ownerless"] is False
    bad = client.post("/api/v1/inventory/reload", content=b"integrations: [{id: 1, nope: 2}]", headers=admin)
    assert bad.status_code == 400 and "inventory" in bad.json()["detail"]
    assert client.get("/api/v1/integrations/sync-bot", headers=admin).json()["owner"] == "docs@acme.example"
    empty = client.post("/api/v1/inventory/reload", headers=admin)
    assert empty.status_code == 400 and "--inventory" in empty.json()["detail"]
