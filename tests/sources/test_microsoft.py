"""Microsoft sources: Entra workload sign-ins, Entra directory audit and Graph activity logs.

Fixtures are diagnostic records written from the Azure Monitor / Graph schemas, in the shapes
the exporters write them: one record a line (Log Analytics / forwarders), ``{"records": [...]}``
documents (Event Hubs, storage export) and ``{"value": [...]}`` Graph API pages.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.schema import ACTION_CLASSES, ACTOR_TYPES, STATUSES
from nhiwatch.sources.microsoft.graph_activity import route
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine

MS = FIXTURES / "microsoft"
SIGNINS = MS / "entra_signins"
AUDIT = MS / "entra_audit"
GRAPH = MS / "graph_activity"
PAYROLL = "249ccaa9-e7ff-43ca-b818-b925e5a13d47"
DOCUVIEWER = "49c9aa89-39ca-499d-963f-c287708623b5"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- Entra service principal / managed identity sign-ins --------------------------------------------


def test_service_principal_signins_map_success_failure_and_credentials(store: Store) -> None:
    report = ingest(store, [SIGNINS / "service_principal.jsonl"])
    assert report.stored == 4 and report.quarantined == 0
    ok, expired, bad_secret, cert = events(store)
    assert ok["source"] == "microsoft" and ok["class_uid"] == 3002 and ok["action_class"] == "auth"
    assert ok["actor_app_uid"] == PAYROLL and ok["actor_app_name"] == "payroll-sync"
    assert ok["actor_user_uid"] == "785bba00-e499-4fe1-b3f3-1197afa410a3"
    assert ok["actor_user_type"] == "service_principal" and ok["status"] == "Success"
    assert ok["actor_user_credential_uid"] == "d1dbb3bc-0a65-41bc-a674-99f272b4a271"
    assert ok["resource_name"] == "Microsoft Graph" and ok["src_endpoint_ip"] == "203.0.113.10"
    assert ok["metadata_tenant_uid"] == "a62038f1-6a24-4161-8ed1-21c5799be2b4"
    assert ok["metadata_uid"] == "microsoft:0c0b6d1e-2f0e-4b8c-9a57-1f3d2a4b5c00"
    assert str(ok["time"]) == "2025-09-15 08:00:12.345678"
    assert (expired["status"], expired["status_detail"]) == ("Failure", "7000222")
    assert (bad_secret["status"], bad_secret["status_detail"]) == ("Failure", "7000215")
    assert (
        bad_secret["actor_user_credential_uid"] is None and bad_secret["src_endpoint_ip"] == "198.51.100.77"
    )
    assert cert["actor_user_credential_uid"] == "3F2A9C61B7D04E8E5A1C2B3D4E5F60718293A4B5"
    assert cert["resource_name"] == "Windows Azure Service Management API"


def test_managed_identity_records_document_has_no_ip(store: Store) -> None:
    report = ingest(store, [SIGNINS / "eventhub_records.json"])
    assert report.stored == 3 and report.quarantined == 0
    rows = events(store)
    assert [r["ingest_line"] for r in rows] == [1, 2, 3]
    mi = rows[0]
    assert mi["actor_user_type"] == "managed_identity" and mi["actor_app_name"] == "func-invoice-prod"
    assert (
        mi["src_endpoint_ip"] is None
        and mi["status"] == "Success"
        and mi["resource_name"] == "Azure Key Vault"
    )
    assert rows[2]["actor_user_type"] == "service_principal" and rows[2]["status_detail"] == "700027"


def test_graph_signin_page_keeps_workload_signins_and_quarantines_user_ones(store: Store) -> None:
    report = ingest(store, [SIGNINS / "graph_signins.json"])
    assert report.stored == 2 and report.quarantined == 1
    sp, mi = events(store)
    assert sp["actor_user_type"] == "service_principal" and sp["actor_app_uid"] == PAYROLL
    assert sp["actor_user_credential_uid"] == "e75a7163-1e67-4501-90a7-396be23de1a1"
    assert mi["actor_user_type"] == "managed_identity" and mi["src_endpoint_ip"] is None
    q = quarantine(store)[0]
    assert q["ingest_line"] == 3 and "user sign-in" in str(q["reason"])


def test_same_signin_from_log_analytics_and_event_hub_is_stored_once(store: Store, tmp_path: Path) -> None:
    ingest(store, [SIGNINS / "service_principal.jsonl"])
    records = _lines(SIGNINS / "service_principal.jsonl")
    report = ingest_text(store, tmp_path, "PT1H.json", json.dumps({"records": records}))
    assert report.stored == 0 and report.duplicates == 4


def test_records_document_per_line_is_read(store: Store, tmp_path: Path) -> None:
    records = _lines(SIGNINS / "service_principal.jsonl")
    content = "\n".join(json.dumps({"records": records[i : i + 2]}) for i in (0, 2)) + "\n"
    report = ingest_text(store, tmp_path, "capture.json", content)
    assert report.stored == 4 and report.quarantined == 0


def test_other_category_read_by_a_single_stream_source_is_quarantined(store: Store, tmp_path: Path) -> None:
    records = [*_lines(SIGNINS / "service_principal.jsonl")[:1], _lines(AUDIT / "audit.jsonl")[0]]
    report = ingest_text(
        store, tmp_path, "hub.json", json.dumps({"records": records}), source="microsoft.entra_signins"
    )
    assert report.stored == 1 and report.quarantined == 1
    reason = str(quarantine(store)[0]["reason"])
    assert "category" in reason and "microsoft.entra_signins" in reason


def test_mixed_event_hub_capture_maps_each_record_by_category(store: Store, tmp_path: Path) -> None:
    records = [
        _lines(SIGNINS / "service_principal.jsonl")[1],
        _lines(AUDIT / "audit.jsonl")[0],
        _lines(GRAPH / "activity.jsonl")[0],
        {"time": "2025-09-15T08:00:00Z", "category": "NetworkSecurityGroupEvent", "properties": {}},
    ]
    report = ingest_text(store, tmp_path, "PT1H.json", json.dumps({"records": records}))
    assert report.by_source == {"microsoft.diagnostic_mixed": 3} and report.quarantined == 1
    signin, audit, graph = events(store)
    assert (signin["class_uid"], signin["status_detail"], signin["action_class"]) == (3002, "7000222", "auth")
    assert audit["action_class"] == "credential_issue" and audit["actor_app_uid"] == PAYROLL
    assert graph["resource_name"] == "/v1.0/users/{id}/messages" and graph["traffic_bytes_out"] == 48213
    assert "category" in str(quarantine(store)[0]["reason"])
    # The same events later read from the per-category storage export are duplicates, not new events.
    again = ingest(
        store, [SIGNINS / "service_principal.jsonl", AUDIT / "audit.jsonl", GRAPH / "activity.jsonl"]
    )
    assert again.duplicates == 3


def test_mixed_source_can_be_forced_when_the_sample_shows_one_category(store: Store, tmp_path: Path) -> None:
    first = _lines(SIGNINS / "service_principal.jsonl")[0]
    first["properties"]["appliedConditionalAccessPolicies"] = [{"id": "x" * 70_000}]  # beyond the sample
    content = json.dumps(first) + "\n" + json.dumps(_lines(GRAPH / "activity.jsonl")[0]) + "\n"
    assert ingest_text(store, tmp_path, "a.jsonl", content).quarantined == 1  # read as sign-ins
    report = ingest_text(store, tmp_path, "b.jsonl", content, source="microsoft.diagnostic_mixed")
    assert report.by_source == {"microsoft.diagnostic_mixed": 1} and report.duplicates == 1


# --- Entra directory audit ---------------------------------------------------------------------------


def test_credential_added_and_removed_are_issue_and_revoke(store: Store) -> None:
    ingest(store, [AUDIT / "audit.jsonl"])
    rows = {(r["api_operation"], r["status"]): r for r in events(store)}
    added = rows[("Add service principal credentials", "Success")]
    assert added["action_class"] == "credential_issue" and added["class_uid"] == 6003
    assert added["actor_app_uid"] == PAYROLL and added["actor_app_name"] == "payroll-sync"
    assert added["actor_user_credential_uid"] == "e75a7163-1e67-4501-90a7-396be23de1a1"
    assert (
        added["on_behalf_of"] == "alice.admin@contoso.onmicrosoft.com" and added["actor_user_type"] == "user"
    )
    assert added["src_endpoint_ip"] == "198.51.100.5" and str(added["http_request_user_agent"]).startswith(
        "Mozilla"
    )
    assert added["metadata_uid"] == "microsoft:Directory_6d0ecaa0-deae-4ea5-a759-d43438fdd7f3_8JQ2R_41772351"
    removed = rows[("Update application – Certificates and secrets management", "Success")]
    assert removed["action_class"] == "credential_revoke" and removed["actor_app_uid"] == PAYROLL
    assert removed["actor_user_credential_uid"] == "d1dbb3bc-0a65-41bc-a674-99f272b4a271"
    failed = rows[("Add service principal credentials", "Failure")]
    assert failed["status_detail"] == "Microsoft.Online.Workflows.ValidationException"
    assert failed["on_behalf_of"] == "helpdesk.temp@contoso.onmicrosoft.com"


def test_app_role_assignment_names_the_client_not_the_resource_api(store: Store) -> None:
    ingest(store, [AUDIT / "audit.jsonl"])
    (grant,) = events(store, "api_operation = 'Add app role assignment to service principal'")
    assert grant["action_class"] == "scope_grant" and grant["scopes"] == ["Mail.Read"]
    assert grant["actor_app_uid"] == PAYROLL and grant["actor_app_name"] == "payroll-sync"
    assert grant["resource_name"] == "Microsoft Graph"


def test_consent_and_delegated_grant_extract_scopes(store: Store) -> None:
    report = ingest(store, [AUDIT / "eventhub_records.json"])
    assert report.stored == 2 and report.quarantined == 0
    consent, grant = events(store)
    scopes = ["Files.Read.All", "offline_access", "openid", "profile", "User.Read"]
    assert consent["api_operation"] == "Consent to application" and consent["action_class"] == "scope_grant"
    assert consent["actor_app_uid"] == DOCUVIEWER and consent["actor_app_name"] == "DocuViewer Pro"
    assert consent["scopes"] == scopes and consent["on_behalf_of"] == "bob@contoso.onmicrosoft.com"
    assert grant["action_class"] == "scope_grant" and grant["scopes"] == scopes
    # Entra names the delegated grant's client only by its service principal object id.
    assert grant["actor_app_uid"] == "c492d92d-7c5e-44c4-bec3-739b31e89ee6"


def test_removals_and_app_initiated_changes(store: Store) -> None:
    ingest(store, [AUDIT / "audit.jsonl"])
    (revoke,) = events(store, "api_operation = 'Remove delegated permission grant'")
    assert revoke["action_class"] == "credential_revoke" and "Files.Read.All" in revoke["scopes"]
    (by_app,) = events(store, "api_operation = 'Update user'")
    assert by_app["class_uid"] == 3001 and by_app["action_class"] == "admin"
    assert by_app["actor_app_uid"] == PAYROLL and by_app["actor_user_type"] == "service_principal"
    assert by_app["on_behalf_of"] is None and by_app["resource_name"] == "bob@contoso.onmicrosoft.com"
    (registered,) = events(store, "api_operation = 'Add application'")
    assert (
        registered["action_class"] == "admin"
        and registered["actor_app_uid"] == "0d1f3b6b-8b81-42b3-ae3d-441fb93d621a"
    )


def test_graph_directory_audit_page_is_read(store: Store, tmp_path: Path) -> None:
    rec = json.loads((AUDIT / "eventhub_records.json").read_text())["records"][0]["properties"]
    page = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits",
        "value": [rec],
    }
    report = ingest_text(store, tmp_path, "directoryAudits.json", json.dumps(page))
    assert report.stored == 1
    (row,) = events(store)
    assert row["api_operation"] == "Consent to application" and row["actor_app_uid"] == DOCUVIEWER
    assert row["metadata_tenant_uid"] is None and str(row["time"]) == "2025-09-15 09:40:51.200000"


# --- Graph activity ----------------------------------------------------------------------------------


def test_graph_app_only_and_delegated_calls(store: Store) -> None:
    report = ingest(store, [GRAPH / "activity.jsonl"])
    assert report.stored == 6 and report.quarantined == 0
    mail1, mail2, add_pw, delete, drive, throttled = events(store)
    assert mail1["class_uid"] == 6003 and mail1["actor_user_type"] == "service_principal"
    assert mail1["actor_app_uid"] == PAYROLL and mail1["on_behalf_of"] is None
    assert mail1["resource_name"] == mail2["resource_name"] == "/v1.0/users/{id}/messages"
    assert mail1["api_operation"] == "GET /v1.0/users/{id}/messages" and mail1["resource_type"] == "users"
    assert mail1["traffic_bytes_out"] == 48213 and mail1["scopes"] == ["Mail.Read", "User.Read.All"]
    assert mail1["dst_endpoint_hostname"] == "graph.microsoft.com" and mail1["action_class"] == "read"
    assert mail1["http_request_user_agent"] == "python-requests/2.31.0"
    assert (
        add_pw["action_class"] == "write" and add_pw["resource_name"] == "/v1.0/applications/{id}/addpassword"
    )
    assert (delete["action_class"], delete["status"], delete["status_detail"]) == ("delete", "Failure", "403")
    assert (
        drive["actor_user_type"] == "oauth_app"
        and drive["on_behalf_of"] == "fb08a716-2c94-4fab-8b70-38995c5ce5db"
    )
    assert drive["actor_app_uid"] == DOCUVIEWER and "Files.Read.All" in drive["scopes"]
    assert drive["src_endpoint_ip"] == "198.51.100.23" and drive["resource_type"] == "me"
    assert throttled["status"] == "Failure" and throttled["http_request_user_agent"] is None


def test_graph_records_document(store: Store) -> None:
    report = ingest(store, [GRAPH / "eventhub_records.json"])
    assert report.stored == 2
    sites, upload = events(store)
    assert sites["resource_name"] == "/v1.0/sites/{id}/drives" and sites["resource_type"] == "sites"
    assert (
        upload["resource_name"] == "/v1.0/drives/{id}/root:/{path}:/content"
        and upload["action_class"] == "write"
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "https://graph.microsoft.com/v1.0/users/7ef3c2ad-d52b-4a89-8cf9-c30178181027/messages?$top=5",
            "/v1.0/users/{id}/messages",
        ),
        (
            "https://graph.microsoft.com/beta//users/bob%40contoso.com/photos/48x48/$value",
            "/beta/users/{id}/photos/48x48/$value",
        ),
        ("https://graph.microsoft.com/v1.0/users('bob@contoso.com')/memberOf", "/v1.0/users({id})/memberof"),
        (
            "https://graph.microsoft.com/v1.0/me/drive/items/01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K/content",
            "/v1.0/me/drive/items/{id}/content",
        ),
        ("https://graph.microsoft.com/v1.0/oauth2PermissionGrants", "/v1.0/oauth2permissiongrants"),
        ("https://graph.microsoft.com/v1.0/groups/delta()?$deltatoken=abc123", "/v1.0/groups/delta()"),
        ("https://graph.microsoft.com/v1.0/auditLogs/signIns/", "/v1.0/auditlogs/signins"),
        ("https://graph.microsoft.com", None),
    ],
)
def test_graph_route_templating(uri: str, expected: str | None) -> None:
    con = duckdb.connect()
    assert con.execute(f"SELECT {route('?')}", [uri]).fetchone() == (expected,)


# --- robustness --------------------------------------------------------------------------------------

# Each example runs a DuckDB ingest; shrinking a failure would take minutes, the failing example is reported as is.
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)
_text = st.one_of(st.none(), st.text(max_size=30), st.integers(-5, 10**9).map(str))
_ip = st.one_of(st.none(), st.just(""), st.ip_addresses().map(str))
_time = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.isoformat() + "Z"
)
_guid = st.uuids().map(str)


def _signin() -> st.SearchStrategy[dict[str, Any]]:
    props = st.fixed_dictionaries(
        {
            "appId": _guid,
            "servicePrincipalName": _text,
            "servicePrincipalCredentialKeyId": _text,
            "resourceDisplayName": _text,
            "ipAddress": _ip,
            "id": _guid,
            "status": st.fixed_dictionaries({"errorCode": st.integers(0, 9_999_999)}),
        }
    )
    return st.fixed_dictionaries(
        {
            "time": _time,
            "category": st.sampled_from(["ServicePrincipalSignInLogs", "ManagedIdentitySignInLogs"]),
            "tenantId": _guid,
            "resultType": _text,
            "callerIpAddress": _ip,
            "properties": props,
        }
    )


def _audit() -> st.SearchStrategy[dict[str, Any]]:
    mp = st.fixed_dictionaries(
        {
            "displayName": st.sampled_from(
                [
                    "KeyDescription",
                    "ConsentAction.Permissions",
                    "AppRole.Value",
                    "DelegatedPermissionGrant.Scope",
                    "ServicePrincipal.AppId",
                    "Other",
                ]
            ),
            "oldValue": _text,
            "newValue": st.one_of(_text, st.lists(st.text(max_size=10), max_size=3)),
        }
    )
    target = st.fixed_dictionaries(
        {
            "id": _guid,
            "displayName": _text,
            "type": st.sampled_from(["ServicePrincipal", "Application", "User", "Group"]),
            "modifiedProperties": st.lists(mp, max_size=4),
        }
    )
    by = st.one_of(
        st.fixed_dictionaries(
            {"user": st.fixed_dictionaries({"userPrincipalName": _text, "id": _text, "ipAddress": _ip})}
        ),
        st.fixed_dictionaries({"app": st.fixed_dictionaries({"appId": _text, "displayName": _text})}),
    )
    props = st.fixed_dictionaries(
        {
            "id": _guid,
            "result": st.sampled_from(["success", "failure", "timeout", ""]),
            "initiatedBy": by,
            "targetResources": st.lists(target, max_size=3),
            "additionalDetails": st.lists(st.fixed_dictionaries({"key": _text, "value": _text}), max_size=2),
        }
    )
    ops = st.sampled_from(
        [
            "Consent to application",
            "Add service principal credentials",
            "Remove owner from application",
            "Add delegated permission grant",
            "Update application – Certificates and secrets management",
        ]
    )
    return st.fixed_dictionaries(
        {"time": _time, "category": st.just("AuditLogs"), "operationName": ops, "properties": props}
    )


def _graph() -> st.SearchStrategy[dict[str, Any]]:
    uri = st.builds(
        lambda p, q: f"https://graph.microsoft.com/v1.0/{p}?{q}",
        st.text(alphabet="abcdef0123456789-/@.,'()$:", max_size=60),
        st.text(max_size=10),
    )
    props = st.fixed_dictionaries(
        {
            "appId": _guid,
            "servicePrincipalId": st.one_of(st.none(), _guid),
            "userId": st.one_of(st.none(), _guid),
            "requestMethod": st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", ""]),
            "requestUri": uri,
            "responseStatusCode": st.one_of(st.integers(100, 599), _text),
            "responseSizeBytes": st.one_of(st.integers(0, 10**9), _text),
            "roles": _text,
            "scopes": _text,
            "requestId": _guid,
        }
    )
    return st.fixed_dictionaries(
        {
            "time": _time,
            "category": st.just("MicrosoftGraphActivityLogs"),
            "tenantId": _guid,
            "properties": props,
        }
    )


def _ingest_records(
    records: list[Any], name: str, source: str, wrap: bool
) -> tuple[Any, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "t.duckdb") as store:
        path = Path(tmp) / name
        if wrap:
            path.write_text(json.dumps({"records": records}))
        else:
            path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
        report = ingest(store, [path], source=source)
        return report, events(store)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=_PHASES)
@given(
    kind=st.sampled_from(["signin", "audit", "graph"]),
    data=st.data(),
    wrap=st.booleans(),
)
def test_random_well_formed_records_never_raise(kind: str, data: st.DataObject, wrap: bool) -> None:
    strategy = {"signin": _signin, "audit": _audit, "graph": _graph}[kind]()
    records = data.draw(st.lists(strategy, min_size=1, max_size=5))
    source = {
        "signin": "microsoft.entra_signins",
        "audit": "microsoft.entra_audit",
        "graph": "microsoft.graph_activity",
    }[kind]
    report, rows = _ingest_records(records, "x.json", source, wrap)
    assert report.stored + report.duplicates + report.quarantined == len(records)
    for row in rows:
        assert row["action_class"] in ACTION_CLASSES and row["status"] in STATUSES
        assert row["actor_user_type"] in ACTOR_TYPES


_garbage = st.one_of(
    st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and "\n" not in s and "\r" not in s),
    st.integers().map(str),
    st.lists(st.integers(), max_size=3).map(json.dumps),
    st.fixed_dictionaries({"category": st.just("MicrosoftGraphActivityLogs"), "time": _text}).map(json.dumps),
    st.dictionaries(st.sampled_from(["foo", "properties", "records"]), _text, max_size=2).map(json.dumps),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=_PHASES)
@given(good=_graph(), junk=st.lists(_garbage, min_size=1, max_size=4))
def test_garbage_lines_are_quarantined(good: dict[str, Any], junk: list[str]) -> None:
    report, rows = _ingest_records([good, *junk], "mixed.jsonl", "microsoft.graph_activity", wrap=False)
    assert report.stored == 1 and len(rows) == 1
    assert report.quarantined == len(junk)
