"""Okta System Log: one event per line, as the ``/api/v1/logs`` export writes them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from nhiwatch.simulate.model import Ev
from nhiwatch.simulate.writers.common import Ids, iso_ms, write_jsonl_days

DISPLAY = {
    "app.oauth2.as.token.grant.access_token": "OAuth2 access token is granted",
    "user.account.update_profile": "Update user profile for Okta",
    "user.lifecycle.create": "Create Okta user",
    "user.lifecycle.deactivate": "Deactivate Okta user",
    "group.user_membership.add": "Add user to group membership",
    "application.lifecycle.update": "Update application",
    "group.lifecycle.create": "Create okta group",
    "policy.rule.update": "Update policy rule",
    "application.policy.sign_on.update": "Update sign on policy for application",
    "user.account.unlock": "Unlock user account",
    "user.mfa.factor.reset_all": "Reset all factors for user",
    "user.account.reset_password": "Fired when the user's Okta password is reset",
    "system.api_token.create": "Create API token",
    "user.session.start": "User login to Okta",
    "user.authentication.sso": "User single sign on to app",
}
ASN = {"198.51.100": (64500, "ACME-NET")}


def render(e: Ev, ids: Ids) -> dict[str, Any]:
    integ = e.integ
    ok = e.status < 400
    app_actor = integ.kind not in ("api_token", "user")
    if e.op == "credential_issue":
        actor = {
            "id": "00u1adm1nAcme0001",
            "type": "User",
            "alternateId": "it-admin@acme.example",
            "displayName": "IT Admin",
            "detailEntry": None,
        }
        target = [
            {
                "id": e.cred,
                "type": "Token",
                "alternateId": "unknown",
                "displayName": f"{integ.ids.get('actor', 'svc')} token",
                "detailEntry": None,
            }
        ]
        event_type = "system.api_token.create"
    elif app_actor:
        cid = integ.ids.get("client_id", "")
        actor = {
            "id": cid,
            "type": "PublicClientApp",
            "alternateId": cid,
            "displayName": integ.extra.get("app_name", cid),
            "detailEntry": None,
        }
        target = _target(e, ids)
        event_type = e.op
    else:
        actor = {
            "id": integ.extra.get("okta_id") or "00u" + integ.ids.get("token_id", "x" * 20)[3:20],
            "type": "User",
            "alternateId": integ.extra.get("email") or integ.ids.get("actor"),
            "displayName": integ.name if integ.kind == "user" else integ.ids.get("actor", "").split("@")[0],
            "detailEntry": None,
        }
        target = _target(e, ids)
        event_type = e.op
    debug: dict[str, Any] = {"requestId": ids.b62(27), "requestUri": "/api/v1/users", "url": "/api/v1/users?"}
    if event_type.startswith("app.oauth2"):
        debug = {
            "requestId": ids.b62(27),
            "requestUri": "/oauth2/v1/token",
            "url": "/oauth2/v1/token?",
            "grantType": "client_credentials",
            "clientAuthType": "private_key_jwt",
        }
        if ok:
            debug["grantedScopes"] = " ".join(integ.scopes)
        debug["requestedScopes"] = " ".join((e.extra or {}).get("scopes", integ.scopes))
    detail: dict[str, Any] = {}
    if integ.kind == "api_token" and e.op != "credential_issue":
        detail["requestApiTokenId"] = e.cred or integ.ids.get("token_id")
    asn = ASN.get(e.ip.rsplit(".", 1)[0], (16509, "Amazon.com, Inc."))
    r = {
        "actor": actor,
        "client": {
            "userAgent": {"rawUserAgent": e.ua or None, "os": "Unknown", "browser": "UNKNOWN"},
            "zone": "null",
            "device": "Unknown",
            "id": None,
            "ipAddress": e.ip,
            "geographicalContext": {
                "city": None,
                "state": None,
                "country": "United States",
                "postalCode": None,
                "geolocation": None,
            },
        },
        "device": None,
        "authenticationContext": {
            "authenticationProvider": None,
            "credentialProvider": None,
            "credentialType": None,
            "issuer": None,
            "interface": None,
            "authenticationStep": 0,
            "externalSessionId": "trs" + ids.b62(22),
        },
        "displayMessage": DISPLAY.get(event_type, event_type),
        "eventType": event_type,
        "outcome": {
            "result": "SUCCESS" if ok else "FAILURE",
            "reason": None if ok else ("INVALID_CREDENTIALS" if integ.kind == "user" else "invalid_client"),
        },
        "published": iso_ms(e.ts),
        "securityContext": {
            "asNumber": asn[0],
            "asOrg": asn[1],
            "isp": asn[1],
            "domain": None,
            "isProxy": False,
        },
        "severity": "INFO" if ok else "WARN",
        "debugContext": {"debugData": debug},
        "legacyEventType": None,
        "transaction": {"type": "WEB", "id": ids.b62(27), "detail": detail},
        "uuid": ids.guid(),
        "version": "0",
        "request": {"ipChain": [{"ip": e.ip, "geographicalContext": None, "version": "V4", "source": None}]},
        "target": target,
    }
    return r


def _target(e: Ev, ids: Ids) -> list[dict[str, Any]]:
    if e.op == "user.session.start":
        return []
    if e.op == "user.authentication.sso":
        return [
            {
                "id": "0oa" + hashlib.sha256(e.target.encode()).hexdigest()[:17],  # one id per SSO app
                "type": "AppInstance",
                "alternateId": e.target,
                "displayName": e.target,
                "detailEntry": {"signOnModeType": "SAML_2_0"},
            }
        ]
    if e.op.startswith("app.oauth2"):
        return [
            {
                "id": "aus" + ids.b62(17),
                "type": "AuthorizationServer",
                "alternateId": "org",
                "displayName": "Okta Authorization Server",
                "detailEntry": None,
            }
        ]
    if e.op.startswith(("application.", "policy.")):
        return [
            {
                "id": "0oa" + ids.b62(17),
                "type": "AppInstance",
                "alternateId": e.target or "app",
                "displayName": "Managed app",
                "detailEntry": None,
            }
        ]
    return [
        {
            "id": "00u" + ids.b62(17),
            "type": "User",
            "alternateId": e.target,
            "displayName": e.target.split("@")[0].replace(".", " ").title(),
            "detailEntry": None,
        }
    ]


def write(events: list[Ev], root: Path, ids: Ids, gzip: bool) -> int:
    return write_jsonl_days(events, root / "okta", "system-log", lambda e: render(e, ids), gzip)
