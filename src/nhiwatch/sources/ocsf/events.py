"""OCSF events as they are: Security Lake / SIEM exports, one JSON event per line or a JSON array.

Classes read: Account Change (3001), Authentication (3002), Network Activity (4001), HTTP Activity
(4002), API Activity (6003); Detection Finding (2004) is stored as it is. Any other ``class_uid`` is
quarantined with its class named. The columns are the OCSF attributes they are named after
(``actor.user.uid`` -> ``actor_user_uid``; ``time`` is epoch milliseconds); for Authentication the
principal may be ``user`` rather than ``actor.user``.

The action class comes from class + ``activity_id`` (6003: 1 Create / 3 Update -> write, 2 Read ->
read, 4 Delete -> delete; 3002 -> auth; 4001 / 4002 -> egress; 3001 -> admin, credential_issue for
credential creation, scope_grant for Attach Policy). Events nhiwatch itself exported carry
``unmapped.nhiwatch_action_class`` (and ``_actor_type``, ``_on_behalf_of``, ``_scopes``,
``_records``), which are taken as they are so a round trip loses nothing.
"""

from __future__ import annotations

from typing import Any

from nhiwatch.schema import ACTION_CLASSES, ACTOR_TYPES
from nhiwatch.sources.base import Accessor, Sample, Source, sql_str
from nhiwatch.sources.sql import bigint, coalesce, integer, json_list, lit, lower, when

CLASSES = (3001, 3002, 4001, 4002, 6003, 2004)
API_ACTIVITY = {"1": "write", "2": "read", "3": "write", "4": "delete"}
# OCSF actor.user.type / type_id values and common producer spellings -> nhiwatch actor types.
USER_TYPES = {
    "admin": "user",
    "assumedrole": "iam_role",
    "iamuser": "iam_user",
    "awsservice": "aws_service",
    "root": "user",
    "system": "workload",
    "service": "service_principal",
    "serviceprincipal": "service_principal",
    "application": "oauth_app",
    "app": "oauth_app",
}
USER_TYPE_IDS = {"1": "user", "2": "user", "3": "workload"}
CREDENTIAL_WORDS = (
    "%accesskey%",
    "%apikey%",
    "%api_token%",
    "%token%",
    "%credential%",
    "%secret%",
    "%password%",
)


def _event(r: Any) -> dict[str, Any] | None:
    if isinstance(r, list):
        r = r[0] if r else None
    return r if isinstance(r, dict) else None


def _sniff(s: Sample) -> float:
    r = _event(s.first_record)
    if r is None or not isinstance(r.get("class_uid"), int) or not isinstance(r.get("metadata"), dict):
        return 0.0
    return 0.97 if ("time" in r or "time_dt" in r) else 0.0


def _in(expr: str, values: tuple[str, ...]) -> str:
    return f"{expr} IN ({', '.join(sql_str(v) for v in values)})"


def _principal(f: Accessor, attr: str, cls: str) -> str:
    """``actor.user.<attr>``; for Authentication also the authenticating ``user.<attr>``."""
    return when(
        (f"{cls} = '3002'", coalesce(f(f"actor.user.{attr}"), f(f"user.{attr}"))),
        default=f(f"actor.user.{attr}"),
    )


def _action_class(f: Accessor, cls: str) -> str:
    activity = f("activity_id")
    op = lower(coalesce(f("api.operation"), f("activity_name"), lit("")))
    credential = " OR ".join(f"{op} LIKE '{w}'" for w in CREDENTIAL_WORDS)
    derived = when(
        (
            f"{cls} = '6003'",
            "(CASE "
            + " ".join(f"WHEN {activity} = '{k}' THEN '{v}'" for k, v in API_ACTIVITY.items())
            + " ELSE 'write' END)",
        ),
        (f"{cls} = '3002'", lit("auth")),
        (_in(cls, ("4001", "4002")), lit("egress")),
        (f"{cls} = '3001' AND {activity} = '7'", lit("scope_grant")),
        (
            f"{cls} = '3001' AND ({op} LIKE 'create%' OR {op} LIKE 'add%') AND ({credential})",
            lit("credential_issue"),
        ),
        (
            f"{cls} = '3001' AND ({op} LIKE 'delete%' OR {op} LIKE 'revoke%') AND ({credential})",
            lit("credential_revoke"),
        ),
        default=lit("admin"),
    )
    given = lower(f("unmapped.nhiwatch_action_class"))
    return when((_in(given, ACTION_CLASSES), given), default=derived)


