"""A simulated company's SaaS integration logs, in the vendors' native formats, with labelled attacks.

``simulate(out_dir)`` writes ``inventory.yaml``, ``tickets.csv``, ``truth.jsonl``, ``summary.json`` and
``logs/<source>/...``. Everything is drawn from RNGs derived from ``seed``, so the same arguments give
byte-identical output. See ``docs/simulator.md`` for the model and the attack families.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import shutil
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from nhiwatch.simulate import attacks
from nhiwatch.simulate.behaviour import benign
from nhiwatch.simulate.calendar import last_business_days
from nhiwatch.simulate.company import build_company
from nhiwatch.simulate.disruptions import Outage, plan_outage
from nhiwatch.simulate.hard import HardPlan, hard_start, plan_hard
from nhiwatch.simulate.humans import human_events
from nhiwatch.simulate.labels import Benign, calendar_labels
from nhiwatch.simulate.model import Ev, Integration, Ticket
from nhiwatch.simulate.output import write_inventory, write_tickets, write_truth
from nhiwatch.simulate.seasonal import SEASONAL_DAYS, make_seasonal
from nhiwatch.simulate.writers import WRITERS
from nhiwatch.simulate.writers.common import Ids

DEFAULT_START = date(2026, 2, 16)  # a window with US and EU DST changes, a month end and a quarter end


@dataclass
class SimulationSummary:
    """What a simulation wrote."""

    integrations: int
    shadow_integrations: int
    days: int
    seed: int
    start: str
    events: dict[str, int] = field(default_factory=dict)  # simulated events per source
    records: dict[str, int] = field(default_factory=dict)  # native records written per source
    files: int = 0
    tickets: int = 0
    episodes: dict[str, int] = field(default_factory=dict)  # per family

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    def __str__(self) -> str:
        episodes = sum(self.episodes.values())
        return (
            f"{self.total_events:,} events ({self.total_records:,} log records) from {self.integrations} integrations (+{self.shadow_integrations} shadow) "
            f"over {self.days} days, {self.files} files, {self.tickets} tickets, {episodes} attack episodes"
        )


def simulate(
    out_dir: Path,
    *,
    integrations: int = 150,
    days: int = 60,
    seed: int = 7,
    start: date | None = None,
    gzip: bool = False,
    seasonal: bool | None = None,
    hard: bool = False,
) -> SimulationSummary:
    """Simulate ``integrations`` integrations for ``days`` days and write everything under ``out_dir``.

    A ``seasonal`` company (by default one simulated for ``SEASONAL_DAYS`` or more) has country holiday
    calendars, post-holiday catch-up and quarter closes (:mod:`nhiwatch.simulate.seasonal`). A ``hard``
    company is seasonal and ends with a December (unless ``start`` is given: the ``days`` before
    Jan 5, 2027) with its year end, a vendor outage, vendor changes, on-demand tools and the look-alike
    attacks (:mod:`nhiwatch.simulate.hard`). The benign irregularities go to the truth file too."""
    if hard:
        start = start or hard_start(days)
        seasonal = True
    start = start or DEFAULT_START
    if seasonal is None:
        seasonal = days >= SEASONAL_DAYS
    out = Path(out_dir)
    logs = out / "logs"
    if logs.exists():
        shutil.rmtree(logs)
    logs.mkdir(parents=True)
    company = build_company(integrations, random.Random(f"company:{seed}"))
    country = make_seasonal(company, random.Random(f"seasonal:{seed}")) if seasonal else None
    outage, outage_ticket = plan_outage(start, days, random.Random(f"outage:{seed}"))
    plan: HardPlan | None = None
    if hard:
        plan = plan_hard(company, start, days, random.Random(f"hard:{seed}"))
        outage, outage_ticket = plan.outage, plan.ticket
    tickets: list[Ticket] = [outage_ticket]
    by_source: dict[str, list[Ev]] = defaultdict(list)
    states = {}
    for i, integ in enumerate(company):
        evs, st = benign(integ, start, days, random.Random(f"benign:{seed}:{i}"), tickets, outage, plan)
        states[integ.id] = st
        for e in evs:
            by_source[e.source].append(e)
    tickets += company_tickets(start, days)
    for e in human_events(max(8, integrations), start, days, random.Random(f"humans:{seed}")):
        by_source[e.source].append(e)
    episodes, attack_events = attacks.inject(
        company, states, by_source, start, days, random.Random(f"attacks:{seed}")
    )
    if plan is not None:
        more, more_events = attacks.inject_lookalikes(
            company, states, by_source, start, days, random.Random(f"lookalikes:{seed}"), plan, len(episodes)
        )
        episodes += more
        attack_events += more_events
    for e in attack_events:
        by_source[e.source].append(e)
    labels = benign_labels(company, start, days, outage, plan)
    counts = {source: len(evs) for source, evs in sorted(by_source.items())}
    files, records = write_logs(by_source, logs, seed, gzip)
    write_inventory(out / "inventory.yaml", company, country)
    write_tickets(out / "tickets.csv", tickets, {i.id: i.tz for i in company})
    write_truth(out / "truth.jsonl", episodes, labels)
    summary = SimulationSummary(
        integrations=sum(not i.shadow for i in company),
        shadow_integrations=sum(i.shadow for i in company),
        days=days,
        seed=seed,
        start=start.isoformat(),
        events=counts,
        records=records,
        files=files,
        tickets=len(tickets),
        episodes=dict(sorted(Counter(e.family for e in episodes).items())),
    )
    (out / "summary.json").write_bytes(
        orjson.dumps(
            {**asdict(summary), "total_events": summary.total_events, "total_records": summary.total_records},
            option=orjson.OPT_INDENT_2,
        )
    )
    return summary


_JOBS: dict[str, tuple[list[Ev], Path, int, bool]] = {}


def _write_one(source: str) -> tuple[str, int, int]:
    """(source, files, native records) for one simulated source."""
    evs, logs, ids_seed, gzip = _JOBS[source]
    evs.sort(key=lambda e: e.ts)
    ids = Ids(ids_seed)
    files = WRITERS[source](evs, logs, ids, gzip)
    return source, files, ids.records or len(evs)


def write_logs(
    by_source: dict[str, list[Ev]], logs: Path, seed: int, gzip: bool
) -> tuple[int, dict[str, int]]:
    """Every source's files; with several cores, in forked worker processes (largest sources first).

    Each writer draws its ids from its own seeded RNG, so the output does not depend on the scheduling.
    """
    _JOBS.clear()
    for k, (source, evs) in enumerate(sorted(by_source.items())):
        _JOBS[source] = (evs, logs, seed * 1000 + k, gzip)
    order = sorted(_JOBS, key=lambda s: -len(_JOBS[s][0]))
    total = sum(len(v[0]) for v in _JOBS.values())
    try:
        if total < 100_000 or (os.cpu_count() or 1) < 2 or "fork" not in mp.get_all_start_methods():
            results = [_write_one(s) for s in order]
        else:
            with mp.get_context("fork").Pool(min(4, os.cpu_count() or 2)) as pool:
                results = list(pool.imap_unordered(_write_one, order))
        return sum(r[1] for r in results), {s: n for s, _, n in sorted(results)}
    finally:
        _JOBS.clear()


def benign_labels(
    company: list[Integration], start: date, days: int, outage: Outage, plan: HardPlan | None
) -> list[Benign]:
    """Every benign irregularity with its cause: the outage, the calendar, and a hard month's own."""
    if plan is not None:
        labels = list(plan.labels)
    else:
        hit = tuple(i.id for i in company if not i.shadow and i.source == outage.source)
        labels = [Benign("outage", "vendor_outage", outage.t0, outage.t1 + 7200, hit, "vendor outage")]
    return labels + calendar_labels(company, start, days)


def company_tickets(start: date, days: int) -> list[Ticket]:
    """Company-wide business events: each month-end close, and the quarter close."""
    out: list[Ticket] = []
    d = start
    end = start + timedelta(days=days)
    closed: set[tuple[int, int]] = set()  # a holiday can make the window start twice; one close a month
    while d < end:
        if (
            (d.year, d.month) not in closed
            and last_business_days(d, 3, "America")
            and not last_business_days(d - timedelta(days=1), 3, "America")
        ):
            closed.add((d.year, d.month))
            t0 = datetime(d.year, d.month, d.day, 8, tzinfo=UTC).timestamp()
            month_end = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
            t1 = (
                datetime(month_end.year, month_end.month, month_end.day, 23, tzinfo=UTC).timestamp()
                + 2 * 86400
            )
            quarter = d.month in (3, 6, 9, 12)
            summary = (
                f"Q{(d.month - 1) // 3 + 1} {d.year} quarter close"
                if quarter
                else f"{d:%B %Y} month-end close"
            )
            out.append(
                Ticket(f"BIZ-{d:%Y%m}", t0, t1, "", summary + " (finance exports and reconciliations)")
            )
        d += timedelta(days=1)
    return out


__all__ = ["SimulationSummary", "simulate"]
