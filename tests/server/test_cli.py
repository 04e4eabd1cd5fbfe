"""``nhiwatch token create | list | revoke`` and ``nhiwatch serve --help``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from nhiwatch.cli import app
from nhiwatch.server.tokens import verify
from nhiwatch.store import Store

runner = CliRunner()


def test_token_lifecycle(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    r = runner.invoke(app, ["token", "create", "--name", "alice", "--role", "analyst", "--db", db])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("nhw_")
    with Store(db) as store:
        who = verify(store, token)
        assert who is not None and who.role == "analyst"
        assert token not in str(store.fetchall("SELECT * FROM api_tokens"))
    r = runner.invoke(app, ["token", "create", "--name", "alice", "--db", db])
    assert r.exit_code == 2 and "exists" in r.output
    r = runner.invoke(app, ["token", "create", "--name", "bob", "--role", "root", "--db", db])
    assert r.exit_code == 2 and "role" in r.output
    r = runner.invoke(app, ["token", "create", "--name", "old", "--expires", "2001-01-01", "--db", db])
    assert r.exit_code == 2 and "past" in r.output
    r = runner.invoke(app, ["token", "list", "--db", db])
    assert r.exit_code == 0 and "alice" in r.output and "active" in r.output and token not in r.output
    assert runner.invoke(app, ["token", "revoke", "alice", "--db", db]).exit_code == 0
    r = runner.invoke(app, ["token", "revoke", "alice", "--db", db])
    assert r.exit_code == 2
    with Store(db) as store:
        assert verify(store, token) is None


def test_serve_is_registered() -> None:
    r = runner.invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "--port" in r.output and "--db" in r.output
