"""Benign irregularities that look suspicious: vendor outages and catch-up re-syncs, new legitimate
destinations, jobs that only run at the start of a quarter (silent for weeks, then back), and broken
credentials failing for days until someone rotates them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from nhiwatch.simulate.calendar import Hour, is_business_day
from nhiwatch.simulate.model import Ev, Integration, Ticket
from nhiwatch.simulate.sessions import SESSIONS, State, auth_failure

LEGIT_NEW_HOSTS = (
    "o4504871.ingest.sentry.io",
    "api.honeycomb.io",
    "http-intake.logs.datadoghq.com",
    "objects.githubusercontent.com",
    "storage.googleapis.com",
    "api.segment.io",
    "hooks.slack.com",
    "pypi.org",
    "files.pythonhosted.org",
)
OUTAGE_SOURCES = {"salesforce": "Salesforce", "github": "GitHub", "okta": "Okta", "gws": "Google Workspace"}


@dataclass(frozen=True)
class Outage:
    source: str
    t0: float
    t1: float


def plan_outage(start: date, days: int, rng: random.Random) -> tuple[Outage, Ticket]:
    """One vendor incident: an hour or three of errors on a working day, and a company-wide ticket."""
    lo = min(3, max(0, days - 2))
    day = start + timedelta(days=rng.randint(lo, max(lo, days - 2)))
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    t0 = datetime(day.year, day.month, day.day, rng.randint(13, 19), tzinfo=UTC).timestamp() + rng.uniform(
        0, 3600
    )
    t1 = t0 + rng.uniform(1, 3) * 3600
    source = rng.choice(sorted(OUTAGE_SOURCES))
    ticket = Ticket(
        f"INC-{day:%m%d}",
        t0 - rng.uniform(0, 900),
        t1 + rng.uniform(3600, 4 * 3600),
        "",
        f"{OUTAGE_SOURCES[source]} incident: API errors, connectors re-sync afterwards",
    )
    return Outage(source, t0, t1), ticket


def outage_effects(
    integ: Integration,
    st: State,
    sessions: list[tuple[float, int]],
    outage: Outage | None,
    rng: random.Random,
) -> tuple[list[tuple[float, int]], list[Ev]]:
    """Sessions during the outage fail (and are dropped); a catch-up burst follows its end."""
    if outage is None or integ.source != outage.source:
        return sessions, []
    kept = [(t, n) for t, n in sessions if not outage.t0 <= t < outage.t1]
    failed: list[Ev] = []
    build = SESSIONS[integ.source]
    missed = 0
    for t, n in sessions:
        if outage.t0 <= t < outage.t1:
            missed += n
            for e in build(integ, st, t, 1, rng, rng.choice(integ.ips) if integ.ips else "", integ.ua):
                e.status = 503 if e.status < 400 else e.status
                e.n = 0
                failed.append(e)
    if missed:
        t = outage.t1 + rng.uniform(60, 900)
        end = t + rng.uniform(1800, 5400)
        per = max(2, missed // max(1, int((end - t) / 240)))
        while t < end:
            kept.append((t, per))
            t += rng.uniform(120, 360)
    return kept, failed


def maybe_new_host(integ: Integration, hours: tuple[Hour, ...], rng: random.Random) -> None:
    """A self-hosted worker starts calling one more legitimate service part-way through (error reporting,
    telemetry, a package mirror). Half the time the inventory's allowed destinations already list it."""
    if integ.egress is None or rng.random() > 0.2 or not hours:
        return
    host = rng.choice([h for h in LEGIT_NEW_HOSTS if h not in integ.egress.hosts])
    integ.extra["new_host"] = (rng.choice(hours).ts, host)
    if rng.random() < 0.5:
        integ.destinations.append(host)


def quarter_start_only(integ: Integration, sessions: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """A quarterly job keeps only its runs on the first three business days of a quarter (local time)."""
    if not integ.extra.get("quarterly"):
        return sessions
    region = integ.tz.split("/", 1)[0]
    zone = ZoneInfo(integ.tz)
    kept = []
    for t, n in sessions:
        d = datetime.fromtimestamp(t, zone).date()
        if d.month in (1, 4, 7, 10) and is_business_day(d, region) and _bd_rank(d, region) < 3:
            kept.append((t, n * 3))
    return kept


def _bd_rank(d: date, region: str) -> int:
    return sum(is_business_day(d.replace(day=k), region) for k in range(1, d.day))


BROKEN_CODES = {"graph": 7000222, "okta": 401, "salesforce": 401, "github": 401, "cloudtrail": 403}


def broken_credential(
    integ: Integration,
    st: State,
    sessions: list[tuple[float, int]],
    hours: tuple[Hour, ...],
    rng: random.Random,
) -> tuple[list[tuple[float, int]], list[Ev], list[tuple[float, str]]]:
    """An expired secret or a revoked token nobody noticed: every run fails to authenticate (with retries,
    from the usual network) for one to four days, until someone issues a new credential."""
    code = BROKEN_CODES.get(integ.source)
    if code is None or integ.shadow or rng.random() > 0.04 or not hours or not sessions:
        return sessions, [], []
    t0 = rng.choice(hours).ts
    t1 = t0 + rng.uniform(1, 4) * 86400
    failed: list[Ev] = []
    for t, _ in sessions:
        if t0 <= t < t1:
            ip = rng.choice(integ.ips) if integ.ips else ""
            for k in range(rng.randint(1, 3)):
                failed.append(auth_failure(integ, t + k * rng.uniform(2, 30), ip, integ.ua, st.cred, code))
    kept = [(t, n) for t, n in sessions if not t0 <= t < t1]
    fix = [(t1, new_credential(st.cred, rng))] if st.cred else []
    return kept, failed, fix


def new_credential(old: str, rng: random.Random) -> str:
    """A fresh id of the same shape as ``old`` (digits, GUID, or vendor prefix + characters)."""
    if old.isdigit():
        return str(rng.randint(10 ** (len(old) - 1), 10 ** len(old) - 1))
    if "-" in old and len(old) == 36:
        h = f"{rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
    prefix = old[:4] if old.startswith(("AKIA", "ASIA")) else old[:3]
    upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    alphabet = (
        upper if prefix.startswith("AKIA") else "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    )
    return prefix + "".join(rng.choice(alphabet) for _ in range(len(old) - len(prefix)))
