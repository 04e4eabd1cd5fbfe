"""Sessions in the Microsoft Graph / Entra, Slack and AWS CloudTrail logs (see :mod:`.sessions`)."""

from __future__ import annotations

import random

from nhiwatch.simulate.model import Ev, Integration
from nhiwatch.simulate.session_state import State
from nhiwatch.simulate.session_state import pick as _pick
from nhiwatch.simulate.session_state import retry as _retry

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
