"""Google Workspace Reports API (``activities.list``) for the ``token``, ``admin`` and ``login`` applications.

Reads an API page (``{"kind": "admin#reports#activities", "items": [...]}``) or one activity per line.
Each activity holds one or more ``events[]``; :func:`nhiwatch.sources.gws.params.expand` splits them
into one record each, with the parameters flattened, and the mapping below is SQL over that record.
The vendor id is ``id.applicationName | id.time | id.uniqueQualifier | event index``: Google documents
``uniqueQualifier`` as unique only among activities sharing a time.

Token events: the integration is ``client_id`` + ``app_name``; the human is ``actor.email``
(``on_behalf_of``). ``authorize`` grants scopes, ``revoke`` removes them, ``activity`` is an API call
(``api_name`` / ``method_name``, ``num_response_bytes``), ``request`` / ``deny`` are refused access.
Admin events about OAuth apps (trusted apps, service access, domain-wide delegation via
``AUTHORIZE_API_CLIENT_ACCESS``) name the app in ``OAUTH2_APP_ID`` / ``OAUTH2_APP_NAME`` /
``API_CLIENT_NAME``. ``actor.applicationInfo`` marks an app acting (possibly impersonating) a user.

OCSF: login, token authorize/request/deny -> Authentication (3002); admin ``USER_SETTINGS`` ->
Account Change (3001); token activity/revoke and other admin events -> API Activity (6003).
"""

from __future__ import annotations

from typing import Any

from nhiwatch.sources.base import Accessor, Sample, Source, sql_str
from nhiwatch.sources.gws.params import PAGE_KIND, expand
from nhiwatch.sources.sql import bigint, case, coalesce, lit, when

# Admin events that widen or narrow what an OAuth app may reach.
ADMIN_GRANTS = (
    "ADD_TO_TRUSTED_OAUTH2_APPS",
    "ALLOW_SERVICE_FOR_OAUTH2_ACCESS",
    "AUTHORIZE_API_CLIENT_ACCESS",
    "ALLOW_STRONG_AUTHENTICATION_FOR_OAUTH2_APPS",
    "UNBLOCK_ON_DEVICE_ACCESS",
)
ADMIN_REVOKES = (
    "REMOVE_FROM_TRUSTED_OAUTH2_APPS",
    "DISALLOW_SERVICE_FOR_OAUTH2_ACCESS",
    "REMOVE_API_CLIENT_ACCESS",
    "ADD_TO_BLOCKED_OAUTH2_APPS",
    "BLOCK_ON_DEVICE_ACCESS",
)
# Last segment of ``method_name`` (``drive.files.export`` -> ``export``), first match wins.
METHOD_CLASS: list[tuple[str, str]] = [
    ("export%", "export"),
    ("%delete%", "delete"),
    ("trash%", "delete"),
    ("remove%", "delete"),
    ("clear%", "delete"),
    ("purge%", "delete"),
    ("list%", "read"),
    ("get%", "read"),
    ("batchget%", "read"),
    ("watch%", "read"),
    ("search%", "read"),
    ("query%", "read"),
    ("read%", "read"),
    ("insert%", "write"),
    ("create%", "write"),
    ("update%", "write"),
    ("patch%", "write"),
    ("modify%", "write"),
    ("import%", "write"),
    ("send%", "write"),
    ("copy%", "write"),
    ("move%", "write"),
    ("batch%", "write"),
    ("set%", "write"),
    ("add%", "write"),
]
NO_EVENT = "JSON of the wrong shape: a Google Workspace activity needs events[] with a name"


def _sniff(s: Sample) -> float:
    r: Any = s.first_record
    if isinstance(r, list) and r:
        r = r[0]
    if not isinstance(r, dict):
        return 0.0
    if r.get("kind") == PAGE_KIND:
        return 0.95
    ident = r.get("id")
    if isinstance(ident, dict) and "applicationName" in ident and "time" in ident and "events" in r:
        return 0.9
    return 0.0


def _in(expr: str, values: tuple[str, ...]) -> str:
    return f"{expr} IN ({', '.join(map(sql_str, values))})"


def _nonempty(list_expr: str) -> str:
    return f"(CASE WHEN len({list_expr}) > 0 THEN {list_expr} END)"


def _list(j: str) -> str:
    """A multiValue (JSON array) or a flattened space/comma-separated string as VARCHAR[]."""
    items = _nonempty(f"list_filter(json_extract_string({j}, '$[*]'), lambda x: x IS NOT NULL)")
    words = _nonempty(_split(f"json_extract_string({j}, '$')"))
    return (
        f"(CASE WHEN json_type({j}) = 'ARRAY' THEN {items} "
        f"WHEN json_type({j}) = 'VARCHAR' THEN {words} ELSE NULL::VARCHAR[] END)"
    )


def _split(expr: str) -> str:
    return f"list_filter(regexp_split_to_array(trim({expr}), '[\\s,]+'), lambda x: x <> '')"


def _scope_names(j: str) -> str:
    names = f"list_filter(json_extract_string({j}, '$[*].scope_name'), lambda x: x IS NOT NULL)"
    return f"(CASE WHEN json_type({j}) = 'ARRAY' THEN {_nonempty(names)} ELSE NULL::VARCHAR[] END)"


