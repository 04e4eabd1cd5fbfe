"""Salesforce: EventLogFile CSVs, Real-Time Event Monitoring JSON and the Setup Audit Trail.

Fixtures follow the documented column sets per event type; the Drift fixtures replay the published
Salesloft Drift sequence (describe calls, COUNT() queries, a Bulk API 2.0 export and the job delete).
"""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.evidence import original_record
from nhiwatch.ingest import ingest
from nhiwatch.schema import ACTION_CLASSES, ACTOR_TYPES, STATUSES
from nhiwatch.sources import files as F
from nhiwatch.sources import registry
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine, write

SF = FIXTURES / "salesforce"
ELF = SF / "event_log_file"
DRIFT_APP = "0H48c000000Xw2L"


def _one(store: Store, where: str) -> dict[str, object]:
    rows = events(store, where)
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize(
    ("name", "event_type", "class_uid", "action_class", "rows"),
    [
        ("login.csv", "Login", 3002, "auth", 4),
        ("api.csv", "API", 6003, None, 5),
        ("restapi.csv", "RestApi", 6003, None, 11),
        ("bulkapi.csv", "BulkApi", 6003, None, 2),
        ("bulkapi2.csv", "BulkApi2", 6003, None, 5),
        ("reportexport.csv", "ReportExport", 6003, "export", 1),
        ("apexcallout.csv", "ApexCallout", 4002, "egress", 3),
        ("uniquequery.csv", "UniqueQuery", 6003, "read", 5),
        ("apitotalusage.csv", "ApiTotalUsage", 6003, None, 2),
    ],
)
def test_each_event_type_is_read_with_its_documented_header(
    store: Store, name: str, event_type: str, class_uid: int, action_class: str | None, rows: int
) -> None:
    report = ingest(store, [ELF / name])
    assert report.stored == rows and report.quarantined == 0
    assert report.by_source == {"salesforce.event_log_file": rows}
    for row in events(store):
        assert row["source"] == "salesforce" and row["class_uid"] == class_uid
        assert str(row["api_operation"]).split(".")[0] == event_type
        assert row["metadata_tenant_uid"] == "00D8c000001XyZa"
        assert row["action_class"] in ACTION_CLASSES and row["status"] in STATUSES
        assert row["actor_user_type"] in ACTOR_TYPES and row["actor_user_uid"]
        if action_class:
            assert row["action_class"] == action_class


def test_login_events_carry_status_ip_user_agent_and_oauth_identity(store: Store) -> None:
    ingest(store, [ELF / "login.csv"])
    drift = _one(store, "src_endpoint_ip = '208.68.36.90'")
    assert str(drift["time"]) == "2025-08-17 11:11:23.087000"
    assert drift["status"] == "Success" and drift["status_detail"] == "LOGIN_NO_ERROR"
    assert drift["actor_user_type"] == "oauth_app" and drift["on_behalf_of"] == "sales.ops@acme.example"
    assert drift["http_request_user_agent"] == "Salesforce-Multi-Org-Fetcher/1.0"
    assert drift["actor_user_credential_uid"] == "Pb8vN3kLs5Tq0mYe"
    assert str(drift["metadata_uid"]).startswith("salesforce:Login:4uC3pS6Zr1Wu5-l1cJIQk-:")
    human = _one(store, "actor_user_name = 'jane.admin@acme.example'")
    assert human["status"] == "Failure" and human["status_detail"] == "LOGIN_ERROR_INVALID_PASSWORD"
    assert human["actor_user_type"] == "user" and human["on_behalf_of"] is None


def test_api_soap_methods_map_to_action_classes(store: Store) -> None:
    ingest(store, [ELF / "api.csv"])
    by_op = {r["api_operation"]: r for r in events(store)}
    assert {k: v["action_class"] for k, v in by_op.items()} == {
        "API.query": "read",
        "API.update": "write",
        "API.delete": "delete",
        "API.describeSObjects": "read",
        "API.create": "write",
    }
    query = by_op["API.query"]
    assert query["actor_app_uid"] == "0H48c000000Pq7R" and query["actor_app_name"] == "acme-erp-sync"
    assert (
        query["records"] == 2000
        and query["traffic_bytes_out"] == 1893211
        and query["traffic_bytes_in"] == 611
    )
    assert query["resource_type"] == "Account"
    assert query["http_request_user_agent"] is None  # API logs carry a numeric user-agent code
    assert by_op["API.create"]["status"] == "Failure"


