"""Streaming on the same state: a push is accepted (202 with an id) before it is ingested, the spool makes
an accepted push survive a crash (replayed at start, stored once), pushes are ingested in the order they
were accepted, ``GET /api/v1/ingest/{id}`` tells a push's status, and each micro-batch scores only the
events that arrived since the last one (a cursor over ``ingest_batch``)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from nhiwatch import rollups
from nhiwatch.pipeline import scored_cursor
from nhiwatch.server.app import create_app
from nhiwatch.server.spool import read_journal
from nhiwatch.server.state import ServerState, Settings
from tests.server import data
from tests.server.conftest import Company, Live, auth, make_app, writer_holding


def later_day(offset: int, tag: str) -> list[dict]:
    """The attack shape on a later day, with ids, repositories and an address not seen before."""
    recs = data.attack(offset)
    for r in recs:
        r["_document_id"] = f"{r['_document_id']}-{tag}"
        if r["actor"] == "release-bot":
            r["repo"] = f"{r['repo']}-{tag}"
            r["actor_ip"] = f"192.0.2.{offset}"
    return recs


def office_day(offset: int, tag: str) -> list[dict]:
    """An ordinary weekday of release-bot's work (office hours, its repository and address), new ids."""
    first_monday = [r for r in data.history() if r["actor"] == "release-bot"][:18]
    shift = offset * 86_400_000
    return [
        {**r, "@timestamp": r["@timestamp"] + shift, "created_at": r["created_at"] + shift,
         "_document_id": f"{r['_document_id']}-{tag}"}
        for r in first_monday
    ]  # fmt: skip


@pytest.fixture
def running(company: Company, tmp_path: Path) -> Iterator[TestClient]:
    """An in-process client whose app has its worker thread running (pushes are then only accepted)."""
    app = make_app(company, tmp_path, worker_interval=0.2)
    app.state.nw.worker.start()
    try:
        yield TestClient(app, base_url="http://127.0.0.1")
    finally:
        app.state.nw.close()


def push(c: TestClient | httpx.Client, token: str, body: bytes, **params: object) -> httpx.Response:
    return c.post("/api/v1/ingest", content=body, params=params, headers=auth(token))  # type: ignore[arg-type]


def status(c: TestClient | httpx.Client, token: str, push_id: str) -> dict:
    r = c.get(f"/api/v1/ingest/{push_id}", headers=auth(token))
    assert r.status_code == 200, r.text
    return dict(r.json())


