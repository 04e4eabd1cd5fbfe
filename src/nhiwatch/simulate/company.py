"""The simulated company: its integrations (inventory and shadow ones) and the identities they show.

Each integration is a :class:`~nhiwatch.simulate.catalog.Template` instantiated with its own time zone,
schedule, volume, network location and credentials, all drawn from one seeded RNG, so the same seed
gives the same company.
"""

from __future__ import annotations

import hashlib
import random
import string
from typing import Any

from nhiwatch.simulate.catalog import QUALIFIERS, SHADOW, TEAMS, TEMPLATES, TIMEZONES, Template
from nhiwatch.simulate.model import Egress, Integration

COMPANY = "acme"
DOMAIN = "acme.example"
SF_ORG = "00D5e000000AcmeQ"
GITHUB_ORG = "acme"
AWS_ACCOUNT = "111122223333"
ENTRA_TENANT = "7b1c3e2a-5d4f-4a8b-9c6e-2f1d0a3b4c5d"
GWS_CUSTOMER = "C03az79cb"
NAT_IPS = ("198.51.100.10", "198.51.100.11", "198.51.100.12", "198.51.100.20")
CLOUD_BLOCKS = {
    "aws": ("3.", "18.", "34.", "52.", "54."),
    "gcp": ("34.", "35."),
    "azure": ("20.", "40.", "52."),
}
SENSORS = {"zeek": "10.20", "vpcflow": "10.40", "squid": "10.60"}
API_HOSTS = {
    "salesforce": ("acme.my.salesforce.com", "login.salesforce.com"),
    "github": ("api.github.com", "github.com"),
    "okta": ("acme.okta.com",),
    "gws": ("www.googleapis.com", "oauth2.googleapis.com"),
    "graph": ("graph.microsoft.com", "login.microsoftonline.com"),
    "slack": ("slack.com", "files.slack.com"),
    "cloudtrail": ("s3.us-east-1.amazonaws.com", "sts.amazonaws.com"),
}
REPOS = (
    "payments-api",
    "web",
    "mobile-app",
    "infra",
    "terraform-modules",
    "docs",
    "billing-service",
    "auth-service",
    "data-pipeline",
    "ml-models",
    "design-system",
    "search",
    "notifications",
    "admin-portal",
    "cli",
    "sdk-python",
    "sdk-js",
    "helm-charts",
    "ops-runbooks",
    "marketing-site",
    "etl-jobs",
    "fraud-detection",
    "gateway",
    "ledger",
    "reporting",
    "event-bus",
    "feature-flags",
    "identity",
    "checkout",
    "catalog",
    "inventory",
    "shipping",
)