def test_bulk_jobs_are_exports_writes_and_deletes(store: Store) -> None:
    ingest(store, [ELF / "bulkapi.csv", ELF / "bulkapi2.csv"])
    upsert = _one(store, "api_operation = 'BulkApi.upsert'")
    assert upsert["action_class"] == "write" and upsert["records"] == 10000
    assert _one(store, "api_operation = 'BulkApi.query'")["action_class"] == "export"
    done = _one(store, "status_detail = 'JobComplete'")
    assert done["action_class"] == "export" and done["records"] == 183422
    assert done["resource_name"] == "/services/data/v58.0/jobs/query/{id}" and done["resource_type"] == "Case"
    assert done["traffic_bytes_out"] == round(393.24 * 1048576)
    assert _one(store, "status_detail = 'Deleted'")["action_class"] == "delete"


def test_report_export_and_apex_callout(store: Store) -> None:
    ingest(store, [ELF / "reportexport.csv", ELF / "apexcallout.csv"])
    report = _one(store, "api_operation = 'ReportExport'")
    assert report["resource_type"] == "report" and report["resource_name"] == "00O8c000005YzAbEAK"
    assert str(report["http_request_user_agent"]).startswith("Mozilla/5.0")
    callouts = events(store, "class_uid = 4002")
    assert [c["dst_endpoint_hostname"] for c in callouts] == [
        "hooks.slack.com",
        "erp.acme.example",
        "webhook.site",
    ]
    assert [c["status"] for c in callouts] == ["Success", "Failure", "Success"]
    assert all(c["src_endpoint_ip"] is None for c in callouts)  # "Salesforce.com IP" is not an address
    # Two callouts in one transaction share REQUEST_ID and are still two events.
    assert len({c["metadata_uid"] for c in callouts}) == 3


def test_drift_pattern_describe_count_bulk_export_then_job_delete(store: Store) -> None:
    ingest(store, [ELF])
    describes = events(store, "resource_name LIKE '%/describe/'")
    assert len(describes) == 2 and all(d["action_class"] == "read" for d in describes)
    assert {d["actor_app_uid"] for d in describes} == {DRIFT_APP}
    counts = events(store, "api_operation = 'UniqueQuery.soql' AND resource_name LIKE 'SELECT COUNT()%'")
    assert [c["resource_type"] for c in counts] == ["Account", "Contact", "User", "Case"]
    export = _one(store, "api_operation = 'RestApi.GET' AND action_class = 'export'")
    assert export["records"] == 183422 and export["traffic_bytes_out"] == 412337152
    assert export["actor_app_name"] == "Drift" and export["src_endpoint_ip"] == "208.68.36.90"
    create = _one(store, "api_operation = 'RestApi.POST'")
    assert create["action_class"] == "export"
    delete = _one(store, "api_operation = 'RestApi.DELETE'")
    assert delete["action_class"] == "delete" and delete["status"] == "Success"
    finished = _one(store, "status_detail = 'JobComplete'")["time"]
    assert isinstance(finished, datetime) and isinstance(delete["time"], datetime)
    assert timedelta(seconds=20) < delete["time"] - finished < timedelta(seconds=30)
    # The whole exfiltration ran on one login session, visible across event types.
    session = events(store, "actor_user_credential_uid = 'Pb8vN3kLs5Tq0mYe'")
    assert {str(r["api_operation"]).split(".")[0] for r in session} == {
        "Login",
        "RestApi",
        "UniqueQuery",
        "BulkApi2",
    }


def test_reingesting_the_same_files_stores_nothing_new(store: Store) -> None:
    first = ingest(store, [ELF])
    again = ingest(store, [ELF])
    assert again.stored == 0 and again.duplicates == first.stored


def test_gzip_bom_and_crlf_files_read_the_same_events(store: Store, tmp_path: Path) -> None:
    text = (ELF / "login.csv").read_text()
    first = ingest(store, [write(tmp_path, "Login-hourly.csv", text, gz=True)])
    again = ingest_text(store, tmp_path, "login-bom.csv", ("\ufeff" + text.replace("\n", "\r\n")).encode())
    assert first.stored == 4 and again.stored == 0 and again.duplicates == 4


