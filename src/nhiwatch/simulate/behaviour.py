"""Benign activity: when each integration works, how much, and the routine events around that work.

Per integration, each local hour gets an expected number of sessions from its schedule (business
hours with a diurnal curve, round the clock, a fixed cadence, or a nightly batch), multiplied by slow
growth, month-end bursts and ticketed bursts. Counts are Poisson, start times jittered. Around the work:
credential rotation (announced by a credential-issue event), new objects now and then, transient
failures, and egress from self-hosted workers to the hosts they call.
"""

from __future__ import annotations

import random
from datetime import date

from nhiwatch.simulate.calendar import Hour, local_hours
from nhiwatch.simulate.company import stable_ip
from nhiwatch.simulate.disruptions import (
    Outage,
    broken_credential,
    maybe_new_host,
    new_credential,
    outage_effects,
    quarter_start_only,
)
from nhiwatch.simulate.hard import (
    HardPlan,
    month_end_exports,
    on_demand_sessions,
    vendor_changes,
    year_end_factor,
)
from nhiwatch.simulate.model import Ev, Integration, Ticket
from nhiwatch.simulate.session_state import State, poisson
from nhiwatch.simulate.sessions import SESSIONS

# relative activity per local hour on a working day (people arrive, lunch dip, taper off)
DIURNAL = (
    0.02,
    0.01,
    0.01,
    0.01,
    0.02,
    0.05,
    0.15,
    0.4,
    0.8,
    1.0,
    1.0,
    0.9,
    0.6,
    0.85,
    1.0,
    0.95,
    0.8,
    0.6,
    0.35,
    0.2,
    0.12,
    0.08,
    0.05,
    0.03,
)
PLAIN_HTTP = (
    ("ocsp.digicert.com", "/MFEwTzBNMEswSTAJBgUrDgMCGgUABBTrjrydRyt%2BApF3GSPypfHBxR5XtQQU"),
    ("r11.o.lencr.org", "/MFMwUTBPME0wSzAJBgUrDgMCGgUABBRpz0Gq"),
    ("crl.pki.goog", "/gtsr1/gtsr1.crl"),
    ("deb.debian.org", "/debian/dists/bookworm/InRelease"),
)
NEW_OBJECTS = {
    "salesforce": ("Renewal__c", "Partner__c", "Product2", "Quote", "Usage__c", "Asset"),
    "github": (
        "acme/new-checkout",
        "acme/platform-v2",
        "acme/edge-proxy",
        "acme/ai-assistant",
        "acme/status-page",
    ),
}


def _weekdays(spec: str) -> int:
    return {"mon-fri": 5, "mon-sat": 6}.get(spec, 7)


def initial_state(integ: Integration, rng: random.Random) -> State:
    cred = integ.ids.get("token_id") or integ.ids.get("access_key_id") or integ.extra.get("key_id", "")
    st = State(cred=cred, objects=list(integ.objects))
    st.auth_ttl = rng.choice((3600.0, 3600.0, 5400.0, 7200.0))
    return st


def multiplier(integ: Integration, h: Hour, day_index: int) -> float:
    m = (1 + integ.growth) ** day_index
    if integ.month_end and h.month_end_rank < integ.month_end_days:
        m *= integ.month_end_factor * (integ.quarter_end_factor if h.day.month in (3, 6, 9, 12) else 1.0)
        m *= year_end_factor(integ, h)
    if h.catch_up and integ.catch_up_share:  # the work the holidays held back comes on top of the day's
        m *= 1 + integ.catch_up_share * h.catch_up
    return m


