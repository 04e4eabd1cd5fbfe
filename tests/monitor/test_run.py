"""``nhiwatch run``: the config (located errors, unknown keys refused), the scheduler, and the whole loop
end to end — a fake Okta and a fake GitHub are collected, the events scored, the alert delivered to a
webhook receiver that checks the signature."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from nhiwatch.errors import ConfigError
from nhiwatch.monitor.config import load_run_config
from nhiwatch.monitor.scheduler import Job, Scheduler
from nhiwatch.outputs.sinks.webhook import verify
from tests.collectors.fakes import FakeGitHub, FakeOkta, github_events, okta_events

PYTHONPATH = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
OKTA_TOKEN = "00runOktaToken0123456789abcdefghijklmnop"
GITHUB_TOKEN = "ghp_" + "R1u2N3t4O5k6E7n8R1u2N3t4O5k6E7n8R1u2"
HOOK_SECRET = "hook-secret-0123456789abcdef0123456789"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nhiwatch.yaml"
    path.write_text(text)
    return path


def test_a_minimal_config_loads_with_paths_beside_it(tmp_path: Path) -> None:
    cfg = load_run_config(_write(tmp_path, "store: data/nw.duckdb\n"))
    assert cfg.store == tmp_path / "data" / "nw.duckdb"
    assert cfg.collectors == [] and cfg.sinks == [] and cfg.server.port == 8080


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("store: x.duckdb\nservr: {port: 1}\n", r"nhiwatch.yaml:2: servr: unknown key"),
        (
            "collectors:\n  - name: okta\n    every: 1s\n    settings: {base_url: https://a.okta.com}\n",
            r":3: collectors.0.every: at least 10 seconds",
        ),
        ("collectors:\n  - name: nosuch\n", r"no collector 'nosuch'"),
        (
            "collectors:\n  - name: okta\n    settings: {base_url: https://a.okta.com, colour: red}\n",
            r"colour",
        ),
        ("server:\n  port: 70000\n", r":2: server.port"),
        ("- just\n- a list\n", r"must be a mapping"),
        ("store: [unclosed\n", r"not valid YAML"),
    ],
)
def test_config_problems_are_located(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_run_config(_write(tmp_path, text))


def test_a_failing_job_is_recorded_and_the_others_still_run() -> None:
    now = [1000.0]
    done: list[str] = []

    def boom() -> str:
        raise RuntimeError("vendor said no to token ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8")

    jobs = [Job("a", 60, boom), Job("b", 30, lambda: done.append("b") or "ok")]
    s = Scheduler(jobs, clock=lambda: now[0])
    assert s.run_due() == 2
    assert jobs[0].failures == 1 and "vendor said no" in (jobs[0].last_error or "")
    assert "A1b2C3d4E5f6" not in (jobs[0].last_error or "")  # redacted
    assert done == ["b"] and jobs[1].last_success == 1000.0
    now[0] += 31
    assert s.run_due() == 1 and done == ["b", "b"]  # only b is due again
    now[0] += 30
    assert s.run_due() == 2


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nhiwatch.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200", **PYTHONPATH, **(env or {})},
    )  # fmt: skip


def _config(tmp_path: Path, base: str, port: int) -> Path:
    return _write(
        tmp_path,
        f"""\
store: nw.duckdb
server: {{port: {port}, interval: 1}}
console_url: http://127.0.0.1:{port}
collectors:
  - name: okta
    every: 10s
    backfill: 4d
    settings: {{base_url: "{base}"}}
  - name: github
    every: 10s
    backfill: 4d
    settings: {{base_url: "{base}", org: acme}}
sinks:
  - name: hook
    type: webhook
    url: {base}/hook
    secret_env: HOOK_SECRET
