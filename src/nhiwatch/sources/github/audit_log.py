"""GitHub audit log: org/enterprise REST export, JSON export and audit-log streaming, one event a record.

Recognised by ``action`` plus GitHub's time fields (``@timestamp`` or ``created_at``) and ``actor``,
``org``, ``business`` or ``_document_id``. Token identity comes from ``programmatic_access_type`` with
``token_id`` / ``hashed_token`` / ``token_scopes``; the OAuth app from ``oauth_application_id``; a
GitHub App from ``integration`` / ``installation_id``. ``git.*`` events often lack ``actor`` and
``created_at`` and carry ``@timestamp`` only; ``api.request`` carries ``route`` and ``request_method``.

OCSF: ``api.request``, ``git.*``, ``repo.*``, ``workflows.*`` -> API Activity (6003); ``org.*``,
``team.*`` membership changes -> Account Change (3001); token, OAuth and installation grants stay
API Activity with the grant in ``api_operation``.
"""

from __future__ import annotations

from nhiwatch.sources.base import Accessor, Sample, Source
from nhiwatch.sources.sql import (
    bigint,
    case,
    case_like,
    coalesce,
    host_of,
    lit,
    split_list,
    status_from_http,
    when,
)

HTTP_CLASS = {
    "GET": "read",
    "HEAD": "read",
    "POST": "write",
    "PUT": "write",
    "PATCH": "write",
    "DELETE": "delete",
}

ACTION_CLASS: list[tuple[str, str]] = [
    ("repo.download_zip", "export"),
    ("git.clone", "read"),
    ("git.fetch", "read"),
    ("git.push", "write"),
    ("hook.%", "webhook"),
    ("org.hook%", "webhook"),
    ("integration_installation.repositories_added", "scope_grant"),
    ("integration_installation.create", "scope_grant"),
    ("integration_installation.version_updated", "scope_grant"),
    ("integration_installation_request.%", "scope_grant"),
    ("integration_installation.destroy", "credential_revoke"),
    ("integration_installation.suspend", "credential_revoke"),
    ("integration_installation.repositories_removed", "credential_revoke"),
    ("oauth_access.destroy", "credential_revoke"),
    ("oauth_authorization.destroy", "credential_revoke"),
    ("oauth_access.%", "credential_issue"),
    ("oauth_authorization.%", "credential_issue"),
    ("oauth_application.%", "admin"),
    ("org.oauth_app_access_approved", "scope_grant"),
    ("personal_access_token.access_revoked", "credential_revoke"),
    ("personal_access_token.request_denied", "credential_revoke"),
    ("personal_access_token.%", "credential_issue"),
    ("deploy_key.create", "credential_issue"),
    ("deploy_key.destroy", "credential_revoke"),
    ("public_key.create", "credential_issue"),
    ("public_key.delete", "credential_revoke"),
    ("repo.destroy", "delete"),
    ("repo.create", "write"),
    ("repo.add_topic", "write"),
    ("repository_secret_scanning%", "read"),
    ("protected_branch.rejected_ref_update", "write"),
    ("workflows.%", "write"),
    ("environment.%", "admin"),
    ("repo.%", "admin"),
    ("org.%", "admin"),
    ("team.%", "admin"),
    ("business.%", "admin"),
    ("protected_branch.%", "admin"),
]


def _sniff(s: Sample) -> float:
    r = s.first_record
    if isinstance(r, list) and r:
        r = r[0]
    if not isinstance(r, dict) or not isinstance(r.get("action"), str):
        return 0.0
    has_time = "@timestamp" in r or "created_at" in r
    github_keys = {
        "_document_id",
        "actor",
        "org",
        "business",
        "repo",
        "actor_location",
        "programmatic_access_type",
    }
    if has_time and (len(github_keys & set(r)) >= 1) and "." in r["action"]:
        return 0.9
    return 0.0


