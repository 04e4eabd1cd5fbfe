"""`nhiwatch inventory suggest`: draft entries for discovered non-human identities, from the long memory."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from nhiwatch.cli import app
from nhiwatch.inventory import load_inventory
from nhiwatch.inventory.suggest import suggest, to_yaml, validate
from nhiwatch.pipeline import ingest_all
from nhiwatch.store import Store
from tests.conftest import write

DAY = 86_400_000
MONDAY_0900 = 1_754_902_800_000  # 2025-08-11 09:00 UTC, a Monday


def _gh(doc: str, ms: int, **fields: object) -> str:
    base = {"@timestamp": ms, "_document_id": doc, "org": "acme"}
    base.update(fields)
    return json.dumps(base)


def _shadow_app_logs(name: str = "shadow-sync") -> str:
    """Alice installs a GitHub App nobody declared; it then reads repositories on weekday office hours."""
    lines = [
        _gh(
            "install",
            MONDAY_0900 - DAY,
            action="integration_installation.create",
            actor="alice",
            installation_id=777,
            integration=name,
            repo="acme/web",
        )
    ]
    for day in range(5):  # Monday to Friday
        for hour in range(0, 8):  # 09:00 - 16:xx UTC
            t = MONDAY_0900 + day * DAY + hour * 3_600_000
            lines.append(
                _gh(
                    f"r{day}-{hour}",
                    t,
                    action="api.request",
                    actor=f"{name}[bot]",
                    actor_is_bot=True,
                    installation_id=777,
                    integration=name,
                    request_method="GET",
                    route="/repos/acme/web/contents",
                    repo="acme/web",
                )
            )
    return "\n".join(lines) + "\n"


def test_suggests_identity_owner_and_schedule_for_a_discovered_app(store: Store, tmp_path: Path) -> None:
    ingest_all(store, [write(tmp_path, "gh.jsonl", _shadow_app_logs())])
    found = suggest(store)
    assert [s.discovered_id for s in found] == ["discovered:github:app_id:777"]
    entry = found[0].entry
    assert entry["id"] == "shadow-sync"
    assert entry["identities"] == [{"source": "github", "app_id": "777"}]
    assert entry["owner"] == "alice"  # she installed it
    assert entry["purpose"] is None  # only a person can say what it is for
    assert entry["schedule"] == {"timezone": "UTC", "days": "mon,tue,wed,thu,fri", "hours": "09:00-17:00"}
    assert found[0].events == 41
    text = to_yaml(found)
    assert "# REVIEW owner guessed: alice" in text
    inventory = validate(text)
    assert inventory.integrations[0].identities[0].value == "777"


def test_draft_resolves_the_app_once_committed(store: Store, tmp_path: Path) -> None:
    """The suggested identity is the one resolution matches: applying the draft leaves nothing discovered."""
    logs = write(tmp_path, "gh.jsonl", _shadow_app_logs())
    ingest_all(store, [logs])
    draft = write(tmp_path, "draft.yaml", to_yaml(suggest(store)))
    ingest_all(store, [logs], inventory=draft)
    assert store.scalar("SELECT count(*) FROM events WHERE starts_with(integration_id, 'discovered:')") == 0
    assert store.scalar("SELECT count(*) FROM events WHERE integration_id = 'shadow-sync'") == 41


def test_hostile_names_stay_data_and_secrets_do_not_leave(store: Store, tmp_path: Path) -> None:
    """An app's name is chosen by whoever registers it: it must not inject YAML or comments, nor leak a token."""
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    name = f"evil\n  - id: injected\n    owner: attacker # {token} &a !!python/object:os.system \u202e"
    ingest_all(store, [write(tmp_path, "gh.jsonl", _shadow_app_logs(name))])
    text = to_yaml(suggest(store))
    assert token not in text
    assert "\u202e" not in text
    parsed = yaml.safe_load(text)
    assert [i["id"] for i in parsed["integrations"]] == [
        "evil-id-injected-owner-attacker-ghp_-redacted-a-python-objec"
    ]
    assert parsed["integrations"][0]["owner"] == "alice"
    validate(text)


def test_cli_writes_a_draft_that_loads_and_never_overwrites(store: Store, tmp_path: Path) -> None:
    ingest_all(store, [write(tmp_path, "gh.jsonl", _shadow_app_logs())])
    db = Path(store.path)
    store.close()
    out = tmp_path / "draft.yaml"
    runner = CliRunner()
    first = runner.invoke(app, ["inventory", "suggest", "--db", str(db), "-o", str(out)])
    assert first.exit_code == 0, first.output
    assert load_inventory(out).integrations[0].id == "shadow-sync"
    again = runner.invoke(app, ["inventory", "suggest", "--db", str(db), "-o", str(out)])
    assert again.exit_code == 2
    assert "exists" in again.output
    printed = runner.invoke(app, ["inventory", "suggest", "--db", str(db)])
    assert printed.exit_code == 0
    assert printed.output == out.read_text()


def test_nothing_discovered_is_an_empty_valid_inventory(store: Store) -> None:
    text = to_yaml(suggest(store))
    assert validate(text).integrations == []
