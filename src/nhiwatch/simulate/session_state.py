"""What the per-source session builders share: the integration's mutable state and small random helpers."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from nhiwatch.simulate.model import Ev, Integration


@dataclass
class State:
    """Mutable per-integration state while simulating: current credential, token expiry, objects."""

    cred: str
    objects: list[str]
    last_auth: float = -1e18
    auth_ttl: float = 3600.0
    seq: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def poisson(lam: float, rng: random.Random) -> int:
    """Poisson draw: inversion for small means, a rounded normal for large ones."""
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def pick(objs: list[str], rng: random.Random) -> str:
    # Zipf-ish: the first objects are the hot ones
    return objs[min(len(objs) - 1, int(rng.paretovariate(1.2)) - 1)] if objs else ""


Builder = Callable[[Integration, State, float, int, random.Random, str, str], list[Ev]]


def retry(ev: Ev, rng: random.Random, integ: Integration, fail: int) -> list[Ev]:
    """A transient failure and its retry after a back-off, when the dice say so."""
    if rng.random() >= integ.fail_rate:
        return [ev]
    bad = Ev(
        ev.ts,
        ev.source,
        ev.op,
        integ,
        cred=ev.cred,
        ip=ev.ip,
        ua=ev.ua,
        target=ev.target,
        status=fail,
        extra=ev.extra,
    )
    ev.ts += rng.uniform(2, 90)
    return [bad, ev]
