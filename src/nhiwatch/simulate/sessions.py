"""What one working session of an integration looks like in its SaaS log, per source.

A session is what a connector does when it wakes up: authenticate if its token expired, then ``n``
API operations on its objects, with the odd transient failure retried after a back-off. Each builder
returns abstract :class:`~nhiwatch.simulate.model.Ev` events; the writers give them their vendor shape.
"""

from __future__ import annotations

import random

from nhiwatch.simulate.model import Ev, Integration
from nhiwatch.simulate.session_state import Builder, State
from nhiwatch.simulate.session_state import pick as _pick
from nhiwatch.simulate.session_state import retry as _retry
from nhiwatch.simulate.sessions_cloud import cloudtrail, graph, slack


def salesforce(
    integ: Integration, st: State, ts: float, n: int, rng: random.Random, ip: str, ua: str
) -> list[Ev]:
    out: list[Ev] = []
    if ts - st.last_auth > st.auth_ttl:
        st.last_auth = ts
        st.extra["login_key"] = f"{rng.getrandbits(64):016x}"
        out.append(
            Ev(
                ts,
                "salesforce",
                "login",
                integ,
                ip=ip,
                ua=ua,
                cred=st.cred,
                extra={"login_key": st.extra["login_key"]},
            )
        )
        ts += rng.uniform(0.3, 2)
    bulk = integ.pattern == "nightly" or n > 25
    key = st.extra.get("login_key", "")
    for _ in range(n):
        obj = _pick(st.objects, rng)
        if bulk and rng.random() < 0.5:
            rows = int(rng.lognormvariate(7.5, 0.8))
            out.append(
                Ev(
                    ts,
                    "salesforce",
                    "bulk",
                    integ,
                    ip=ip,
                    ua=ua,
                    target=obj,
                    n=rows,
                    size=rows * 900,
                    cred=st.cred,
                    extra={"login_key": key},
                )
            )
            ts += rng.uniform(20, 200)
        else:
            rows = int(rng.lognormvariate(2.5, 1.3))
            method = "GET" if rng.random() < 0.8 else rng.choice(("PATCH", "POST"))
            ev = Ev(
                ts,
                "salesforce",
                "rest",
                integ,
                ip=ip,
                ua=ua,
                target=obj,
                n=rows,
                size=400 + rows * 1100,
                cred=st.cred,
                extra={"method": method, "login_key": key},
            )
            out.extend(_retry(ev, rng, integ, 503))
            ts += rng.uniform(0.2, 4)
    return out


ROUTES_READ = (
    "/repos/{owner}/{repo}/pulls",
    "/repos/{owner}/{repo}/commits",
    "/repos/{owner}/{repo}/contents/{path}",
    "/repos/{owner}/{repo}/issues",
    "/repos/{owner}/{repo}",
    "/repos/{owner}/{repo}/branches",
)
ROUTES_WRITE = (
    "/repos/{owner}/{repo}/pulls",
    "/repos/{owner}/{repo}/statuses/{sha}",
    "/repos/{owner}/{repo}/issues/{n}/comments",
    "/repos/{owner}/{repo}/check-runs",
)


def github(
    integ: Integration, st: State, ts: float, n: int, rng: random.Random, ip: str, ua: str
) -> list[Ev]:
    out: list[Ev] = []
    name = integ.ids.get("app_name") or integ.ids.get("actor", "")
    cloner = name in ("snyk", "rewind-backups", "CircleCI", "Terraform Cloud") or integ.kind == "ci_workflow"
    for _ in range(n):
        repo = _pick(st.objects, rng)
        if integ.pattern == "nightly":
            out.append(Ev(ts, "github", "git.clone", integ, ip=ip, ua=ua, cred=st.cred, target=repo))
            ts += rng.uniform(3, 40)
            continue
        if cloner and rng.random() < 0.5:
            out.append(
                Ev(
                    ts,
                    "github",
                    rng.choice(("git.clone", "git.fetch")),
                    integ,
                    ip=ip,
                    ua=ua,
                    cred=st.cred,
                    target=repo,
                )
            )
        elif integ.kind in ("pat", "ci_workflow") and rng.random() < 0.4 and "docs" not in name:
            out.append(Ev(ts, "github", "git.push", integ, ip=ip, ua=ua, cred=st.cred, target=repo))
        elif "docs" in name:
            out.append(Ev(ts, "github", "git.fetch", integ, ip=ip, ua=ua, cred=st.cred, target=repo))
        else:
            write = rng.random() < 0.25
            route = rng.choice(ROUTES_WRITE if write else ROUTES_READ)
            method = "POST" if write else "GET"
            ev = Ev(
                ts,
                "github",
                "api.request",
                integ,
                ip=ip,
                ua=ua,
                cred=st.cred,
                target=repo,
                extra={"method": method, "route": route},
            )
            out.extend(_retry(ev, rng, integ, 502))
        ts += rng.uniform(0.5, 6)
    return out