def _by_method(method: str) -> str:
    """The class of an API call by its method's last segment, bound once for all the patterns (DuckDB does not
    share a subexpression between a CASE's branches: each pattern re-extracted and lower-cased it)."""
    classes = when(*[(f"nw_m LIKE {sql_str(pat)}", lit(c)) for pat, c in METHOD_CLASS], default=lit("read"))
    return f"list_transform([{method}], lambda nw_m: {classes})[1]"


def _fields(f: Accessor) -> dict[str, str]:
    def p(name: str) -> str:
        return f("event.parameters." + name)

    app = f("id.applicationName")
    name = f("event.name")
    method = f"lower(regexp_extract({p('method_name')}, '[^.]*$'))"
    client_id = p("client_id")
    app_info_id = f("actor.applicationInfo.oauthClientId")
    admin_app_id = coalesce(p("OAUTH2_APP_ID"), p("API_CLIENT_NAME"))
    admin_app_name = coalesce(p("OAUTH2_APP_NAME"), p("API_CLIENT_NAME"))
    is_token_app = f"({app} = 'token' AND {client_id} IS NOT NULL)"
    email = f("actor.email")
    return {
        "time": f("id.time"),
        "class_uid": when(
            (f"{app} = 'login'", "3002"),
            (f"{app} = 'token' AND {name} IN ('authorize', 'request', 'deny')", "3002"),
            (f"{app} = 'admin' AND {f('event.type')} = 'USER_SETTINGS'", "3001"),
            default="6003",
        ),
        "metadata_tenant_uid": coalesce(f("id.customerId"), f("ownerDomain")),
        "actor_app_uid": coalesce(client_id, admin_app_id, app_info_id, f("actor.key")),
        "actor_app_name": coalesce(p("app_name"), admin_app_name, f("actor.applicationInfo.applicationName")),
        "actor_user_uid": f("actor.profileId"),
        "actor_user_name": coalesce(email, f("actor.key")),
        "actor_user_type": when(
            (f"{is_token_app} OR {app_info_id} IS NOT NULL", lit("oauth_app")),
            (f"{f('actor.callerType')} = 'KEY'", lit("oauth_app")),
            (f"coalesce({email}, {f('actor.profileId')}) IS NOT NULL", lit("user")),
            default=lit("unknown"),
        ),
        "on_behalf_of": when((f"{is_token_app} OR {app_info_id} IS NOT NULL", email)),
        "api_operation": name,
        "action_class": when(
            (f"{app} = 'login'", lit("auth")),
            (
                f"{app} = 'token'",
                case(
                    name,
                    {
                        "authorize": lit("scope_grant"),
                        "revoke": lit("credential_revoke"),
                        "request": lit("auth"),
                        "deny": lit("auth"),
                        "activity": _by_method(method),
                    },
                    lit("auth"),
                ),
            ),
            (f"{app} = 'admin' AND {_in(name, ADMIN_GRANTS)}", lit("scope_grant")),
            (f"{app} = 'admin' AND {_in(name, ADMIN_REVOKES)}", lit("credential_revoke")),
            (f"{app} = 'admin'", lit("admin")),
            default=lit("read"),
        ),
        "status": when(
            (f"{name} IS NULL", lit("Unknown")),
            (f"{app} = 'token' AND {name} IN ('deny', 'request')", lit("Failure")),
            (f"{name} LIKE '%failure%'", lit("Failure")),
            default=lit("Success"),
        ),
        "status_detail": coalesce(p("login_failure_type"), p("login_challenge_status")),
        "resource_type": when(
            (f"{p('api_name')} IS NOT NULL", p("api_name")),
            (f"{app} = 'admin' AND {admin_app_id} IS NOT NULL", lit("oauth_app")),
            (f"{app} = 'admin' AND {p('OAUTH2_SERVICE_NAME')} IS NOT NULL", lit("service")),
            (f"{app} = 'admin' AND {p('USER_EMAIL')} IS NOT NULL", lit("user")),
            (f"{app} = 'token'", lit("oauth_app")),
            (f"{app} = 'login'", lit("account")),
        ),
        "resource_name": coalesce(
            p("method_name"),
            admin_app_name,
            p("OAUTH2_SERVICE_NAME"),
            p("USER_EMAIL"),
            p("SETTING_NAME"),
            p("app_name"),
            when((f"{app} = 'login'", email)),
        ),
        "scopes": (
            f"coalesce({_list(f.json_value('event.parameters.scope'))}, "
            f"{_scope_names(f.json_value('event.parameters.scope_data'))}, "
            f"{_list(f.json_value('event.parameters.API_SCOPES'))})"
        ),
        "src_endpoint_ip": f("ipAddress"),
        "traffic_bytes_out": bigint(p("num_response_bytes")),
    }


def _vendor_uid(f: Accessor) -> str:
    qualifier = f("id.uniqueQualifier")
    return when(
        (
            f"{qualifier} IS NOT NULL",
            f"concat_ws('|', {f('id.applicationName')}, {f('id.time')}, {qualifier}, {f('event_index')})",
        ),
    )


SOURCE = Source(
    name="gws",
    stream="reports",
    title="Google Workspace Reports API (token, admin, login)",
    layout="json",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=_vendor_uid,
    record_paths=("$.items[*]",),
    expand=expand,
    checks=lambda f: [(f"{f('event.name')} IS NULL", NO_EVENT)],
    ocsf_classes={
        "login.*, token authorize/request/deny": 3002,
        "admin USER_SETTINGS": 3001,
        "token activity/revoke, other admin events": 6003,
    },
)
