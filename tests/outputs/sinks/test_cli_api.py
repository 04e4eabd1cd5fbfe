"""``nhiwatch deliver`` end to end against a signing-checking receiver, and delivery status in the API and
on the console's alert page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from nhiwatch.cli import app as cli_app
from nhiwatch.cli import common
from nhiwatch.outputs.sinks import spool
from nhiwatch.outputs.sinks.webhook import verify
from nhiwatch.server.app import create_app
from nhiwatch.server.state import Settings
from nhiwatch.server.tokens import create_token
from nhiwatch.store import Store
from tests.outputs.sinks.helpers import NOW, Script, hostile_alert, store_with
from tests.outputs.test_outputs import alert

SECRET = "whk-fedcba9876543210fedcba9876543210"
runner = CliRunner()


def deliver(*args: str | Path) -> tuple[int, str]:
    common.console.width = 200
    result = runner.invoke(
        cli_app, ["deliver", *map(str, args)], env={"COLUMNS": "200", "HOOK_SECRET": SECRET}
    )
    return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "nw.duckdb"
    with Store(path) as s:
        store_with(s, alert(), hostile_alert(severity="critical"))
    return path


def signed(req: Request) -> Response | None:
    ok = verify(SECRET.encode(), req.headers.get("X-Nhiwatch-Signature", ""), req.get_data())
    return None if ok else Response("bad signature", 401)


def write_config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "nhiwatch.yaml"
    cfg.write_text(
        "sinks:\n"
        "  - name: soc-webhook\n"
        "    type: webhook\n"
        f"    url: {url}\n"
        "    secret_env: HOOK_SECRET\n"
        "    max_attempts: 2\n"
        "    backoff_seconds: 0.01\n"
    )
    return cfg


def test_deliver_dead_letters_then_retry_delivers(db: Path, tmp_path: Path, httpserver: HTTPServer) -> None:
    script = Script([(503, {"Retry-After": "0"}, "maintenance")], check=signed)
    httpserver.expect_request("/in").respond_with_handler(script)
    cfg = write_config(tmp_path, httpserver.url_for("/in"))

    code, out = deliver("--config", cfg, "--db", db, "--dry-run")
    assert code == 0 and "soc-webhook: would send 2 update(s)" in out and not script.requests

    code, out = deliver("--config", cfg, "--db", db)
    assert code == 1 and "0 delivered, 0 retrying later, 2 dead" in out and len(script.requests) == 4
    code, out = deliver("--config", cfg, "--db", db, "--status")
    assert code == 0 and re.search(r"soc-webhook\s.*dead\s.*2", out)

    script.answers[:] = [(204, {}, "")]
    code, out = deliver("--config", cfg, "--db", db)
    assert code == 0 and "0 delivered" in out and len(script.requests) == 4  # dead letters wait for --retry
    code, out = deliver("--config", cfg, "--db", db, "--retry")
    assert code == 0 and "2 delivered" in out
    code, out = deliver("--config", cfg, "--db", db)
    assert code == 0 and "0 new update(s); 0 delivered" in out and len(script.requests) == 6
    assert SECRET not in out


def test_deliver_reports_config_problems_cleanly(db: Path, tmp_path: Path) -> None:
    code, out = deliver("--config", tmp_path / "missing.yaml", "--db", db)
    assert code == 2 and "cannot read the sink config" in out and "Traceback" not in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "sinks:\n  - name: x\n    type: webhook\n    url: https://h.example.com\n    secret: hunter2hunter2\n"
    )
    code, out = deliver("--config", bad, "--db", db)
    assert code == 2 and "bad.yaml:5: sinks.0.secret: unknown key" in out and "hunter2hunter2" not in out


@pytest.fixture
def api(db: Path) -> Iterator[tuple[TestClient, str]]:
    with Store(db) as s:
        token = create_token(s, "viewer-1", "viewer")
        spool.ensure(s)
        spool.enqueue(s, "soc-slack", [("al-1", "al-1@abc", "abc")], [], NOW)
        spool.record(
            s, "soc-slack", "al-1@abc", status="dead", attempts=5, now=NOW,
            error="HTTP 500: token xoxb-1234567890-1234567890123-abcdefghijklmnopqrstuvwx",
        )  # fmt: skip
    application = create_app(db, settings=Settings(db, worker_enabled=False))
    try:
        yield TestClient(application, base_url="http://127.0.0.1"), token
    finally:
        application.state.nw.close()


def test_delivery_status_in_the_api_and_on_the_alert_page(api: tuple[TestClient, str]) -> None:
    client, token = api
    h = {"Authorization": f"Bearer {token}"}
    one = client.get("/api/v1/alerts/al-1", headers=h).json()
    (d,) = one["deliveries"]
    assert (d["sink"], d["status"], d["attempts"]) == ("soc-slack", "dead", 5)
    assert "xoxb-1234567890" not in d["last_error"] and "[REDACTED]" in d["last_error"]
    assert client.get("/api/v1/alerts/al-1/deliveries", headers=h).json()["deliveries"] == one["deliveries"]
    assert client.get("/api/v1/alerts/al-hostile/deliveries", headers=h).json()["deliveries"] == []
    assert client.get("/api/v1/alerts/nope/deliveries", headers=h).status_code == 404
    assert client.get("/api/v1/alerts/al-1/deliveries").status_code == 401
    r = client.post("/login", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/alerts/al-1").text
    assert 'id="alert-deliveries"' in page and "soc-slack" in page and "dead" in page
    assert "xoxb-1234567890" not in page
    assert 'id="alert-deliveries"' not in client.get("/alerts/al-hostile").text
