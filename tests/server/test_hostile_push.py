"""A hostile push must not take the server down: the record nested 100,000 levels deep from issue 8 is
refused at the boundary, a failure inside the store never poisons the next request (writes acknowledged
afterwards survive a restart), and ``/healthz`` says when the store cannot write."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nhiwatch.server.state import ServerState
from nhiwatch.store import Store
from tests.server.conftest import Company, auth, make_app, writer_holding


def poison(depth: int = 100_000) -> bytes:
    """Issue 8's reproduction: two GitHub audit records, the second holding a list nested ``depth`` deep."""
    h = {"action": "git.clone", "actor": "t", "org": "acme", "@timestamp": 1774234800000}
    return (
        "["
        + json.dumps({**h, "_document_id": "a"})
        + ", "
        + json.dumps({**h, "_document_id": "b"})[:-1]
        + ', "x": '
        + "[" * depth
        + "]" * depth
        + "}]"
    ).encode()


def lenient(app: FastAPI) -> TestClient:
    """A client that sees the 500s a real client would (instead of the server's exception)."""
    return TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)


def still_serves(client: TestClient, company: Company, name: str) -> None:
    """Sign-in, triage and token creation all work after the hostile request."""
    r = client.post("/login", data={"token": company.tokens["viewer"]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    alerts = client.get("/api/v1/alerts", headers=auth(company.tokens["viewer"]))
    assert alerts.status_code == 200
    alert_id = alerts.json()["alerts"][0]["alert_id"]
    r = client.post(
        f"/api/v1/alerts/{alert_id}/triage",
        json={"verdict": "benign", "note": "after the poison"},
        headers=auth(company.tokens["analyst"]),
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/api/v1/tokens", json={"name": name, "role": "viewer"}, headers=auth(company.tokens["admin"])
    )
    assert r.status_code == 201, r.text
    assert client.get("/healthz").status_code == 200


def survives_restart(app: FastAPI, name: str) -> None:
    state: ServerState = app.state.nw
    db = state.settings.db_path
    state.close()
    with Store(db) as store:
        assert store.scalar("SELECT count(*) FROM api_tokens WHERE name = ?", [name]) == 1
        assert store.scalar("SELECT count(*) FROM triage_log WHERE note = 'after the poison'") == 1


def test_the_poison_push_is_refused_and_the_server_keeps_its_writes(company: Company, tmp_path: Path) -> None:
    app = make_app(company, tmp_path)
    client = lenient(app)
    r = client.post("/api/v1/ingest", content=poison(), headers=auth(company.tokens["analyst"]))
    assert r.status_code == 400, r.text
    assert "nested deeper than 64 levels" in r.json()["detail"] and "line 1" in r.json()["detail"]
    still_serves(client, company, "after-poison")
    survives_restart(app, "after-poison")


def test_a_failure_inside_the_store_does_not_poison_the_next_request(
    company: Company, tmp_path: Path
) -> None:
    """The boundary check switched off: whatever the ingest library does with the record, the server
    leaves the connection clean and later writes are committed."""
    app = make_app(company, tmp_path, max_nesting_depth=10**7)
    client = lenient(app)
    r = client.post("/api/v1/ingest", content=poison(), headers=auth(company.tokens["analyst"]))
    assert r.status_code != 200
    still_serves(client, company, "after-failure")
    survives_restart(app, "after-failure")


def test_db_rolls_back_an_open_transaction_and_reopens_a_dead_connection(app: FastAPI) -> None:
    state: ServerState = app.state.nw
    with pytest.raises(RecursionError), state.db() as store:
        store.execute("BEGIN TRANSACTION")
        store.execute("INSERT INTO ingest_runs (files) VALUES (-1)")
        raise RecursionError("deep")
    with state.db() as store:
        assert store.scalar("SELECT count(*) FROM ingest_runs WHERE files = -1") == 0
        store.execute("INSERT INTO ingest_runs (files) VALUES (-2)")  # autocommit again: not lost
    with pytest.raises(RuntimeError), state.db() as store:
        store.con.close()  # a connection that no longer answers
        raise RuntimeError("broken")
    with state.db() as store:
        assert store.scalar("SELECT count(*) FROM ingest_runs WHERE files = -2") == 1
    with state.db() as store:  # a block that "succeeds" but leaves a transaction open
        store.execute("BEGIN TRANSACTION")
    with state.reader() as reader:
        assert reader.scalar("SELECT count(*) FROM ingest_runs WHERE files = -2") == 1


def test_health_fails_when_the_store_cannot_write(app: FastAPI) -> None:
    client = lenient(app)
    state: ServerState = app.state.nw
    assert client.get("/healthz").json()["store"] == "ok"
    with state.lock:
        state.store.close()  # the file now opened read-only, as after a permission change or a full disk
        state.store.con = duckdb.connect(str(state.settings.db_path), read_only=True)
    state.health_probe = None
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "failing"
    assert "cannot write" in r.json()["store"] and "/" not in r.json()["store"]


def test_health_reports_a_poisoned_connection_then_heals_it(app: FastAPI) -> None:
    client = lenient(app)
    state: ServerState = app.state.nw
    with state.lock:  # the state issue 8 left behind: a transaction aborted and never rolled back
        state.store.execute("BEGIN TRANSACTION")
        with pytest.raises(Exception, match="nope"):
            state.store.execute("SELECT * FROM nope")
    state.health_probe = None
    assert client.get("/healthz").status_code == 503
    state.health_probe = None
    assert client.get("/healthz").status_code == 200


def test_a_nested_block_leaves_the_outer_transaction_alone(app: FastAPI) -> None:
    state: ServerState = app.state.nw
    with state.db() as store:
        store.execute("BEGIN TRANSACTION")
        store.execute("INSERT INTO ingest_runs (files) VALUES (-3)")
        with state.db() as inner:
            inner.execute("SELECT 1")
        store.execute("COMMIT")  # still open: the inner block did not roll it back
    with state.reader() as reader:
        assert reader.scalar("SELECT count(*) FROM ingest_runs WHERE files = -3") == 1


def test_health_during_a_long_write_is_busy_not_failing(app: FastAPI) -> None:
    state: ServerState = app.state.nw
    with writer_holding(state):
        writable, what = state.write_probe(timeout=0.1)
    assert writable and what.startswith("busy")
