"""Salesforce Real-Time Event Monitoring objects (LoginEvent, ApiEvent, BulkApiResultEvent, ReportEvent).

Read as JSON lines (one object a line, e.g. from Pub/Sub or a stream export) or as a REST/SOQL query
result ``{"totalSize": .., "done": .., "records": [...]}``. ``attributes.type`` names the object; when
it is absent (streamed events), the object is inferred from its fields (``LoginType`` -> LoginEvent,
``ReportId`` -> ReportEvent, otherwise ApiEvent; BulkApiResultEvent needs its ``attributes``).

The integration is ``ConnectedAppId`` with ``Application`` (or ``Client``); a LoginEvent with
``LoginType`` "Remote Access 2.0" is an OAuth connected-app login. ``EventIdentifier`` is the vendor id.

OCSF: LoginEvent / LogoutEvent -> Authentication (3002); the others -> API Activity (6003).
"""

from __future__ import annotations

from typing import Any

from nhiwatch.sources.base import Accessor, Sample, Source
from nhiwatch.sources.salesforce.common import blank_to_null, ip_only, soql_shape, user_agent
from nhiwatch.sources.sql import bigint, coalesce, lit, when

KNOWN_TYPES = {
    "LoginEvent",
    "LoginEventStream",
    "LogoutEvent",
    "LogoutEventStream",
    "ApiEvent",
    "ApiEventStream",
    "BulkApiResultEvent",
    "BulkApiResultEventStore",
    "ReportEvent",
    "ReportEventStream",
}
# Values Salesforce writes where it has no application or client name.
PLACEHOLDERS = ("N/A", "Unknown", "Browser", "Salesforce")
OAUTH_LOGIN_TYPES = ("Remote Access 2.0", "Remote Access Client", "OAuth 2.0")


def _first(record: Any) -> dict[str, Any] | None:
    if isinstance(record, list) and record:
        record = record[0]
    if isinstance(record, dict) and isinstance(record.get("records"), list) and record["records"]:
        record = record["records"][0]
    return record if isinstance(record, dict) else None


def _sniff(s: Sample) -> float:
    r = _first(s.first_record)
    if r is None:
        return 0.0
    attrs = r.get("attributes")
    rtype = attrs.get("type") if isinstance(attrs, dict) else None
    if rtype in KNOWN_TYPES:
        return 0.95
    if "EventIdentifier" in r and "EventDate" in r and ({"UserId", "Username"} & set(r)):
        return 0.9
    return 0.0


def _object_type(f: Accessor) -> str:
    """The RTEM object name, without the ``Stream``/``Store`` suffix."""
    declared = f"regexp_replace({f('attributes.type')}, '(Stream|Store)$', '')"
    return coalesce(
        declared,
        when(
            (f"{f('LoginType')} IS NOT NULL", lit("LoginEvent")),
            (f"{f('ReportId')} IS NOT NULL", lit("ReportEvent")),
            (f"{f('QueriedEntities')} IS NOT NULL OR {f('Query')} IS NOT NULL", lit("ApiEvent")),
            default=lit("ApiEvent"),
        ),
    )


def _fields(f: Accessor) -> dict[str, str]:
    obj = _object_type(f)
    is_login = f"{obj} IN ('LoginEvent', 'LogoutEvent')"
    app_id = coalesce(f("ConnectedAppId"))
    app_name = coalesce(
        blank_to_null(f("Application"), *PLACEHOLDERS), blank_to_null(f("Client"), *PLACEHOLDERS)
    )
    # ConnectedAppId is empty on calls made with an already active token; the app name is still there.
    oauth_login = f"{f('LoginType')} IN ({', '.join(map(repr, OAUTH_LOGIN_TYPES))})"
    is_app = f"({app_id} IS NOT NULL OR {oauth_login} OR (NOT ({is_login}) AND {app_name} IS NOT NULL))"
    operation = coalesce(f("Operation"), f("LoginType"), f("ApiType"))
    status_text = f("Status")
    return {
        "time": coalesce(f("EventDate"), f("CreatedDate")),
        "class_uid": when((is_login, "3002"), default="6003"),
        "actor_app_uid": app_id,
        "actor_app_name": app_name,
        "actor_user_credential_uid": coalesce(f("LoginKey"), f("SessionKey")),
        "actor_user_uid": f("UserId"),
        "actor_user_name": f("Username"),
        "actor_user_type": when(
            (is_app, lit("oauth_app")),
            (f"coalesce({f('UserId')}, {f('Username')}) IS NOT NULL", lit("user")),
            default=lit("unknown"),
        ),
        "on_behalf_of": when((is_app, coalesce(f("Username"), f("UserId")))),
        "api_operation": f"{obj} || coalesce('.' || {operation}, '')",
        "action_class": when(
            (is_login, lit("auth")),
            (f"{obj} = 'BulkApiResultEvent'", lit("export")),
            (f"{obj} = 'ReportEvent' AND lower({f('Operation')}) LIKE '%export%'", lit("export")),
            default=lit("read"),
        ),
        "status": when(
            (f"{status_text} = 'Success'", lit("Success")),
            (f"nullif({status_text}, '') IS NOT NULL", lit("Failure")),
            (f"{obj} IN ('ApiEvent', 'BulkApiResultEvent', 'ReportEvent')", lit("Success")),
            default=lit("Unknown"),
        ),
        "status_detail": coalesce(status_text, f("PolicyOutcome")),
        "resource_type": when(
            (f"{obj} = 'ReportEvent'", lit("report")),
            default=coalesce(f("QueriedEntities"), f("EntityName")),
        ),
        "resource_name": coalesce(soql_shape(f("Query")), f("ReportId"), f("QueriedEntities"), f("LoginUrl")),
        "src_endpoint_ip": ip_only(f("SourceIp")),
        "http_request_user_agent": user_agent(
            blank_to_null(f("UserAgent"), "Unknown", "N/A"), blank_to_null(f("Browser"), "Unknown", "N/A")
        ),
        "records": bigint(coalesce(f("RowsProcessed"), f("RowsReturned"), f("RecordCount"))),
        "dst_endpoint_hostname": when((is_login, f"nw_host({f('LoginUrl')})")),
    }


SOURCE = Source(
    name="salesforce",
    stream="realtime_events",
    title="Salesforce Real-Time Event Monitoring (LoginEvent, ApiEvent, ...)",
    layout="json",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=lambda f: f("EventIdentifier"),
    record_paths=("$.records[*]",),
    checks=lambda f: [
        (
            f"coalesce({f('EventDate')}, {f('CreatedDate')}) IS NULL AND {f('EventIdentifier')} IS NULL",
            "JSON of the wrong shape: a Real-Time Event Monitoring object needs EventDate",
        )
    ],
    ocsf_classes={"LoginEvent, LogoutEvent": 3002, "ApiEvent, BulkApiResultEvent, ReportEvent": 6003},
)
