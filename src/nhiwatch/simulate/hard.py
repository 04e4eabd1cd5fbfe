"""A hard month: the benign irregularities of a December that look like attacks, for a company ending with one.

``simulate(..., hard=True)`` simulates the ``days`` days up to :data:`HARD_END` (120 days: Sep 7, 2026 to
Jan 4, 2027, so the quarter end of September, Thanksgiving, Christmas, the year end and New Year with its
backlog are all inside) with a seasonal company, and on top:

- **year end**: integrations with a month-end close run a year-end close heavier than a quarter close, and
  the Salesforce ones bulk-export on the last business days of *every* month, several times more in December;
- **a vendor outage** in December on the source with the most integrations (with its catch-up);
- **a vendor SDK upgrade**: every integration of one vendor switches to the next user-agent version within
  a few days, doing exactly what it did before;
- **a vendor network move**: every integration of another vendor moves to new addresses in the same cloud
  provider (published AWS / Google Cloud / Azure prefixes, another region), same behaviour;
- **on-demand tools**: a few integrations that people trigger at irregular times, in short bursts.

Each is recorded as a :class:`~nhiwatch.simulate.labels.Benign` label. Drawn from its own RNG.
"""

from __future__ import annotations

import ipaddress
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from nhiwatch.simulate.calendar import Hour, is_business_day
from nhiwatch.simulate.disruptions import OUTAGE_SOURCES, Outage
from nhiwatch.simulate.labels import Benign
from nhiwatch.simulate.model import Ev, Integration, Ticket

HARD_END = date(2027, 1, 5)  # exclusive: the last simulated day is Monday, Jan 4 (the New Year backlog)
HARD_DAYS = 120

# Published cloud ranges (AWS ip-ranges.json, Google cloud.json, Azure service tags), two regions each:
# a vendor moves from the first to the second; an attacker rents a machine in the same provider.
CLOUD_PREFIXES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "aws": (("44.192.0.0/11", "3.80.0.0/12"), ("18.229.99.0/24", "18.230.54.0/23", "15.228.97.0/24")),
    "gcp": (("34.80.0.0/15", "35.194.128.0/17"), ("104.199.128.0/18",)),
    "azure": (("20.60.92.0/23", "20.157.168.0/24"), ("20.215.0.0/20",)),
}


def cloud_address(cloud: str, rng: random.Random, *, region: int = 0) -> str:
    """A host address inside one of ``cloud``'s published prefixes (``region`` 0 or 1)."""
    net = ipaddress.ip_network(rng.choice(CLOUD_PREFIXES[cloud][region]))
    return str(net.network_address + rng.randint(1, net.num_addresses - 2))


def cloud_of(ip: str) -> str | None:
    """The provider whose published prefixes (in :data:`CLOUD_PREFIXES`) hold ``ip``."""
    addr = ipaddress.ip_address(ip)
    for cloud, regions in CLOUD_PREFIXES.items():
        if any(addr in ipaddress.ip_network(p) for region in regions for p in region):
            return cloud
    return None


def next_version(ua: str) -> str:
    """The user agent an SDK upgrade brings: the last version number bumped (``x/4.1`` -> ``x/4.2``).

    >>> next_version("airbyte-source-hubspot/4.1"), next_version("Zapier")
    ('airbyte-source-hubspot/4.2', 'Zapier sdk/2.0')
    """
    found = list(re.finditer(r"\d+", ua))
    if not found:
        return f"{ua} sdk/2.0".strip()
    m = found[-1]
    return ua[: m.start()] + str(int(m.group()) + 1) + ua[m.end() :]


@dataclass
class HardPlan:
    """What the hard month does to whom, and when (UTC epoch seconds)."""

    outage: Outage
    ticket: Ticket
    sdk_vendor: str = ""
    ua_switch: dict[str, tuple[float, str]] = field(default_factory=dict)  # id -> (when, new user agent)
    move_vendor: str = ""
    move_cloud: str = ""
    ip_move: dict[str, tuple[float, dict[str, str]]] = field(default_factory=dict)  # id -> (when, old->new)
    on_demand: dict[str, list[float]] = field(default_factory=dict)  # id -> burst starts
    exporters: set[str] = field(default_factory=set)  # month-end bulk exporters (Salesforce)
    labels: list[Benign] = field(default_factory=list)


