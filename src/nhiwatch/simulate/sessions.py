"""What one working session of an integration looks like in its SaaS log, per source.

A session is what a connector does when it wakes up: authenticate if its token expired, then ``n``
API operations on its objects, with the odd transient failure retried after a back-off. Each builder
returns abstract :class:`~nhiwatch.simulate.model.Ev` events; the writers give them their vendor shape.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from nhiwatch.simulate.model import Ev, Integration


@dataclass
class State:
    """Mutable per-integration state while simulating: current credential, token expiry, objects."""

    cred: str
    objects: list[str]
    last_auth: float = -1e18
    auth_ttl: float = 3600.0
    seq: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def poisson(lam: float, rng: random.Random) -> int:
    """Poisson draw: inversion for small means, a rounded normal for large ones."""
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _pick(objs: list[str], rng: random.Random) -> str:
    # Zipf-ish: the first objects are the hot ones
    return objs[min(len(objs) - 1, int(rng.paretovariate(1.2)) - 1)] if objs else ""


Builder = Callable[[Integration, State, float, int, random.Random, str, str], list[Ev]]


def _retry(ev: Ev, rng: random.Random, integ: Integration, fail: int) -> list[Ev]:
    """A transient failure and its retry after a back-off, when the dice say so."""
    if rng.random() >= integ.fail_rate:
        return [ev]
    bad = Ev(
        ev.ts,
        ev.source,
        ev.op,
        integ,
        cred=ev.cred,
        ip=ev.ip,
        ua=ev.ua,
        target=ev.target,
        status=fail,
        extra=ev.extra,
    )
    ev.ts += rng.uniform(2, 90)
    return [bad, ev]


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


GRAPH_URIS = {
    "messages": ("GET", "https://graph.microsoft.com/v1.0/users/{u}/messages?$top=50", 48000),
    "users": ("PATCH", "https://graph.microsoft.com/v1.0/users/{u}", 300),
    "teams": ("POST", "https://graph.microsoft.com/v1.0/teams/{t}/channels/{c}/messages", 900),
    "devices": ("GET", "https://graph.microsoft.com/beta/deviceManagement/managedDevices?$top=100", 90000),
    "sites": ("GET", "https://graph.microsoft.com/v1.0/sites/{s}/drive/root/delta", 60000),
    "drives": ("GET", "https://graph.microsoft.com/v1.0/users/{u}/drive/root/delta", 52000),
}


def graph(integ: Integration, st: State, ts: float, n: int, rng: random.Random, ip: str, ua: str) -> list[Ev]:
    out: list[Ev] = []
    if ts - st.last_auth > st.auth_ttl:
        st.last_auth = ts
        ev = Ev(ts, "entra", "signin", integ, ip=ip, ua=ua, cred=st.cred, target="Microsoft Graph", status=0)
        out.extend(_retry(ev, rng, integ, 90033))
        ts += rng.uniform(0.3, 2)
    for _ in range(n):
        kind = _pick(st.objects, rng) or "users"
        method, uri, size = GRAPH_URIS.get(kind, GRAPH_URIS["users"])
        uri = uri.format(u=_user_guid(rng), t=_user_guid(rng), c="19:general", s=_user_guid(rng))
        ev = Ev(
            ts,
            "graph",
            "call",
            integ,
            ip=ip,
            ua=ua,
            cred=st.cred,
            target=uri,
            size=int(size * rng.uniform(0.2, 1.8)),
            extra={"method": method},
        )
        out.extend(_retry(ev, rng, integ, 429))
        ts += rng.uniform(0.1, 3)
    return out


def _user_guid(rng: random.Random) -> str:
    # a small population of mailbox ids, so volume per mailbox is meaningful
    k = int(rng.paretovariate(0.9)) % 400
    return f"{k:08x}-6c1d-4e2f-9a3b-{(k * 2654435761) % 16**12:012x}"


def slack(integ: Integration, st: State, ts: float, n: int, rng: random.Random, ip: str, ua: str) -> list[Ev]:
    out: list[Ev] = []
    for _ in range(n):
        action = "file_uploaded" if "file" in st.objects else rng.choice(("file_downloaded", "file_uploaded"))
        if "channel" in st.objects:
            action = rng.choice(("file_downloaded", "file_uploaded", "file_downloaded"))
        out.append(
            Ev(ts, "slack", action, integ, ip=ip, ua=ua, target="F0" + f"{rng.getrandbits(40):010X}"[:9])
        )
        ts += rng.uniform(1, 20)
    return out


AWS_CALLS = {
    "ec2": ("ec2.amazonaws.com", ("DescribeInstances", "DescribeVolumes", "DescribeSecurityGroups")),
    "cloudwatch": ("monitoring.amazonaws.com", ("GetMetricData", "ListMetrics")),
    "tag": ("tagging.amazonaws.com", ("GetResources",)),
    "rds": ("rds.amazonaws.com", ("DescribeDBInstances",)),
    "elasticloadbalancing": ("elasticloadbalancing.amazonaws.com", ("DescribeLoadBalancers",)),
    "iam": ("iam.amazonaws.com", ("ListRoles", "GetRole", "ListAttachedRolePolicies")),
    "s3": ("s3.amazonaws.com", ("ListBuckets", "GetBucketPolicy", "GetBucketEncryption")),
    "kms": ("kms.amazonaws.com", ("ListKeys", "DescribeKey")),
    "lambda": ("lambda.amazonaws.com", ("ListFunctions20150331", "GetFunction20150331v2")),
}


def cloudtrail(
    integ: Integration, st: State, ts: float, n: int, rng: random.Random, ip: str, ua: str
) -> list[Ev]:
    out: list[Ev] = []
    if integ.kind == "iam_role" and ts - st.last_auth > st.auth_ttl:
        st.last_auth = ts
        st.extra["session"] = f"{rng.getrandbits(64):016x}"
        st.extra["asia"] = "ASIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        out.append(Ev(ts, "cloudtrail", "AssumeRole", integ, ip=ip, ua=ua, cred=st.cred))
        ts += rng.uniform(0.2, 2)
    for _ in range(n):
        obj = _pick(st.objects, rng) or "ec2"
        if obj.startswith("acme-"):
            put = "backup" in obj
            folder, ext = ("dumps", "sql.gz") if put else ("events", "json.gz")
            key = f"{folder}/{int(ts) // 86400}/{rng.getrandbits(32):08x}.{ext}"
            size = int(rng.lognormvariate(15 if put else 13, 0.6))
            ev = Ev(
                ts,
                "cloudtrail",
                "PutObject" if put else "GetObject",
                integ,
                ip=ip,
                ua=ua,
                cred=st.cred,
                target=obj,
                size=size,
                extra={"key": key, "es": "s3.amazonaws.com", "write": put},
            )
            out.extend(_retry(ev, rng, integ, 503))
            ts += rng.uniform(1, 30)
        else:
            es, names = AWS_CALLS.get(obj, AWS_CALLS["ec2"])
            name = rng.choice(names)
            if integ.ids.get("role_arn", "").endswith("terraform") and rng.random() < 0.2:
                name = rng.choice(
                    ("ModifyInstanceAttribute", "CreateTags", "PutBucketPolicy", "UpdateFunctionCode")
                )
            out.append(
                Ev(
                    ts,
                    "cloudtrail",
                    name,
                    integ,
                    ip=ip,
                    ua=ua,
                    cred=st.cred,
                    target=obj,
                    extra={"es": es, "write": not name.startswith(("Describe", "Get", "List"))},
                )
            )
            ts += rng.uniform(0.05, 2)
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
