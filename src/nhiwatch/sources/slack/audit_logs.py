"""Slack Enterprise Grid Audit Logs API (``/audit/v1/logs``): API pages and one entry per line.

A page is ``{"entries": [...], "response_metadata": {"next_cursor": ...}}``; each entry has ``id``,
``date_create`` (epoch seconds), ``action``, ``actor.user``, ``entity`` (one of ``app``, ``user``,
``file``, ``channel``, ``workspace``, ...), ``context`` (``location``, ``ua``, ``ip_address``,
``session_id`` and, for actions made through an app, ``context.app``) and optional ``details``.

The integration: for app lifecycle events (``app_installed``, ``app_scopes_expanded``, ...) it is
``entity.app`` and the human who approved it is ``on_behalf_of``; for actions an app performed it is
``context.app``, and the actor is the app's bot user (``...@slack-bots.com``) or, with a user token, the
person the app acts for. Scopes are ``details.new_scopes`` or ``entity.app.scopes`` plus bot scopes.

OCSF: app grants and other actions -> API Activity (6003), ``user_login`` / ``user_logout`` ->
Authentication (3002), ``anomaly`` (Slack's own session anomaly detection) -> Detection Finding (2004).
"""

from __future__ import annotations

from typing import Any

from nhiwatch.sources.base import Accessor, Sample, Source
from nhiwatch.sources.sql import case, coalesce, json_list, lit, when

SCOPE_GRANT = (
    "app_installed",
    "app_approved",
    "app_scopes_expanded",
    "app_resources_added",
    "app_resources_granted",
    "bot_token_upgraded",
    "org_app_installed",
    "org_app_workspace_added",
    "org_app_upgraded_to_org_install",
)
CREDENTIAL_REVOKE = ("app_uninstalled", "org_app_uninstalled", "org_app_workspace_removed")
EXPORT = (
    "file_downloaded",
    "file_downloaded_blocked",
    "file_public_link_created",
    "workflow_responses_csv_download",
)
WRITE = ("file_uploaded", "file_shared")
AUTH = ("user_login", "user_logout", "anomaly")
FAILED = ("file_downloaded_blocked",)
ENTITY_NAMES = (
    "app.name",
    "file.name",
    "file.title",
    "channel.name",
    "user.email",
    "user.name",
    "workspace.domain",
    "enterprise.domain",
    "usergroup.name",
    "workflow.name",
    "barrier.id",
    "role.name",
)


def _entry(r: Any) -> dict[str, Any] | None:
    if isinstance(r, dict) and isinstance(r.get("entries"), list):
        r = r["entries"][0] if r["entries"] else None
    elif isinstance(r, list):
        r = r[0] if r else None
    return r if isinstance(r, dict) else None


def _sniff(s: Sample) -> float:
    r = _entry(s.first_record)
    if r is not None:
        slack_keys = {"actor", "entity", "context"}
        if "date_create" in r and isinstance(r.get("action"), str) and len(slack_keys & set(r)) >= 2:
            return 0.95
        return 0.0
    head = s.head.lstrip("\ufeff \t\r\n")[:4096]
    if head.startswith("{") and '"entries"' in head and '"date_create"' in head:
        return 0.9  # an API page too large to parse from its first 64 KiB
    return 0.0


def _scopes(f: Accessor) -> str:
    """Granted (or requested) scopes, user scopes first, then bot scopes not already listed."""
    user = _first_list(
        json_list(f.json_value("details.new_scopes")),
        json_list(f.json_value("entity.app.scopes")),
        json_list(f.json_value("details.scopes")),
        json_list(f.json_value("context.app.scopes")),
    )
    bot = _first_list(
        json_list(f.json_value("details.bot_scopes")),
        json_list(f.json_value("details.scopes_bot")),
        json_list(f.json_value("context.app.scopes_bot")),
    )
    extra = f"list_filter(coalesce({bot}, []), lambda s: NOT list_contains(coalesce({user}, []), s))"
    merged = f"list_concat(coalesce({user}, []), {extra})"
    return f"(CASE WHEN len({merged}) = 0 THEN NULL::VARCHAR[] ELSE {merged} END)"


def _first_list(*exprs: str) -> str:
    """The first non-empty list."""
    return "coalesce(" + ", ".join(f"(CASE WHEN len({e}) > 0 THEN {e} END)" for e in exprs) + ")"


def _fields(f: Accessor) -> dict[str, str]:
    action = f("action")
    actor_type = f"lower({f('actor.type')})"
    email = f("actor.user.email")
    entity_app = f("entity.app.id")
    context_app = f("context.app.id")
    # A bot user has a ...@slack-bots.com address, or (exports that blank it) the app's own name.
    same_name = f"{f('actor.user.name')} = {f('context.app.name')}"
    is_bot = f"({actor_type} = 'bot' OR {email} LIKE '%@slack-bots.com' OR coalesce({same_name}, false))"
    reason = f.json_value("details.reason")
    return {
        "time": f("date_create"),
        "class_uid": case(action, {"user_login": "3002", "user_logout": "3002", "anomaly": "2004"}, "6003"),
        "metadata_tenant_uid": coalesce(f("context.location.id"), f("actor.user.team")),
        "actor_app_uid": coalesce(entity_app, context_app, f("details.app_id")),
        "actor_app_name": coalesce(f("entity.app.name"), f("context.app.name")),
        "actor_user_uid": f("actor.user.id"),
        "actor_user_name": coalesce(email, f("actor.user.name")),
        "actor_user_type": when(
            (is_bot, lit("bot")),
            (f"{actor_type} = 'app'", lit("oauth_app")),
            (f"{actor_type} = 'workflow'", lit("workload")),
            (f"{context_app} IS NOT NULL", lit("oauth_app")),
            (f"{actor_type} = 'user'", lit("user")),
            default=lit("unknown"),
        ),
        # The approver of an app grant, or the person whose user token an app used.
        "on_behalf_of": when(
            (
                f"{entity_app} IS NOT NULL OR ({context_app} IS NOT NULL AND NOT {is_bot})",
                coalesce(email, f("actor.user.id")),
            )
        ),
        "api_operation": action,
        "action_class": case(
            action,
            {
                **{a: lit("scope_grant") for a in SCOPE_GRANT},
                **{a: lit("credential_revoke") for a in CREDENTIAL_REVOKE},
                **{a: lit("export") for a in EXPORT},
                **{a: lit("write") for a in WRITE},
                **{a: lit("auth") for a in AUTH},
            },
            lit("admin"),
        ),
        "status": case(action, {a: lit("Failure") for a in FAILED}, lit("Success")),
        "status_detail": when(
            (
                f"json_type({reason}) = 'ARRAY'",
                f"array_to_string(CAST(json_extract_string({reason}, '$[*]') AS VARCHAR[]), ',')",
            ),
            default=coalesce(f("details.reason"), f("details.type")),
        ),
        "resource_type": f("entity.type"),
        "resource_name": coalesce(*(f("entity." + p) for p in ENTITY_NAMES), f("entity.id")),
        "scopes": _scopes(f),
        "src_endpoint_ip": f("context.ip_address"),
        "http_request_user_agent": f("context.ua"),
    }


SOURCE = Source(
    name="slack",
    stream="audit_logs",
    title="Slack Enterprise Grid audit logs",
    layout="json",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=lambda f: f("id"),
    record_paths=("$.entries[*]",),
    checks=lambda f: [
        (f"{f('action')} IS NULL", "JSON of the wrong shape: a Slack audit entry needs 'action'")
    ],
    ocsf_classes={"app grants and other actions": 6003, "user_login, user_logout": 3002, "anomaly": 2004},
)
