"""Attacks seen in SaaS audit logs: stolen CRM tokens, probing, scope growth, new app secrets, dormant keys."""

from __future__ import annotations

from typing import Any

from nhiwatch.simulate.attacks.base import Ctx
from nhiwatch.simulate.model import Ev
from nhiwatch.simulate.sessions import auth_failure

SF_RECON = ("Account", "Contact", "User", "Opportunity", "Case")
SF_LOOT = ("Case", "Account", "User", "Contact", "Opportunity")


def drift_token_theft(ctx: Ctx) -> None:
    """Salesloft Drift, Aug 2025: recon with COUNT()/describe from a VPS, then a Bulk API 2.0 export, deleted."""
    integ = ctx.pick(lambda i: i.source == "salesforce" and i.partner_managed)
    if integ is None:
        return
    rng = ctx.rng
    ip = ctx.ip(rng.choice(("vps", "vps", "tor", "cloud")))
    ua = ctx.tool_ua(integ)
    t = ctx.when(integ, (rng.choice((0, 1, 2, 22)), rng.choice((4, 5, 23))), earliest=0.5)
    st = ctx.state(integ)
    st.last_auth = -1e18
    evs: list[Ev] = []
    recon_days = rng.randint(0, min(3, max(0, int((ctx.t1 - t) / 86400) - 1)))
    for d in range(recon_days + 1):
        ts = t + d * 86400 + rng.uniform(-1800, 1800)
        evs.append(Ev(ts, "salesforce", "login", integ, ip=ip, ua=ua, cred=st.cred))
        for obj in rng.sample(SF_RECON, rng.randint(2, len(SF_RECON))):
            ts += rng.uniform(1, 20)
            q = "describe" if rng.random() < 0.4 else "count"
            uri = (
                f"/services/data/v60.0/sobjects/{obj}/describe"
                if q == "describe"
                else "/services/data/v60.0/query"
            )
            evs.append(
                Ev(
                    ts,
                    "salesforce",
                    "rest",
                    integ,
                    ip=ip,
                    ua=ua,
                    target=obj,
                    n=1,
                    size=rng.randint(300, 90000),
                    extra={"method": "GET", "uri": uri, "soql": f"SELECT COUNT() FROM {obj}"},
                )
            )
    ts = evs[-1].ts + rng.uniform(60, 1200)
    loot = rng.sample(SF_LOOT, rng.randint(1, 3))
    mult = rng.choice((20, 50, 100, 300))
    total = 0
    delete_after = rng.uniform(15, 90)
    for obj in loot:
        rows = int(rng.lognormvariate(7.5, 0.8) * mult)
        total += rows
        evs.append(
            Ev(
                ts,
                "salesforce",
                "bulk",
                integ,
                ip=ip,
                ua=ua,
                target=obj,
                n=rows,
                size=rows * 1100,
                extra={"delete_after": delete_after},
            )
        )
        ts += rows / 4000 + delete_after + rng.uniform(5, 60)
    ctx.add(
        "drift_token_theft",
        integ,
        evs,
        f"Stolen OAuth token of {integ.name}: recon from {ip} ({ua}), then Bulk API 2.0 export of "
        f"{', '.join(loot)} ({total} rows) with the jobs deleted",
        {
            "src_ip": ip,
            "user_agent": ua,
            "objects": loot,
            "rows": total,
            "recon_days": recon_days + 1,
            "job_deleted": True,
            "volume_multiplier": mult,
        },
    )


PROBE_FAIL = {"okta": 401, "graph": 7000215, "salesforce": 401, "github": 401, "cloudtrail": 403}


def probing(ctx: Ctx) -> None:
    """A burst of authentication failures, then a success and activity from the same new network."""
    integ = ctx.pick(lambda i: i.source in PROBE_FAIL and (i.source != "okta" or i.kind != "api_token"))
    if integ is None:
        return
    rng = ctx.rng
    ip = ctx.ip(rng.choice(("vps", "tor", "residential", "cloud")))
    ua = ctx.tool_ua(integ)
    t = ctx.when(integ)
    st = ctx.state(integ)
    tries = rng.randint(12, 150)
    span = rng.choice((120, 600, 3600, 4 * 3600))
    evs: list[Ev] = []
    for k in range(tries):
        ts = t + span * k / tries + rng.uniform(0, 3)
        evs.append(auth_failure(integ, ts, ip, ua, st.cred, PROBE_FAIL[integ.source]))
    st.last_auth = -1e18
    evs.extend(ctx.session(integ, st, t + span + rng.uniform(5, 120), max(3, int(integ.ops * 3)), ip, ua))
    ctx.add(
        "probing",
        integ,
        evs,
        f"{tries} authentication failures in {span // 60} min from {ip}, then success",
        {
            "src_ip": ip,
            "user_agent": ua,
            "failures": tries,
            "span_seconds": span,
            "error": str(PROBE_FAIL[integ.source]),
        },
    )


