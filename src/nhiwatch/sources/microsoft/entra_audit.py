"""Entra ID directory audit (``AuditLogs``): app registrations, credentials, consents and grants.

Diagnostic records (category ``AuditLogs``, the event under ``properties``) or Graph
``directoryAudit`` objects (``{"value": [...]}`` pages). ``operationName`` / ``activityDisplayName``
names the change; ``initiatedBy.user`` or ``initiatedBy.app`` made it; ``targetResources[]`` lists
what changed, each with ``modifiedProperties[]`` whose values are JSON-encoded strings.

The integration is the app the change is about. For credential, consent and registration events that
is ``targetResources[0]`` (a ServicePrincipal or Application). For "Add app role assignment to service
principal" and "... delegated permission grant" ``targetResources[0]`` is the *resource* API (e.g.
Microsoft Graph) and the client is named by the ``ServicePrincipal.AppId`` / ``ServicePrincipal.ObjectID``
properties (or ``targetResources[1]``). When an app changes anything else (users, groups), the
integration is the initiating app. The appId comes from ``ServicePrincipal.AppId``,
``additionalDetails[AppId]``, the GUID in ``TargetId.ServicePrincipalNames``, ``AppPrincipalId`` or
``AppId``; failing all of those, the object id stands in. The initiator is ``actor_user_*`` and, when
a person, ``on_behalf_of``.

Credential changes compare the ``KeyIdentifier`` lists in ``KeyDescription`` old and new values: a
new key is ``credential_issue`` (its id in ``actor_user_credential_uid``), a dropped one
``credential_revoke``. Consents and grants are ``scope_grant`` with the scopes from
``ConsentAction.Permissions`` (``Scope:`` entries after ``=>``), ``DelegatedPermissionGrant.Scope``
or ``AppRole.Value``. Removals of app objects, grants or consents are ``credential_revoke``.

OCSF: API Activity (6003); Account Change (3001) when the target is a user.
"""

from __future__ import annotations

from nhiwatch.sources.base import Accessor, Sample, Source, sql_str
from nhiwatch.sources.microsoft import GUID, RECORD_PATHS, category, first_record, foreign_category, prop
from nhiwatch.sources.sql import coalesce, lit, when

CATEGORIES = ("AuditLogs",)
SCOPE_GRANTS = (
    "consent to application%",
    "add app role assignment to service principal%",
    "add delegated permission grant%",
    "update delegated permission grant%",
    "add oauth2permissiongrant%",
)
CREDENTIAL_OPS = ("%certificates and secrets management%", "%service principal credentials%")


def _sniff(s: Sample) -> float:
    r = first_record(s)
    if category(s) in CATEGORIES:
        if (
            r is None
            or "initiatedBy" in (r.get("properties") or {})
            or "Microsoft.aadiam" in str(r.get("resourceId"))
        ):
            return 0.95
        return 0.0
    if r is not None and {"activityDisplayName", "activityDateTime", "initiatedBy", "targetResources"} <= set(
        r
    ):
        return 0.9
    return 0.0


def _unquote(expr: str) -> str:
    """A modifiedProperties value without its JSON quoting: ``"\\"Mail.Read\\""`` -> ``Mail.Read``."""
    return f"nullif(trim({expr}, '\"[] '), '')"


def _guid(expr: str) -> str:
    return f"nullif(regexp_extract(coalesce({expr}, ''), '{GUID}'), '')"


class _Audit:
    """SQL pieces over one audit record."""

    def __init__(self, f: Accessor) -> None:
        self.f = f
        targets = f"coalesce({f.json('properties.targetResources')}, {f.json('targetResources')})"
        self.mps = f"json_extract({targets}, '$[*].modifiedProperties[*]')"
        details = f"coalesce({f.json('properties.additionalDetails')}, {f.json('additionalDetails')})"
        self.details = f"json_extract({details}, '$[*]')"
        self.op = f"trim({coalesce(f('operationName'), prop(f, 'activityDisplayName'))})"
        self.lop = f"lower({self.op})"
        self.t0_type = f"lower({prop(self.f, 'targetResources[0].type')})"

    def mp(self, name: str, side: str = "newValue") -> str:
        hit = (
            f"list_filter({self.mps}, lambda x: json_extract_string(x, '$.displayName') = {sql_str(name)})[1]"
        )
        return f"json_extract_string({hit}, '$.{side}')"

    def detail(self, key: str) -> str:
        hit = f"list_filter({self.details}, lambda x: json_extract_string(x, '$.key') = {sql_str(key)})[1]"
        return f"nullif(json_extract_string({hit}, '$.value'), '')"

    def any_like(self, patterns: tuple[str, ...]) -> str:
        return "(" + " OR ".join(f"{self.lop} LIKE {sql_str(p)}" for p in patterns) + ")"

    def keys(self, side: str) -> str:
        value = f"coalesce({self.mp('KeyDescription', side)}, '')"
        return f"regexp_extract_all({value}, 'KeyIdentifier=([0-9A-Za-z-]+)', 1)"

    def key_diff(self, a: str, b: str) -> str:
        return f"list_filter({self.keys(a)}, lambda k: NOT list_contains({self.keys(b)}, k))"

    def scopes(self, side: str) -> str:
        """Granted scopes in a consent / grant value (``oldValue`` for a removal: what was revoked)."""
        consent = f"regexp_replace(coalesce({self.mp('ConsentAction.Permissions', side)}, ''), '^.*=>', '')"
        entries = f"regexp_extract_all({consent}, 'Scope:\\s*([^,\\]]*)', 1)"
        from_consent = f"flatten(list_transform({entries}, lambda s: string_split(trim(s), ' ')))"
        grant = (
            f"string_split(coalesce({_unquote(self.mp('DelegatedPermissionGrant.Scope', side))}, ''), ' ')"
        )
        role = f"string_split(coalesce({_unquote(self.mp('AppRole.Value', side))}, ''), ' ')"
        merged = f"list_filter(list_concat({from_consent}, {grant}, {role}), lambda s: s <> '')"
        return f"(CASE WHEN len({merged}) > 0 THEN {merged} ELSE NULL::VARCHAR[] END)"


