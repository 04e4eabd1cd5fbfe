"""Salesforce EventLogFile (Event Monitoring) CSVs: one file per event type, upper-case quoted header.

Recognised by a header holding ``EVENT_TYPE`` and ``TIMESTAMP`` / ``TIMESTAMP_DERIVED``. Each event type
has its own columns (Login, API, RestApi, BulkApi, BulkApi2, ReportExport, ApexCallout, ApiTotalUsage,
UniqueQuery, ...); a column a type lacks maps to NULL, so one mapping serves them all.

The integration is the connected app (``CONNECTED_APP_ID`` + ``CLIENT_NAME``); the user is the run-as
user whose OAuth token the app holds. ``LOGIN_KEY`` / ``SESSION_KEY`` tie a session's events together and
land in ``actor_user_credential_uid`` as a session key (never a secret). The vendor id is ``REQUEST_ID``
with the event type and time, as events of one transaction share a request id.

OCSF: Login/Logout -> Authentication (3002); ApexCallout -> HTTP Activity (4002); the rest -> API
Activity (6003).
"""

from __future__ import annotations

import csv
import io

from nhiwatch.sources.base import Accessor, Sample, Source
from nhiwatch.sources.salesforce.common import id_free_uri, ip_only, soql_shape, user_agent
from nhiwatch.sources.sql import NULL_S, bigint, case, coalesce, host_of, lit, status_from_http, when

# SOAP API (EVENT_TYPE=API) METHOD_NAME values by class; anything else is a read.
SOAP_WRITE = ("create", "update", "upsert", "merge", "convertlead", "undelete", "process")
SOAP_DELETE = ("delete", "emptyrecyclebin", "purge")
HTTP_CLASS = {
    "GET": "read",
    "HEAD": "read",
    "POST": "write",
    "PUT": "write",
    "PATCH": "write",
    "DELETE": "delete",
}
BULK_CLASS = {
    "query": "export",
    "queryall": "export",
    "insert": "write",
    "update": "write",
    "upsert": "write",
    "delete": "delete",
    "harddelete": "delete",
}


def header_names(first_line: str) -> list[str]:
    """Column names of a CSV header line (quoted or not); empty if it does not parse."""
    try:
        row = next(csv.reader(io.StringIO(first_line.lstrip("\ufeff"))), [])
    except csv.Error:
        return []
    return [c.strip() for c in row]


def _sniff(s: Sample) -> float:
    # Every file no other source claims reaches here, often with a 64 KiB first line: the names must
    # appear in the text before a CSV parse of it can find them.
    if s.first_record is not None or "EVENT_TYPE" not in s.first_line or "TIMESTAMP" not in s.first_line:
        return 0.0
    names = set(header_names(s.first_line))
    if "EVENT_TYPE" in names and names & {"TIMESTAMP", "TIMESTAMP_DERIVED"}:
        return 0.95
    return 0.0


def _action_class(f: Accessor) -> str:
    etype = f("EVENT_TYPE")
    method = f"upper(trim({coalesce(f('METHOD'), f('HTTP_METHOD'))}))"
    soap = f"lower(trim({f('METHOD_NAME')}))"
    bulk_op = f"lower(trim({f('OPERATION_TYPE')}))"
    uri = coalesce(f("URI"), f("API_RESOURCE"), lit(""))
    http = case(method, {k: lit(v) for k, v in HTTP_CLASS.items()}, lit("read"))
    rest = when(
        (f"{uri} LIKE '%/jobs/query%' AND {method} = 'DELETE'", lit("delete")),
        (f"{uri} LIKE '%/jobs/query%'", lit("export")),
        default=http,
    )
    soap_class = when(
        (f"{soap} IN ({', '.join(map(repr, SOAP_WRITE))})", lit("write")),
        (f"{soap} IN ({', '.join(map(repr, SOAP_DELETE))})", lit("delete")),
        (f"{soap} = 'login'", lit("auth")),
        default=lit("read"),
    )
    bulk = when(
        (f"lower({f('JOB_STATUS')}) LIKE '%delete%'", lit("delete")),
        default=case(bulk_op, {k: lit(v) for k, v in BULK_CLASS.items()}, lit("write")),
    )
    return when(
        (f"{etype} IN ('Login', 'Logout', 'LoginAs')", lit("auth")),
        (f"{etype} = 'ApexCallout'", lit("egress")),
        (f"{etype} IN ('ReportExport', 'DocumentAttachmentDownloads')", lit("export")),
        (f"{etype} IN ('BulkApi', 'BulkApi2')", bulk),
        (f"{etype} = 'API' AND {soap} IS NOT NULL", soap_class),
        (f"{method} IS NOT NULL", rest),
        default=lit("read"),
    )


def _status(f: Accessor) -> str:
    req = f"upper(trim({f('REQUEST_STATUS')}))"
    return when(
        (
            f"nullif({f('LOGIN_STATUS')}, '') IS NOT NULL",
            when((f"{f('LOGIN_STATUS')} = 'LOGIN_NO_ERROR'", lit("Success")), default=lit("Failure")),
        ),
        (f"TRY_CAST({f('STATUS_CODE')} AS INTEGER) IS NOT NULL", status_from_http(f("STATUS_CODE"))),
        (f"{req} IN ('S', 'SUCCESS')", lit("Success")),
        (f"{req} IN ('F', 'A', 'FAILURE', 'FAILED')", lit("Failure")),
        (f"{f('SUCCESS')} IN ('1', 'true', 'TRUE')", lit("Success")),
        (f"{f('SUCCESS')} IN ('0', 'false', 'FALSE')", lit("Failure")),
        (f"lower({f('JOB_STATUS')}) = 'failed'", lit("Failure")),
        (f"{f('EVENT_TYPE')} IN ('BulkApi', 'BulkApi2', 'UniqueQuery', 'ReportExport')", lit("Success")),
        default=lit("Unknown"),
    )