def scope_expansion(ctx: Ctx) -> None:
    """New scopes granted or new object types, tenants or buckets touched, by an otherwise normal integration."""
    integ = ctx.pick(
        lambda i: (
            i.source in ("okta", "gws", "graph", "slack", "cloudtrail", "salesforce")
            and i.kind != "api_token"
        )
    )
    if integ is None:
        return
    rng = ctx.rng
    t = ctx.when(integ, (9, 18))
    ip = integ.ips[0] if integ.ips else ctx.ip()
    ua = integ.ua
    st = ctx.state(integ)
    evs: list[Ev] = []
    src = integ.source
    if src == "okta":
        new = (
            ["okta.apps.manage", "okta.roles.manage"]
            if "okta.apps.manage" not in integ.scopes
            else ["okta.roles.manage"]
        )
        scopes = [*integ.scopes, *new]
        evs.append(
            Ev(
                t,
                "okta",
                "app.oauth2.as.token.grant.access_token",
                integ,
                ip=ip,
                ua=ua,
                extra={"scopes": scopes},
            )
        )
        for k in range(rng.randint(2, 8)):
            evs.append(
                Ev(
                    t + 5 + k * rng.uniform(2, 30),
                    "okta",
                    rng.choice(("application.lifecycle.update", "policy.rule.update")),
                    integ,
                    ip=ip,
                    ua=ua,
                    target="Okta Admin Console",
                )
            )
        what = f"new scopes {new}"
    elif src == "gws":
        new = ["https://mail.google.com/", "https://www.googleapis.com/auth/drive"]
        user = "ceo@acme.example"
        evs.append(
            Ev(t, "gws", "authorize", integ, ip=ip, extra={"scopes": [*integ.scopes, *new], "user": user})
        )
        for k in range(rng.randint(20, 200)):
            evs.append(
                Ev(
                    t + 30 + k * rng.uniform(1, 10),
                    "gws",
                    "activity",
                    integ,
                    ip=ip,
                    target="gmail",
                    size=int(rng.lognormvariate(10, 1)),
                    extra={"method": "gmail.users.messages.get", "user": user},
                )
            )
        what = f"new scopes {new} and Gmail reads"
    elif src == "graph":
        new = [
            rng.choice(
                ("Mail.ReadWrite", "Files.ReadWrite.All", "Directory.ReadWrite.All", "full_access_as_app")
            )
        ]
        evs.append(Ev(t, "entra", "consent", integ, ip=ip, extra={"role": new[0]}))
        st.objects = ["messages", "drives"]
        evs.extend(ctx.session(integ, st, t + rng.uniform(60, 3600), rng.randint(30, 300), ip, ua))
        for e in evs:
            if e.source == "graph":
                e.extra = {**(e.extra or {}), "roles": [*integ.scopes, *new]}
        what = f"new application permission {new[0]}"
    elif src == "slack":
        new = ["channels:history", "files:read", "users:read.email", "admin.conversations:read"]
        evs.append(
            Ev(
                t,
                "slack",
                "app_scopes_expanded",
                integ,
                ip="",
                ua="",
                extra={
                    "new_scopes": [*integ.scopes, *new],
                    "previous_scopes": integ.scopes,
                    "scopes": [*integ.scopes, *new],
                },
            )
        )
        for k in range(rng.randint(10, 60)):
            evs.append(
                Ev(
                    t + 60 + k * rng.uniform(5, 60),
                    "slack",
                    "file_downloaded",
                    integ,
                    ip=ip,
                    ua=ua,
                    target=f"F0{rng.getrandbits(36):09X}",
                )
            )
        what = f"Slack scopes expanded with {new}"
    elif src == "cloudtrail":
        bucket = rng.choice(("acme-finance-exports", "acme-hr-archive", "acme-prod-secrets-backup"))
        st.objects = [bucket]
        evs.extend(ctx.session(integ, st, t, rng.randint(20, 200), ip, ua))
        for e in evs:
            if e.source == "cloudtrail" and e.target == bucket and e.extra:
                e.op, e.extra["write"] = "GetObject", False
        new = [bucket]
        what = f"reads from new bucket {bucket}"
    else:
        new = rng.sample(["User", "Case", "ContentVersion", "Payroll__c", "Contract", "EmailMessage"], 2)
        st.objects = new
        st.last_auth = t
        evs.extend(ctx.session(integ, st, t, rng.randint(15, 80), ip, ua))
        what = f"new object types {new}"
    ctx.add("scope_expansion", integ, evs, f"{integ.name}: {what}", {"new": new, "source": src})


