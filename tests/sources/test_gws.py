"""Google Workspace Reports API: token, admin and login activities written from Google's published shapes."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.schema import ACTION_CLASSES, ACTOR_TYPES, STATUSES
from nhiwatch.sources.gws.params import expand, flatten
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine

PAGE = FIXTURES / "gws" / "reports" / "001.json"
LINES = FIXTURES / "gws" / "reports" / "activities.jsonl"
ZAPIER = "1041831412594-lhn8rsq7oltkcv5crt2ia5ofm9ne7u37.apps.googleusercontent.com"
DWD_CLIENT = "117634802918735410923"


def _by_op(store: Store) -> dict[str, dict[str, Any]]:
    return {
        str(r["api_operation"])
        + ("/" + str(r["resource_name"]) if r["api_operation"] == "activity" else ""): r
        for r in events(store)
    }


def test_api_page_splits_events_and_maps_token_grants_and_activity(store: Store) -> None:
    report = ingest(store, [PAGE])
    assert report.stored == 5 and report.quarantined == 0
    rows = _by_op(store)
    grant = rows["authorize"]
    assert grant["source"] == "gws" and grant["class_uid"] == 3002 and grant["action_class"] == "scope_grant"
    assert grant["actor_app_uid"] == ZAPIER and grant["actor_app_name"] == "Zapier"
    assert grant["actor_user_type"] == "oauth_app" and grant["on_behalf_of"] == "alice.nguyen@acme.example"
    assert grant["scopes"] == [
        "https://www.googleapis.com/auth/drive.readonly",
        "https://www.googleapis.com/auth/gmail.readonly",
        "openid",
    ]
    assert grant["metadata_tenant_uid"] == "C03az79cb" and grant["src_endpoint_ip"] == "34.229.81.15"
    assert str(grant["time"]) == "2025-06-24 07:58:12.401000"
    listing = rows["activity/drive.files.list"]
    assert listing["action_class"] == "read" and listing["class_uid"] == 6003
    assert listing["resource_type"] == "drive" and listing["traffic_bytes_out"] == 18342
    export = rows["activity/drive.files.export"]
    assert export["action_class"] == "export" and export["traffic_bytes_out"] == 7340032
    trusted = rows["ADD_TO_TRUSTED_OAUTH2_APPS"]
    assert trusted["action_class"] == "scope_grant" and trusted["actor_app_uid"] == ZAPIER
    assert trusted["actor_user_type"] == "user" and trusted["actor_user_name"] == "it-admin@acme.example"
    service = rows["ALLOW_SERVICE_FOR_OAUTH2_ACCESS"]
    assert service["resource_type"] == "service" and service["resource_name"] == "Drive"
    # two events of one activity: same line, distinct vendor ids
    assert trusted["ingest_line"] == service["ingest_line"] == 4
    assert trusted["metadata_uid"] != service["metadata_uid"]
    assert str(trusted["metadata_uid"]).endswith("|0") and str(service["metadata_uid"]).endswith("|1")


def test_one_activity_per_line_maps_revoke_deny_dwd_impersonation_and_login(store: Store) -> None:
    report = ingest(store, [LINES])
    assert report.stored == 7 and report.quarantined == 0
    rows = _by_op(store)
    assert rows["activity/gmail.users.messages.get"]["action_class"] == "read"
    revoke = rows["revoke"]
    assert revoke["action_class"] == "credential_revoke" and revoke["status"] == "Success"
    deny = rows["deny"]
    assert deny["status"] == "Failure" and deny["action_class"] == "auth" and deny["class_uid"] == 3002
    assert deny["actor_app_name"] == "PDF Converter Pro" and deny["scopes"] == ["https://mail.google.com/"]
    dwd = rows["AUTHORIZE_API_CLIENT_ACCESS"]
    assert dwd["action_class"] == "scope_grant" and dwd["actor_app_uid"] == DWD_CLIENT
    assert dwd["scopes"] == [
        "https://www.googleapis.com/auth/admin.directory.user.readonly",
        "https://www.googleapis.com/auth/gmail.readonly",
    ]
    created = rows["CREATE_USER"]
    assert created["class_uid"] == 3001 and created["actor_user_type"] == "oauth_app"
    assert created["actor_app_uid"] == DWD_CLIENT and created["actor_app_name"] == "HR Sync"
    assert (
        created["on_behalf_of"] == "it-admin@acme.example"
        and created["resource_name"] == "new.hire@acme.example"
    )
    failed = rows["login_failure"]
    assert failed["status"] == "Failure" and failed["status_detail"] == "login_failure_invalid_password"
    assert rows["login_success"]["status"] == "Success" and rows["login_success"]["class_uid"] == 3002


def test_same_activities_from_page_and_lines_are_stored_once(store: Store, tmp_path: Path) -> None:
    ingest(store, [PAGE])
    items = json.loads(PAGE.read_text())["items"]
    report = ingest_text(store, tmp_path, "again.jsonl", "\n".join(json.dumps(i) for i in items) + "\n")
    assert report.stored == 0 and report.duplicates == 5


def test_flattened_parameters_and_single_event_objects_are_accepted(store: Store, tmp_path: Path) -> None:
    item = json.loads(LINES.read_text().splitlines()[0])
    event = item["events"][0]
    item["events"] = {**event, "parameters": flatten(event["parameters"])}
    report = ingest_text(store, tmp_path, "panther.jsonl", json.dumps(item) + "\n", source="gws")
    assert report.stored == 1
    assert events(store)[0]["traffic_bytes_out"] == 52211


def test_empty_page_reads_nothing_and_eventless_activity_is_quarantined(store: Store, tmp_path: Path) -> None:
    empty = {"kind": "admin#reports#activities", "etag": '"abc"'}
    assert expand(empty) == []
    good = LINES.read_text().splitlines()[0]
    eventless = {
        "kind": "admin#reports#activity",
        "id": {"time": "2025-06-24T10:00:00Z", "applicationName": "token"},
    }
    content = "\n".join([good, json.dumps(eventless), "not json at all", '"a string"'])
    report = ingest_text(store, tmp_path, "mixed.jsonl", content + "\n", source="gws")
    assert report.stored == 1 and report.quarantined == 3
    reasons = {int(str(q["ingest_line"])): str(q["reason"]) for q in quarantine(store)}
    assert "events" in reasons[2] and "JSON" in reasons[3] and "wrong shape" in reasons[4]


# --- property: any well-formed activity maps, garbage is quarantined ---------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=25)
_param_names = (
    st.sampled_from(
        [
            "client_id",
            "app_name",
            "scope",
            "method_name",
            "api_name",
            "num_response_bytes",
            "OAUTH2_APP_ID",
            "API_SCOPES",
            "scope_data",
            "login_failure_type",
        ]
    )
    | _text
)
_scalar = st.one_of(
    st.builds(lambda v: {"value": v}, _text),
    st.builds(lambda v: {"intValue": str(v)}, st.integers(-(2**62), 2**62)),
    st.builds(lambda v: {"boolValue": v}, st.booleans()),
    st.builds(lambda v: {"multiValue": v}, st.lists(_text, max_size=3)),
)
_param = st.one_of(
    _scalar,
    st.builds(
        lambda ps: {"multiMessageValue": [{"parameter": ps}]},
        st.lists(
            st.builds(lambda n, v: {"name": n, **v}, st.just("scope_name") | _text, _scalar), max_size=2
        ),
    ),
)
_event = st.fixed_dictionaries(
    {
        "name": st.sampled_from(
            [
                "authorize",
                "activity",
                "revoke",
                "deny",
                "login_success",
                "AUTHORIZE_API_CLIENT_ACCESS",
                "ADD_TO_TRUSTED_OAUTH2_APPS",
            ]
        )
        | _text.filter(bool)
    },
    optional={
        "type": st.sampled_from(["auth", "login", "SECURITY_SETTINGS", "USER_SETTINGS"]) | _text,
        "parameters": st.lists(st.builds(lambda n, v: {"name": n, **v}, _param_names, _param), max_size=5),
    },
)
_activity = st.fixed_dictionaries(
    {
        "id": st.fixed_dictionaries(
            {
                "time": st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1)).map(
                    lambda d: d.isoformat(timespec="milliseconds") + "Z"
                ),
                "uniqueQualifier": st.integers().map(str),
                "applicationName": st.sampled_from(["token", "admin", "login"]) | _text,
            },
            optional={"customerId": _text},
        ),
        "events": st.lists(_event, min_size=1, max_size=3),
    },
    optional={
        "actor": st.fixed_dictionaries(
            {},
            optional={
                "email": _text,
                "profileId": _text,
                "callerType": st.sampled_from(["USER", "KEY"]),
                "applicationInfo": st.fixed_dictionaries({"oauthClientId": _text}),
            },
        ),
        "ipAddress": _text,
        "ownerDomain": _text,
    },
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        _activity, min_size=1, max_size=4, unique_by=lambda a: (a["id"]["time"], a["id"]["uniqueQualifier"])
    ),
    st.booleans(),
    st.lists(_text.filter(lambda s: s.strip() and not s.strip().startswith(("{", "["))), max_size=3),
)
def test_random_well_formed_activities_map_and_garbage_is_quarantined(
    batch: list[dict[str, Any]], as_page: bool, garbage: list[str]
) -> None:
    expected = sum(len(a["events"]) for a in batch)
    garbage = [g.replace("\n", " ").replace("\r", " ") for g in garbage]
    if as_page:
        name = "page.json"
        content = json.dumps({"kind": "admin#reports#activities", "items": batch})
        garbage = []
    else:
        name = "lines.jsonl"
        content = "\n".join([*(json.dumps(a) for a in batch), *garbage]) + "\n"
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "t.duckdb") as store:
        report = ingest_text(store, Path(tmp), name, content, source="gws")
        assert report.stored == expected
        assert report.quarantined == len(garbage)
        assert all(q["reason"] for q in quarantine(store))
        for row in events(store):
            assert row["action_class"] in ACTION_CLASSES
            assert row["actor_user_type"] in ACTOR_TYPES
            assert row["status"] in STATUSES
            assert row["class_uid"] in (3001, 3002, 6003)
