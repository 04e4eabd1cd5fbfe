"""Attacks that hide in a hard month's benign noise: during an outage, from the victim's own cloud provider,
or copying the victim's schedule and user agent. Each one must still be found; its benign twin must not be.
"""

from __future__ import annotations

from nhiwatch.simulate.attacks.base import Ctx
from nhiwatch.simulate.attacks.saas import SF_LOOT
from nhiwatch.simulate.hard import HardPlan, cloud_address, cloud_of
from nhiwatch.simulate.model import Ev, Integration

FOREIGN_OBJECTS = {
    "salesforce": SF_LOOT,
    "github": ("acme/ledger-secrets", "acme/infra", "acme/auth-service", "acme/payments-api"),
    "gws": ("gmail", "admin"),
    "okta": ("Okta Admin Console",),
}


def _ua_at(integ: Integration, plan: HardPlan, ts: float) -> str:
    """The user agent the integration itself shows at ``ts`` (after its vendor's SDK upgrade, the new one)."""
    switch = plan.ua_switch.get(integ.id)
    return switch[1] if switch is not None and ts >= switch[0] else integ.ua


def _foreign(integ: Integration) -> list[str]:
    return [o for o in FOREIGN_OBJECTS.get(integ.source, ()) if o not in integ.objects] or list(integ.objects)


def attack_during_outage(ctx: Ctx, plan: HardPlan) -> None:
    """A stolen token used while the vendor is down: its calls fail with everyone else's, then it exports
    during the catch-up, when every integration of that vendor is busier than usual."""
    o = plan.outage
    integ = ctx.pick(lambda i: i.source == o.source)
    if integ is None:
        return
    rng = ctx.rng
    ip = ctx.ip(rng.choice(("vps", "cloud")))
    ua = ctx.tool_ua(integ)
    st = ctx.state(integ)
    st.last_auth = -1e18
    evs: list[Ev] = []
    t = o.t0 + rng.uniform(0.2, 0.6) * (o.t1 - o.t0)
    for _ in range(rng.randint(3, 8)):
        for e in ctx.session(integ, st, t, 1, ip, ua):
            e.status = 503 if e.status < 400 else e.status
            e.n = 0
            evs.append(e)
        t += rng.uniform(120, 600)
    st.last_auth = -1e18
    st.objects = _foreign(integ) + list(st.objects)
    t = o.t1 + rng.uniform(300, 1500)
    n = max(30, int(integ.ops * rng.uniform(8, 20)))
    evs.extend(ctx.session(integ, st, t, n, ip, ua))
    ctx.add(
        "attack_during_outage",
        integ,
        evs,
        f"Token of {integ.name} used from {ip} during the {o.source} outage, then {n} operations in the catch-up",
        {"src_ip": ip, "user_agent": ua, "operations": n, "outage_source": o.source},
    )


def same_cloud_token_replay(ctx: Ctx, plan: HardPlan) -> None:
    """A token replayed from a machine rented in the victim's own cloud provider (the region its vendor
    moved to, when it moved), reading objects the integration never reads."""
    moved = [i for i in ctx.company if i.id in plan.ip_move]
    integ = ctx.pick(lambda i: i in moved) if moved else None
    if integ is None:
        integ = ctx.pick(lambda i: i.partner_managed and bool(i.ips) and i.source in FOREIGN_OBJECTS)
    if integ is None:
        return
    rng = ctx.rng
    cloud = cloud_of(integ.ips[0]) if integ.ips else None
    cloud = cloud or plan.move_cloud or "aws"
    ip = cloud_address(cloud, rng, region=1)
    start_frac = 0.5
    if integ.id in plan.ip_move:  # after the move, so the victim's own new addresses are in that region too
        start_frac = max(start_frac, (plan.ip_move[integ.id][0] - ctx.t0) / 86400 / ctx.days + 0.05)
    t = ctx.when(integ, earliest=min(start_frac, 0.9))
    ua = _ua_at(integ, plan, t) if rng.random() < 0.6 else ctx.tool_ua(integ)
    st = ctx.state(integ)
    st.last_auth = -1e18
    st.objects = _foreign(integ)
    n = max(10, int(integ.ops * rng.uniform(5, 15)))
    evs = ctx.session(integ, st, t, n, ip, ua)
    ctx.add(
        "same_cloud_token_replay",
        integ,
        evs,
        f"Token of {integ.name} replayed from {ip} ({cloud}, like its vendor), {n} operations on new objects",
        {"src_ip": ip, "cloud": cloud, "user_agent": ua, "objects": st.objects[:5], "operations": n},
    )


def mimic_victim(ctx: Ctx, plan: HardPlan) -> None:
    """An attacker who copies the victim: its user agent, its working hours and session size, for a few
    days, from a network the integration never used, reading objects it never read."""
    integ = ctx.pick(
        lambda i: i.pattern == "business" and bool(i.ua) and i.source in FOREIGN_OBJECTS and not i.month_end
    )
    if integ is None:
        return
    rng = ctx.rng
    ip = ctx.ip(rng.choice(("residential", "vps")))
    t = ctx.when(integ, integ.hours, earliest=0.6)
    ua = _ua_at(integ, plan, t)
    st = ctx.state(integ)
    st.objects = _foreign(integ) + list(st.objects[:2])
    evs: list[Ev] = []
    days = rng.randint(2, 4)
    for d in range(days):
        for k in range(rng.randint(2, 5)):
            ts = t + d * 86400 + k * rng.uniform(1200, 5400)
            if ts < ctx.t1 - 60:
                evs.extend(ctx.session(integ, st, ts, max(1, round(integ.ops)), ip, ua))
    ctx.add(
        "mimic_victim",
        integ,
        evs,
        f"Attacker copying {integ.name}'s user agent and working hours from {ip} for {days} days, new objects",
        {"src_ip": ip, "user_agent": ua, "days": days},
    )


LOOKALIKES = {
    "attack_during_outage": attack_during_outage,
    "same_cloud_token_replay": same_cloud_token_replay,
    "mimic_victim": mimic_victim,
}
