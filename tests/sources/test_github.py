"""GitHub audit log: streaming / REST export events written from GitHub's documented fields."""

from __future__ import annotations

import json
from pathlib import Path

from nhiwatch.ingest import ingest
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine

STREAM = FIXTURES / "github" / "audit_log" / "streaming.jsonl"


def test_streaming_events_map_to_normalized_columns(store: Store) -> None:
    report = ingest(store, [STREAM])
    assert report.stored == 4 and report.quarantined == 0
    rows = {r["api_operation"]: r for r in events(store)}
    clone = rows["git.clone"]
    assert clone["source"] == "github" and clone["class_uid"] == 6003
    assert clone["actor_user_type"] == "pat" and clone["actor_user_credential_uid"] == "119823"
    assert clone["scopes"] == ["repo", "workflow"] and clone["action_class"] == "read"
    assert clone["src_endpoint_ip"] == "203.0.113.5" and clone["resource_name"] == "acme/payments-api"
    assert str(clone["time"]) == "2025-08-17 11:11:23.123000"
    api = rows["api.request"]
    assert api["actor_user_type"] == "bot" and api["action_class"] == "write"
    assert api["actor_app_uid"] == "55501" and api["actor_app_name"] == "drift-sync"
    assert api["resource_type"] == "api_route" and api["status"] == "Success"
    hook = rows["hook.create"]
    assert hook["action_class"] == "webhook" and hook["dst_endpoint_hostname"] == "webhook.site"
    grant = rows["oauth_access.create"]
    assert grant["action_class"] == "credential_issue" and grant["actor_app_name"] == "Travis CI"


def test_rest_export_array_is_read_as_records(store: Store, tmp_path: Path) -> None:
    records = [json.loads(line) for line in STREAM.read_text().splitlines()]
    report = ingest_text(store, tmp_path, "export.json", json.dumps(records, indent=2))
    assert report.stored == 4
    assert [r["ingest_line"] for r in events(store)] == [1, 2, 3, 4]


def test_same_events_from_stream_and_export_are_stored_once(store: Store, tmp_path: Path) -> None:
    ingest(store, [STREAM])
    records = [json.loads(line) for line in STREAM.read_text().splitlines()]
    report = ingest_text(store, tmp_path, "export.json", json.dumps(records))
    assert report.stored == 0 and report.duplicates == 4


def test_event_without_action_is_quarantined(store: Store, tmp_path: Path) -> None:
    good = STREAM.read_text().splitlines()[0]
    bad = '{"@timestamp": 1755429083123, "actor": "x", "org": "acme", "action": null}'
    report = ingest_text(store, tmp_path, "mixed.jsonl", good + "\n" + bad + "\n", source="github")
    assert report.stored == 1
    assert quarantine(store)[0]["ingest_line"] == 2
    assert "action" in str(quarantine(store)[0]["reason"])