def _fields(f: Accessor) -> dict[str, str]:
    etype = f("EVENT_TYPE")
    app_id = f("CONNECTED_APP_ID")
    user_uid = coalesce(f("USER_ID_DERIVED"), f("USER_ID"))
    user_name = coalesce(f("USER_NAME"), f("USERNAME"))
    is_app = (
        f"({coalesce(app_id)} IS NOT NULL OR ({etype} = 'Login' AND {f('URI')} LIKE '/services/oauth2/%'))"
    )
    operation = coalesce(
        f("METHOD_NAME"), f("OPERATION_TYPE"), f("METHOD"), f("HTTP_METHOD"), f("QUERY_TYPE")
    )
    entity = coalesce(
        f("ENTITY_NAME"),
        f("ENTITY_TYPE"),
        f("ENTITY"),
        f"nullif(regexp_extract({f('QUERY_IDENTIFIER')}, '(?i)\\bFROM\\s+([A-Za-z0-9_]+)', 1), '')",
        f"nullif(regexp_extract({f('URI')}, '/sobjects/([A-Za-z0-9_]+)', 1), '')",
    )
    return {
        "time": coalesce(f("TIMESTAMP_DERIVED"), f("TIMESTAMP")),
        "class_uid": when(
            (f"{etype} IN ('Login', 'Logout', 'LoginAs')", "3002"),
            (f"{etype} = 'ApexCallout'", "4002"),
            default="6003",
        ),
        "metadata_tenant_uid": f("ORGANIZATION_ID"),
        "actor_app_uid": coalesce(app_id),
        "actor_app_name": coalesce(f("CLIENT_NAME"), f("CONNECTED_APP_NAME")),
        "actor_user_credential_uid": coalesce(f("LOGIN_KEY"), f("SESSION_KEY")),
        "actor_user_uid": user_uid,
        "actor_user_name": user_name,
        "actor_user_type": when(
            (is_app, lit("oauth_app")), (f"{user_uid} IS NOT NULL", lit("user")), default=lit("unknown")
        ),
        "on_behalf_of": when((is_app, coalesce(user_name, user_uid))),
        "api_operation": f"{etype} || coalesce('.' || {operation}, '')",
        "action_class": _action_class(f),
        "status": _status(f),
        "status_detail": coalesce(
            f("LOGIN_STATUS"),
            f("EXCEPTION_MESSAGE"),
            f("STATUS_CODE"),
            f("MESSAGE"),
            f("ERROR_MESSAGE"),
            f("JOB_STATUS"),
            f("REQUEST_STATUS"),
        ),
        "resource_type": when(
            (f"{etype} = 'ApexCallout'", lit("url")),
            (f"{etype} IN ('ReportExport', 'Report')", lit("report")),
            default=entity,
        ),
        "resource_name": coalesce(
            f("URL"),
            soql_shape(f("QUERY_IDENTIFIER")),
            f("REPORT_ID"),
            f"CASE WHEN {etype} IN ('ReportExport', 'Report') THEN {f('URI_ID_DERIVED')} END",
            # a Bulk job's id names one run, not what it reads: the job's URI (its id left out) and object do
            id_free_uri(f("URI")),
            id_free_uri(f("API_RESOURCE")),
            entity,
        ),
        "src_endpoint_ip": ip_only(f("CLIENT_IP"), f("SOURCE_IP")),
        "http_request_user_agent": user_agent(f("BROWSER_TYPE"), f("USER_AGENT"), f("CLIENT_INFO")),
        "traffic_bytes_in": bigint(f("REQUEST_SIZE")),
        # Bulk API 2.0 gives the result size in MB only.
        "traffic_bytes_out": f"coalesce({bigint(f('RESPONSE_SIZE'))}, "
        f"TRY_CAST(TRY_CAST({f('RESULT_SIZE_MB')} AS DOUBLE) * 1048576 AS BIGINT))",
        "records": bigint(coalesce(f("ROWS_PROCESSED"), f("RECORDS_PROCESSED"), f("ROW_COUNT"))),
        "dst_endpoint_hostname": host_of(f("URL")),
    }


def _vendor_uid(f: Accessor) -> str:
    # Events of one transaction share REQUEST_ID, so the type and the time join it. TIMESTAMP comes
    # first: every EventLogFile has it, and it is cheaper to take verbatim than to parse.
    ts = coalesce(f("TIMESTAMP"), f("TIMESTAMP_DERIVED"))
    rid = coalesce(f("REQUEST_ID"))
    return (
        f"(CASE WHEN {rid} IS NULL THEN {NULL_S} ELSE {f('EVENT_TYPE')} || ':' || {rid} || ':' || {ts} END)"
    )


SOURCE = Source(
    name="salesforce",
    stream="event_log_file",
    title="Salesforce EventLogFile (Event Monitoring CSV)",
    layout="csv",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=_vendor_uid,
    checks=lambda f: [
        (f"nullif({f('EVENT_TYPE')}, '') IS NULL", "CSV row without EVENT_TYPE: not an EventLogFile event"),
    ],
    ocsf_classes={
        "Login, Logout": 3002,
        "ApexCallout": 4002,
        "API, RestApi, BulkApi(2), ReportExport, ...": 6003,
    },
)
