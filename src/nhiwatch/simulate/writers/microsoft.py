"""Entra ID and Microsoft Graph diagnostic records (Azure Monitor shape), one record per line.

ServicePrincipalSignInLogs and AuditLogs go under ``logs/entra/``; MicrosoftGraphActivityLogs under
``logs/graph/``. Each file is one UTC day, as a storage-account export splits them (by hour there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nhiwatch.simulate.model import Ev
from nhiwatch.simulate.writers.common import Ids, iso_7, iso_ms, write_jsonl_days

TENANT = "7b1c3e2a-5d4f-4a8b-9c6e-2f1d0a3b4c5d"
GRAPH_RESOURCE = "00000003-0000-0000-c000-000000000000"
ERRORS = {
    0: "",
    90033: "A transient error has occurred. Please try again.",
    7000215: "Invalid client secret provided. Ensure the secret being sent in the request is the client "
    "secret value, not the client secret ID.",
    7000222: "The provided client secret keys for app are expired.",
}


def signin(e: Ev, ids: Ids) -> dict[str, Any]:
    integ = e.integ
    rid = ids.guid()
    code = e.status if e.status != 200 else 0
    return {
        "time": iso_7(e.ts),
        "resourceId": f"/tenants/{TENANT}/providers/Microsoft.aadiam",
        "operationName": "Sign-in activity",
        "operationVersion": "1.0",
        "category": "ServicePrincipalSignInLogs",
        "tenantId": TENANT,
        "resultType": str(code),
        "resultSignature": "None",
        "resultDescription": ERRORS.get(code, ""),
        "durationMs": 0,
        "callerIpAddress": e.ip,
        "correlationId": ids.guid(),
        "Level": 4,
        "location": "US",
        "properties": {
            "id": rid,
            "createdDateTime": iso_7(e.ts),
            "appId": integ.ids.get("app_id"),
            "appDisplayName": integ.extra.get("app_name"),
            "servicePrincipalId": integ.extra.get("sp_id"),
            "servicePrincipalName": integ.extra.get("app_name"),
            "servicePrincipalCredentialKeyId": e.cred,
            "servicePrincipalCredentialThumbprint": "",
            "clientCredentialType": "clientSecret",
            "ipAddress": e.ip,
            "resourceDisplayName": e.target or "Microsoft Graph",
            "resourceId": GRAPH_RESOURCE,
            "resourceServicePrincipalId": "9c3f2a1b-7e6d-4c5b-8a9f-0e1d2c3b4a59",
            "status": {"errorCode": code, "failureReason": ERRORS.get(code, "") or None},
            "conditionalAccessStatus": "notApplied",
            "uniqueTokenIdentifier": ids.b62(22),
            "location": {"city": "Ashburn", "state": "Virginia", "countryOrRegion": "US"},
            "signInEventTypes": ["servicePrincipal"],
            "isInteractive": False,
        },
    }


def audit(e: Ev, ids: Ids) -> dict[str, Any]:
    integ = e.integ
    x = e.extra or {}
    name = integ.extra.get("app_name", "")
    when = iso_7(e.ts)
    if e.op == "consent":
        activity = "Add app role assignment to service principal"
        category = "ApplicationManagement"
        modified = [{"displayName": "AppRole.Value", "oldValue": None, "newValue": f'"{x.get("role", "")}"'}]
        target_type = "ServicePrincipal"
    else:
        activity = "Update application – Certificates and secrets management "
        category = "ApplicationManagement"
        old = x.get("old", "")
        new = e.cred
        modified = [
            {
                "displayName": "KeyDescription",
                "oldValue": f'["[KeyIdentifier={old},KeyType=Password,KeyUsage=Verify,DisplayName=secret]"]',
                "newValue": f'["[KeyIdentifier={old},KeyType=Password,KeyUsage=Verify,DisplayName=secret]",'
                f'"[KeyIdentifier={new},KeyType=Password,KeyUsage=Verify,DisplayName=rotated]"]',
            }
        ]
        target_type = "Application"
    initiated = x.get("initiated_by") or {
        "user": {
            "id": "5a1e0c2d-0000-4000-8000-00000000ad01",
            "displayName": None,
            "userPrincipalName": "it-admin@acme.example",
            "ipAddress": "198.51.100.10",
            "roles": [],
        }
    }
    return {
        "time": when,
        "resourceId": f"/tenants/{TENANT}/providers/Microsoft.aadiam",
        "operationName": activity,
        "operationVersion": "1.0",
        "category": "AuditLogs",
        "tenantId": TENANT,
        "resultSignature": "None",
        "durationMs": 0,
        "callerIpAddress": (initiated.get("user") or initiated.get("app") or {}).get("ipAddress", ""),
        "correlationId": ids.guid(),
        "Level": 4,
        "properties": {
            "id": "Directory_" + ids.guid(),
            "category": category,
            "correlationId": ids.guid(),
            "result": "success",
            "resultReason": "",
            "activityDisplayName": activity,
            "activityDateTime": when,
            "loggedByService": "Core Directory",
            "operationType": "Update",
            "initiatedBy": initiated,
            "targetResources": [
                {
                    "id": integ.extra.get("sp_id"),
                    "displayName": name,
                    "type": target_type,
                    "modifiedProperties": [
                        *modified,
                        {
                            "displayName": "AppId",
                            "oldValue": None,
                            "newValue": f'"{integ.ids.get("app_id")}"',
                        },
                    ],
                    "administrativeUnits": [],
                }
            ],
            "additionalDetails": [
                {"key": "AppId", "value": integ.ids.get("app_id")},
                {"key": "User-Agent", "value": "EvoSTS"},
            ],
        },
    }


def graph(e: Ev, ids: Ids) -> dict[str, Any]:
    integ = e.integ
    x = e.extra or {}
    roles = " ".join(x.get("roles", integ.scopes))
    return {
        "time": iso_7(e.ts),
        "resourceId": f"/TENANTS/{TENANT.upper()}/PROVIDERS/MICROSOFT.AADIAM",
        "operationName": "Microsoft Graph Activity",
        "operationVersion": "beta",
        "category": "MicrosoftGraphActivityLogs",
        "resultSignature": str(e.status),
        "durationMs": str(ids.rng.randint(40, 900)),
        "callerIpAddress": e.ip,
        "correlationId": ids.guid(),
        "level": "Informational",
        "location": "East US",
        "properties": {
            "timeGenerated": iso_ms(e.ts),
            "location": "East US",
            "requestId": ids.guid(),
            "operationId": ids.guid(),
            "clientRequestId": ids.guid(),
            "apiVersion": "beta" if "/beta/" in e.target else "v1.0",
            "requestMethod": x.get("method", "GET"),
            "responseStatusCode": e.status,
            "tenantId": TENANT,
            "durationMs": ids.rng.randint(40000, 900000),
            "responseSizeBytes": e.size,
            "signInActivityId": ids.b62(22),
            "roles": roles,
            "tokenIssuedAt": iso_ms(e.ts - ids.rng.uniform(60, 3000)),
            "appId": integ.ids.get("app_id"),
            "userId": None,
            "servicePrincipalId": integ.extra.get("sp_id"),
            "ipAddress": e.ip,
            "userAgent": e.ua,
            "requestUri": e.target,
            "identityProvider": f"https://sts.windows.net/{TENANT}/",
            "clientAuthMethod": 1,
            "wids": "0997a1d0-0d1d-4acb-b408-d5ca73121e90",
            "scopes": None,
        },
    }


def write_entra(events: list[Ev], root: Path, ids: Ids, gzip: bool) -> int:
    signins = [e for e in events if e.op == "signin"]
    audits = [e for e in events if e.op != "signin"]
    n = write_jsonl_days(
        signins, root / "entra" / "ServicePrincipalSignInLogs", "signins", lambda e: signin(e, ids), gzip
    )
    return n + write_jsonl_days(audits, root / "entra" / "AuditLogs", "audit", lambda e: audit(e, ids), gzip)


def write_graph(events: list[Ev], root: Path, ids: Ids, gzip: bool) -> int:
    return write_jsonl_days(
        events, root / "graph", "MicrosoftGraphActivityLogs", lambda e: graph(e, ids), gzip
    )