def test_rows_with_missing_or_extra_columns_are_quarantined_with_line_numbers(
    store: Store, tmp_path: Path
) -> None:
    lines = (ELF / "restapi.csv").read_text().splitlines()
    short = lines[3].rsplit(",", 2)[0]  # two columns short
    extra = lines[5] + ',"unexpected"'
    content = "\n".join([lines[0], lines[1], lines[2], short, lines[4], extra, lines[6]]) + "\n"
    report = ingest_text(store, tmp_path, "RestApi-2025-08-14.csv", content)
    assert report.stored == 4 and report.quarantined == 2
    bad = quarantine(store)
    assert [q["ingest_line"] for q in bad] == [4, 6]
    assert "fewer columns" in str(bad[0]["reason"]) and "more columns" in str(bad[1]["reason"])
    assert [r["ingest_line"] for r in events(store)] == [2, 3, 5, 7]


def test_raw_timestamp_without_derived_column_and_bad_time(store: Store, tmp_path: Path) -> None:
    content = (
        '"EVENT_TYPE","TIMESTAMP","REQUEST_ID","ORGANIZATION_ID","USER_ID","URI","METHOD","STATUS_CODE","CLIENT_IP"\n'
        '"RestApi","20250817111155.240","4uL5yB1Ia2Fd6-l1cJIQk-","00D8c000001XyZa","0058c00000A1b2C",'
        '"/services/data/v58.0/query","GET","200","208.68.36.90"\n'
        '"RestApi","yesterday","4uL5yB1Ia2Fd6-l1cJIQk-","00D8c000001XyZa","0058c00000A1b2C",'
        '"/services/data/v58.0/query","GET","200","208.68.36.90"\n'
    )
    report = ingest_text(store, tmp_path, "elf.csv", content)
    assert report.stored == 1 and report.quarantined == 1
    assert str(events(store)[0]["time"]) == "2025-08-17 11:11:55.240000"
    assert events(store)[0]["actor_user_uid"] == "0058c00000A1b2C"
    assert "timestamp" in str(quarantine(store)[0]["reason"]) and quarantine(store)[0]["ingest_line"] == 3


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (ELF / "login.csv", "salesforce.event_log_file"),
        (ELF / "bulkapi2.csv", "salesforce.event_log_file"),
        (SF / "realtime_events" / "login_api_stream.jsonl", "salesforce.realtime_events"),
        (SF / "realtime_events" / "apievent_query.json", "salesforce.realtime_events"),
        (SF / "setup_audit_trail" / "setup_audit_trail.csv", "salesforce.setup_audit_trail"),
        (SF / "setup_audit_trail" / "setup_audit_trail_query.json", "salesforce.setup_audit_trail_json"),
    ],
)
def test_sniffing_tells_the_streams_apart(path: Path, expected: str) -> None:
    src = registry.detect(F.sample(path))
    assert src is not None and src.id == expected


@pytest.mark.parametrize(
    "head",
    [
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action\n",
        '"Date","Amount","Description"\n"4/27/2025","12.00","coffee"\n',
        '"TIMESTAMP","USER","ACTION"\n"20250817111155.240","x","y"\n',
        '{"EventDate": "2025-08-17T11:11:23Z", "message": "not salesforce"}\n',
    ],
)
def test_other_files_are_not_claimed_by_salesforce(tmp_path: Path, head: str) -> None:
    sample = F.sample(write(tmp_path, "other.log", head))
    assert all(src.sniff(sample) == 0 for src in registry.get("salesforce"))