def rand_id(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def stable_ip(host: str, cloud: str = "aws") -> str:
    """A fixed public-looking address for a host name (for flow logs, which only see addresses)."""
    h = hashlib.sha256(host.encode()).digest()
    blocks = CLOUD_BLOCKS.get(cloud, CLOUD_BLOCKS["aws"])
    return f"{blocks[h[0] % len(blocks)]}{h[1]}.{h[2]}.{1 + h[3] % 253}"


def concrete_host(pattern: str, rng: random.Random) -> str:
    if not pattern.startswith("*."):
        return pattern
    return rng.choice(("api", "app", "sync", "eu1", "us2")) + pattern[1:]


def _identities(t: Template, rng: random.Random) -> tuple[dict[str, str], dict[str, Any]]:
    """Identity keys in the primary source, plus hidden per-source attributes."""
    src, k = t.source, t.kind
    extra: dict[str, Any] = {}
    ids: dict[str, str] = {}
    if src == "salesforce":
        ids = {"client_id": "0H4" + rand_id(rng, 12), "app_name": t.app}
        extra["user_id"] = "0055e00000" + rand_id(rng, 5)
        extra["user_name"] = f"{t.slug}.integration@{DOMAIN}"
    elif src == "github":
        if k == "github_app":
            ids = {"installation_id": str(rng.randint(10_000_000, 60_000_000)), "app_name": t.app}
        elif k == "oauth_app":
            ids = {"app_id": str(rng.randint(1000, 900_000)), "app_name": t.app}
            extra["on_behalf"] = rng.choice(("jsmith", "mlee", "akumar", "platform-admin"))
        else:
            ids = {"actor": t.app, "token_id": str(rng.randint(100_000_000, 999_999_999))}
        extra["actor_id"] = rng.randint(1_000_000, 90_000_000)
    elif src == "okta":
        if k == "api_token":
            ids = {"actor": t.app, "token_id": "00T" + rand_id(rng, 17)}
        else:
            ids = {"client_id": "0oa" + rand_id(rng, 17)}
        extra["app_name"] = t.app
    elif src == "gws":
        ids = {"client_id": str(rng.randint(10**20, 10**21 - 1)), "app_name": t.app}
    elif src == "graph":
        ids = {"app_id": _guid(rng)}
        extra["sp_id"] = _guid(rng)
        extra["key_id"] = _guid(rng)
        extra["app_name"] = t.app
    elif src == "slack":
        ids = {"app_id": "A0" + rand_id(rng, 9, string.ascii_uppercase + string.digits), "app_name": t.app}
        extra["bot_user"] = "U0" + rand_id(rng, 9, string.ascii_uppercase + string.digits)
    elif src == "cloudtrail":
        if k == "iam_role":
            ids = {"role_arn": f"arn:aws:iam::{AWS_ACCOUNT}:role/{t.app}"}
            extra["role_id"] = "AROA" + rand_id(rng, 17, string.ascii_uppercase + string.digits)
        else:
            ids = {
                "actor": t.app,
                "access_key_id": "AKIA" + rand_id(rng, 16, string.ascii_uppercase + "234567"),
            }
        extra["external"] = t.hosted == "partner"
    return ids, extra


def _guid(rng: random.Random) -> str:
    h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


def _schedule(t: Template, integ: Integration, rng: random.Random) -> None:
    integ.pattern = rng.choice(t.patterns)
    integ.hours = rng.choice(((7, 19), (8, 18), (9, 17), (8, 20), (6, 18)))
    integ.weekdays = "mon-sat" if rng.random() < 0.1 else "mon-fri"
    if integ.pattern == "nightly":
        integ.weekdays = rng.choice(("mon-sun", "mon-sun", "mon-fri"))
        integ.nightly_at = (rng.choice((0, 1, 2, 2, 2, 3, 4, 23)), rng.choice((0, 0, 15, 30, 45)))
    if integ.pattern == "cadence":
        base = int(t.extra.get("every", "15"))
        integ.every_min = rng.choice([base, base, max(5, base // 2), base * 2]) if base < 240 else base


VOLUME_SCALE = {"salesforce": 0.6, "cloudtrail": 0.7}
USED_IPS: set[str] = set()
SENSOR_ORDER = ("zeek", "vpcflow", "squid")


def make_integration(t: Template, slug: str, rng: random.Random, *, shadow: bool = False) -> Integration:
    ids, extra = _identities(t, rng)
    team = rng.choice(TEAMS)
    owner = "" if shadow or rng.random() < 0.06 else f"{team}@{DOMAIN}"
    purpose = "" if shadow or rng.random() < 0.05 else t.purpose
    dests = list(t.destinations) + [h for h in API_HOSTS.get(t.source, ())[:1] if h not in t.destinations]
    integ = Integration(
        id=slug,
        name=t.name or t.app,
        owner=owner,
        purpose=purpose,
        kind=t.kind,
        vendor=t.vendor or "unknown",
        risk_tier=t.tier,
        sensitivity=t.sensitivity,
        partner_managed=t.hosted == "partner",
        source=t.source,
        ids=ids,
        scopes=list(t.scopes),
        destinations=dests,
        tz=rng.choice(TIMEZONES),
        pattern="business",
        rate=t.rate * rng.lognormvariate(0, 0.35),
        ops=t.ops,
        ua=t.ua,
        shadow=shadow,
        extra=extra,
    )
    _schedule(t, integ, rng)
    scale = VOLUME_SCALE.get(t.source, 1.0)  # keeps the default run near 1.5-2 M log records
    integ.ops = max(1.0, integ.ops * scale)
    if integ.pattern == "nightly":
        integ.rate *= scale
    if t.hosted == "partner":
        cloud = rng.choice(("aws", "aws", "gcp", "azure"))
        integ.ips = [stable_ip(f"{t.vendor}-{i}", cloud) for i in range(rng.randint(1, 4))]
    else:
        integ.ips = [rng.choice(NAT_IPS)]
        sensor = (
            SENSOR_ORDER[len(USED_IPS)]
            if len(USED_IPS) < 3
            else rng.choice(("zeek", "zeek", "vpcflow", "squid"))
        )
        prefix = SENSORS[sensor]
        api = list(API_HOSTS.get(t.source, ()))
        hosts = api + [concrete_host(d, rng) for d in t.destinations if not (api and d.startswith("*."))]
        worker = f"{prefix}.{rng.randint(1, 30)}.{rng.randint(2, 250)}"
        while worker in USED_IPS:
            worker = f"{prefix}.{rng.randint(1, 30)}.{rng.randint(2, 250)}"
        USED_IPS.add(worker)
        integ.egress = Egress(
            sensor, worker, list(dict.fromkeys(hosts)), eni="eni-0" + rand_id(rng, 16, "0123456789abcdef")
        )
    if t.finance:
        integ.month_end = "declared" if rng.random() < 0.7 else "undeclared"
    elif rng.random() < 0.05:
        integ.month_end = "undeclared"
    integ.month_end_days = rng.choice((2, 3, 3, 4))
    integ.month_end_factor = rng.uniform(2.0, 6.0)
    if (
        t.kind in ("pat", "api_token", "service_account", "service_principal", "ci_workflow")
        and rng.random() < 0.5
    ):
        integ.rotation_days = rng.choice((7, 14, 30))
    integ.fail_rate = rng.uniform(0.002, 0.02)
    integ.growth = rng.choice((0.0, 0.0, 0.002, 0.005, 0.01))
    integ.objects = _objects(t, rng)
    integ.tenant = {
        "salesforce": SF_ORG,
        "github": GITHUB_ORG,
        "cloudtrail": AWS_ACCOUNT,
        "graph": ENTRA_TENANT,
        "gws": GWS_CUSTOMER,
    }.get(t.source, COMPANY)
    return integ


def _objects(t: Template, rng: random.Random) -> list[str]:
    if t.source == "github":
        k = len(REPOS) if t.patterns == ("nightly",) else rng.randint(3, 14)
        return [f"{GITHUB_ORG}/{r}" for r in rng.sample(REPOS, k)]
    return list(t.objects)


def _imperfections(company: list[Integration], rng: random.Random) -> None:
    """Make sure even a small inventory has an ownerless and a purpose-less entry, and a quarterly job."""
    if len(company) < 4:
        return
    if all(i.owner for i in company):
        rng.choice(company[1:]).owner = ""
    if all(i.purpose for i in company):
        rng.choice(company[1:]).purpose = ""
    nightly = [i for i in company if i.pattern == "nightly" and i.source]
    for integ in rng.sample(nightly, min(len(nightly), max(1, len(company) // 60))):
        integ.extra["quarterly"] = True


def build_company(n: int, rng: random.Random) -> list[Integration]:
    """``n`` inventory integrations followed by a few shadow ones (not in the inventory)."""
    out: list[Integration] = []
    used: set[str] = set()
    USED_IPS.clear()
    weights = [t.weight for t in TEMPLATES]
    order = list(TEMPLATES)
    rng.shuffle(order)
    # one integration of every source first, so that even a small company shows up in every log
    firsts = list({t.source: t for t in reversed(order)}.values())
    order = firsts + [t for t in order if t not in firsts]
    picks = order[: min(n, len(order))]
    picks += rng.choices(TEMPLATES, weights=weights, k=max(0, n - len(picks)))
    for t in picks:
        slug = t.slug
        while slug in used:
            slug = f"{t.slug}-{rng.choice(QUALIFIERS)}" + (
                "" if rng.random() < 0.7 else str(rng.randint(2, 9))
            )
        used.add(slug)
        integ = make_integration(t, slug, rng)
        if slug != t.slug:
            qual = slug.removeprefix(t.slug + "-")
            if "user_name" in integ.extra:
                integ.extra["user_name"] = f"{slug}.integration@{DOMAIN}"
            integ.name = f"{integ.name} ({qual})"
            if "role_arn" in integ.ids:  # a second role, not the same ARN twice
                integ.ids["role_arn"] += f"-{qual}"
            if "actor" in integ.ids:  # a second machine user, not the same login twice
                user, at, dom = integ.ids["actor"].partition("@")
                integ.ids["actor"] = f"{user}-{qual}{at}{dom}"
        out.append(integ)
    _imperfections(out, rng)
    for t in SHADOW[: max(2, min(len(SHADOW), n // 25))]:
        out.append(make_integration(t, f"shadow-{t.slug}", rng, shadow=True))
    return out