def _fields(f: Accessor) -> dict[str, str]:
    action = f("action")
    access_type = lower_access = f"lower({f('programmatic_access_type')})"
    actor = coalesce(f("actor"), f("user"))
    is_bot = f"(lower({f('actor_is_bot')}) = 'true' OR {actor} LIKE '%[bot]')"
    actor_type = when(
        (is_bot, lit("bot")),
        (f"{lower_access} LIKE '%oauth%'", lit("oauth_app")),
        (f"{lower_access} LIKE '%personal access token%'", lit("pat")),
        (f"{lower_access} LIKE '%github app%'", lit("github_app")),
        (f"{lower_access} LIKE '%token%'", lit("api_token")),
        (f"{actor} IS NOT NULL", lit("user")),
        default=lit("unknown"),
    )
    method = f"upper({f('request_method')})"
    action_class = when(
        (f"{action} = 'api.request'", case(method, {k: lit(v) for k, v in HTTP_CLASS.items()}, lit("read"))),
        default=case_like(action, [(p, lit(c)) for p, c in ACTION_CLASS], lit("read")),
    )
    status = when(
        (f"{f('status_code')} IS NOT NULL", status_from_http(f("status_code"))),
        (f"{action} LIKE '%rejected%' OR {action} LIKE '%denied%'", lit("Failure")),
        default=lit("Success"),
    )
    resource_name = coalesce(
        f("repo"),
        f("repository"),
        f("route"),
        f("hook_id"),
        f("name"),
        f("team"),
        f("user"),
        f("package"),
        f("org"),
    )
    resource_type = when(
        (f"{f('route')} IS NOT NULL AND {action} = 'api.request'", lit("api_route")),
        (f"coalesce({f('repo')}, {f('repository')}) IS NOT NULL", lit("repository")),
        (f"{action} LIKE 'hook.%'", lit("webhook")),
        (f"{action} LIKE 'team.%'", lit("team")),
        (f"{action} LIKE 'packages.%'", lit("package")),
        default=f"split_part({action}, '.', 1)",
    )
    return {
        "time": coalesce(f("@timestamp"), f("created_at"), f("timestamp")),
        "class_uid": when(
            (
                f"{action} LIKE 'org.%member%' OR {action} LIKE 'team.%' OR {action} LIKE 'business.%member%'",
                "3001",
            ),
            default="6003",
        ),
        "metadata_tenant_uid": coalesce(f("org"), f("business"), f("org_id"), f("business_id")),
        "actor_app_uid": coalesce(f("oauth_application_id"), f("installation_id"), f("integration_id")),
        "actor_app_name": coalesce(f("oauth_application"), f("oauth_application_name"), f("integration")),
        "actor_user_credential_uid": coalesce(f("token_id"), f("hashed_token")),
        "actor_user_uid": f("actor_id"),
        "actor_user_name": actor,
        "actor_user_type": actor_type,
        "on_behalf_of": when((f"{access_type} LIKE '%user-to-server%'", actor)),
        "api_operation": action,
        "action_class": action_class,
        "status": status,
        "status_detail": coalesce(f("status_code"), f("reason"), f("message")),
        "resource_type": resource_type,
        "resource_name": resource_name,
        "scopes": split_list(f("token_scopes")),
        "src_endpoint_ip": f("actor_ip"),
        "http_request_user_agent": f("user_agent"),
        "records": bigint(f("repository_count")),
        "dst_endpoint_hostname": host_of(coalesce(f("config.url"), f("hook_url"))),
    }


SOURCE = Source(
    name="github",
    stream="audit_log",
    title="GitHub audit log",
    layout="json",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=lambda f: f("_document_id"),
    checks=lambda f: [
        (f"{f('action')} IS NULL", "JSON of the wrong shape: a GitHub audit event needs 'action'")
    ],
    ocsf_classes={
        "api.request, git.*, repo.*, workflows.*, hook.*, tokens": 6003,
        "org/team membership": 3001,
    },
)
