"""The people around the integrations: employees signing in, pushing code, browsing and using consoles.

Real audit logs are mostly human. Employees work in their own time zones on business days (with the odd
late evening or weekend), sign in to Okta and single-sign-on to apps, engineers clone and push and look
around AWS through SSO roles, sales reps log in to Salesforce, and everyone's browsing goes through the
office proxy. None of them is an integration: they are the background a detector must not confuse
with non-human identities.
"""

from __future__ import annotations

import random
from datetime import date

from nhiwatch.simulate.calendar import local_hours
from nhiwatch.simulate.company import REPOS, stable_ip
from nhiwatch.simulate.model import Ev, Integration
from nhiwatch.simulate.session_state import poisson
from nhiwatch.simulate.sessions import FIRST, LAST

APPS = (
    "Salesforce",
    "GitHub Enterprise Cloud",
    "Slack",
    "Google Workspace",
    "AWS IAM Identity Center",
    "Zoom",
    "Jira Software",
    "Workday",
)
BROWSERS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.6; rv:133.0) Gecko/20100101 Firefox/133.0",
)
WEB_HOSTS = (
    "www.google.com",
    "docs.google.com",
    "mail.google.com",
    "acme.slack.com",
    "zoom.us",
    "github.com",
    "acme.atlassian.net",
    "www.linkedin.com",
    "stackoverflow.com",
    "news.ycombinator.com",
    "login.okta.com",
    "acme.my.salesforce.com",
    "www.youtube.com",
    "outlook.office365.com",
    "chatgpt.com",
    "www.figma.com",
)
AWS_READS = (
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("s3.amazonaws.com", "ListBuckets"),
    ("logs.amazonaws.com", "FilterLogEvents"),
    ("cloudformation.amazonaws.com", "DescribeStacks"),
    ("lambda.amazonaws.com", "ListFunctions20150331"),
    ("iam.amazonaws.com", "GetRole"),
)
HOME_PREFIXES = ("73.", "98.", "24.", "86.", "174.", "71.", "81.", "126.")
TZS = (
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)


def _person(k: int, rng: random.Random) -> Integration:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"{first}.{last}{k}@acme.example"
    role = rng.choices(("eng", "sales", "other"), weights=(4, 3, 3))[0]
    p = Integration(
        id=f"person-{k}",
        name=f"{first.title()} {last.title()}",
        owner="",
        purpose="",
        kind="user",
        vendor="",
        risk_tier="low",
        sensitivity="internal",
        partner_managed=False,
        source="",
        ids={"actor": f"{first}{last}{k}"},
        scopes=[],
        destinations=[],
        tz=rng.choice(TZS),
        pattern="business",
        shadow=True,
    )
    p.extra = {
        "role": role,
        "actor_id": 200_000 + k,
        "okta_id": "00u" + f"{rng.getrandbits(60):015x}",
        "user_id": "0055e00001" + f"{k:05d}",
        "user_name": email,
        "email": email,
        "laptop": f"10.60.{200 + k % 50}.{2 + k // 50 % 250}",
        "home": rng.choice(HOME_PREFIXES) + ".".join(str(rng.randint(1, 254)) for _ in range(3)),
        "ua": rng.choice(BROWSERS),
    }
    p.ips = ["198.51.100.40", p.extra["home"]]
    return p


def human_events(people: int, start: date, days: int, rng: random.Random) -> list[Ev]:
    """Every employee's activity over the window."""
    out: list[Ev] = []
    for k in range(people):
        p = _person(k, rng)
        workdays = sorted(
            {h.day for h in local_hours(p.tz, start, days) if h.business_day or rng.random() < 0.003}
        )
        hours = {(h.day, h.hour): h.ts for h in local_hours(p.tz, start, days)}
        for d in workdays:
            begin = hours.get((d, 8 + rng.randint(0, 2)))
            if begin is None:
                continue
            span = rng.uniform(6, 10) * 3600
            out.extend(_day(p, begin + rng.uniform(0, 3600), span, rng))
    return out


def _day(p: Integration, t0: float, span: float, rng: random.Random) -> list[Ev]:
    x = p.extra
    remote = rng.random() < 0.35
    ip = x["home"] if remote else "198.51.100.40"
    ua = x["ua"]
    out: list[Ev] = []
    if rng.random() < 0.04:
        out.append(Ev(t0 - 20, "okta", "user.session.start", p, ip=ip, ua=ua, status=401))
    out.append(Ev(t0, "okta", "user.session.start", p, ip=ip, ua=ua))
    for _ in range(poisson(5, rng)):
        out.append(
            Ev(
                t0 + rng.uniform(0, span),
                "okta",
                "user.authentication.sso",
                p,
                ip=ip,
                ua=ua,
                target=rng.choice(APPS),
            )
        )
    role = x["role"]
    if role == "eng":
        for _ in range(poisson(6, rng)):
            op = rng.choices(
                ("git.fetch", "git.clone", "git.push", "pull_request.create"), weights=(4, 1.5, 3.5, 1)
            )[0]
            out.append(
                Ev(
                    t0 + rng.uniform(0, span),
                    "github",
                    op,
                    p,
                    ip=ip,
                    ua="git/2.47.1" if op[0] == "g" else ua,
                    target=f"acme/{rng.choice(REPOS)}",
                )
            )
        if int(x["user_id"][-2:]) % 2 == 0:
            ident = {
                "type": "AssumedRole",
                "principalId": f"AROAACMESSODEV:{x['email']}",
                "arn": f"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_DeveloperAccess_5f2e/{x['email']}",
                "accountId": "111122223333",
                "accessKeyId": "ASIA" + f"{rng.getrandbits(64):016X}",
            }
            cli = rng.random() < 0.5
            for _ in range(poisson(8, rng)):
                es, name = rng.choice(AWS_READS)
                out.append(
                    Ev(
                        t0 + rng.uniform(0, span),
                        "cloudtrail",
                        name,
                        p,
                        ip=ip,
                        ua="aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/macos" if cli else ua,
                        target=es.split(".")[0],
                        extra={"es": es, "identity": ident, "write": False},
                    )
                )
    elif role == "sales":
        for _ in range(rng.randint(1, 3)):
            out.append(
                Ev(
                    t0 + rng.uniform(0, span),
                    "salesforce",
                    "login",
                    p,
                    ip=ip,
                    ua=ua,
                    extra={"uri": "/index.jsp", "login_type": "Application"},
                )
            )
    if not remote:
        for _ in range(poisson(18, rng)):
            host = rng.choice(WEB_HOSTS)
            out.append(
                Ev(
                    t0 + rng.uniform(0, span),
                    "egress",
                    "flow",
                    p,
                    ip=x["laptop"],
                    target=host,
                    n=rng.randint(800, 20000),
                    size=int(rng.lognormvariate(10, 1.5)),
                    extra={"dst": stable_ip(host, "gcp"), "dur": rng.uniform(0.2, 60), "sensor": "squid"},
                )
            )
    return out