def new_credential_mailbox(ctx: Ctx) -> None:
    """Midnight Blizzard: a new secret on an old app, then app-only Graph mailbox reads at volume."""
    # an old, little-used app is the classic victim; any Graph app will do when there is none left
    integ = ctx.pick(lambda i: i.source == "graph" and i.rate < 0.5 and i.id not in ctx.used) or ctx.pick(
        lambda i: i.source == "graph"
    )
    if integ is None:
        return
    rng = ctx.rng
    t = ctx.when(integ, (rng.choice((19, 21, 0)), rng.choice((23, 3, 5))))
    proxy = ctx.ip("residential")
    new_key = f"{rng.getrandbits(128):032x}"
    new_key = f"{new_key[:8]}-{new_key[8:12]}-4{new_key[13:16]}-a{new_key[17:20]}-{new_key[20:]}"
    st = ctx.state(integ)
    initiated: dict[str, dict[str, Any]] = {
        "user": {
            "id": "7f3e1d2c-1111-4222-8333-444455556666",
            "displayName": None,
            "userPrincipalName": rng.choice(("test-legacy@acme.example", "svc-migration@acme.example")),
            "ipAddress": proxy,
            "roles": [],
        }
    }
    evs = [
        Ev(
            t,
            "entra",
            "credential_issue",
            integ,
            cred=new_key,
            extra={"old": st.cred, "initiated_by": initiated},
        )
    ]
    st.cred = new_key
    st.last_auth = -1e18
    st.objects = ["messages"]
    ua = rng.choice(("python-requests/2.31.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", integ.ua))
    reads = 0
    ts = t + rng.uniform(600, 6 * 3600)
    for _ in range(rng.randint(2, 8)):
        n = rng.randint(40, 400)
        evs.extend(ctx.session(integ, st, ts, n, proxy, ua))
        reads += n
        ts += rng.uniform(1800, 5 * 3600)
    for e in evs:
        if e.source == "graph" and e.extra is not None:
            e.extra["roles"] = ["Mail.Read", "full_access_as_app"]
    ctx.add(
        "new_credential_mailbox",
        integ,
        evs,
        f"New client secret added to {integ.name} by {initiated['user']['userPrincipalName']}, then {reads} "
        f"app-only mailbox reads from {proxy}",
        {"new_key_id": new_key, "src_ip": proxy, "mailbox_reads": reads, "user_agent": ua},
    )


def dormant_token_reuse(ctx: Ctx) -> None:
    """A token unused for 30+ days wakes at 3 a.m. local from a new network."""
    integ = ctx.pick(
        lambda i: (
            i.kind in ("pat", "api_token", "service_account", "service_principal", "ci_workflow")
            and i.source in ("github", "okta", "cloudtrail", "graph")
        )
    )
    if integ is None:
        return
    rng = ctx.rng
    t = ctx.when(integ, (2, 5), earliest=0.75 if ctx.days >= 40 else 0.5)
    quiet = rng.uniform(30, 45) * 86400
    ctx.silence(integ, max(ctx.t0, t - quiet), ctx.t1)
    ip = ctx.ip(rng.choice(("vps", "residential", "tor", "cloud")))
    ua = ctx.tool_ua(integ)
    st = ctx.state(integ)
    st.last_auth = -1e18
    evs = ctx.session(integ, st, t, rng.randint(5, 40), ip, ua)
    for e in evs:
        if e.source == "cloudtrail" and e.op == "PutObject" and e.extra:
            e.op, e.extra["write"] = "GetObject", False
    ctx.add(
        "dormant_token_reuse",
        integ,
        evs,
        f"{integ.name}: credential silent for {quiet / 86400:.0f} days used again at 3 a.m. local from {ip}",
        {
            "src_ip": ip,
            "user_agent": ua,
            "quiet_days": round(quiet / 86400, 1),
            "credential": st.cred or next(iter(integ.ids.values()), ""),
        },
    )