def test_realtime_events_lines_and_query_result(store: Store) -> None:
    report = ingest(store, [SF / "realtime_events"])
    assert report.stored == 10 and report.quarantined == 0
    logins = events(store, "class_uid = 3002")
    assert len(logins) == 4
    drift = _one(store, "class_uid = 3002 AND src_endpoint_ip = '208.68.36.90'")
    assert drift["actor_user_type"] == "oauth_app" and drift["actor_app_name"] == "Drift"
    assert drift["api_operation"] == "LoginEvent.Remote Access 2.0" and drift["action_class"] == "auth"
    assert (
        drift["dst_endpoint_hostname"] == "acme.my.salesforce.com"
        and drift["http_request_user_agent"] is None
    )
    failed = _one(store, "status = 'Failure'")
    assert failed["status_detail"] == "Failed: Invalid Refresh Token"
    human = _one(store, "class_uid = 3002 AND actor_user_name = 'jane.admin@acme.example'")
    assert human["actor_user_type"] == "user" and human["actor_app_name"] is None
    tor = _one(store, "src_endpoint_ip = '185.220.101.33'")
    assert tor["actor_app_uid"] == "0H48c000000Xw2LCAS" and tor["records"] == 5000
    assert tor["resource_type"] == "CaseTeamMemberHistory__c" and tor["action_class"] == "read"
    assert tor["metadata_uid"] == "salesforce:0d9c8b7a-6f5e-4d3c-9b2a-190817263544"
    assert [r["ingest_line"] for r in events(store, "ingest_file LIKE '%apievent_query.json'")] == [1, 2, 3]
    assert _one(store, "api_operation = 'BulkApiResultEvent'")["action_class"] == "export"
    report_event = _one(store, "api_operation = 'ReportEvent.ReportExported'")
    assert report_event["action_class"] == "export" and report_event["records"] == 48210


def test_setup_audit_trail_csv_dates_and_scope_grants(store: Store) -> None:
    report = ingest(store, [SF / "setup_audit_trail" / "setup_audit_trail.csv"])
    assert report.stored == 5 and report.quarantined == 0
    rows = events(store)
    assert [str(r["time"]) for r in rows] == [
        "2025-04-27 17:14:03",
        "2025-04-27 17:16:41",
        "2025-04-27 17:18:09",
        "2025-12-02 02:05:00",  # 9:05 PM EST on Dec 1
        "2025-12-02 13:30:12",
    ]
    assert [r["action_class"] for r in rows] == [
        "scope_grant",
        "scope_grant",
        "scope_grant",
        "admin",
        "admin",
    ]
    assert rows[0]["resource_type"] == "connected_app" and rows[0]["class_uid"] == 6003
    delegated = rows[4]
    assert delegated["actor_user_name"] == "support.lead@acme.example"
    assert delegated["on_behalf_of"] == "sales.ops@acme.example"


def test_setup_audit_trail_unknown_zone_is_quarantined_not_guessed(store: Store, tmp_path: Path) -> None:
    content = (
        '"Date","User","Source Namespace Prefix","Action","Section","Delegate User"\n'
        '"4/27/2025, 10:14:03 AM XYZT","a@acme.example","","PermSetCreate","Manage Users",""\n'
        '"4/27/2025, 22:14:03 UTC","a@acme.example","","PermSetCreate","Manage Users",""\n'
    )
    report = ingest_text(store, tmp_path, "SetupAuditTrail.csv", content)
    assert report.stored == 1 and report.quarantined == 1
    assert str(events(store)[0]["time"]) == "2025-04-27 22:14:03"
    assert "XYZT" in str(quarantine(store)[0]["reason"])


def test_setup_audit_trail_json_uses_the_record_id(store: Store) -> None:
    report = ingest(store, [SF / "setup_audit_trail" / "setup_audit_trail_query.json"])
    assert report.stored == 2
    grant = _one(store, "api_operation = 'insertConnectedApplication'")
    assert grant["action_class"] == "scope_grant" and grant["metadata_uid"] == "salesforce:0Ym8c00000AbC1dCAF"
    assert (
        grant["actor_user_name"] == "jane.admin@acme.example"
        and grant["actor_user_uid"] == "0058c00000C3dEfAAE"
    )
    assert str(grant["time"]) == "2025-04-27 17:14:03"


REST_HEADER = ["EVENT_TYPE", "TIMESTAMP", "TIMESTAMP_DERIVED", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID",
               "URI", "METHOD", "STATUS_CODE", "ROWS_PROCESSED", "RESPONSE_SIZE", "CONNECTED_APP_ID",
               "CLIENT_NAME", "CLIENT_IP"]  # fmt: skip
rest_rows = st.fixed_dictionaries(
    {
        "when": st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1)),
        "method": st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", ""]),
        "status": st.sampled_from(["200", "201", "204", "400", "404", "500", ""]),
        "rows": st.one_of(st.integers(min_value=0, max_value=10**9).map(str), st.just("")),
        "app": st.sampled_from(["", DRIFT_APP]),
        "name": st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rest_rows, min_size=1, max_size=20))
