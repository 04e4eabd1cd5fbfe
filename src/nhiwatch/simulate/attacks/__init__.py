"""Attack episodes injected into the benign logs, one function per family, labelled in ``truth.jsonl``.

The number of episodes per family grows with the size of the run (at least one each); parameters
(volume multipliers, durations, hours, networks, user agents, which source) vary with the seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

from nhiwatch.simulate.attacks.base import Ctx
from nhiwatch.simulate.attacks.lookalike import LOOKALIKES
from nhiwatch.simulate.attacks.saas import (
    dormant_token_reuse,
    drift_token_theft,
    new_credential_mailbox,
    probing,
    scope_expansion,
)
from nhiwatch.simulate.attacks.supply_chain import (
    new_destination,
    reviewdog_secrets_egress,
    shai_hulud_fanout,
)
from nhiwatch.simulate.attacks.volume import cadence_change, export_burst_no_ticket
from nhiwatch.simulate.hard import HardPlan
from nhiwatch.simulate.model import Episode, Ev, Integration
from nhiwatch.simulate.sessions import State

FAMILIES: dict[str, Callable[[Ctx], None]] = {
    "drift_token_theft": drift_token_theft,
    "shai_hulud_fanout": shai_hulud_fanout,
    "reviewdog_secrets_egress": reviewdog_secrets_egress,
    "dormant_token_reuse": dormant_token_reuse,
    "probing": probing,
    "scope_expansion": scope_expansion,
    "new_credential_mailbox": new_credential_mailbox,
    "export_burst_no_ticket": export_burst_no_ticket,
    "cadence_change": cadence_change,
    "new_destination": new_destination,
}


def inject(
    company: list[Integration],
    states: dict[str, State],
    events: dict[str, list[Ev]],
    start: date,
    days: int,
    rng: random.Random,
) -> tuple[list[Episode], list[Ev]]:
    """Run every family ``k`` times (k grows with integrations × days); returns episodes and their events.

    ``events`` (benign, by source) may be edited in place: a dormant credential's owner goes quiet.
    """
    ctx = Ctx(company, states, events, start, days, rng)
    inventory = sum(not i.shadow for i in company)
    for fn in FAMILIES.values():
        for _ in range(episodes_per_family(inventory, days, rng)):
            fn(ctx)
    return ctx.episodes, ctx.out


def inject_lookalikes(
    company: list[Integration],
    states: dict[str, State],
    events: dict[str, list[Ev]],
    start: date,
    days: int,
    rng: random.Random,
    plan: HardPlan,
    numbered: int,
) -> tuple[list[Episode], list[Ev]]:
    """A hard month's look-alike attacks (one of each), numbered after the ``numbered`` episodes before."""
    ctx = Ctx(company, states, events, start, days, rng)
    for fn in LOOKALIKES.values():
        fn(ctx, plan)
    for k, ep in enumerate(ctx.episodes, start=numbered + 1):
        ep.episode_id = f"EP-{k:04d}"
    return ctx.episodes, ctx.out


def episodes_per_family(integrations: int, days: int, rng: random.Random) -> int:
    """1-2 per family for the default 150 integrations x 60 days, proportionally more for bigger runs."""
    return max(1, round(integrations * days / 9000 * rng.uniform(0.9, 1.6)))