OKTA_WRITES = {
    "BambooHR provisioning": (
        "user.account.update_profile",
        "user.lifecycle.create",
        "group.user_membership.add",
        "user.lifecycle.deactivate",
    ),
    "terraform-okta": (
        "application.lifecycle.update",
        "group.lifecycle.create",
        "policy.rule.update",
        "application.policy.sign_on.update",
    ),
    "splunk-okta-logs": (),
}
HELPDESK = ("user.account.unlock", "user.mfa.factor.reset_all", "user.account.reset_password")


def okta(integ: Integration, st: State, ts: float, n: int, rng: random.Random, ip: str, ua: str) -> list[Ev]:
    out: list[Ev] = []
    app = integ.extra.get("app_name", "")
    if integ.kind != "api_token" and ts - st.last_auth > st.auth_ttl:
        st.last_auth = ts
        ev = Ev(ts, "okta", "app.oauth2.as.token.grant.access_token", integ, ip=ip, ua=ua, cred=st.cred)
        out.extend(_retry(ev, rng, integ, 401))
        ts += rng.uniform(0.2, 1.5)
    ops = HELPDESK if integ.kind == "api_token" else OKTA_WRITES.get(app, ("user.account.update_profile",))
    if not ops:
        return out
    for _ in range(n):
        user = f"{rng.choice(FIRST)}.{rng.choice(LAST)}@acme.example"
        out.append(Ev(ts, "okta", rng.choice(ops), integ, ip=ip, ua=ua, cred=st.cred, target=user))
        ts += rng.uniform(0.3, 8)
    return out


FIRST = (
    "ana",
    "ben",
    "chen",
    "dana",
    "eli",
    "fatima",
    "george",
    "hiro",
    "ines",
    "jon",
    "kofi",
    "lena",
    "maria",
    "nils",
    "olga",
    "priya",
    "quinn",
    "raj",
    "sara",
    "tom",
    "uma",
    "vic",
    "wei",
    "yusuf",
    "zoe",
)
LAST = (
    "smith",
    "garcia",
    "kim",
    "muller",
    "rossi",
    "tanaka",
    "singh",
    "okafor",
    "dubois",
    "silva",
    "novak",
    "lee",
)
GWS_METHODS = {
    "drive": ("drive.files.list", "drive.files.get", "drive.changes.list", "drive.files.export"),
    "gmail": ("gmail.users.messages.list", "gmail.users.messages.get", "gmail.users.history.list"),
    "calendar": ("calendar.events.list", "calendar.events.insert", "calendar.events.patch"),
    "admin": ("directory.users.list", "directory.groups.list", "directory.members.list"),
}


def gws(integ: Integration, st: State, ts: float, n: int, rng: random.Random, ip: str, ua: str) -> list[Ev]:
    out: list[Ev] = []
    for _ in range(n):
        api = _pick(st.objects, rng) or "drive"
        method = rng.choice(GWS_METHODS.get(api, GWS_METHODS["drive"]))
        user = f"{rng.choice(FIRST)}.{rng.choice(LAST)}@acme.example"
        size = int(rng.lognormvariate(8.5, 1.2))
        out.append(
            Ev(
                ts,
                "gws",
                "activity",
                integ,
                ip=ip,
                ua=ua,
                target=api,
                size=size,
                extra={"method": method, "user": user},
            )
        )
        ts += rng.uniform(0.2, 5)
    return out


def auth_failure(integ: Integration, ts: float, ip: str, ua: str, cred: str, code: int) -> Ev:
    """One failed authentication in the integration's own source (401 / 403 / an AADSTS code)."""
    src = integ.source
    if src == "okta":
        return Ev(
            ts, "okta", "app.oauth2.as.token.grant.access_token", integ, ip=ip, ua=ua, status=401, cred=cred
        )
    if src == "graph":
        return Ev(
            ts, "entra", "signin", integ, ip=ip, ua=ua, status=code, cred=cred, target="Microsoft Graph"
        )
    if src == "salesforce":
        return Ev(
            ts,
            "salesforce",
            "login",
            integ,
            ip=ip,
            ua=ua,
            status=401,
            extra={"login_status": "LOGIN_ERROR_INVALID_GATEWAY"},
        )
    if src == "github":
        return Ev(
            ts,
            "github",
            "api.request",
            integ,
            ip=ip,
            ua=ua,
            status=401,
            target="acme/web",
            cred=cred,
            extra={"method": "GET", "route": "/repos/{owner}/{repo}"},
        )
    error = "InvalidClientTokenId" if code == 403 and integ.kind != "iam_role" else "AccessDenied"
    return Ev(
        ts,
        "cloudtrail",
        "ListBuckets",
        integ,
        ip=ip,
        ua=ua,
        status=403,
        cred=cred,
        extra={
            "es": "s3.amazonaws.com",
            "error": error,
            "error_message": "The security token included in the request is invalid."
            if error == "InvalidClientTokenId"
            else "Access Denied",
        },
    )


SESSIONS: dict[str, Builder] = {
    "salesforce": salesforce,
    "github": github,
    "okta": okta,
    "gws": gws,
    "graph": graph,
    "slack": slack,
    "cloudtrail": cloudtrail,
}
