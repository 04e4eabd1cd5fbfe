"""No answer names a server path: a hostile session (broken pushes in every format, a cut-off gzip, bad
inventories, unknown ids, out-of-range values) is searched for the temporary directory, the push spool
and the store's path. Answers say "the pushed body", "line N" and "the inventory body" instead; a password
typed into a suppression reason is not echoed."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.server import data
from tests.server.conftest import Company, auth


def test_a_hostile_session_never_sees_a_server_path(app: FastAPI, company: Company) -> None:
    c = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    analyst, admin = auth(company.tokens["analyst"]), auth(company.tokens["admin"])
    good = data.ndjson(data.attack(40))
    pushes = [
        b"hello, this is not a log\n",
        b'{"action": "git.clone", "broken\n' + good,
        b"\x00\x01\x02 NUL bytes \x00\n" * 3,
        b'time,actor,action\n"2025-10-01T00:00:00Z,"unterminated,quote\n',
        gzip.compress(good)[:-40],  # a gzip cut off before its end
        b"\x1f\x8b\x08\x00 not gzip at all",
        b"[" * 70 + b"]" * 70,
        b"\xff\xfe invalid utf-8 \xc3\x28\n",
    ]
    answers = [c.post("/api/v1/ingest", content=p, headers=analyst) for p in pushes]
    answers.append(c.post("/api/v1/ingest", content=good, params={"source": "no-such"}, headers=analyst))
    answers.append(c.post("/api/v1/ingest", content=b'{"a": 1}', params={"source": "okta"}, headers=analyst))
    for inventory in (
        b"integrations: [",
        b"integrations:\n- id: x\n  bogus_key: 1\n",
        b"\x00\xff",
        b"- " * 5000,
    ):
        answers.append(c.post("/api/v1/inventory/reload", content=inventory, headers=admin))
    answers.append(c.post("/api/v1/inventory/reload", headers=admin))  # no --inventory file
    answers += [
        c.get("/api/v1/alerts/nope", headers=analyst),
        c.get("/api/v1/integrations/nope/baseline", headers=analyst),
        c.get("/api/v1/alerts", params={"since": "0001-01-01T00:00:00+01:00"}, headers=analyst),
        c.get("/integrations/nope"),
    ]
    assert any(r.status_code == 400 and "line" in r.text for r in answers)
    assert any("the pushed body" in r.text for r in answers)
    assert any("the inventory body" in r.text for r in answers)
    db = str(app.state.nw.settings.db_path)
    spool = app.state.nw.intake.spool.dir
    secret_places = {
        "/tmp",
        tempfile.gettempdir(),
        str(spool),
        spool.name,
        db,
        str(Path(db).parent),
        ".duckdb",
    }
    for r in answers:
        assert r.status_code < 500, r.text
        for place in secret_places:
            assert place not in r.text, (place, r.text)
    with app.state.nw.reader() as store:  # the push's quarantine rows name the push, not the spool file
        files = {f for (f,) in store.fetchall("SELECT DISTINCT ingest_file FROM quarantine")}
    assert not any(str(spool) in f for f in files)
    assert any(f.startswith("push ") and " by analyst-1 #" in f for f in files)


def test_a_suppression_reason_does_not_echo_a_password(client: TestClient, company: Company) -> None:
    admin = auth(company.tokens["admin"])
    alert = client.get("/api/v1/alerts", headers=admin).json()["alerts"][0]["alert_id"]
    reason = "vendor said password=Hunter2Secret! is rotated"
    r = client.post(f"/api/v1/alerts/{alert}/suppress", json={"reason": reason}, headers=admin)
    assert r.status_code == 200, r.text
    listed = client.get("/api/v1/suppressions", headers=admin)
    assert listed.status_code == 200 and "Hunter2Secret" not in listed.text
    shown = client.get(f"/api/v1/alerts/{alert}", headers=admin)
    assert "Hunter2Secret" not in shown.text