def _fields(f: Accessor) -> dict[str, str]:
    a = _Audit(f)
    grant_op = a.any_like(
        ("%app role assignment%service principal%", "%delegated permission grant%", "%oauth2permissiongrant%")
    )
    app_target = f"({a.t0_type} IN ('serviceprincipal', 'application') OR {grant_op})"
    user_upn = prop(f, "initiatedBy.user.userPrincipalName")
    user_id = prop(f, "initiatedBy.user.id")
    app_name = coalesce(
        prop(f, "initiatedBy.app.displayName"), prop(f, "initiatedBy.app.servicePrincipalName")
    )
    app_sp = prop(f, "initiatedBy.app.servicePrincipalId")
    spns = when((f"NOT {grant_op}", _guid(a.mp("TargetId.ServicePrincipalNames"))))
    client_app_id = coalesce(
        _guid(a.mp("ServicePrincipal.AppId")),
        _guid(a.detail("AppId")),
        spns,
        _guid(a.mp("AppPrincipalId")),
        _guid(a.mp("AppId")),
    )
    t_idx = f"(CASE WHEN {grant_op} THEN 1 ELSE 0 END)"
    client_obj = coalesce(_unquote(a.mp("ServicePrincipal.ObjectID")), _target(f, t_idx, "id"))
    client_name = coalesce(_unquote(a.mp("ServicePrincipal.DisplayName")), _target(f, t_idx, "displayName"))
    added, removed = a.key_diff("newValue", "oldValue"), a.key_diff("oldValue", "newValue")
    removal = a.any_like(("remove%", "delete%", "hard delete%", "revoke%"))
    action_class = when(
        (
            a.any_like(CREDENTIAL_OPS),
            when(
                (f"len({added}) > 0", lit("credential_issue")),
                (f"len({removed}) > 0 OR {removal}", lit("credential_revoke")),
                (f"{a.lop} LIKE 'add%'", lit("credential_issue")),
                default=lit("admin"),
            ),
        ),
        (f"{removal} AND {app_target}", lit("credential_revoke")),
        (a.any_like(SCOPE_GRANTS), lit("scope_grant")),
        default=lit("admin"),
    )
    result = f"lower({prop(f, 'result')})"
    ip = coalesce(
        prop(f, "initiatedBy.user.ipAddress"), prop(f, "initiatedBy.app.ipAddress"), f("callerIpAddress")
    )
    return {
        "time": coalesce(f("time"), prop(f, "activityDateTime")),
        "class_uid": when((f"{a.t0_type} = 'user'", "3001"), default="6003"),
        "metadata_tenant_uid": coalesce(f("tenantId"), prop(f, "tenantId")),
        "actor_app_uid": when(
            (app_target, coalesce(client_app_id, client_obj)), default=prop(f, "initiatedBy.app.appId")
        ),
        "actor_app_name": when((app_target, client_name), default=app_name),
        "actor_user_credential_uid": f"coalesce({added}[1], {removed}[1])",
        "actor_user_uid": coalesce(user_id, app_sp),
        "actor_user_name": coalesce(user_upn, app_name),
        "actor_user_type": when(
            (f"{coalesce(user_upn, user_id)} IS NOT NULL", lit("user")),
            (f"{coalesce(app_name, app_sp)} IS NOT NULL", lit("service_principal")),
            default=lit("unknown"),
        ),
        "on_behalf_of": coalesce(user_upn, user_id),
        "api_operation": a.op,
        "action_class": action_class,
        "status": when(
            (f"{result} = 'success'", lit("Success")),
            (f"{result} IN ('failure', 'timeout')", lit("Failure")),
            default=lit("Unknown"),
        ),
        "status_detail": coalesce(prop(f, "resultReason"), f("resultDescription")),
        "resource_type": a.t0_type,
        "resource_name": coalesce(
            prop(f, "targetResources[0].displayName"),
            prop(f, "targetResources[0].userPrincipalName"),
            prop(f, "targetResources[0].id"),
        ),
        "scopes": when((removal, a.scopes("oldValue")), default=a.scopes("newValue")),
        "src_endpoint_ip": when((f"regexp_full_match({ip}, '[0-9a-fA-F:.]+')", ip)),
        "http_request_user_agent": a.detail("User-Agent"),
    }


def _target(f: Accessor, index_sql: str, key: str) -> str:
    """A field of targetResources[0] or [1], chosen per row."""
    return when(
        (f"{index_sql} = 1", prop(f, f"targetResources[1].{key}")),
        default=prop(f, f"targetResources[0].{key}"),
    )


SOURCE = Source(
    name="microsoft",
    stream="entra_audit",
    title="Microsoft Entra directory audit (AuditLogs)",
    layout="json",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=lambda f: prop(f, "id"),
    record_paths=RECORD_PATHS,
    checks=lambda f: [
        foreign_category(f, CATEGORIES, "entra_audit", envelope=f"{f('operationName')} IS NOT NULL"),
        (
            f"{coalesce(f('operationName'), prop(f, 'activityDisplayName'))} IS NULL",
            "JSON of the wrong shape: an Entra audit event needs operationName or activityDisplayName",
        ),
    ],
    ocsf_classes={
        "AuditLogs (apps, credentials, consents, grants)": 6003,
        "AuditLogs with a user target": 3001,
    },
)