def test_property_every_rest_row_is_stored_with_valid_columns(rows: list[dict[str, object]]) -> None:
    buf = io.StringIO()
    out = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    out.writerow(REST_HEADER)
    for i, r in enumerate(rows):
        when = r["when"]
        assert isinstance(when, datetime)
        out.writerow(["RestApi", when.strftime("%Y%m%d%H%M%S.") + f"{when.microsecond // 1000:03d}",
                      when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
                      f"req{i:019d}", "00D8c000001XyZa", "0058c00000A1b2C", "/services/data/v58.0/query",
                      r["method"], r["status"], r["rows"], "10", r["app"], r["name"], "10.0.0.1"])  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "p.duckdb") as store:
        report = ingest_text(store, Path(tmp), "restapi.csv", buf.getvalue())
        assert report.stored == len(rows) and report.quarantined == 0
        stored = events(store)
        for r, e in zip(rows, stored, strict=True):
            assert e["action_class"] in ACTION_CLASSES and e["status"] in STATUSES
            assert e["actor_user_type"] == ("oauth_app" if r["app"] else "user")
            assert e["records"] == (int(str(r["rows"])) if r["rows"] else None)
            assert isinstance(e["time"], datetime) and isinstance(r["when"], datetime)
            assert abs(e["time"] - r["when"]) < timedelta(milliseconds=1)
            expected = {"DELETE": "delete", "POST": "write", "PATCH": "write", "PUT": "write"}
            assert e["action_class"] == expected.get(str(r["method"]), "read")


def test_api_event_without_connected_app_id_is_still_the_app(store: Store, tmp_path: Path) -> None:
    line = (
        '{"EventDate": "2025-08-14T00:17:53.657Z", "EventIdentifier": "8b7f2c1d-0e9a-4b3c-8d7e-6f5a4b3c2d1e", '
        '"UserId": "0058c00000A1b2CAAQ", "Username": "sales.ops@acme.example", "SourceIp": "44.215.108.109", '
        '"ConnectedAppId": null, "Application": "Drift", "Client": "N/A", "ApiType": "REST", "Operation": "Query", '
        '"QueriedEntities": "Contact", "Query": "SELECT COUNT() FROM Contact", "RowsProcessed": 1}\n'
    )
    report = ingest_text(store, tmp_path, "apievent.jsonl", line)
    assert report.stored == 1
    row = events(store)[0]
    assert (
        row["actor_user_type"] == "oauth_app"
        and row["actor_app_name"] == "Drift"
        and row["actor_app_uid"] is None
    )
    assert row["on_behalf_of"] == "sales.ops@acme.example" and row["resource_type"] == "Contact"


def test_setup_audit_trail_download_without_display_classifies_the_action_text(
    store: Store, tmp_path: Path
) -> None:
    content = (
        '"Date","User","Source Namespace Prefix","Action","Section","Delegate User"\n'
        '"8/1/2025, 9:02:44 AM EDT","jane.admin@acme.example","","Created connected app Drift","Connected Apps",""\n'
        '"8/1/2025, 9:03:10 AM EDT","jane.admin@acme.example","","Changed password policy","Password Policies",""\n'
    )
    report = ingest_text(store, tmp_path, "SetupAuditTrail.csv", content)
    assert report.stored == 2
    grant, other = events(store)
    assert grant["action_class"] == "scope_grant" and grant["resource_name"] == "Created connected app Drift"
    assert str(grant["time"]) == "2025-08-01 13:02:44" and other["action_class"] == "admin"


UQ_HEADER = (
    '"EVENT_TYPE","TIMESTAMP","REQUEST_ID","ORGANIZATION_ID","USER_ID","URI","LOGIN_KEY",'
    '"QUERY_IDENTIFIER","QUERY_TYPE","SQL_ID","TIMESTAMP_DERIVED","USER_ID_DERIVED","CLIENT_IP"'
)


