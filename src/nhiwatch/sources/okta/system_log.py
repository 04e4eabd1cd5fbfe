"""Okta System Log (``GET /api/v1/logs``): an API page (JSON array) or one LogEvent per line.

Recognised by ``eventType`` (or Panther's lower-cased ``eventtype``) with ``published`` and ``actor`` /
``uuid``. Panther stores the top-level keys lower-cased (``debugcontext``, ``securitycontext``,
``displaymessage``) and keeps nested keys as Okta spells them, so every top-level path is read under
both spellings.

Identity: a ``User`` actor is a user, unless ``transaction.detail.requestApiTokenId`` says the request
came with an API token (then the row is the token's, acting for its owner). OAuth clients
(``PublicClientApp``, ``PublicClientAppEntity``, client-credentials grants) are ``oauth_app`` with the
client id in ``actor_app_uid``; ``system.api_token.*`` events describe the token in ``target[]``
(type ``Token``). Okta API tokens act with the rights of the admin who created them, so that admin
is ``on_behalf_of``. The tenant (org host) is not in the event unless a URL in ``debugData`` is
absolute; it stays NULL otherwise and is set from configuration.

OCSF: sessions, sign-on policy and token grants -> Authentication (3002); ``system.api_token.*``,
``user.account.*``, ``user.lifecycle.*`` -> Account Change (3001); ``security.threat.detected`` and
``app.oauth2.token.detect_reuse`` -> Detection Finding (2004); the rest -> API Activity (6003).
"""

from __future__ import annotations

from typing import Any

from nhiwatch.sources.base import Accessor, Sample, Source, sql_str
from nhiwatch.sources.sql import NULL_S, case_like, coalesce, host_of, integer, lit, when

APP_ACTOR_TYPES = ("PublicClientApp", "PublicClientAppEntity", "AppInstance", "OAuth2Client", "Application")

# First match wins; eventType families from Okta's event-type catalogue.
ACTION_CLASS: list[tuple[str, str]] = [
    ("app.oauth2.%token.detect_reuse%", "auth"),
    ("app.oauth2.%token.grant%", "auth"),
    ("app.oauth2.%token.revoke%", "credential_revoke"),
    ("app.oauth2.%consent.revoke%", "credential_revoke"),
    ("app.oauth2.%consent.grant%", "scope_grant"),
    ("app.oauth2.%authorize%", "auth"),
    ("system.api_token.create", "credential_issue"),
    ("system.api_token.revoke", "credential_revoke"),
    ("system.api_token.%", "admin"),
    ("application.user_membership.add", "scope_grant"),
    ("application.user_membership.remove", "credential_revoke"),
    ("group.application_assignment.add", "scope_grant"),
    ("user.account.privilege.grant", "scope_grant"),
    ("app.%.grant%", "scope_grant"),
    ("app.%.revoke%", "credential_revoke"),
    ("user.session.%", "auth"),
    ("user.authentication.%", "auth"),
    ("policy.evaluate_sign_on", "auth"),
    ("security.threat.detected", "auth"),
    ("app.generic.unauth_app_access_attempt", "auth"),
]

AUTH_EVENTS = (
    "user.session.%",
    "user.authentication.%",
    "policy.evaluate_sign_on",
    "app.oauth2.%token.grant%",
    "app.oauth2.%authorize%",
)
ACCOUNT_EVENTS = ("system.api_token.%", "user.account.%", "user.lifecycle.%")
NO_EVENT_TYPE = "JSON of the wrong shape: an Okta System Log event needs 'eventType'"
FINDING_EVENTS = ("security.threat.detected", "app.oauth2.%token.detect_reuse%")


def _sniff(s: Sample) -> float:
    r: Any = s.first_record
    if isinstance(r, list) and r:
        r = r[0]
    if not isinstance(r, dict):
        return 0.0
    event_type = r.get("eventType", r.get("eventtype"))
    if not isinstance(event_type, str) or "published" not in r:
        return 0.0
    return 0.9 if {"actor", "uuid", "outcome"} & set(r) else 0.0


def _both(f: Accessor, path: str) -> str:
    """A path under Okta's spelling and Panther's lower-cased top-level key."""
    head, dot, rest = path.partition(".")
    if head == head.lower():
        return f(path)
    return coalesce(f(path), f(head.lower() + dot + rest))


def _like_any(expr: str, patterns: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f"{expr} LIKE {sql_str(p)}" for p in patterns) + ")"


def _target(f: Accessor, types: tuple[str, ...], key: str) -> str:
    """``key`` of the first ``target[]`` entry whose ``type`` is one of ``types``."""
    wanted = ", ".join(map(sql_str, types))
    first = f"list_position(list_transform({f.elements('target', 'type')}, lambda t: t IN ({wanted})), true)"
    return f"{f.elements('target', key)}[{first}]"


def _first_target(f: Accessor, key: str) -> str:
    return f"{f.elements('target', key)}[1]"


