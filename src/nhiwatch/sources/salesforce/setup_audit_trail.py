"""Salesforce Setup Audit Trail: the Setup download (CSV) and the SetupAuditTrail object (REST / SOQL JSON).

The CSV download has the columns ``Date, User, Source Namespace Prefix, Action, Section, Delegate User``
(and ``Display`` in some exports); its ``Date`` is printed in the exporting user's locale and zone,
``4/27/2025, 10:14:03 AM PDT``, and is converted to UTC here from the zone abbreviation. The JSON form is
a query result with ``CreatedDate``, ``Action``, ``Section``, ``Display``, ``CreatedBy.Username``,
``DelegateUser`` and ``Id`` (the vendor id; the CSV has none, so its rows are keyed by content).

A ``DelegateUser`` is the admin who used Login-As: they are the actor, acting as ``User``.
Connected-app creation, OAuth scope and connected-app policy changes are ``scope_grant``; every other
Setup change is ``admin``. OCSF: API Activity (6003).
"""

from __future__ import annotations

from nhiwatch.sources.base import Accessor, Sample, Source
from nhiwatch.sources.salesforce.common import us_datetime
from nhiwatch.sources.salesforce.event_log_file import header_names
from nhiwatch.sources.sql import coalesce, lit, when

CSV_COLUMNS = {"Date", "User", "Action", "Section"}

# LIKE patterns over lower(Action || ' ' || Display) that mark a grant to an integration.
SCOPE_GRANT = (
    "%insertconnectedapplication%",
    "%connectedapp%scope%",
    "%connected app%scope%",
    "%oauth scope%",
    "%connectedapp%polic%",
    "%connected app%polic%",
    "%connectedapp%permitted%",
    "%connected app%permitted%",
    "%created connected app%",
    "%installed connected app%",
)


def _sniff_csv(s: Sample) -> float:
    # Both header forms name these two: without them in the text, no CSV parse of a long line is needed.
    if s.first_record is not None or "Action" not in s.first_line or "Section" not in s.first_line:
        return 0.0
    names = set(header_names(s.first_line))
    if names >= CSV_COLUMNS or names >= {"Date", "Action", "Section", "Display"}:
        return 0.9
    return 0.0


def _sniff_json(s: Sample) -> float:
    r = s.first_record
    if isinstance(r, list) and r:
        r = r[0]
    if isinstance(r, dict) and isinstance(r.get("records"), list) and r["records"]:
        r = r["records"][0]
    if not isinstance(r, dict):
        return 0.0
    attrs = r.get("attributes")
    if isinstance(attrs, dict) and attrs.get("type") == "SetupAuditTrail":
        return 0.95
    if {"Action", "Section", "CreatedDate"} <= set(r) and ("Display" in r or "CreatedBy" in r):
        return 0.85
    return 0.0


def _common(action: str, display: str, user: str, delegate: str) -> dict[str, str]:
    text = f"lower(coalesce({action}, '') || ' ' || coalesce({display}, ''))"
    grant = " OR ".join(f"{text} LIKE '{p}'" for p in SCOPE_GRANT)
    is_app = f"({text} LIKE '%connected%app%' OR {text} LIKE '%oauth%')"
    return {
        "class_uid": "6003",
        "actor_user_name": coalesce(delegate, user),
        "actor_user_type": when(
            (f"{coalesce(delegate, user)} IS NOT NULL", lit("user")), default=lit("unknown")
        ),
        "on_behalf_of": when((f"{coalesce(delegate)} IS NOT NULL", user)),
        "api_operation": action,
        "action_class": when((grant, lit("scope_grant")), default=lit("admin")),
        "status": lit("Success"),
        "resource_type": when((is_app, lit("connected_app")), default=lit("setup")),
        "resource_name": coalesce(display, action),
    }


def _fields_csv(f: Accessor) -> dict[str, str]:
    # Some exports have no Display column and put the description in Action.
    out = _common(f("Action"), f("Display"), f("User"), f("Delegate User"))
    out["time"] = us_datetime(f("Date"))
    out["status_detail"] = coalesce(f("Section"), f("Source Namespace Prefix"))
    return out


def _fields_json(f: Accessor) -> dict[str, str]:
    out = _common(
        f("Action"), f("Display"), coalesce(f("CreatedBy.Username"), f("CreatedBy.Name")), f("DelegateUser")
    )
    out["time"] = f("CreatedDate")
    out["actor_user_uid"] = when((f"{coalesce(f('DelegateUser'))} IS NULL", coalesce(f("CreatedById"))))
    out["status_detail"] = coalesce(f("Section"), f("ResponsibleNamespacePrefix"), f("CreatedByContext"))
    return out


SOURCES = (
    Source(
        name="salesforce",
        stream="setup_audit_trail",
        title="Salesforce Setup Audit Trail (CSV download)",
        layout="csv",
        sniff=_sniff_csv,
        fields=_fields_csv,
        checks=lambda f: [(f"nullif({f('Action')}, '') IS NULL", "Setup Audit Trail row without an Action")],
        ocsf_classes={"Setup changes": 6003},
    ),
    Source(
        name="salesforce",
        stream="setup_audit_trail_json",
        title="Salesforce SetupAuditTrail object (REST / SOQL JSON)",
        layout="json",
        sniff=_sniff_json,
        fields=_fields_json,
        vendor_uid=lambda f: f("Id"),
        record_paths=("$.records[*]",),
        checks=lambda f: [
            (f"{f('Action')} IS NULL", "JSON of the wrong shape: a SetupAuditTrail record needs Action")
        ],
        ocsf_classes={"Setup changes": 6003},
    ),
)
