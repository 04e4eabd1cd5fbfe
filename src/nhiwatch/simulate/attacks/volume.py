"""Attacks that are only a change in how much or how often: an unticketed export burst, a cadence change."""

from __future__ import annotations

from nhiwatch.simulate.attacks.base import Ctx
from nhiwatch.simulate.behaviour import burst_sessions, egress_events, run_sessions


def export_burst_no_ticket(ctx: Ctx) -> None:
    """An export or sync burst, like a ticketed backfill, but with no change ticket."""
    integ = ctx.pick(lambda i: i.source in ("salesforce", "gws", "graph", "github", "cloudtrail"))
    if integ is None:
        return
    rng = ctx.rng
    t = ctx.when(integ, rng.choice(((9, 17), (18, 23), (0, 6))))
    hours = rng.uniform(0.5, 6)
    factor = rng.uniform(6, 30)
    st = ctx.state(integ)
    evs = run_sessions(integ, st, burst_sessions(integ, t, t + hours * 3600, factor, rng), [], rng)
    ctx.add(
        "export_burst_no_ticket",
        integ,
        evs,
        f"{integ.name}: {hours:.1f} h burst at about {factor:.0f}x its usual session size, no change ticket",
        {"factor": round(factor, 1), "hours": round(hours, 1)},
    )


def cadence_change(ctx: Ctx) -> None:
    """A nightly / office-hours job starts polling every few minutes around the clock."""
    integ = ctx.pick(lambda i: i.pattern in ("nightly", "business") and bool(i.source or i.egress))
    if integ is None:
        return
    rng = ctx.rng
    t = ctx.when(integ)
    every = rng.choice((2, 3, 5, 10)) * 60
    days = rng.uniform(1, 5)
    end = min(ctx.t1 - 60, t + days * 86400)
    st = ctx.state(integ)
    sessions = []
    ts = t
    while ts < end:
        sessions.append((ts + rng.uniform(0, 20), max(1, int(integ.ops))))
        ts += every
    evs = (
        run_sessions(integ, st, sessions, [], rng)
        if integ.source
        else [e for s, n in sessions for e in egress_events(integ, s, n, rng)]
    )
    ctx.add(
        "cadence_change",
        integ,
        evs,
        f"{integ.name} ({integ.pattern} schedule) polling every {every // 60} min round the clock for {days:.1f} days",
        {"every_seconds": every, "days": round(days, 1), "usual_pattern": integ.pattern},
    )