deliver_every: 10s
""",
    )


def test_check_names_the_missing_credentials_without_their_values(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, httpserver.url_for("").rstrip("/"), 18099)
    bad = _run(["run", "--config", str(cfg), "--check"], tmp_path)
    assert bad.returncode == 2
    for name in ("NHIWATCH_OKTA_API_TOKEN", "NHIWATCH_GITHUB_TOKEN", "HOOK_SECRET"):
        assert name in bad.stderr
    assert "Traceback" not in bad.stderr
    env = {
        "NHIWATCH_OKTA_API_TOKEN": OKTA_TOKEN,
        "NHIWATCH_GITHUB_TOKEN": GITHUB_TOKEN,
        "HOOK_SECRET": HOOK_SECRET,
    }
    good = _run(["run", "--config", str(cfg), "--check"], tmp_path, env)
    assert good.returncode == 0, good.stderr
    assert "2 collector(s), 1 sink(s)" in good.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_run_collects_scores_and_delivers_a_signed_alert(httpserver: HTTPServer, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    # three days, backfilled on the first run: each day is scored against the days before it
    window = {"start": now - timedelta(days=3), "end": now - timedelta(minutes=5)}
    okta = FakeOkta(token=OKTA_TOKEN, events=okta_events(40, **window))
    github = FakeGitHub(token=GITHUB_TOKEN, events=github_events(40, **window))
    base = httpserver.url_for("").rstrip("/")
    okta.base = github.base = base
    received: list[dict[str, Any]] = []

    def route(request: Request) -> Response:
        if request.path == "/hook":
            body = request.get_data()
            assert verify(HOOK_SECRET.encode(), request.headers["X-Nhiwatch-Signature"], body)
            received.append(json.loads(body))
            return Response("ok", status=200)
        return (okta if request.path.startswith("/api/v1/logs") else github)(request)

    import re

    httpserver.expect_request(re.compile(".*")).respond_with_handler(route)
    port = _free_port()
    cfg = _config(tmp_path, base, port)
    env = {
        "NHIWATCH_OKTA_API_TOKEN": OKTA_TOKEN,
        "NHIWATCH_GITHUB_TOKEN": GITHUB_TOKEN,
        "HOOK_SECRET": HOOK_SECRET,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "nhiwatch.cli", "run", "--config", str(cfg)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **PYTHONPATH, **env},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not received and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert received, f"no alert delivered; stderr:\n{err[-3000:]}"
    alerts = [r["alert"] for r in received]
    assert {a["integration_id"] for a in alerts} <= {
        "discovered:okta:app_id:0oa8f3k2lqXyZ1Abc5d7",
        "discovered:github:app_id:55501",
    }
    assert all(r["event"] == "alert.updated" and r["url"].startswith("http://127.0.0.1:") for r in received)
    assert okta.requests and github.requests
    assert all(r.headers.get("Authorization") == f"SSWS {OKTA_TOKEN}" for r in okta.requests)
    for secret in (OKTA_TOKEN, GITHUB_TOKEN, HOOK_SECRET):
        assert secret not in out + err


def test_metrics_per_collector_sink_and_job_escape_their_labels(tmp_path: Path) -> None:
    from nhiwatch.outputs.sinks import spool
    from nhiwatch.server.api_meta import collector_and_sink_metrics, job_metrics
    from nhiwatch.sources.collect import state as checkpoints
    from nhiwatch.store import Store

    with Store(tmp_path / "m.duckdb") as store:
        checkpoints.ensure(store)
        spool.ensure(store)
        store.execute(
            """INSERT INTO collector_state (source, instance, pages, records, lag_seconds, last_success)
               VALUES ('okta', 'evil"} 1\nnhiwatch_fake 9', 3, 250, 42.5, TIMESTAMP '2026-11-30 12:00:00')"""
        )
        store.execute(
            "INSERT INTO deliveries (sink, alert_id, update_key, status) VALUES ('hook', 'al-1', 'k1', 'dead')"
        )
        lines = collector_and_sink_metrics(store)
    text = "\n".join(lines)
    assert 'nhiwatch_collector_pages_total{collector="okta",stream="evil\\"} 1\\nnhiwatch_fake 9"} 3' in text
    assert not any(line.startswith("nhiwatch_fake") for line in lines)
    assert 'nhiwatch_collector_lag_seconds{collector="okta",stream=' in text and "} 42.5" in text
    assert 'nhiwatch_deliveries{sink="hook",status="dead"} 1' in text
    jobs = Scheduler([Job("collect:okta", 60, lambda: "ok")], clock=lambda: 5.0)
    jobs.run_due()
    assert 'nhiwatch_job_runs_total{job="collect:okta"} 1' in job_metrics(jobs)


def test_the_shipped_example_config_is_valid() -> None:
    """deploy/nhiwatch.yaml is what the Dockerfile and the systemd unit run: it must load."""
    root = Path(__file__).parents[2]
    cfg = load_run_config(root / "deploy" / "nhiwatch.yaml")
    assert [c.name for c in cfg.collectors] == ["okta", "github"] and cfg.sinks[0].name == "secops-slack"
    assert (
        "nhiwatch run --config /etc/nhiwatch/nhiwatch.yaml"
        in (root / "deploy" / "nhiwatch.service").read_text()
    )
    assert 'CMD ["run", "--config", "/etc/nhiwatch/nhiwatch.yaml"]' in (root / "Dockerfile").read_text()


@pytest.mark.parametrize(
    ("doc", "heading"), [("README.md", "## Running it as a service"), ("docs/run.md", "## A minimal config")]
)
def test_the_documented_configs_are_valid(tmp_path: Path, doc: str, heading: str) -> None:
    text = (Path(__file__).parents[2] / doc).read_text()
    block = text.split(heading, 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "inventory.yaml").write_text("integrations: []\n")
    cfg = load_run_config(_write(tmp_path, block))
    assert cfg.collectors and cfg.sinks


def test_deliver_reads_the_sinks_of_a_run_config(tmp_path: Path) -> None:
    """`nhiwatch deliver --config nhiwatch.yaml` reads the same file `nhiwatch run` does."""
    from nhiwatch.cli.deliver_cmd import _delivery_config

    cfg = _write(
        tmp_path,
        "store: nw.duckdb\nsinks:\n  - {name: hook, type: webhook, url: https://h.example/x, secret_env: S}\n",
    )
    assert [s.name for s in _delivery_config(cfg).sinks] == ["hook"]
    typo = _write(tmp_path, "sinkz: []\n")
    with pytest.raises(ConfigError, match="sinkz"):
        _delivery_config(typo)