def session_times(
    integ: Integration, hours: tuple[Hour, ...], start: date, rng: random.Random
) -> list[tuple[float, int]]:
    """(start time, number of operations) of every routine session in the window."""
    out: list[tuple[float, int]] = []
    ndays = _weekdays(integ.weekdays)
    for h in hours:
        di = (h.day - start).days
        m = multiplier(integ, h, di)
        workday = h.weekday < ndays and (h.business_day or ndays == 7 or h.weekday == 5)
        if integ.pattern == "cadence":
            every = integ.every_min * 60
            first = -(-h.ts // every) * every
            t = first
            while t < h.ts + 3600:
                out.append((t + rng.uniform(0, 25), max(1, poisson(integ.ops * m, rng))))
                t += every
            continue
        if integ.pattern == "nightly":
            if h.hour == integ.nightly_at[0] and (h.weekday < ndays):
                t = h.ts + integ.nightly_at[1] * 60 + rng.uniform(0, 90)
                out.append((t, max(1, poisson(integ.rate * m, rng))))
            continue
        if integ.pattern == "always":
            lam = integ.rate * (0.5 + 0.5 * DIURNAL[h.hour]) * (1.0 if h.weekday < 5 else 0.7)
        elif integ.pattern == "event":
            lam = integ.rate * (DIURNAL[h.hour] if h.weekday < 5 and h.business_day else 0.04)
        else:
            lo, hi = integ.hours
            inside = workday and lo <= h.hour < hi
            lam = integ.rate * (max(DIURNAL[h.hour], 0.3) if inside else 0.01)
        for _ in range(poisson(lam * m, rng)):
            out.append((h.ts + rng.uniform(0, 3600), max(1, poisson(integ.ops * m, rng))))
    return out


def burst_sessions(
    integ: Integration, t0: float, t1: float, factor: float, rng: random.Random
) -> list[tuple[float, int]]:
    """A backfill / re-sync: sessions every few minutes, each ``factor`` times bigger than usual."""
    out: list[tuple[float, int]] = []
    t = t0
    while t < t1:
        out.append((t, max(2, poisson(max(integ.ops, 2) * factor, rng))))
        t += rng.uniform(60, 300)
    return out


def egress_events(
    integ: Integration, ts: float, n: int, rng: random.Random, hosts: list[str] | None = None
) -> list[Ev]:
    """Connections a self-hosted worker opens for one session: one TLS flow per host it talks to."""
    eg = integ.egress
    if eg is None:
        return []
    out: list[Ev] = []
    pool = hosts or eg.hosts
    k = 1 if integ.source else min(len(pool), 1 + poisson(0.5, rng))
    for i in range(k):
        host = pool[0] if (integ.source and i == 0 and rng.random() < 0.85) else rng.choice(pool)
        resp = int(n * rng.lognormvariate(9, 0.9)) + 4000
        req = int(n * rng.lognormvariate(6.5, 0.7)) + 900
        if integ.kind == "service_account" and not integ.source and "backblaze" in host:
            req, resp = resp * 40, req  # uploads: bytes go out
        out.append(
            Ev(
                ts + i * rng.uniform(0.05, 2),
                "egress",
                "flow",
                integ,
                ip=eg.src_ip,
                target=host,
                size=resp,
                n=req,
                extra={"dst": stable_ip(host), "dur": n * rng.uniform(0.3, 3)},
            )
        )
    if rng.random() < 0.04:  # certificate status checks and package indexes go out as plain HTTP
        host, uri = rng.choice(PLAIN_HTTP)
        extra = {"dst": stable_ip(host), "dur": 0.1, "port": 80, "uri": uri}
        out.append(
            Ev(
                ts + rng.uniform(0, 1),
                "egress",
                "flow",
                integ,
                ip=eg.src_ip,
                target=host,
                size=1500,
                n=420,
                ua="Debian APT-HTTP/1.3 (2.6.1)" if "debian" in host else "",
                extra=extra,
            )
        )
    return out


def rotation_events(
    integ: Integration, st: State, hours: tuple[Hour, ...], rng: random.Random
) -> list[tuple[float, str]]:
    """Times at which the credential is rotated, with the new credential id (business hours)."""
    if not integ.rotation_days or not st.cred:
        return []
    out: list[tuple[float, str]] = []
    offset = rng.randint(0, integ.rotation_days - 1)
    days_seen: set[date] = set()
    for h in hours:
        if h.day in days_seen or h.hour != rng.choice((9, 10, 11, 14)):
            continue
        di = (h.day - hours[0].day).days
        if di % integ.rotation_days == offset:
            days_seen.add(h.day)
            new = new_credential(st.cred, rng)
            out.append((h.ts + rng.uniform(0, 3000), new))
    return out


def run_sessions(
    integ: Integration,
    st: State,
    sessions: list[tuple[float, int]],
    rotations: list[tuple[float, str]],
    rng: random.Random,
    *,
    ip: str | None = None,
    ua: str | None = None,
) -> list[Ev]:
    """Expand sessions into events, switching credentials at rotation times."""
    out: list[Ev] = []
    build = SESSIONS.get(integ.source)
    rot = sorted(rotations)
    ri = 0
    new_host = integ.extra.get("new_host")
    for ts, n in sorted(sessions):
        while ri < len(rot) and rot[ri][0] <= ts:
            old, st.cred = st.cred, rot[ri][1]
            out.append(
                Ev(
                    rot[ri][0],
                    _cred_source(integ),
                    "credential_issue",
                    integ,
                    cred=st.cred,
                    extra={"old": old},
                    ip=integ.ips[0] if integ.ips else "",
                )
            )
            st.last_auth = -1e18
            ri += 1
        src_ip = ip or (rng.choice(integ.ips) if integ.ips else "")
        if build is not None:
            out.extend(build(integ, st, ts, n, rng, src_ip, ua or integ.ua))
        out.extend(egress_events(integ, ts, n, rng))
        if new_host and ts >= new_host[0] and rng.random() < 0.3:
            out.extend(egress_events(integ, ts + rng.uniform(1, 30), 1, rng, hosts=[new_host[1]]))
    return out


def _cred_source(integ: Integration) -> str:
    return "entra" if integ.source == "graph" else integ.source


def grow_objects(integ: Integration, st: State, rng: random.Random, days: int) -> None:
    """Now and then an integration is pointed at a new repo / object: it is simply there from then on."""
    pool = NEW_OBJECTS.get(integ.source)
    if pool and rng.random() < min(0.6, days / 100):
        st.objects.append(rng.choice(pool))


def benign(
    integ: Integration,
    start: date,
    days: int,
    rng: random.Random,
    tickets: list[Ticket],
    outage: Outage | None = None,
    hard: HardPlan | None = None,
) -> tuple[list[Ev], State]:
    """All routine events of one integration, plus any ticketed bursts (appending their tickets) and, in a
    hard month (:mod:`nhiwatch.simulate.hard`), its exports, on-demand bursts and vendor changes."""
    hours = local_hours(integ.tz, start, days, integ.country)
    st = initial_state(integ, rng)
    sessions = quarter_start_only(integ, session_times(integ, hours, start, rng))
    grow_objects(integ, st, rng, days)
    maybe_new_host(integ, hours, rng)
    if not integ.shadow and rng.random() < 0.22:
        sessions += ticketed_burst(integ, hours, rng, tickets)
    if hard is not None:
        sessions += month_end_exports(integ, hard, hours, rng) + on_demand_sessions(integ, hard, rng)
    sessions, failed = outage_effects(integ, st, sessions, outage, rng)
    sessions, broken, fix = broken_credential(integ, st, sessions, hours, rng)
    rotations = rotation_events(integ, st, hours, rng) + fix
    evs = failed + broken + run_sessions(integ, st, sessions, rotations, rng)
    vendor_changes(integ, hard, evs)
    return evs, st


BURST_REASONS = (
    "Migration to new {vendor} org / connector version",
    "Re-sync after {vendor} outage",
    "Historical backfill of {obj} after schema change",
    "Full resync requested by {team}",
    "One-off export for annual audit",
)


def ticketed_burst(
    integ: Integration, hours: tuple[Hour, ...], rng: random.Random, tickets: list[Ticket]
) -> list[tuple[float, int]]:
    candidates = [h for h in hours if h.business_day and 9 <= h.hour <= 15]
    if not candidates:
        return []
    h = rng.choice(candidates)
    t0 = h.ts + rng.uniform(0, 3600)
    t1 = t0 + rng.uniform(1.5, 10) * 3600
    reasons = BURST_REASONS[2:] if integ.vendor == "internal" else BURST_REASONS
    summary = rng.choice(reasons).format(
        obj=(integ.objects or ["data"])[0], vendor=integ.vendor, team=integ.owner.split("@")[0] or "ops"
    )
    tickets.append(
        Ticket(
            f"CHG-{len(tickets) + 1000:05d}",
            t0 - rng.uniform(0, 3600),
            t1 + rng.uniform(0, 7200),
            integ.id,
            summary,
        )
    )
    return burst_sessions(integ, t0, t1, rng.uniform(5, 25), rng)
