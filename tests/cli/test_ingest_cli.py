"""End to end through the ``nhiwatch`` command: ingest, quarantine, inventory, demo — exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, write

# A checkout run without installing (PYTHONPATH=src) must test its own sources in the child process too.
PYTHONPATH = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
GITHUB = FIXTURES / "github" / "audit_log" / "streaming.jsonl"


def nhiwatch(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nhiwatch.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(cwd or Path.cwd()), **PYTHONPATH},
    )


def test_ingest_prints_counts_and_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    logs = write(tmp_path, "mixed.jsonl", GITHUB.read_text() + "not json\n")
    first = nhiwatch("ingest", logs, "--db", db)
    assert first.returncode == 0, first.stderr
    assert "stored" in first.stdout and "4" in first.stdout and "1 record(s) quarantined" in first.stdout
    again = nhiwatch("ingest", logs, "--db", db)
    assert again.returncode == 0
    assert "skipped as duplicate" in again.stdout
    q = nhiwatch("quarantine", "--db", db)
    assert q.returncode == 0 and "not valid JSON" in q.stdout and "mixed.jsonl" in q.stdout


def test_ingest_exits_non_zero_only_when_nothing_could_be_read(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    junk = write(tmp_path, "notes.log", "hello\nworld\n")
    out = nhiwatch("ingest", junk, "--db", db)
    assert out.returncode == 2
    assert "nothing could be read" in out.stderr and "unrecognised format" in out.stderr
    missing = nhiwatch("ingest", tmp_path / "nope.jsonl", "--db", db)
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    assert "Traceback" not in out.stderr + missing.stderr


def test_a_deeply_nested_first_record_costs_that_record_not_the_folder(tmp_path: Path) -> None:
    """Issue 8, items 1-2: the poison record as a file's first line used to end the folder's ingest in a
    RecursionError traceback with nothing stored; the one-line poison document lost its good record too."""
    head = {"action": "git.clone", "actor": "t", "org": "acme", "@timestamp": 1774234800000}
    deep = json.dumps({**head, "_document_id": "b"})[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    logs = tmp_path / "logs"
    logs.mkdir()
    write(logs, "audit.jsonl", deep + "\n" + GITHUB.read_text())
    write(logs, "poison.json", "[" + json.dumps({**head, "_document_id": "a"}) + ", " + deep + "]")
    db = tmp_path / "s.duckdb"
    out = nhiwatch("ingest", logs, "--db", db)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stdout + out.stderr
    assert "github.audit_log: 5 stored" in out.stdout and "2 record(s) quarantined" in out.stdout
    q = nhiwatch("quarantine", "--db", db)
    assert "2  nested deeper than 100 levels" in q.stdout


def test_bad_inventory_is_reported_with_its_line_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    inv = write(
        tmp_path, "inv.yaml", "integrations:\n  - id: x\n    name: X\n    kind: oauth_app\n    ownr: me\n"
    )
    out = nhiwatch("ingest", GITHUB, "--inventory", inv, "--db", db)
    assert out.returncode == 2 and "inv.yaml:5: integrations.0.ownr: unknown key" in out.stderr
    assert "Traceback" not in out.stderr
    validate = nhiwatch("inventory", "validate", inv)
    assert validate.returncode == 2 and "unknown key" in validate.stderr


def test_inventory_list_and_gaps(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    inv = write(
        tmp_path,
        "inv.yaml",
        "integrations:\n  - id: release\n    name: Release PAT\n    kind: pat\n"
        "    identities:\n      - {source: github, actor: release-bot}\n",
    )
    assert nhiwatch("ingest", GITHUB, "--inventory", inv, "--db", db).returncode == 0
    listed = nhiwatch("inventory", "list", "--db", db)
    assert listed.returncode == 0 and "release" in listed.stdout and "discovered" in listed.stdout
    gaps = nhiwatch("inventory", "gaps", "--db", db)
    assert gaps.returncode == 0
    assert "ownerless, no purpose" in gaps.stdout and "discovered:github:app_id:55501" in gaps.stdout


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = nhiwatch("demo", "--out", "demo-out", "--integrations", "14", "--days", "21", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    report = (tmp_path / "demo-out" / "report.md").read_text()
    assert "## Behaviour alerts" in report and "Quality against the simulator's truth file" in report
    page = (tmp_path / "demo-out" / "report.html").read_text()  # the same report as a page with charts
    assert (
        "Behaviour alerts" in page and "Quality against the simulator" in page and "<script src" not in page
    )
    assert (tmp_path / "nhiwatch.duckdb").exists()
    # A second demo replaces its own store, but refuses to overwrite a store that is not a demo's.
    assert (
        nhiwatch("demo", "--out", "d2", "--integrations", "14", "--days", "21", cwd=tmp_path).returncode == 0
    )
    other = tmp_path / "real.duckdb"
    assert nhiwatch("ingest", GITHUB, "--db", other, cwd=tmp_path).returncode == 0
    refused = nhiwatch("demo", "--out", "d3", "--db", other, cwd=tmp_path)
    assert refused.returncode == 2 and "is not a demo store" in refused.stderr
    assert json.loads((tmp_path / "demo-out" / "summary.json").read_text())