def _actor_type(f: Accessor, cls: str) -> str:
    given = lower(f("unmapped.nhiwatch_actor_type"))
    raw = f"replace(replace({lower(_principal(f, 'type', cls))}, ' ', ''), '_', '')"
    type_id = _principal(f, "type_id", cls)
    known = {t.replace("_", ""): t for t in ACTOR_TYPES} | USER_TYPES
    return when(
        (_in(given, ACTOR_TYPES), given),
        *((f"{raw} = '{k}'", lit(v)) for k, v in known.items()),
        *((f"{type_id} = '{k}'", lit(v)) for k, v in USER_TYPE_IDS.items()),
        (f"{f('actor.app_uid')} IS NOT NULL OR {f('actor.app_name')} IS NOT NULL", lit("oauth_app")),
        default=lit("unknown"),
    )


def _status(f: Accessor, cls: str) -> str:
    """Outcome from ``status_id`` / ``status``, else a network ``disposition_id`` (1 Allowed, 2 Blocked).

    A Detection Finding's status is its triage state (New, Resolved ...), not an outcome: Unknown.
    """
    status, status_id, disposition = lower(f("status")), f("status_id"), f("disposition_id")
    return when(
        (f"{cls} = '2004'", lit("Unknown")),
        (f"{status_id} = '1' OR {status} = 'success'", lit("Success")),
        (f"{status_id} = '2' OR {status} = 'failure'", lit("Failure")),
        (f"{disposition} = '1'", lit("Success")),
        (f"{disposition} = '2'", lit("Failure")),
        default=lit("Unknown"),
    )


def _fields(f: Accessor) -> dict[str, str]:
    cls = f("class_uid")
    return {
        "time": coalesce(f("time"), f("time_dt")),
        "class_uid": integer(cls),
        "metadata_tenant_uid": coalesce(
            f("metadata.tenant_uid"), f("cloud.account.uid"), f("cloud.account_uid")
        ),
        "actor_app_uid": f("actor.app_uid"),
        "actor_app_name": f("actor.app_name"),
        "actor_user_credential_uid": _principal(f, "credential_uid", cls),
        "actor_user_uid": _principal(f, "uid", cls),
        "actor_user_name": coalesce(_principal(f, "name", cls), _principal(f, "email_addr", cls)),
        "actor_user_type": _actor_type(f, cls),
        "on_behalf_of": f("unmapped.nhiwatch_on_behalf_of"),
        "api_operation": coalesce(
            f("api.operation"), f("http_request.http_method"), f("finding_info.types[0]"), f("activity_name")
        ),
        "action_class": _action_class(f, cls),
        "status": _status(f, cls),
        "status_detail": coalesce(f("status_detail"), f("status_code"), f("api.response.error")),
        "resource_type": coalesce(f("resources[0].type"), when((f"{cls} = '3001'", lit("user")))),
        "resource_name": coalesce(
            f("resources[0].name"),
            f("resources[0].uid"),
            when((f"{cls} = '3001'", coalesce(f("user.name"), f("user.uid")))),
            f("finding_info.title"),
        ),
        "scopes": json_list(f.json_value("unmapped.nhiwatch_scopes")),
        "src_endpoint_ip": f("src_endpoint.ip"),
        "src_endpoint_asn": integer(f("src_endpoint.autonomous_system.number")),
        "http_request_user_agent": f("http_request.user_agent"),
        "traffic_bytes_in": bigint(f("traffic.bytes_in")),
        "traffic_bytes_out": bigint(f("traffic.bytes_out")),
        "records": bigint(f("unmapped.nhiwatch_records")),
        "dst_endpoint_hostname": coalesce(
            f("dst_endpoint.hostname"),
            f("dst_endpoint.domain"),
            f("http_request.url.hostname"),
            f("dst_endpoint.ip"),
        ),
    }


def _checks(f: Accessor) -> list[tuple[str, str]]:
    cls = f("class_uid")
    supported = ", ".join(map(str, CLASSES))
    return [
        (
            f"NOT coalesce({cls} IN ({', '.join(sql_str(str(c)) for c in CLASSES)}), false)",
            f"OCSF class not read by nhiwatch (reads {supported})",
        )
    ]


SOURCE = Source(
    name="ocsf",
    stream="events",
    title="OCSF events",
    layout="json",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=lambda f: f("metadata.uid"),
    checks=_checks,
    ocsf_classes={
        "Account Change": 3001,
        "Authentication": 3002,
        "Network Activity": 4001,
        "HTTP Activity": 4002,
        "API Activity": 6003,
        "Detection Finding, stored as is": 2004,
    },
)
