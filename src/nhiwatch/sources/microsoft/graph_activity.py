"""Microsoft Graph activity logs (``MicrosoftGraphActivityLogs``): every HTTP request Graph served.

One diagnostic record per request, the request under ``properties``: ``appId`` (the client),
``servicePrincipalId`` (set for app-only tokens), ``userId`` (set for delegated tokens),
``requestMethod``, ``requestUri``, ``responseStatusCode``, ``responseSizeBytes``, ``ipAddress``,
``userAgent``, ``roles`` (application permissions) or ``scopes`` (delegated), space separated.

App-only calls (``servicePrincipalId`` set, ``userId`` null) are the service principal acting;
delegated calls are the OAuth app acting for ``userId``. The route is ``requestUri``'s path with
the query dropped, lower-cased, and ids templated (GUIDs, UPNs, numbers, long opaque ids such as
message and drive-item ids, OData key literals, ``root:/path:`` file paths), so
``/v1.0/users/{id}/messages`` baselines as one route whoever's mailbox is read.

OCSF: API Activity (6003).
"""

from __future__ import annotations

from nhiwatch.sources.base import Accessor, Sample, Source
from nhiwatch.sources.microsoft import RECORD_PATHS, category, foreign_category, prop
from nhiwatch.sources.sql import (
    bigint,
    case,
    coalesce,
    host_of,
    lit,
    split_list,
    status_from_http,
    when,
)

CATEGORIES = ("MicrosoftGraphActivityLogs",)
HTTP_CLASS = {
    "GET": "read",
    "HEAD": "read",
    "POST": "write",
    "PUT": "write",
    "PATCH": "write",
    "DELETE": "delete",
}
_GUIDISH = "[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}"


def _sniff(s: Sample) -> float:
    return 0.95 if category(s) in CATEGORIES else 0.0


def _is_id(seg: str) -> str:
    """SQL: is this (lower-cased) path segment an identifier rather than a route word?"""
    return (
        f"(regexp_full_match({seg}, '{_GUIDISH}') OR strpos({seg}, '@') > 0 OR strpos({seg}, '%40') > 0 "
        f"OR strpos({seg}, ',') > 0 OR regexp_full_match({seg}, '[0-9]+') "
        f"OR (length({seg}) >= 16 AND strpos({seg}, '.') = 0 "
        f"AND length(regexp_replace({seg}, '[^0-9]', '', 'g')) >= 3))"
    )


def route(uri: str) -> str:
    """SQL: the templated route of a request URI (no scheme, host, query or ids)."""
    path = f"regexp_replace(lower({uri}), '^[a-z][a-z0-9+.-]*://[^/]*', '')"
    path = f"split_part(split_part({path}, '?', 1), '#', 1)"
    path = f"regexp_replace({path}, '/{{2,}}', '/', 'g')"
    path = f"regexp_replace({path}, 'root:/[^:]*(:|$)', 'root:/{{path}}\\1', 'g')"
    path = f"regexp_replace({path}, '''[^'']*''', '{{id}}', 'g')"
    segs = f"string_split({path}, '/')"
    templated = f"list_transform({segs}, lambda s: CASE WHEN {_is_id('s')} THEN '{{id}}' ELSE s END)"
    return f"nullif(rtrim(array_to_string({templated}, '/'), '/'), '')"


def _fields(f: Accessor) -> dict[str, str]:
    method = f"upper({prop(f, 'requestMethod')})"
    path = route(prop(f, "requestUri"))
    user = prop(f, "userId")
    sp = prop(f, "servicePrincipalId")
    return {
        "time": coalesce(f("time"), prop(f, "timeGenerated")),
        "class_uid": "6003",
        "metadata_tenant_uid": coalesce(f("tenantId"), prop(f, "tenantId")),
        "actor_app_uid": prop(f, "appId"),
        "actor_user_uid": sp,
        "actor_user_type": when(
            (f"{user} IS NOT NULL", lit("oauth_app")),
            (f"{sp} IS NOT NULL", lit("service_principal")),
            default=lit("unknown"),
        ),
        "on_behalf_of": user,
        "api_operation": f"concat_ws(' ', {method}, {path})",
        "action_class": case(method, {k: lit(v) for k, v in HTTP_CLASS.items()}, lit("read")),
        "status": status_from_http(prop(f, "responseStatusCode")),
        "status_detail": prop(f, "responseStatusCode"),
        "resource_type": f"nullif(regexp_extract({path}, '^/(?:v1\\.0/|beta/)?([^/(]+)', 1), '')",
        "resource_name": path,
        "scopes": split_list(coalesce(prop(f, "roles"), prop(f, "scopes")), " "),
        "src_endpoint_ip": coalesce(prop(f, "ipAddress"), f("callerIpAddress")),
        "http_request_user_agent": prop(f, "userAgent"),
        "traffic_bytes_out": bigint(prop(f, "responseSizeBytes")),
        "dst_endpoint_hostname": coalesce(host_of(prop(f, "requestUri")), lit("graph.microsoft.com")),
    }


def _vendor_uid(f: Accessor) -> str:
    # One request id per HTTP request; the URI hash keeps $batch sub-requests apart if they share it.
    rid = coalesce(prop(f, "requestId"), prop(f, "operationId"), f("correlationId"))
    return f"({rid} || ':' || md5(coalesce({prop(f, 'requestMethod')}, '') || {prop(f, 'requestUri')}))"


SOURCE = Source(
    name="microsoft",
    stream="graph_activity",
    title="Microsoft Graph activity logs",
    layout="json",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=_vendor_uid,
    record_paths=RECORD_PATHS,
    checks=lambda f: [
        foreign_category(f, CATEGORIES, "graph_activity"),
        (
            f"{prop(f, 'requestUri')} IS NULL",
            "JSON of the wrong shape: a Graph activity record needs properties.requestUri",
        ),
    ],
    ocsf_classes={"MicrosoftGraphActivityLogs": 6003},
)
