"""GitHub audit log streaming: one JSON object per line, ``@timestamp`` in epoch milliseconds."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from nhiwatch.simulate.model import Ev
from nhiwatch.simulate.writers.common import Ids, write_jsonl_days

ACCESS = {
    "github_app": "GitHub App server-to-server token",
    "oauth_app": "OAuth access token",
    "pat": "Personal access token (classic)",
    "ci_workflow": "Personal access token (classic)",
}
OP_TYPE = {"git.clone": "access", "git.fetch": "access", "git.push": "modify", "api.request": "access"}


def _hashed(token: str) -> str:
    return base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()


def render(e: Ev, ids: Ids) -> dict[str, Any]:
    integ = e.integ
    ms = int(e.ts * 1000)
    r: dict[str, Any] = {"@timestamp": ms, "_document_id": ids.b62(22), "action": e.op}
    kind = integ.kind
    if kind == "github_app":
        r["actor"] = f"{integ.ids.get('app_name', 'app')}[bot]"
        r["actor_is_bot"] = True
        r["integration"] = integ.ids.get("app_name")
        r["installation_id"] = int(integ.ids.get("installation_id", "0"))
    elif kind == "oauth_app":
        r["actor"] = integ.extra.get("on_behalf", "octocat")
        r["oauth_application"] = integ.ids.get("app_name")
        r["oauth_application_id"] = int(integ.ids.get("app_id", "0"))
    else:
        r["actor"] = integ.ids.get("actor", "machine-user")
    r["actor_id"] = integ.extra.get("actor_id", 1)
    r["actor_location"] = {"country_code": "US"}
    if e.ip:
        r["actor_ip"] = e.ip
    r["org"] = "acme"
    r["org_id"] = 1203001
    r["business"] = "acme-corp"
    if kind in ACCESS:
        r["programmatic_access_type"] = ACCESS[kind]
    cred = e.cred or integ.ids.get("token_id", "")
    if kind in ("pat", "ci_workflow") and cred:
        r["token_id"] = int(cred) if cred.isdigit() else cred
        r["hashed_token"] = _hashed(cred)
        r["token_scopes"] = ",".join(integ.scopes)
    if e.target:
        r["repo"] = e.target
        r["repository_public"] = False
    x = e.extra or {}
    if e.op == "api.request":
        repo = e.target or "acme/unknown"
        route = x.get("route", "/repos/{owner}/{repo}")
        owner, _, name = repo.partition("/")
        r["request_method"] = x.get("method", "GET")
        r["route"] = route
        r["url_path"] = (
            route.replace("{owner}", owner)
            .replace("{repo}", name)
            .replace("{path}", x.get("path", "README.md"))
            .replace("{sha}", ids.hexs(40))
            .replace("{n}", str(ids.rng.randint(1, 4000)))
        )
        r["status_code"] = e.status
        r["request_id"] = f"{ids.hexs(4).upper()}:{ids.hexs(5).upper()}:{ids.hexs(7).upper()}"
    elif e.op.startswith("git."):
        r["transport_protocol_name"] = "http"
        r["transport_protocol"] = 1
    elif e.op == "credential_issue":
        r["action"] = (
            "personal_access_token.access_granted"
            if kind != "github_app"
            else "integration_installation.version_updated"
        )
        r["user"] = r["actor"]
    r["operation_type"] = OP_TYPE.get(e.op, "create")
    if e.ua:
        r["user_agent"] = e.ua
    r["created_at"] = ms
    if "fields" in x:
        r.update(x["fields"])
    return r


def write(events: list[Ev], root: Path, ids: Ids, gzip: bool) -> int:
    return write_jsonl_days(events, root / "github", "audit-log", lambda e: render(e, ids), gzip)
