"""Entra ID workload-identity sign-ins: service principals and managed identities getting tokens.

Diagnostic categories ``ServicePrincipalSignInLogs`` and ``ManagedIdentitySignInLogs`` (one record a
line, or ``{"records": [...]}``), and Graph ``signIn`` objects whose ``signInEventTypes`` contain
``servicePrincipal`` or ``managedIdentity`` (``{"value": [...]}`` pages). The integration is
``properties.appId``; ``servicePrincipalId`` is its object in this tenant; the credential that signed
in is ``servicePrincipalCredentialKeyId`` (a secret) or ``servicePrincipalCredentialThumbprint``
(a certificate). ``resultType`` / ``status.errorCode`` is ``0`` on success, else the AADSTS code
(7000222: expired secret, 7000215: invalid secret, 700027: bad certificate assertion ...).
Managed identities sign in from inside Azure and carry no IP address.

OCSF: Authentication (3002), activity Logon.
"""

from __future__ import annotations

from nhiwatch.sources.base import Accessor, Sample, Source
from nhiwatch.sources.microsoft import RECORD_PATHS, category, first_record, foreign_category, prop
from nhiwatch.sources.sql import coalesce, lit, when

CATEGORIES = ("ServicePrincipalSignInLogs", "ManagedIdentitySignInLogs")
WORKLOAD_TYPES = ("servicePrincipal", "managedIdentity")


def _sniff(s: Sample) -> float:
    cat = category(s)
    if cat in CATEGORIES:
        return 0.95
    r = first_record(s)
    if r is None:
        return 0.0
    kinds = r.get("signInEventTypes")
    if isinstance(kinds, list) and any(k in WORKLOAD_TYPES for k in kinds) and "createdDateTime" in r:
        return 0.9
    return 0.0


def _is_workload(f: Accessor) -> str:
    kinds = f("signInEventTypes")
    return f"({kinds} LIKE '%servicePrincipal%' OR {kinds} LIKE '%managedIdentity%')"


def _fields(f: Accessor) -> dict[str, str]:
    code = coalesce(f("resultType"), prop(f, "status.errorCode"))
    managed = (
        f"({f('category')} = 'ManagedIdentitySignInLogs' OR {f('signInEventTypes')} LIKE '%managedIdentity%' "
        f"OR coalesce({prop(f, 'managedServiceIdentity.msiType')}, 'none') <> 'none')"
    )
    return {
        "time": coalesce(f("time"), prop(f, "createdDateTime")),
        "class_uid": "3002",
        "metadata_tenant_uid": coalesce(f("tenantId"), prop(f, "tenantId"), prop(f, "resourceTenantId")),
        "actor_app_uid": prop(f, "appId"),
        "actor_app_name": coalesce(prop(f, "servicePrincipalName"), prop(f, "appDisplayName")),
        "actor_user_credential_uid": coalesce(
            prop(f, "servicePrincipalCredentialKeyId"), prop(f, "servicePrincipalCredentialThumbprint")
        ),
        "actor_user_uid": prop(f, "servicePrincipalId"),
        "actor_user_name": coalesce(prop(f, "servicePrincipalName"), prop(f, "appDisplayName")),
        "actor_user_type": when((managed, lit("managed_identity")), default=lit("service_principal")),
        "api_operation": coalesce(f("operationName"), lit("Sign-in activity")),
        "action_class": lit("auth"),
        "status": when(
            (f"{code} = '0'", lit("Success")), (f"{code} IS NOT NULL", lit("Failure")), default=lit("Unknown")
        ),
        "status_detail": when((f"{code} <> '0'", code)),
        "resource_type": lit("resource_app"),
        "resource_name": coalesce(prop(f, "resourceDisplayName"), prop(f, "resourceId")),
        "src_endpoint_ip": coalesce(f("callerIpAddress"), prop(f, "ipAddress")),
    }


def _checks(f: Accessor) -> list[tuple[str, str]]:
    return [
        foreign_category(f, CATEGORIES, "entra_signins"),
        (
            f"({f('category')} IS NULL AND {f('signInEventTypes')} IS NOT NULL AND NOT {_is_workload(f)})",
            "user sign-in: signInEventTypes has no servicePrincipal or managedIdentity",
        ),
        (
            f"{coalesce(prop(f, 'appId'), prop(f, 'servicePrincipalId'))} IS NULL",
            "JSON of the wrong shape: a workload sign-in needs properties.appId or servicePrincipalId",
        ),
    ]


SOURCE = Source(
    name="microsoft",
    stream="entra_signins",
    title="Microsoft Entra service principal and managed identity sign-ins",
    layout="json",
    sniff=_sniff,
    fields=_fields,
    vendor_uid=lambda f: coalesce(prop(f, "id"), f("correlationId")),
    record_paths=RECORD_PATHS,
    checks=_checks,
    ocsf_classes={"ServicePrincipalSignInLogs, ManagedIdentitySignInLogs, Graph signIn": 3002},
)