def hard_start(days: int) -> date:
    """The first day of a hard company of ``days`` days."""
    return HARD_END - timedelta(days=days)


def _ts(d: date, hour: float) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() + hour * 3600


def _workday(lo: date, hi: date, rng: random.Random) -> date:
    d = lo + timedelta(days=rng.randint(0, max(0, (hi - lo).days)))
    while not is_business_day(d, "US"):
        d -= timedelta(days=1)
    return d


def _vendor_groups(
    company: list[Integration], pred: Callable[[Integration], bool]
) -> list[tuple[str, list[Integration]]]:
    groups: dict[str, list[Integration]] = {}
    for i in company:
        if not i.shadow and i.vendor not in ("internal", "unknown", "") and pred(i):
            groups.setdefault(i.vendor, []).append(i)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def plan_hard(company: list[Integration], start: date, days: int, rng: random.Random) -> HardPlan:
    """Draw the hard month's events for ``company`` (and give the moving vendor its cloud addresses)."""
    end = start + timedelta(days=days)
    december = max(start, date(end.year if end.month == 12 else end.year - 1, 12, 1))
    by_source = Counter(i.source for i in company if not i.shadow and i.source in OUTAGE_SOURCES)
    source = by_source.most_common(1)[0][0] if by_source else "salesforce"
    day = _workday(december + timedelta(days=1), min(end, december + timedelta(days=17)), rng)
    t0 = _ts(day, rng.uniform(14, 19))
    t1 = t0 + rng.uniform(1.5, 3.5) * 3600
    outage = Outage(source, t0, t1)
    ticket = Ticket(
        f"INC-{day:%m%d}",
        t0 - rng.uniform(0, 900),
        t1 + rng.uniform(3600, 4 * 3600),
        "",
        f"{OUTAGE_SOURCES[source]} incident: API errors, connectors re-sync afterwards",
    )
    plan = HardPlan(outage, ticket)
    hit = tuple(i.id for i in company if not i.shadow and i.source == source)
    plan.labels.append(
        Benign(
            "outage",
            "vendor_outage",
            t0,
            t1 + 2 * 3600,
            hit,
            f"{OUTAGE_SOURCES[source]} answered 5xx to every integration, then they caught up",
        )
    )
    _sdk_upgrade(company, plan, start, end, rng)
    _network_move(company, plan, start, end, rng)
    _on_demand(company, plan, start, days, rng)
    plan.exporters = {
        i.id for i in company if not i.shadow and i.month_end and i.source == "salesforce" and i.ops > 0
    }
    for i in company:
        if i.month_end and not i.shadow:
            # on top of the quarter close; the calendar multiplies both how often and how much a job works,
            # so a close of factor f is about f² the work: 1.2-1.5 makes a year end 1.4-2.3x a quarter end
            i.extra["year_end_factor"] = rng.uniform(1.2, 1.5)
    return plan