def _unique_query_csv(rows: list[tuple[str, str, str]]) -> str:
    lines = [UQ_HEADER]
    for i, (ts, text, kind) in enumerate(rows):
        quoted = text.replace('"', '""')
        lines.append(
            f'"UniqueQuery","{ts.replace("-", "").replace(":", "").replace("T", "")[:14]}.000","req{i}",'
            f'"00D8c000001XyZa","0058c00000A1b2C","/services/data/v58.0/query","lk{i}","{quoted}","{kind}",'
            f'"sql{i}","{ts}.000Z","0058c00000A1b2CAAQ","44.215.108.109"'
        )
    return "\n".join(lines) + "\n"


def test_unique_query_resource_is_the_query_shape_and_the_text_stays_in_evidence(
    store: Store, tmp_path: Path
) -> None:
    # An hourly sync asks for "changed since <an hour ago>": Salesforce logs each run's full text.
    sync = [
        (
            f"2025-08-13T{h:02d}:05:00",
            f"SELECT Id, Name FROM Account WHERE LastModifiedDate > 2025-08-13T{h:02d}:00:00Z",
            "soql",
        )
        for h in range(5)
    ]
    picks = [
        (
            "2025-08-13T06:00:00",
            "select Id from Contact where Email = 'a@x.example' and Score > 10.5",
            "soql",
        ),
        ("2025-08-13T06:01:00", "select Id from Contact where Email = 'b@y.example' and Score > 7", "soql"),
        ("2025-08-13T06:02:00", "SELECT Id FROM Lead WHERE Id IN ('00Q1', '00Q2','00Q3')", "soql"),
        ("2025-08-13T06:03:00", "SELECT Id FROM Lead WHERE Id IN ('00Q9')", "soql"),
        ("2025-08-13T06:04:00", "00O8c000000AbCdEAF", "report"),
        ("2025-08-13T06:05:00", "SELECT COUNT() FROM Case", "soql"),
        ("2025-08-13T06:06:00", "SELECT Id FROM Case LIMIT 20", "soql"),
    ]
    report = ingest_text(store, tmp_path, "UniqueQuery.csv", _unique_query_csv(sync + picks))
    assert report.stored == len(sync) + len(picks) and report.quarantined == 0
    shapes = [r["resource_name"] for r in events(store)]
    assert shapes == [
        *["SELECT Id, Name FROM Account WHERE LastModifiedDate > ?"] * 5,
        "select Id from Contact where Email = ? and Score > ?",
        "select Id from Contact where Email = ? and Score > ?",
        "SELECT Id FROM Lead WHERE Id IN (?)",
        "SELECT Id FROM Lead WHERE Id IN (?)",
        "00O8c000000AbCdEAF",  # a report id is not a query text
        "SELECT COUNT() FROM Case",
        "SELECT Id FROM Case LIMIT ?",  # the Drift sample query stays a shape of its own
    ]
    assert [r["resource_type"] for r in events(store)][:5] == ["Account"] * 5
    first = events(store)[0]
    original = original_record(store, str(first["metadata_uid"]))
    assert original is not None and "LastModifiedDate > 2025-08-13T00:00:00Z" in str(original.record)


def test_realtime_api_event_query_is_shaped_too(store: Store, tmp_path: Path) -> None:
    line = (
        '{"EventIdentifier":"e1","EventDate":"2025-08-13T10:00:00.000+0000","UserId":"0058c00000A1b2C",'
        '"Username":"sync@acme.example","ConnectedAppId":"0H48c000000Xw2LCAS","SourceIp":"44.215.108.109",'
        '"QueriedEntities":"Opportunity","Operation":"Query","RowsProcessed":12,'
        '"Query":"SELECT Id FROM Opportunity WHERE CloseDate >= 2025-08-01 AND Amount > 5000"}\n'
    )
    report = ingest_text(store, tmp_path, "apievent.jsonl", line)
    assert report.stored == 1, quarantine(store)
    assert (
        _one(store, "true")["resource_name"]
        == "SELECT Id FROM Opportunity WHERE CloseDate >= ? AND Amount > ?"
    )


_SOQL_LITERAL = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_characters="'\\\n\r", blacklist_categories=["Cs"]), max_size=12
    ).map(lambda t: f"'{t}'"),
    st.integers(min_value=0, max_value=10**9).map(str),
    # SOQL dates have four-digit years.
    st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
)


