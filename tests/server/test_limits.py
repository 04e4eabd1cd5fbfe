"""Limits that keep one client from starving the others: pushes per token (429 with Retry-After), lines
and record size per push (413 that names the limit), reads that do not wait behind a long write, and the
scoring worker's detector failures counted and shown instead of dropped."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nhiwatch import pipeline
from nhiwatch.errors import ConfigError
from nhiwatch.server.state import ServerState
from tests.server import data
from tests.server.conftest import Company, auth, make_app, writer_holding


def test_pushes_per_token_are_limited(company: Company, tmp_path: Path) -> None:
    app = make_app(company, tmp_path, pushes_per_minute=3)
    c = TestClient(app, base_url="http://127.0.0.1")
    body = data.ndjson(data.attack(41))
    codes = [
        c.post("/api/v1/ingest", content=body, headers=auth(company.tokens["analyst"])) for _ in range(4)
    ]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert int(codes[-1].headers["retry-after"]) >= 1 and "pushes a minute" in codes[-1].json()["detail"]
    # another token is not affected
    assert c.post("/api/v1/ingest", content=body, headers=auth(company.tokens["admin"])).status_code == 200
    app.state.nw.close()


def test_lines_and_record_size_per_push_are_bounded(company: Company, tmp_path: Path) -> None:
    app = make_app(company, tmp_path, max_push_lines=20, max_record_bytes=4096)
    c = TestClient(app, base_url="http://127.0.0.1")
    t = auth(company.tokens["analyst"])
    before = c.get("/metrics", headers=auth(company.tokens["viewer"])).text
    many = b"{}\n" * 21
    for body in (many, gzip.compress(many)):
        r = c.post("/api/v1/ingest", content=body, headers=t)
        assert r.status_code == 413 and "more than 20 lines" in r.json()["detail"]
    big = data.ndjson(data.attack(42)[:2]) + b'{"action": "git.clone", "pad": "' + b"x" * 5000 + b'"}\n'
    r = c.post("/api/v1/ingest", content=big, headers=t)
    assert r.status_code == 413 and "line 3" in r.json()["detail"] and "4,096 bytes" in r.json()["detail"]
    text = b"plain text line " + b"y" * 5000 + b"\n"
    assert c.post("/api/v1/ingest", content=text, headers=t).status_code == 413
    # nothing of a refused push was stored, and the spool holds nothing afterwards
    assert c.get("/metrics", headers=auth(company.tokens["viewer"])).text == before
    assert not list(app.state.nw.intake.spool.dir.iterdir())
    # a wrapped export whose records are each small is fine, however large the wrapper
    wrapper = b'{"Records": [' + b",".join([b'{"a": "' + b"z" * 1000 + b'"}'] * 10) + b"]}"
    assert c.post("/api/v1/ingest", content=wrapper, headers=t).status_code != 413
    app.state.nw.close()


def test_reads_do_not_wait_behind_a_long_write(client: TestClient, company: Company) -> None:
    """A thread holds the writer lock (as a long ingest does); reads and sign-in still answer."""
    state: ServerState = client.app.state.nw  # type: ignore[attr-defined]
    answers: dict[str, int] = {}

    def reads() -> None:
        v = auth(company.tokens["viewer"])
        answers["alerts"] = client.get("/api/v1/alerts", headers=v).status_code
        answers["integrations"] = client.get("/api/v1/integrations", headers=v).status_code
        answers["metrics"] = client.get("/metrics", headers=v).status_code
        answers["login"] = client.post(
            "/login", data={"token": company.tokens["viewer"]}, follow_redirects=False
        ).status_code
        answers["console"] = client.get("/alerts").status_code

    with writer_holding(state):
        reader = threading.Thread(target=reads)
        reader.start()
        reader.join(30)
        finished = not reader.is_alive()
    reader.join(30)
    assert finished, "a read waited for the writer"
    assert answers == {"alerts": 200, "integrations": 200, "metrics": 200, "login": 303, "console": 200}


def test_worker_counts_and_shows_detector_failures(
    client: TestClient, company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pipeline.run_detection

    def failing_detector(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        result.errors.append(
            "detector volume_spike failed on the step from 2025-10-06 03:00: ZeroDivisionError"
        )
        return result

    monkeypatch.setattr(pipeline, "run_detection", failing_detector)
    push = client.post(
        "/api/v1/ingest", content=data.ndjson(data.attack(43)), headers=auth(company.tokens["analyst"])
    )
    assert push.status_code == 200
    outcome = client.app.state.nw.worker.run_once()  # type: ignore[attr-defined]
    assert outcome is not None and outcome.detector_errors
    v = auth(company.tokens["viewer"])
    assert "nhiwatch_worker_detector_errors_total 1" in client.get("/metrics", headers=v).text
    status = client.get("/api/v1/status", headers=v).json()
    assert "volume_spike" in status["last_batch"]["detector_errors"][0]
    assert "volume_spike" in status["recent_detector_errors"][0]


def test_a_cut_off_gzip_keeps_its_complete_records(client: TestClient, company: Company) -> None:
    body = gzip.compress(data.ndjson(data.attack(44)))
    r = client.post(
        "/api/v1/ingest", content=body[: len(body) * 2 // 3], headers=auth(company.tokens["analyst"])
    )
    assert r.status_code == 400 and r.json()["stored"] > 0, r.text


def test_multi_member_gzip_is_read_whole(client: TestClient, company: Company, app: FastAPI) -> None:
    recs = data.attack(45)
    body = gzip.compress(data.ndjson(recs[:10])) + gzip.compress(data.ndjson(recs[10:]))
    r = client.post("/api/v1/ingest", content=body, headers=auth(company.tokens["analyst"]))
    assert r.status_code == 200 and r.json()["stored"] == len(recs), r.text


def test_the_spool_is_private(company: Company, tmp_path: Path) -> None:
    import os
    import stat

    app = make_app(company, tmp_path)
    d = app.state.nw.intake.spool.dir
    assert stat.S_IMODE(d.stat().st_mode) == 0o700 and d.stat().st_uid == os.getuid()
    app.state.nw.close()
    # a spool someone could read, or a link planted in its place, is refused at start, not used
    os.chmod(d, 0o755)
    with pytest.raises(ConfigError, match="not a private folder"):
        make_app(company, tmp_path)
    os.rmdir(d)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    os.symlink(elsewhere, d)
    with pytest.raises(ConfigError, match="not a private folder"):
        make_app(company, tmp_path)
