"""Against a real uvicorn on a loopback port: continuous scoring (push, then the alert appears with no
restart and no manual step), and the same auth answers as in-process."""

from __future__ import annotations

import gzip
import time

import httpx

from tests.server import data
from tests.server.conftest import Company, Live, auth


def test_pushed_events_become_alerts_without_a_restart(live: Live, company: Company) -> None:
    v = auth(company.tokens["viewer"])
    with httpx.Client(base_url=live.url, timeout=60) as c:
        assert c.get("/healthz").json() == {"status": "ok", "store": "ok", "worker": "running"}
        assert c.get("/api/v1/alerts").status_code == 401
        before = {a["alert_id"] for a in c.get("/api/v1/alerts", headers=v).json()["alerts"]}
        recs = data.attack(36)
        for r in recs:
            r["_document_id"] = f"{r['_document_id']}-live"
            r["repo"] = f"{r['repo']}-live"
            r["actor_ip"] = "192.0.2.201"
        body = gzip.compress(data.ndjson(recs))
        r = c.post(
            "/api/v1/ingest",
            content=body,
            headers={**auth(company.tokens["analyst"]), "Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 202 and r.json()["status"] == "queued", r.text  # accepted, not yet ingested
        where = r.headers["location"]
        assert where == r.json()["status_url"] == f"/api/v1/ingest/{r.json()['id']}"
        deadline = time.monotonic() + 60
        status = r.json()
        while status["status"] == "queued" and time.monotonic() < deadline:
            time.sleep(0.1)
            status = c.get(where, headers=auth(company.tokens["analyst"])).json()
        assert status["status"] == "ingested" and status["stored"] == len(recs), status
        new: list[dict] = []
        while time.monotonic() < deadline and not new:
            time.sleep(0.5)
            alerts = c.get("/api/v1/alerts", params={"integration": "release-bot"}, headers=v).json()
            new = [a for a in alerts["alerts"] if a["alert_id"] not in before]
        assert new, "the pushed attack was not scored within 60 s"
        assert "nhiwatch_worker_batches_total" in c.get("/metrics", headers=v).text
