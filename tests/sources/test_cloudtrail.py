"""AWS CloudTrail: S3 trail files (gzip ``Records``), one-per-line exports and EventBridge envelopes.

Events are written after the record shapes in AWS's CloudTrail user guide (log file examples, sign-in
events, S3 data events, STS web identity) with documentation account ids and keys.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import zlib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.schema import ACTION_CLASSES, ACTOR_TYPES
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine, write

DIR = FIXTURES / "aws" / "cloudtrail"
TRAIL = DIR / "111122223333_CloudTrail_us-east-1_20250817T1125Z_Mu0KsOhtH1ar15ZZ.json.gz"


def _records() -> list[dict[str, Any]]:
    return list(json.loads(gzip.decompress(TRAIL.read_bytes()))["Records"])


def _by_op(store: Store) -> dict[str, dict[str, Any]]:
    return {str(r["api_operation"]) + ":" + str(r["actor_user_type"]): r for r in events(store)}


def test_gzip_trail_file_maps_every_record(store: Store) -> None:
    report = ingest(store, [TRAIL])
    assert report.stored == 12 and report.quarantined == 0
    assert report.by_source["aws.cloudtrail"] == 12
    rows = _by_op(store)
    get = rows["GetObject:iam_role"]
    assert get["source"] == "aws" and get["class_uid"] == 6003 and get["action_class"] == "read"
    assert get["actor_user_uid"] == "arn:aws:iam::111122223333:role/etl-exporter"
    assert (
        get["actor_user_name"] == "etl-exporter"
        and get["actor_user_credential_uid"] == "ASIA6EXAMPLEETL00001"
    )
    assert get["resource_name"] == "acme-payroll-exports/2025/08/payroll-full.csv.gz"
    assert get["resource_type"] == "AWS::S3::Object" and get["traffic_bytes_out"] == 52428800
    assert get["dst_endpoint_hostname"] == "acme-payroll-exports.s3.us-east-1.amazonaws.com"
    assert (
        get["metadata_tenant_uid"] == "111122223333"
        and get["metadata_uid"] == "aws:3f2b8c1e-5a7d-4e9f-8b6a-1c2d3e4f5a6b"
    )
    assert str(get["time"]) == "2025-08-17 11:02:31"
    assume = rows["AssumeRole:iam_user"]
    assert assume["class_uid"] == 3002 and assume["action_class"] == "auth"
    assert assume["resource_name"] == "arn:aws:iam::111122223333:role/DeployRole"
    assert assume["actor_user_credential_uid"] == "AKIAIOSFODNN7EXAMPLE"


def test_iam_credential_and_policy_changes(store: Store) -> None:
    ingest(store, [TRAIL])
    rows = _by_op(store)
    key = rows["CreateAccessKey:iam_user"]
    assert key["class_uid"] == 3001 and key["action_class"] == "credential_issue"
    assert key["resource_type"] == "AWS::IAM::User" and key["resource_name"] == "svc-backup"
    assert rows["DeleteAccessKey:iam_user"]["action_class"] == "credential_revoke"
    attach = rows["AttachRolePolicy:iam_role"]
    assert attach["action_class"] == "scope_grant"
    assert attach["scopes"] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    assert attach["on_behalf_of"] == "alice@acme.example"  # IAM Identity Center session name
    assert rows["DeleteObject:iam_role"]["action_class"] == "delete"
    assert rows["RunInstances:iam_role"]["action_class"] == "write"
    assert rows["RunInstances:iam_role"]["src_endpoint_ip"] == "2001:db8::8a2e:370:7334"


def test_failures_and_identity_types(store: Store) -> None:
    ingest(store, [TRAIL])
    rows = _by_op(store)
    login = rows["ConsoleLogin:iam_user"]
    assert login["class_uid"] == 3002 and login["status"] == "Failure"
    assert login["status_detail"] == "Failed authentication"
    assert login["actor_user_credential_uid"] is None  # "accessKeyId": "" on sign-in events
    denied = rows["GetSecretValue:iam_role"]
    assert denied["status"] == "Failure" and denied["status_detail"] == "AccessDenied"
    service = rows["AssumeRole:aws_service"]
    assert service["actor_user_uid"] == "lambda.amazonaws.com"
    assert service["src_endpoint_ip"] is None  # sourceIPAddress is a service name, not an IP
    oidc = rows["AssumeRoleWithWebIdentity:workload"]
    assert oidc["actor_user_name"] == "repo:acme/infra:ref:refs/heads/main"
    root = rows["GetAccountSummary:user"]
    assert root["actor_user_name"] == "root" and root["action_class"] == "read"
    assert sum(1 for r in events(store) if r["status"] == "Success") == 10


def test_eventbridge_and_lake_lines_dedupe_against_the_trail_file(store: Store) -> None:
    ingest(store, [TRAIL])
    report = ingest(store, [DIR / "eventbridge.jsonl", DIR / "lake_export.jsonl"])
    # CreateAccessKey and ConsoleLogin were in the trail file; CreateUser is new (seen twice).
    assert report.stored == 1 and report.duplicates == 3 and report.quarantined == 0
    user = events(store, "api_operation = 'CreateUser'")[0]
    assert user["class_uid"] == 3001 and user["action_class"] == "write"
    assert user["resource_name"] == "svc-reporting"


def test_eventbridge_envelope_is_its_own_stream(store: Store) -> None:
    report = ingest(store, [DIR / "eventbridge.jsonl"])
    assert report.by_source["aws.cloudtrail_eventbridge"] == 2
    key = events(store, "api_operation = 'CreateAccessKey'")[0]
    assert key["source"] == "aws" and key["metadata_uid"] == "aws:9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
    assert key["actor_user_name"] == "alice.admin" and key["action_class"] == "credential_issue"


def test_pretty_printed_uncompressed_trail_file(store: Store, tmp_path: Path) -> None:
    report = ingest_text(store, tmp_path, "trail.json", json.dumps({"Records": _records()}, indent=2))
    assert report.stored == 12
    assert [r["ingest_line"] for r in events(store)][:3] == [1, 2, 3]


def test_truncated_gzip_keeps_the_complete_records(store: Store, tmp_path: Path) -> None:
    records = _records()
    packed = [json.dumps(r, separators=(",", ":")) for r in records]
    data = gzip.compress(('{"Records":[' + ",".join(packed) + "]}").encode(), mtime=0)
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) * 3 // 5])
    text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(path.read_bytes()).decode()
    complete = max(k for k in range(len(records)) if text.startswith('{"Records":[' + ",".join(packed[:k])))
    report = ingest(store, [path])
    assert 0 < complete < len(records) and report.stored == complete
    assert [r["api_operation"] for r in events(store)] == [r["eventName"] for r in records[:complete]]
    reasons = [str(q["reason"]) for q in quarantine(store)]
    assert len(reasons) == 1 and reasons[0].startswith("truncated or corrupt gzip")
    assert f"{complete} complete records kept" in reasons[0]


def test_record_without_event_name_is_quarantined(store: Store, tmp_path: Path) -> None:
    good = json.dumps(_records()[0])
    bad = json.dumps({**_records()[1], "eventName": None})
    report = ingest_text(store, tmp_path, "lines.jsonl", good + "\n" + bad + "\n", source="aws.cloudtrail")
    assert report.stored == 1 and report.quarantined == 1
    assert "eventName" in str(quarantine(store)[0]["reason"])


# --- properties ---------------------------------------------------------------------------------------

NAMES = [
    "GetObject", "PutObject", "DeleteBucket", "ListBuckets", "DescribeInstances", "HeadObject", "CreateAccessKey",
    "UpdateAccessKey", "DeleteAccessKey", "AttachUserPolicy", "PutRolePolicy", "CreateRole", "AssumeRole",
    "AssumeRoleWithSAML", "ConsoleLogin", "GetSessionToken", "RunInstances", "Decrypt", "CreateUser",
]  # fmt: skip
IDENTITIES = [
    "AssumedRole",
    "IAMUser",
    "AWSService",
    "Root",
    "FederatedUser",
    "WebIdentityUser",
    "SAMLUser",
    "X",
]


@st.composite
def _event(draw: st.DrawFn) -> dict[str, Any]:
    base = dict(draw(st.sampled_from(_records())))
    base["eventID"] = str(draw(st.uuids()))
    base["eventName"] = draw(st.sampled_from(NAMES))
    base["readOnly"] = draw(st.booleans())
    base["userIdentity"] = {**base["userIdentity"], "type": draw(st.sampled_from(IDENTITIES))}
    if draw(st.booleans()):
        base["errorCode"] = draw(st.sampled_from(["AccessDenied", "ThrottlingException", "NoSuchKey"]))
    else:
        base.pop("errorCode", None)
        base["responseElements"] = None
    return base


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_event(), min_size=1, max_size=15), st.booleans())
def test_every_generated_event_maps_to_valid_columns(evs: list[dict[str, Any]], gz: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d), "trail.json", json.dumps({"Records": evs}), gz=gz)
        with Store(Path(d) / "s.duckdb") as store:
            report = ingest(store, [path])
            assert report.stored == len(evs) and report.quarantined == 0
            for row in events(store):
                assert row["action_class"] in ACTION_CLASSES and row["actor_user_type"] in ACTOR_TYPES
                assert row["class_uid"] in (3001, 3002, 6003)
            failed = {e["eventID"] for e in evs if "errorCode" in e}
            assert {str(r["metadata_uid"])[4:] for r in events(store, "status = 'Failure'")} == failed


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=20, max_value=100))
def test_any_gzip_cut_keeps_a_prefix_and_quarantines_once(percent: int) -> None:
    data = TRAIL.read_bytes()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "cut.json.gz"
        path.write_bytes(data[: max(20, len(data) * percent // 100)])
        with Store(Path(d) / "s.duckdb") as store:
            report = ingest(store, [path], source="aws")
            names = [r["api_operation"] for r in events(store)]
            assert names == [r["eventName"] for r in _records()][: len(names)]
            assert report.quarantined == (0 if percent == 100 else 1)


def test_vendor_account_assuming_a_role_is_named_by_its_account(store: Store, tmp_path: Path) -> None:
    ev = {**_records()[1], "eventID": "x-acct-1"}
    ev["userIdentity"] = {
        "type": "AWSAccount",
        "principalId": "AIDAQ3EXAMPLEVENDOR1",
        "accountId": "444455556666",
    }
    ingest_text(store, tmp_path, "one.json", json.dumps({"Records": [ev]}))
    row = events(store)[0]
    assert row["actor_user_uid"] == "444455556666" and row["actor_user_type"] == "unknown"
    assert row["class_uid"] == 3002 and row["resource_name"] == "arn:aws:iam::111122223333:role/DeployRole"
