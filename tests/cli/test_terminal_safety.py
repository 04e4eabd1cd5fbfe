"""What logs contain reaches the terminal as text: Rich markup in a field is printed, not interpreted (a
stray closing tag used to crash ``nhiwatch quarantine``), and control characters — NUL, ANSI escape
sequences that could rewrite the screen — are shown escaped."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nhiwatch.cli import app, common

HOSTILE = "a[/bold]b\x00c\x1b[2Jd[link=http://x]e"


def _run(*args: str) -> tuple[int, str]:
    common.console.width = 200
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


def test_hostile_fields_print_as_text(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    good = {"action": "repo.create", "actor": "bot", "org": "acme", "@timestamp": 1774234800000}
    bad_time = {**good, "actor": HOSTILE, "@timestamp": "never [/red]\x00"}
    bot = {**good, "actor": HOSTILE, "actor_is_bot": True, "_document_id": "x1"}
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in (good, bad_time, bot)) + "\n")
    code, _ = _run("ingest", str(tmp_path / "a.jsonl"), "--source", "github", "--db", db)
    assert code == 0
    for args in (["quarantine"], ["inventory", "list"], ["inventory", "gaps"]):
        code, out = _run(*args, "--db", db)
        assert code == 0, (args, out)
        assert "\x00" not in out and "\x1b[2J" not in out, args
    code, out = _run("quarantine", "--db", db)
    assert "[/red]" in out and "\\x00" in out