def settle(c: TestClient | httpx.Client, token: str, push_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    s = status(c, token, push_id)
    while s["status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
        s = status(c, token, push_id)
    return s


def events(state: ServerState) -> int:
    with state.reader() as store:
        return store.event_count()


def test_a_push_is_answered_before_it_is_ingested(running: TestClient, company: Company) -> None:
    state: ServerState = running.app.state.nw  # type: ignore[attr-defined]
    analyst = company.tokens["analyst"]
    before = events(state)
    with writer_holding(state):  # the store is busy (a long ingest or micro-batch): the push still answers
        r = push(running, analyst, data.ndjson(later_day(30, "early")))
        assert r.status_code == 202, r.text
        push_id = r.json()["id"]
        assert r.json() == {
            "id": push_id,
            "status": "queued",
            "lines": 31,
            "status_url": f"/api/v1/ingest/{push_id}",
        }
        assert status(running, analyst, push_id) == {"id": push_id, "status": "queued", "ahead": 0}
        assert events(state) == before  # nothing ingested yet
    done = settle(running, analyst, push_id)
    assert done["status"] == "ingested" and done["stored"] == 31 and done["duplicates"] == 0, done
    assert events(state) == before + 31


def test_wait_answers_with_the_outcome_and_reasons(running: TestClient, company: Company) -> None:
    analyst = company.tokens["analyst"]
    body = data.ndjson(later_day(31, "wait")) + b'{"action": "git.clone", "broken\n'
    r = push(running, analyst, body, wait=30)
    assert r.status_code == 400, r.text
    out = r.json()
    assert out["status"] == "ingested" and out["stored"] == 31 and out["quarantined"] == 1
    assert out["errors"][0]["line"] == 32 and "JSON" in out["errors"][0]["reason"]
    assert status(running, analyst, out["id"]) == out  # the same answer later, from the push log
    assert push(running, analyst, data.ndjson(later_day(31, "wait")), wait=30).json()["duplicates"] == 31


def test_status_of_unknown_and_malformed_ids(client: TestClient, company: Company) -> None:
    analyst = auth(company.tokens["analyst"])
    r = client.get("/api/v1/ingest/0000000000000000", headers=analyst)
    assert r.status_code == 404 and "no push" in r.json()["detail"]
    assert client.get("/api/v1/ingest/..%2F..%2Fetc", headers=analyst).status_code in (404, 422)
    assert client.get("/api/v1/ingest/ABCDEF", headers=analyst).status_code == 422
    assert (
        client.get("/api/v1/ingest/0000000000000000", headers=auth(company.tokens["viewer"])).status_code
        == 403
    )


def test_pushes_are_ingested_in_the_order_they_were_accepted(running: TestClient, company: Company) -> None:
    """Two pushes carry the same event id with different content: the one accepted first is stored."""
    state: ServerState = running.app.state.nw  # type: ignore[attr-defined]
    analyst = company.tokens["analyst"]
    first = later_day(32, "order")
    second = [{**r, "actor_ip": "198.51.100.250"} for r in first]
    with writer_holding(state):  # both wait in the queue, then go in one drain
        ids = [push(running, analyst, data.ndjson(recs)).json()["id"] for recs in (first, second)]
        assert ids == sorted(ids)
        assert status(running, analyst, ids[1])["ahead"] == 1
    a, b = (settle(running, analyst, i) for i in ids)
    assert a["stored"] == 31 and b["stored"] == 0
    with state.reader() as store:
        ips = {ip for (ip,) in store.fetchall(
            "SELECT DISTINCT src_endpoint_ip FROM events WHERE metadata_uid LIKE '%-order'")}  # fmt: skip
    assert ips == {"192.0.2.32", "198.51.100.77"}  # the first push's addresses, not the second's


def crash_copy(state: ServerState, into: Path) -> Path:
    """The store and its spool as a crash would leave them on disk (copied while the writer lock is held)."""
    db = state.settings.db_path
    into.mkdir()
    for f in db.parent.iterdir():
        if f.name.startswith(db.name) and f.is_file() and not f.name.endswith(".server.json"):
            shutil.copy(f, into / f.name)
    spool = into / (db.name + ".spool")
    shutil.copytree(state.intake.spool.dir, spool)
    spool.chmod(0o700)
    for body in spool.glob("*.log"):  # never flushed: the journal holds the accepted copy
        body.unlink()
    return into / db.name


def test_accepted_pushes_survive_a_crash_and_are_stored_once(
    running: TestClient, company: Company, tmp_path: Path
) -> None:
    state: ServerState = running.app.state.nw  # type: ignore[attr-defined]
    analyst = company.tokens["analyst"]
    before = events(state)
    bodies = [data.ndjson(later_day(33, "crash1")), data.ndjson(later_day(34, "crash2")) + b"[1, 2]\n"]
    with writer_holding(state):  # accepted, not ingested: then the process dies
        ids = [push(running, analyst, b).json()["id"] for b in bodies]
        db = crash_copy(state, tmp_path / "crashed")
    (journal,) = db.with_name(db.name + ".spool").glob("journal-*.nwj")
    assert [t.id for t, _ in read_journal(journal)] == ids
    app = create_app(db, settings=Settings(db))  # the restart replays the spool, in order, first
    try:
        c = TestClient(app, base_url="http://127.0.0.1")
        assert app.state.nw.intake.backlog()[0] == 2
        assert app.state.nw.worker.run_once() is not None  # ingests both, then scores them
        s = [status(c, analyst, i) for i in ids]
        assert [x["stored"] for x in s] == [31, 31] and s[1]["quarantined"] == 1
        assert events(app.state.nw) == before + 62
        assert not list(app.state.nw.intake.spool.dir.iterdir())  # the spool is empty once stored
        with app.state.nw.reader() as store:
            assert (
                store.scalar("SELECT count(*) FROM quarantine WHERE ingest_file LIKE ?", [f"%#{ids[1]}"]) == 1
            )
    finally:
        app.state.nw.close()


def test_a_crash_after_the_ingest_replays_without_duplicates(company: Company, tmp_path: Path) -> None:
    """Killed after the ingest committed but before the push was logged and its files removed: the replay
    stores nothing twice, and its quarantine rows are not doubled."""
    app = make_app(company, tmp_path)
    state: ServerState = app.state.nw
    c = TestClient(app, base_url="http://127.0.0.1")
    analyst = company.tokens["analyst"]
    spool = state.intake.spool
    kept: dict[str, bytes] = {}
    real_remove = spool.remove

    def crash_before_remove(ticket: object) -> None:  # keep the files a crash would have left behind
        for f in spool.dir.iterdir():
            kept[f.name] = f.read_bytes()
        real_remove(ticket)  # type: ignore[arg-type]

    spool.remove = crash_before_remove  # type: ignore[method-assign]
    r = push(c, analyst, data.ndjson(later_day(35, "twice")) + b"not json at all\n")
    assert r.status_code == 400 and r.json()["stored"] == 31
    push_id = r.json()["id"]
    stored = events(state)
    with state.db() as store:  # the crash came before the push log was written
        store.execute("DELETE FROM push_log WHERE push_id = ?", [push_id])
        store.execute("UPDATE quarantine SET ingest_file = ? WHERE ingest_file LIKE ?",
                      [str(spool.dir / f"{push_id}.log"), f"%#{push_id}"])  # fmt: skip
    state.close()
    for name, content in kept.items():
        (spool.dir / name).write_bytes(content)
    db = state.settings.db_path
    again = create_app(db, settings=Settings(db))
    try:
        c = TestClient(again, base_url="http://127.0.0.1")
        assert again.state.nw.intake.backlog()[0] == 1
        again.state.nw.worker.run_once()
        s = status(c, analyst, push_id)
        assert s["stored"] == 0 and s["duplicates"] == 31 and s["quarantined"] == 1, s
        assert events(again.state.nw) == stored
        with again.state.nw.reader() as store:
            assert (
                store.scalar("SELECT count(*) FROM quarantine WHERE ingest_file LIKE ?", [f"%#{push_id}"])
                == 1
            )
    finally:
        again.state.nw.close()


def test_a_logged_push_left_in_the_spool_is_not_ingested_again(company: Company, tmp_path: Path) -> None:
    app = make_app(company, tmp_path)
    state: ServerState = app.state.nw
    c = TestClient(app, base_url="http://127.0.0.1")
    spool = state.intake.spool
    kept: dict[str, bytes] = {}
    real_remove = spool.remove

    def keep(ticket: object) -> None:
        kept.update({f.name: f.read_bytes() for f in spool.dir.iterdir()})
        real_remove(ticket)  # type: ignore[arg-type]

    spool.remove = keep  # type: ignore[method-assign]
    push_id = push(c, company.tokens["analyst"], data.ndjson(later_day(36, "logged"))).json()["id"]
    state.close()
    for name, content in kept.items():
        (spool.dir / name).write_bytes(content)
    again = create_app(state.settings.db_path, settings=Settings(state.settings.db_path))
    try:
        assert again.state.nw.intake.backlog()[0] == 0 and not list(spool.dir.iterdir())
        c = TestClient(again, base_url="http://127.0.0.1")
        assert status(c, company.tokens["analyst"], push_id)["stored"] == 31  # the first outcome stands
    finally:
        again.state.nw.close()


def test_an_unacknowledged_upload_is_dropped_at_start(company: Company, tmp_path: Path) -> None:
    app = make_app(company, tmp_path)
    spool = app.state.nw.intake.spool
    app.state.nw.close()
    (spool.dir / "tmp-18ece63c6fe28561.log").write_bytes(b'{"half": ')  # the crash came mid-upload
    (spool.dir / "18ece63c6fe28562.log").write_bytes(b"{}\n")  # made durable, never ticketed
    again = make_app(company, tmp_path)
    try:
        assert again.state.nw.intake.backlog()[0] == 0 and not list(spool.dir.iterdir())
    finally:
        again.state.nw.close()


def test_each_micro_batch_scores_only_the_new_events(client: TestClient, company: Company) -> None:
    state: ServerState = client.app.state.nw  # type: ignore[attr-defined]
    worker = state.worker
    assert worker is not None
    with state.reader() as store:
        start = scored_cursor(store)
        assert start == rollups.cursor(store)  # history is not replayed by the server
    first = worker.run_once()  # a new server looks once for unscored events: there are none
    assert first is None or first.events == 0
    r = push(client, company.tokens["analyst"], data.ndjson(later_day(37, "cursor")))
    assert r.status_code == 200  # no worker thread: the push was ingested before the answer
    outcome = worker.run_once()
    assert outcome is not None and outcome.error is None
    # the 31 pushed events (release-bot's clones and the undeclared bot's call) and only they were scored,
    # over their hour (2025-10-08 03:00-04:00), not the four weeks of history before them
    assert outcome.events == 31
    assert (outcome.since, outcome.until) == (datetime(2025, 10, 8, 3), datetime(2025, 10, 8, 4))
    with state.reader() as store:
        assert scored_cursor(store) == rollups.cursor(store) == outcome.cursor > start
        runs = store.fetchall('SELECT since, "until" FROM detection_runs ORDER BY started_at DESC LIMIT 1')
    assert runs == [(outcome.since, outcome.until)]  # one detection run, over the new events' hour
    assert worker.run_once() is None  # nothing new: no scoring at all


def test_an_attack_pushed_during_load_still_alerts(live: Live, company: Company) -> None:
    analyst = company.tokens["analyst"]
    v = auth(company.tokens["viewer"])
    stop = threading.Event()
    answers: list[int] = []

    def load() -> None:  # ordinary weekdays of release-bot, one push each, as fast as they are accepted
        weekdays = [d for d in range(29, 46) if (data.START.weekday() + d) % 7 < 5]
        with httpx.Client(base_url=live.url, timeout=60) as lc:
            for day in weekdays:
                if stop.is_set():
                    break
                answers.append(push(lc, analyst, data.ndjson(office_day(day, f"load{day}"))).status_code)

    with httpx.Client(base_url=live.url, timeout=60) as c:
        before = {a["alert_id"] for a in c.get("/api/v1/alerts", headers=v).json()["alerts"]}
        sender = threading.Thread(target=load)
        sender.start()
        try:
            time.sleep(0.5)
            r = push(c, analyst, data.ndjson(later_day(40, "loaded")))
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 180
            new: list[dict] = []
            while time.monotonic() < deadline and not new:
                time.sleep(0.2)
                alerts = c.get("/api/v1/alerts", params={"integration": "release-bot"}, headers=v).json()
                new = [
                    a for a in alerts["alerts"]
                    if a["alert_id"] not in before and a["first_seen"].startswith("2025-10-11")
                ]  # fmt: skip
        finally:
            stop.set()
            sender.join(60)
        assert answers and set(answers) == {202}
        assert new, "the attack pushed during the load raised no alert"
        assert settle(c, analyst, r.json()["id"])["stored"] == 31
        deadline = time.monotonic() + 120  # the server stops cleanly once the load is ingested
        while c.get("/api/v1/status", headers=v).json()["queued_pushes"] and time.monotonic() < deadline:
            time.sleep(0.2)


def test_a_full_spool_answers_503(company: Company, tmp_path: Path) -> None:
    app = make_app(company, tmp_path, max_queued_pushes=1)
    state: ServerState = app.state.nw
    assert state.worker is not None
    state.worker.start()
    try:
        c = TestClient(app, base_url="http://127.0.0.1")
        with writer_holding(state):
            assert push(c, company.tokens["analyst"], data.ndjson(later_day(41, "full"))).status_code == 202
            r = push(c, company.tokens["analyst"], data.ndjson(later_day(42, "full")))
            assert r.status_code == 503 and r.headers["retry-after"] and "behind" in r.json()["detail"]
    finally:
        state.close()


def test_ndjson_order_helper_is_sane() -> None:
    # guards the data helpers the tests above rely on: a later day moves every event by whole days
    a, b = office_day(30, "x"), office_day(31, "x")
    assert [orjson.loads(orjson.dumps(r))["@timestamp"] for r in b] == [
        r["@timestamp"] + 86_400_000 for r in a
    ]


def test_spans_doctests() -> None:
    import doctest

    from nhiwatch import pipeline

    assert doctest.testmod(pipeline).failed == 0
