"""OCSF events as they are: Security Lake style lines and a SIEM export array.

Events follow OCSF 1.1 class definitions (API Activity, Authentication, Account Change, Network and
HTTP Activity, Detection Finding) with the attribute paths Security Lake uses for CloudTrail and VPC
Flow Logs.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.evidence import original_record
from nhiwatch.ingest import ingest
from nhiwatch.schema import ACTION_CLASSES, ACTOR_TYPES, STATUSES
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine, write

DIR = FIXTURES / "ocsf" / "events"
LAKE = DIR / "security_lake.jsonl"
SIEM = DIR / "siem_export.json"


def _rows(store: Store) -> dict[str, dict[str, Any]]:
    return {str(r["api_operation"]): r for r in events(store)}


def test_security_lake_lines(store: Store) -> None:
    report = ingest(store, [LAKE])
    assert report.stored == 4 and report.quarantined == 1
    rows = _rows(store)
    get = rows["GetObject"]
    assert get["source"] == "ocsf" and get["class_uid"] == 6003 and get["action_class"] == "read"
    assert (
        get["metadata_uid"] == "ocsf:3f2b8c1e-5a7d-4e9f-8b6a-1c2d3e4f5a6b"
        and get["metadata_tenant_uid"] == "111122223333"
    )
    assert (
        get["actor_user_uid"] == "arn:aws:iam::111122223333:role/etl-exporter"
        and get["actor_user_type"] == "iam_role"
    )
    assert get["actor_user_credential_uid"] == "ASIA6EXAMPLEETL00001" and get["traffic_bytes_out"] == 52428800
    assert get["resource_name"] == "acme-payroll-exports" and get["resource_type"] == "AWS::S3::Bucket"
    assert str(get["time"]) == "2025-08-17 11:02:31"
    flow = rows["Traffic"]
    assert flow["class_uid"] == 4001 and flow["action_class"] == "egress" and flow["status"] == "Success"
    assert flow["dst_endpoint_hostname"] == "198.51.100.200" and flow["traffic_bytes_out"] == 734003200
    key = rows["CreateAccessKey"]
    assert (
        key["class_uid"] == 3001
        and key["action_class"] == "credential_issue"
        and key["resource_name"] == "svc-backup"
    )
    assert rows["AttachRolePolicy"]["action_class"] == "scope_grant"
    bad = quarantine(store)[0]
    assert bad["ingest_line"] == 5 and "OCSF class" in str(bad["reason"])


def test_siem_export_array(store: Store) -> None:
    report = ingest(store, [SIEM])
    assert report.stored == 4 and report.quarantined == 0
    rows = _rows(store)
    auth = rows["Logon"]
    assert auth["class_uid"] == 3002 and auth["action_class"] == "auth" and auth["status"] == "Failure"
    assert auth["status_detail"] == "INVALID_CREDENTIALS" and auth["src_endpoint_asn"] == 16509
    assert auth["actor_user_uid"] == "0oa8xq1k2l3m4n5o6p7"  # the authenticating ``user``
    assert auth["actor_app_name"] == "Terraform Cloud" and auth["actor_user_type"] == "oauth_app"
    assert auth["metadata_tenant_uid"] == "acme.okta.com"
    http = rows["POST"]
    assert http["class_uid"] == 4002 and http["dst_endpoint_hostname"] == "api.openai.com"
    assert http["traffic_bytes_out"] == 1048576 and http["traffic_bytes_in"] == 5210
    finding = events(store, "class_uid = 2004")[0]
    assert finding["status"] == "Unknown" and finding["resource_name"] == "etl-exporter"
    assert str(finding["api_operation"]).startswith("UnauthorizedAccess:")


def test_nhiwatch_round_trip_fields_pass_through(store: Store) -> None:
    ingest(store, [SIEM])
    row = _rows(store)["repo.download_zip"]
    assert row["action_class"] == "export" and row["actor_user_type"] == "pat"
    assert row["scopes"] == ["repo", "workflow"] and row["records"] == 1 and row["on_behalf_of"] == "octocat"
    assert row["metadata_uid"] == "ocsf:github:bJ8Y1nwWzXsqHjDq0Y3QyA"


def test_same_event_as_line_and_in_array_is_stored_once(store: Store, tmp_path: Path) -> None:
    ingest(store, [SIEM])
    lines = "\n".join(json.dumps(e) for e in json.loads(SIEM.read_text())) + "\n"
    report = ingest_text(store, tmp_path, "again.jsonl", lines)
    assert report.stored == 0 and report.duplicates == 4


def test_unknown_nhiwatch_action_class_is_not_trusted(store: Store, tmp_path: Path) -> None:
    ev = json.loads(SIEM.read_text())[3]
    ev["unmapped"]["nhiwatch_action_class"] = "exfiltrate"
    ev["metadata"]["uid"] = "x-2"
    ingest_text(store, tmp_path, "one.json", json.dumps(ev))
    assert events(store)[0]["action_class"] == "read"  # from activity_id 2


CLASSES = [3001, 3002, 4001, 4002, 6003, 2004, 1001, 5001]


@st.composite
def _ocsf(draw: st.DrawFn) -> dict[str, Any]:
    base = [*(json.loads(line) for line in LAKE.read_text().splitlines()), *json.loads(SIEM.read_text())]
    e = json.loads(json.dumps(draw(st.sampled_from(base))))
    e["class_uid"] = draw(st.sampled_from(CLASSES))
    e["activity_id"] = draw(st.integers(min_value=0, max_value=99))
    e["metadata"]["uid"] = str(draw(st.uuids()))
    e["status_id"] = draw(st.sampled_from([0, 1, 2, 99]))
    e["time"] = draw(st.integers(min_value=1_600_000_000_000, max_value=1_900_000_000_000))
    return e


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ocsf(), min_size=1, max_size=12), st.booleans())
def test_generated_events_are_stored_or_quarantined_by_class(
    evs: list[dict[str, Any]], as_array: bool
) -> None:
    with tempfile.TemporaryDirectory() as d:
        text = json.dumps(evs) if as_array else "\n".join(json.dumps(e) for e in evs) + "\n"
        path = write(Path(d), "ocsf.json", text)
        with Store(Path(d) / "s.duckdb") as store:
            report = ingest(store, [path], source="ocsf")
            supported = sum(1 for e in evs if e["class_uid"] not in (1001, 5001))
            assert report.stored == supported and report.quarantined == len(evs) - supported
            for row in events(store):
                assert row["action_class"] in ACTION_CLASSES and row["actor_user_type"] in ACTOR_TYPES
                assert row["status"] in STATUSES
                original = original_record(store, str(row["metadata_uid"]))
                passed = original is not None and "nhiwatch_action_class" in str(original.record)
                if row["class_uid"] in (4001, 4002) and not passed:
                    assert row["action_class"] == "egress"
