"""Issue 7, item 8: the CLI beside a running ``nhiwatch serve`` (a real subprocess on a loopback port).

Read commands go through the server's API and print what they print without it; write commands get one
line naming the server (pid, URL) and what to do; a lock held by any other process is one line naming its
pid; a stale server file is ignored; the server file is 0600 while the server runs and gone after it stops.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from nhiwatch.detection import run_detection
from nhiwatch.pipeline import ingest_all
from nhiwatch.server import local
from nhiwatch.store import Store
from tests.cli.test_ingest_cli import nhiwatch
from tests.server import data

PYTHONPATH = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
SECRET = "ghp_" + "a1B2c3D4e5" * 4
READS = [
    ("alerts",),
    ("alerts", "--format", "jsonl"),
    ("alerts", "--status", "open", "--explain"),
    ("quarantine",),
    ("inventory", "list"),
    ("inventory", "gaps"),
    ("inventory", "suggest"),
    ("baseline", "show", "release-bot"),
    ("token", "list"),
    ("evaluate", "--truth", "TRUTH", "--no-generic", "--failures"),
]
MISSING = ("alerts", "--id", "al-nope")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _build(folder: Path) -> tuple[Path, Path]:
    logs, inv = data.write_company(folder)
    db = folder / "company.duckdb"
    with Store(db) as store:
        ingest_all(store, [logs], inventory=inv)
        run_detection(store)
        store.execute(
            "INSERT INTO quarantine (ingest_file, ingest_line, source, reason, raw_data) VALUES (?, ?, ?, ?, ?)",
            [str(folder / "bad.jsonl"), 3, "github", "not valid JSON (line 3)", '{"token": "' + SECRET + '"'],
        )
        store.execute("CHECKPOINT")
    truth = folder / "truth.jsonl"
    truth.write_bytes(
        orjson.dumps(
            {
                "episode_id": "e1",
                "family": "exfiltration",
                "integration_id": "release-bot",
                "start": "2025-09-28T00:00:00",
                "end": "2025-09-29T04:00:00",
            }
        )
        + b"\n"
    )
    return db, truth


def _run(args: tuple[str, ...], db: Path, truth: Path) -> subprocess.CompletedProcess[str]:
    return nhiwatch(*(str(truth) if a == "TRUTH" else a for a in args), "--db", db, cwd=db.parent)


@dataclass
class Served:
    db: Path
    truth: Path
    url: str
    proc: subprocess.Popen[str]
    without_server: dict[tuple[str, ...], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db, truth = _build(tmp_path_factory.mktemp("beside"))
    before = {args: _run(args, db, truth) for args in (*READS, MISSING)}
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nhiwatch.cli", "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(db.parent), **PYTHONPATH},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "nhiwatch serve exited at start"
            assert time.monotonic() < deadline, "nhiwatch serve did not start within 60 s"
            try:
                if local.path_for(db).exists() and httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield Served(db, truth, url, proc, before)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_read_commands_print_through_the_server_what_they_print_without_it(served: Served) -> None:
    """Before: every command failed with DuckDB's raw lock error while the server ran."""
    for args in READS:
        now = _run(args, served.db, served.truth)
        assert now.returncode == 0, (args, now.stderr)
        assert now.stdout == served.without_server[args].stdout, args
        assert now.stdout.strip() and "Traceback" not in now.stderr
    missing = _run(MISSING, served.db, served.truth)
    assert missing.returncode == 2 and missing.stderr == served.without_server[MISSING].stderr
    assert "no alert 'al-nope'" in missing.stderr
    assert "[REDACTED]" in served.without_server[("quarantine",)].stdout
    assert SECRET not in served.without_server[("quarantine",)].stdout


@pytest.mark.slow
def test_tokens_are_managed_through_the_server_and_its_banner_is_true(served: Served) -> None:
    created = nhiwatch("token", "create", "--name", "ops", "--role", "admin", "--db", served.db)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("nhw_")
    me = httpx.get(f"{served.url}/api/v1/tokens", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and [t["name"] for t in me.json()["tokens"]] == ["ops"]
    listed = nhiwatch("token", "list", "--db", served.db)
    assert "ops" in listed.stdout and "active" in listed.stdout and token not in listed.stdout
    again = nhiwatch("token", "create", "--name", "ops", "--db", served.db)
    assert again.returncode == 2 and "exists" in again.stderr
    assert nhiwatch("token", "revoke", "ops", "--db", served.db).returncode == 0
    assert (
        httpx.get(f"{served.url}/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    gone = nhiwatch("token", "revoke", "ops", "--db", served.db)
    assert gone.returncode == 2 and "no active token" in gone.stderr


@pytest.mark.slow
def test_write_commands_name_the_server_in_one_line(served: Served) -> None:
    logs = served.db.parent / "github-audit.jsonl"
    for args in (("ingest", str(logs)), ("detect",), ("baseline",), ("prune",), ("triage", "al-x", "benign")):
        out = nhiwatch(*args, "--db", served.db)
        assert out.returncode == 2, args
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
        assert f"nhiwatch serve (pid {served.proc.pid}) at {served.url}" in out.stderr
        assert (
            "POST" in out.stderr and "/api/v1/ingest" in out.stderr and "Could not set lock" not in out.stderr
        )


@pytest.mark.slow
def test_the_server_file_is_private_and_removed_on_shutdown(served: Served) -> None:
    path = local.path_for(served.db)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found = local.read(served.db)
    assert found is not None and found.pid == served.proc.pid and found.url == served.url
    assert (
        httpx.get(f"{served.url}/api/v1/tokens", headers={"Authorization": "Bearer nhw_local_x"}).status_code
        == 401
    )
    served.proc.send_signal(signal.SIGINT)
    log, _ = served.proc.communicate(timeout=30)
    assert not path.exists()
    assert found.credential not in log  # never logged
    assert "nhiwatch token create" in log and "stop the server" not in log
    assert nhiwatch("alerts", "--db", served.db).stdout == served.without_server[("alerts",)].stdout


def _holder(db: Path) -> subprocess.Popen[str]:
    """A Python child that is not nhiwatch holding the store open."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time\nc = duckdb.connect({str(db)!r})\nprint('ready', flush=True)\ntime.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", **PYTHONPATH},
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


@pytest.mark.slow
def test_a_lock_held_by_another_process_is_one_line_naming_its_pid(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store(db):
        pass
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = local.path_for(db)
    for pid in (dead.pid, os.getpid()):  # a dead server's file, and a live pid that does not hold the lock
        stale.write_bytes(
            orjson.dumps({"pid": pid, "url": "http://127.0.0.1:9", "credential": "nhw_local_x"})
        )
        stale.chmod(0o600)
        child = _holder(db)
        try:
            for args in (("alerts",), ("quarantine",), ("token", "list"), ("ingest", str(tmp_path))):
                out = nhiwatch(*args, "--db", db)
                assert out.returncode == 2, args
                assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
                assert f"held by another process (pid {child.pid}" in out.stderr, out.stderr
                assert "nhiwatch serve" not in out.stderr and "127.0.0.1:9" not in out.stderr
        finally:
            child.kill()
            child.wait()
    ok = nhiwatch("alerts", "--db", db)  # the stale file is ignored once the store is free
    assert ok.returncode == 0, ok.stderr