@given(literals=st.lists(_SOQL_LITERAL, min_size=1, max_size=4))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_soql_shape_hides_every_literal_and_is_stable(literals: list[str]) -> None:
    import duckdb

    from nhiwatch.sources.salesforce.common import soql_shape

    text = "SELECT Id FROM Account WHERE " + " AND ".join(f"F{i}__c = {v}" for i, v in enumerate(literals))
    con = duckdb.connect()
    shape = con.execute(f"SELECT {soql_shape('$1::VARCHAR')}", [text]).fetchall()[0][0]
    assert shape == "SELECT Id FROM Account WHERE " + " AND ".join(
        f"F{i}__c = ?" for i in range(len(literals))
    )
    again = con.execute(f"SELECT {soql_shape('$1::VARCHAR')}", [shape]).fetchall()[0][0]
    assert again == shape


@given(st.text(alphabet=st.sampled_from(list("ab ?'(),\t\n\r\f\v\u00a0\u2003")), max_size=40))
@settings(max_examples=200, deadline=None)
def test_soql_spaces_collapse_as_every_space_run_would(text: str) -> None:
    import duckdb

    from nhiwatch.sources.salesforce.common import _SPACES

    con = duckdb.connect()
    ours, every = con.execute(
        "SELECT regexp_replace($1, $2, ' ', 'g'), regexp_replace($1, '\\s+', ' ', 'g')", [text, _SPACES]
    ).fetchall()[0]
    assert ours == every


def test_record_and_job_ids_leave_the_resource_name(store: Store, tmp_path: Path) -> None:
    header = (
        '"EVENT_TYPE","TIMESTAMP","REQUEST_ID","ORGANIZATION_ID","USER_ID","URI","METHOD","STATUS_CODE",'
        '"ENTITY_NAME","CONNECTED_APP_ID","CLIENT_NAME","TIMESTAMP_DERIVED","CLIENT_IP"'
    )
    uris = [
        "/services/data/v58.0/sobjects/Contact/0038c00002AbCdE",
        "/services/data/v58.0/sobjects/Contact/0038c00002XyZwVAAQ",
        "/services/data/v58.0/jobs/query/7508c00000Qr5Zs/results",
        "/services/data/v58.0/jobs/query/7508c00000Tt9Ab/results",
        "/services/data/v58.0/sobjects/Case/describe/",
        "/services/data/v58.0/sobjects/OpportunityLineItem/",
    ]
    rows = [
        f'"RestApi","20250813100{i}00.000","r{i}","00D8c000001XyZa","0058c00000A1b2C","{u}","GET","200",'
        f'"","0H48c000000Xw2L","Sync","2025-08-13T10:0{i}:00.000Z","44.215.108.109"'
        for i, u in enumerate(uris)
    ]
    report = ingest_text(store, tmp_path, "RestApi.csv", "\n".join([header, *rows]) + "\n")
    assert report.stored == len(uris)
    assert [r["resource_name"] for r in events(store)] == [
        "/services/data/v58.0/sobjects/Contact/{id}",
        "/services/data/v58.0/sobjects/Contact/{id}",
        "/services/data/v58.0/jobs/query/{id}/results",
        "/services/data/v58.0/jobs/query/{id}/results",
        "/services/data/v58.0/sobjects/Case/describe/",
        "/services/data/v58.0/sobjects/OpportunityLineItem/",
    ]


@given(
    parts=st.lists(
        st.one_of(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.", max_size=20),
            st.sampled_from(["0038c00002AbCdE", "7508c00000Qr5ZsAAK", "sobjects", "v58.0"]),
        ),
        max_size=8,
    )
)
@settings(max_examples=80, deadline=None)
def test_id_free_uri_is_stable_and_keeps_the_path_shape(parts: list[str]) -> None:
    import re

    import duckdb

    from nhiwatch.sources.salesforce.common import id_free_uri

    uri = "/" + "/".join(parts)
    con = duckdb.connect()
    once = con.execute(f"SELECT {id_free_uri('$1::VARCHAR')}", [uri]).fetchall()[0][0]
    assert con.execute(f"SELECT {id_free_uri('$1::VARCHAR')}", [once]).fetchall()[0][0] == once
    assert once.count("/") == uri.count("/")
    for seg in once.split("/"):
        is_id = re.fullmatch(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?", seg) and re.search(r"\d", seg)
        assert not (is_id and re.search(r"[A-Za-z]", seg))