def _scopes(expr: str) -> str:
    """Okta writes scopes space-separated (some exports use commas)."""
    return (
        f"(CASE WHEN nullif(trim({expr}), '') IS NULL THEN NULL::VARCHAR[] ELSE "
        f"list_filter(regexp_split_to_array(trim({expr}), '[\\s,]+'), lambda x: x <> '') END)"
    )


def _fields(f: Accessor) -> dict[str, str]:
    event_type = _both(f, "eventType")
    debug = "debugContext.debugData."
    actor_type = f("actor.type")
    api_token = coalesce(
        _both(f, "transaction.detail.requestApiTokenId"), _both(f, debug + "requestApiTokenId")
    )
    token_target = _target(f, ("Token",), "id")
    is_app = f"{actor_type} IN ({', '.join(map(sql_str, APP_ACTOR_TYPES))})"
    is_token = f"({api_token} IS NOT NULL OR {event_type} LIKE 'system.api_token.%')"
    app_target_id = _target(f, ("AppInstance", "PublicClientApp"), "id")
    app_target_name = _target(f, ("AppInstance", "PublicClientApp"), "displayName")
    user_target = coalesce(_target(f, ("User",), "alternateId"), _target(f, ("User",), "id"))
    client_id = f("client.id")
    actor_login = coalesce(f("actor.alternateId"), f("actor.displayName"), f("actor.id"))
    app_name = coalesce(f("actor.displayName"), f("actor.alternateId"))
    result = f"upper({f('outcome.result')})"
    request_uri = coalesce(_both(f, debug + "requestUri"), _both(f, debug + "url"))
    return {
        "time": f("published"),
        "class_uid": when(
            (_like_any(event_type, FINDING_EVENTS), "2004"),
            (_like_any(event_type, AUTH_EVENTS), "3002"),
            (_like_any(event_type, ACCOUNT_EVENTS), "3001"),
            default="6003",
        ),
        "metadata_tenant_uid": when((f"{request_uri} LIKE 'http%://%'", host_of(request_uri))),
        "actor_app_uid": when(
            (is_app, coalesce(f("actor.id"), client_id)),
            (is_token, NULL_S),
            default=coalesce(client_id, app_target_id),
        ),
        "actor_app_name": when(
            (is_app, app_name),
            (f"{event_type} LIKE 'system.api_token.%'", _target(f, ("Token",), "displayName")),
            (is_token, NULL_S),
            default=app_target_name,
        ),
        "actor_user_credential_uid": coalesce(
            api_token,
            token_target,
            _both(f, debug + "tokenId"),
            _target(f, ("access_token", "refresh_token", "id_token"), "id"),
        ),
        "actor_user_uid": f("actor.id"),
        "actor_user_name": when((is_app, app_name), default=actor_login),
        "actor_user_type": when(
            (is_token, lit("api_token")),
            (is_app, lit("oauth_app")),
            (f"{actor_type} = 'User'", lit("user")),
            (f"{actor_type} = 'WorkloadIdentityPrincipal'", lit("workload")),
            default=lit("unknown"),
        ),
        "on_behalf_of": when(
            (is_token, actor_login),
            (is_app, user_target),
            (f"{actor_type} = 'User' AND coalesce({client_id}, {app_target_id}) IS NOT NULL", actor_login),
        ),
        "api_operation": event_type,
        "action_class": case_like(event_type, [(p, lit(c)) for p, c in ACTION_CLASS], lit("admin")),
        "status": when(
            (f"{result} IN ('SUCCESS', 'ALLOW')", lit("Success")),
            (f"{result} IN ('FAILURE', 'DENY')", lit("Failure")),
            default=lit("Unknown"),
        ),
        "status_detail": f("outcome.reason"),
        "resource_type": when(
            (f"{_first_target(f, 'type')} IS NOT NULL", _first_target(f, "type")),
            (f"{request_uri} IS NOT NULL", lit("api_route")),
        ),
        "resource_name": coalesce(
            f"nullif({_first_target(f, 'alternateId')}, 'unknown')",
            _first_target(f, "displayName"),
            _first_target(f, "id"),
            request_uri,
        ),
        "scopes": _scopes(coalesce(_both(f, debug + "grantedScopes"), _both(f, debug + "requestedScopes"))),
        "src_endpoint_ip": coalesce(f("client.ipAddress"), f("request.ipChain[0].ip")),
        "src_endpoint_asn": integer(_both(f, "securityContext.asNumber")),
        "http_request_user_agent": f("client.userAgent.rawUserAgent"),
    }


SOURCE = Source(
    name="okta",
    stream="system_log",
    title="Okta System Log",
    layout="json",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=lambda f: f("uuid"),
    checks=lambda f: [(f"{_both(f, 'eventType')} IS NULL", NO_EVENT_TYPE)],
    ocsf_classes={
        "user.session.*, user.authentication.*, policy.evaluate_sign_on, app.oauth2.*token.grant*": 3002,
        "system.api_token.*, user.account.*, user.lifecycle.*": 3001,
        "security.threat.detected, app.oauth2.token.detect_reuse": 2004,
        "everything else": 6003,
    },
)
