"""First contact with the CLI: version, an empty store, an unknown file, the demo's hints and its store."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import nhiwatch
from nhiwatch.alerts import tables
from nhiwatch.cli import app
from nhiwatch.cli.demo_cmd import command_name
from nhiwatch.demo import MARKER, prepare_store
from nhiwatch.errors import ConfigError
from nhiwatch.store import Store

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"nhiwatch {nhiwatch.__version__}"


def test_gaps_on_an_empty_store_does_not_claim_there_are_none(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    Store(db).close()
    result = runner.invoke(app, ["inventory", "gaps", "--db", str(db)])
    assert result.exit_code == 0
    assert "no gaps" not in result.output
    assert "nothing to check yet" in result.output


def test_an_unrecognised_file_lists_what_is_recognised(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("meeting notes, not a log\n")
    result = runner.invoke(app, ["ingest", str(tmp_path / "notes.txt"), "--db", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2
    assert "unrecognised format" in result.output
    for source in ("github.audit_log", "okta.system_log", "salesforce.event_log_file", "--source"):
        assert source in result.output


def _demo_store(path: Path) -> None:
    with Store(path) as store:
        store.execute(f"CREATE TABLE {MARKER} (created TIMESTAMP)")
        tables.ensure(store)


def test_the_demo_replaces_an_untouched_demo_store(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    _demo_store(db)
    prepare_store(db)
    assert not db.exists()


def test_the_demo_keeps_a_store_someone_has_used_unless_told(tmp_path: Path) -> None:
    """Before: re-running `make demo` silently deleted tokens, verdicts and pushed events."""
    db = tmp_path / "demo.duckdb"
    _demo_store(db)
    with Store(db) as store:
        store.execute("INSERT INTO triage_log (alert_id, verdict) VALUES ('al-1', 'benign')")
    with pytest.raises(ConfigError, match=r"1 triage verdict\(s\).*--fresh"):
        prepare_store(db)
    assert db.exists()
    prepare_store(db, fresh=True)
    assert not db.exists()


def test_the_demo_names_a_command_this_shell_can_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    exe = tmp_path / "venv" / "bin" / "nhiwatch"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "argv", [str(exe)])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # a fresh shell: the venv is not on PATH
    monkeypatch.chdir(tmp_path)
    assert command_name() == "venv/bin/nhiwatch"
    monkeypatch.setenv("PATH", f"{exe.parent}:/usr/bin")
    exe.chmod(0o755)
    assert command_name() == "nhiwatch"
