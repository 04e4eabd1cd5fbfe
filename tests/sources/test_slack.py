"""Slack Enterprise Grid audit logs: API pages (``entries``) and one entry per line.

Entries follow the shapes in Slack's Audit Logs API documentation (the ``user_login`` and
``context.app`` examples) and the action reference (app, file and anomaly actions).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.schema import ACTION_CLASSES, ACTOR_TYPES
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine, write

DIR = FIXTURES / "slack" / "audit_logs"
PAGE = DIR / "logs_page_001.json"
STREAM = DIR / "stream.jsonl"


def _rows(store: Store) -> dict[str, dict[str, Any]]:
    return {str(r["api_operation"]): r for r in events(store)}


def _entries() -> list[dict[str, Any]]:
    page = json.loads(PAGE.read_text())["entries"]
    return [*page, *(json.loads(line) for line in STREAM.read_text().splitlines())]


def test_api_page_app_grants(store: Store) -> None:
    report = ingest(store, [PAGE])
    assert report.stored == 6 and report.quarantined == 0
    rows = _rows(store)
    install = rows["app_installed"]
    assert install["source"] == "slack" and install["class_uid"] == 6003
    assert (
        install["action_class"] == "scope_grant"
        and install["metadata_uid"] == "slack:5f0c9a2e-41a7-4a3b-9d4e-0b6f3c1d2e01"
    )
    assert install["actor_app_uid"] == "A024BE7LH" and install["actor_app_name"] == "Zapier"
    assert (
        install["on_behalf_of"] == "dana.whitfield@acme.example"
        and install["actor_user_uid"] == "W012J3FEWAU"
    )
    assert install["scopes"] == [
        "channels:history",
        "channels:read",
        "chat:write",
        "files:read",
        "users:read",
        "users:read.email",
    ]
    assert install["metadata_tenant_uid"] == "T0AB12CDE" and install["src_endpoint_ip"] == "192.0.2.10"
    assert str(install["time"]) == "2025-08-17 11:00:00"
    expanded = rows["app_scopes_expanded"]
    scopes = list(expanded["scopes"] or [])
    assert "admin.conversations:read" in scopes and "im:history" in scopes  # new user scopes + bot scopes
    assert len(scopes) == len(set(scopes))
    assert rows["bot_token_upgraded"]["action_class"] == "scope_grant"
    assert rows["app_uninstalled"]["action_class"] == "credential_revoke"
    assert [r["ingest_line"] for r in events(store)] == [1, 2, 3, 4, 5, 6]


def test_app_bot_downloads_are_exports(store: Store) -> None:
    ingest(store, [PAGE])
    rows = _rows(store)
    down = rows["file_downloaded"]
    assert down["action_class"] == "export" and down["actor_user_type"] == "bot"
    assert down["actor_app_uid"] == "A024BE7LH" and down["on_behalf_of"] is None
    assert down["resource_type"] == "file" and down["resource_name"] == "q3-board-deck.pdf"
    blocked = rows["file_downloaded_blocked"]
    assert blocked["status"] == "Failure" and blocked["action_class"] == "export"


def test_stream_login_anomaly_and_user_token_app(store: Store) -> None:
    report = ingest(store, [STREAM])
    assert report.stored == 3
    rows = _rows(store)
    login = rows["user_login"]
    assert (
        login["class_uid"] == 3002 and login["action_class"] == "auth" and login["actor_user_type"] == "user"
    )
    assert login["metadata_tenant_uid"] == "E0AB12CDE"
    anomaly = rows["anomaly"]
    assert anomaly["class_uid"] == 2004 and anomaly["status_detail"] == "asn,ip_address,user_agent"
    assert anomaly["http_request_user_agent"] == "python-requests/2.32.3"
    created = rows["public_channel_created"]
    assert created["action_class"] == "admin" and created["actor_user_type"] == "oauth_app"
    assert (
        created["actor_app_name"] == "Incident Desk"
        and created["on_behalf_of"] == "charlie.park@acme.example"
    )


def test_page_and_lines_of_the_same_entries_are_stored_once(store: Store, tmp_path: Path) -> None:
    ingest(store, [PAGE])
    lines = "\n".join(json.dumps(e) for e in json.loads(PAGE.read_text())["entries"]) + "\n"
    report = ingest_text(store, tmp_path, "again.jsonl", lines)
    assert report.stored == 0 and report.duplicates == 6


def test_entry_without_action_is_quarantined(store: Store, tmp_path: Path) -> None:
    good = STREAM.read_text().splitlines()[0]
    bad = json.dumps({**json.loads(good), "id": "x-1", "action": None})
    report = ingest_text(store, tmp_path, "mixed.jsonl", good + "\n" + bad + "\n", source="slack")
    assert report.stored == 1 and report.quarantined == 1
    assert quarantine(store)[0]["ingest_line"] == 2 and "action" in str(quarantine(store)[0]["reason"])


def test_truncated_gzip_page_keeps_complete_entries(store: Store, tmp_path: Path) -> None:
    text = json.dumps(json.loads(PAGE.read_text()))  # one line, as the API returns it
    raw = text[: text.index('"5f0c9a2e-41a7-4a3b-9d4e-0b6f3c1d2e04"')]
    report = ingest(store, [write(tmp_path, "page.json", raw, gz=True)])
    assert report.stored == 3 and report.quarantined == 1
    assert "3 complete records kept" in str(quarantine(store)[0]["reason"])


ACTIONS = [
    "app_installed", "app_scopes_expanded", "app_uninstalled", "bot_token_upgraded", "file_downloaded",
    "file_downloaded_blocked", "user_login", "user_logout", "anomaly", "public_channel_created", "role_change_to_admin",
]  # fmt: skip


@st.composite
def _entry(draw: st.DrawFn) -> dict[str, Any]:
    e = dict(draw(st.sampled_from(_entries())))
    e["id"] = str(draw(st.uuids()))
    e["action"] = draw(st.sampled_from(ACTIONS))
    e["date_create"] = draw(st.integers(min_value=1_600_000_000, max_value=1_900_000_000))
    e["actor"] = {**e["actor"], "type": draw(st.sampled_from(["user", "app", "bot", "workflow", "other"]))}
    return e


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_entry(), min_size=1, max_size=12), st.booleans())
def test_generated_entries_map_to_valid_columns(entries: list[dict[str, Any]], as_page: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        if as_page:
            path = write(Path(d), "page.json", json.dumps({"entries": entries, "response_metadata": {}}))
        else:
            path = write(Path(d), "lines.jsonl", "\n".join(json.dumps(e) for e in entries) + "\n")
        with Store(Path(d) / "s.duckdb") as store:
            report = ingest(store, [path])
            assert report.stored == len(entries) and report.quarantined == 0
            for row in events(store):
                assert row["action_class"] in ACTION_CLASSES and row["actor_user_type"] in ACTOR_TYPES
                assert row["status"] == (
                    "Failure" if row["api_operation"] == "file_downloaded_blocked" else "Success"
                )
                expected = {"user_login": 3002, "user_logout": 3002, "anomaly": 2004}.get(
                    str(row["api_operation"]), 6003
                )
                assert row["class_uid"] == expected
                scopes = list(row["scopes"] or [])
                assert len(scopes) == len(set(scopes))


def test_bot_without_address_is_known_by_the_app_name(store: Store, tmp_path: Path) -> None:
    entry = json.loads(PAGE.read_text())["entries"][3]  # the Zapier bot's download
    entry = {**entry, "id": "b-1", "action": "file_uploaded"}
    entry["actor"] = {"type": "user", "user": {**entry["actor"]["user"], "email": ""}}
    ingest_text(store, tmp_path, "bot.jsonl", json.dumps(entry) + "\n")
    row = events(store)[0]
    assert row["actor_user_type"] == "bot" and row["action_class"] == "write" and row["on_behalf_of"] is None
