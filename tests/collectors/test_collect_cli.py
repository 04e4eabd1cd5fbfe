"""``nhiwatch collect`` end to end in a child process against the fake Okta: a backfill, a second run,
``--list`` with checkpoint, lag and last error, and clean one-line errors (never a traceback or a token)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pytest_httpserver import HTTPServer

from tests.collectors.conftest import serve
from tests.collectors.fakes import FakeOkta, okta_events

PYTHONPATH = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
TOKEN = "00cliTokenValue0123456789abcdefghijklmno"


def nhiwatch(*args: str | Path, cwd: Path, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "250", "HOME": str(cwd), **PYTHONPATH}
    if token is not None:
        env["NHIWATCH_OKTA_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "nhiwatch.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=env,
    )


def test_collect_okta_since_then_list_then_an_expired_token(httpserver: HTTPServer, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    fake = FakeOkta(
        token=TOKEN, events=okta_events(250, start=now - timedelta(hours=3), end=now - timedelta(minutes=10))
    )
    url = serve(httpserver, fake)
    db = tmp_path / "s.duckdb"

    first = nhiwatch(
        "collect", "okta", "--since", "1d", "--base-url", url, "-o", "limit=100", "--db", db, cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    assert "caught up" in first.stdout
    row = next(line for line in first.stdout.splitlines() if "localhost" in line)
    cells = [c.strip() for c in row.split("│")[1:7]]
    assert cells == ["localhost:" + url.rsplit(":", 1)[1], "3", "250", "250", "0", "0"]
    # the command's own clock is read after the test's: an hour may have turned between them
    hours = {
        (t - timedelta(days=1)).strftime("%Y-%m-%dT%H") for t in (now, datetime.now(UTC).replace(tzinfo=None))
    }
    assert fake.requests[0].args["since"][:13] in hours

    second = nhiwatch("collect", "okta", "--base-url", url, "--db", db, cwd=tmp_path)
    assert second.returncode == 0, second.stderr

    listing = nhiwatch("collect", "--list", "--db", db, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    okta = next(line for line in listing.stdout.splitlines() if line.strip("│ ").startswith("okta"))
    cells = [c.strip() for c in okta.split("│")[1:-1]]
    assert cells[0] == "okta" and cells[1].startswith("localhost")
    assert cells[3].endswith("s") and int(cells[3][:-1]) < 120  # lag: seconds since the checkpoint
    assert cells[-1] == "-"  # no error
    assert "never run" in listing.stdout  # the collectors not set up yet are listed too

    fake.token = "rotated"
    failed = nhiwatch("collect", "okta", "--base-url", url, "--db", db, cwd=tmp_path)
    assert failed.returncode == 2
    assert "HTTP 401" in failed.stderr and "Traceback" not in failed.stderr
    listing = nhiwatch("collect", "--list", "--db", db, cwd=tmp_path)
    assert "refused the credentials (HTTP 401)" in listing.stdout
    for out in (first, second, listing, failed):
        assert TOKEN not in out.stdout + out.stderr


def test_collect_names_what_is_missing(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    no_token = nhiwatch(
        "collect", "okta", "--base-url", "https://acme.okta.com", "--db", db, cwd=tmp_path, token=None
    )
    assert no_token.returncode == 2 and "NHIWATCH_OKTA_API_TOKEN" in no_token.stderr
    no_url = nhiwatch("collect", "okta", "--db", db, cwd=tmp_path)
    assert no_url.returncode == 2 and "base_url" in no_url.stderr
    typo = nhiwatch(
        "collect", "okta", "--base-url", "https://a.okta.com", "-o", "limt=5", "--db", db, cwd=tmp_path
    )
    assert typo.returncode == 2 and "limt (-o limt): unknown setting" in typo.stderr
    unknown = nhiwatch("collect", "oktaa", "--db", db, cwd=tmp_path)
    assert unknown.returncode == 2 and "no collector 'oktaa'" in unknown.stderr
    since = nhiwatch("collect", "okta", "--since", "yesterday", "--db", db, cwd=tmp_path)
    assert since.returncode == 2 and "is not a time" in since.stderr
    nothing = nhiwatch("collect", "--db", db, cwd=tmp_path)
    assert nothing.returncode == 2 and "--list" in nothing.stderr
    for out in (no_token, no_url, typo, unknown, since, nothing):
        assert "Traceback" not in out.stderr and TOKEN not in out.stderr