def _sdk_upgrade(
    company: list[Integration], plan: HardPlan, start: date, end: date, rng: random.Random
) -> None:
    groups = _vendor_groups(company, lambda i: bool(i.ua) and i.source != "")
    if not groups:
        return
    plan.sdk_vendor, members = groups[0]
    when = _ts(_workday(start + timedelta(days=(end - start).days // 2), end - timedelta(days=20), rng), 15)
    for i in members:
        plan.ua_switch[i.id] = (when + rng.uniform(0, 3) * 86400, next_version(i.ua))
    t1 = max(t for t, _ in plan.ua_switch.values()) + 86400
    plan.labels.append(
        Benign(
            "vendor_change",
            "sdk_upgrade",
            when,
            t1,
            tuple(plan.ua_switch),
            f"{plan.sdk_vendor} upgraded its SDK: a new user agent version, the same behaviour",
        )
    )


def _network_move(
    company: list[Integration], plan: HardPlan, start: date, end: date, rng: random.Random
) -> None:
    groups = _vendor_groups(company, lambda i: i.partner_managed and bool(i.ips))
    groups = [g for g in groups if g[0] != plan.sdk_vendor] or groups
    if not groups:
        return
    plan.move_vendor, members = groups[0]
    plan.move_cloud = rng.choice(sorted(CLOUD_PREFIXES))
    when = _ts(_workday(start + timedelta(days=(end - start).days // 3), end - timedelta(days=25), rng), 16)
    for i in members:
        i.ips = [cloud_address(plan.move_cloud, rng) for _ in range(max(1, len(i.ips)))]
        moved = {ip: cloud_address(plan.move_cloud, rng, region=1) for ip in i.ips}
        plan.ip_move[i.id] = (when + rng.uniform(0, 2) * 86400, moved)
    t1 = max(t for t, _ in plan.ip_move.values()) + 2 * 86400
    plan.labels.append(
        Benign(
            "vendor_change",
            "network_move",
            when,
            t1,
            tuple(plan.ip_move),
            f"{plan.move_vendor} moved to new {plan.move_cloud} addresses in another region, same behaviour",
        )
    )


def _on_demand(
    company: list[Integration], plan: HardPlan, start: date, days: int, rng: random.Random
) -> None:
    pool = [i for i in company if not i.shadow and i.source and i.pattern in ("event", "business")]
    for integ in rng.sample(pool, min(len(pool), max(1, len(company) // 40))):
        starts: list[float] = []
        for k in range(days):
            d = start + timedelta(days=k)
            if rng.random() < (0.45 if d.weekday() < 5 else 0.12):
                starts.append(_ts(d, rng.uniform(5, 23.2)))
        plan.on_demand[integ.id] = sorted(starts)
        for s in plan.on_demand[integ.id]:
            plan.labels.append(
                Benign(
                    "on_demand",
                    "burst",
                    s,
                    s + 45 * 60,
                    (integ.id,),
                    f"someone ran {integ.name} by hand",
                )
            )


def month_end_exports(
    integ: Integration, plan: HardPlan | None, hours: tuple[Hour, ...], rng: random.Random
) -> list[tuple[float, int]]:
    """A month-end exporter's bulk export on the last business day of each month (bigger, and on the last
    two business days, in December): sessions big enough that the Salesforce builder runs them as Bulk
    API jobs, so the year-end exports are of a kind the integration showed at every month end before."""
    if plan is None or integ.id not in plan.exporters:
        return []
    days: dict[date, dict[int, Hour]] = {}
    for h in hours:
        if h.month_end_rank <= (h.day.month == 12):
            days.setdefault(h.day, {})[h.hour] = h
    out: list[tuple[float, int]] = []
    for d, by_hour in sorted(days.items()):
        at = by_hour.get(rng.choice((10, 11, 14, 15, 16)))
        if at is not None:  # None: that hour is outside the window (its first or last day)
            big = rng.uniform(1.5, 2.5) if d.month == 12 else 1.0
            out.append((at.ts + rng.uniform(0, 3000), int(rng.uniform(30, 50) * big)))
    return out


def on_demand_sessions(
    integ: Integration, plan: HardPlan | None, rng: random.Random
) -> list[tuple[float, int]]:
    """An on-demand tool's bursts: a person starts it, it runs a few sessions a minute or two apart."""
    if plan is None:
        return []
    out: list[tuple[float, int]] = []
    for s in plan.on_demand.get(integ.id, ()):
        t = s
        for _ in range(rng.randint(3, 12)):
            out.append((t, max(1, int(integ.ops * rng.uniform(1, 3)))))
            t += rng.uniform(60, 240)
    return out


def vendor_changes(integ: Integration, plan: HardPlan | None, events: list[Ev]) -> None:
    """Apply the SDK upgrade (user agent) and the network move (source address) in place."""
    if plan is None:
        return
    ua = plan.ua_switch.get(integ.id)
    move = plan.ip_move.get(integ.id)
    if ua is None and move is None:
        return
    for e in events:
        if ua is not None and e.ts >= ua[0] and e.ua == integ.ua:
            e.ua = ua[1]
        if move is not None and e.ts >= move[0] and e.ip in move[1]:
            e.ip = move[1][e.ip]


def year_end_factor(integ: Integration, h: Hour) -> float:
    """How much heavier a year-end close is than a quarter close (1 when not the year end)."""
    return float(integ.extra.get("year_end_factor", 1.0)) if h.day.month == 12 else 1.0


__all__ = [
    "CLOUD_PREFIXES",
    "HARD_DAYS",
    "HARD_END",
    "HardPlan",
    "cloud_address",
    "cloud_of",
    "hard_start",
    "month_end_exports",
    "next_version",
    "on_demand_sessions",
    "plan_hard",
    "vendor_changes",
    "year_end_factor",
]
