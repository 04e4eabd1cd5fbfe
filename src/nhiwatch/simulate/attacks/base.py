"""What every attack family shares: picking a victim, picking a time, attacker infrastructure, episodes."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from nhiwatch.simulate.calendar import local_hours
from nhiwatch.simulate.model import Episode, Ev, Integration
from nhiwatch.simulate.sessions import SESSIONS, State

VPS = ("159.203", "64.227", "167.99", "5.161", "95.216", "45.33", "139.59", "104.248")
TOR = ("185.220.101", "185.220.100", "199.249.230", "204.85.191")
RESIDENTIAL = ("73.158", "98.207", "24.12", "86.151", "174.64", "71.201")
CLOUD = ("3.239", "44.201", "54.86", "34.141", "35.229", "20.84")  # rented cloud VMs (Gainsight-style)
TOOL_UAS = (
    "python-requests/2.32.4",
    "aiohttp/3.12.15",
    "Multi-Org-Fetcher/1.0",
    "curl/8.7.1",
    "Go-http-client/2.0",
    "python-httpx/0.27.0",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
)


@dataclass
class Ctx:
    """The simulated world attacks are injected into."""

    company: list[Integration]
    states: dict[str, State]
    events: dict[str, list[Ev]]
    start: date
    days: int
    rng: random.Random
    used: set[str] = field(default_factory=set)  # integrations already attacked
    episodes: list[Episode] = field(default_factory=list)
    out: list[Ev] = field(default_factory=list)

    @property
    def t0(self) -> float:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp()

    @property
    def t1(self) -> float:
        return self.t0 + self.days * 86400

    def pick(self, pred: Callable[[Integration], bool]) -> Integration | None:
        """A not-yet-attacked inventory integration satisfying ``pred`` (any attacked one as a fallback)."""
        pool = [i for i in self.company if not i.shadow and pred(i)]
        fresh = [i for i in pool if i.id not in self.used]
        choice = self.rng.choice(fresh or pool) if (fresh or pool) else None
        if choice is not None:
            self.used.add(choice.id)
        return choice

    def when(self, integ: Integration, hours: tuple[int, int] | None = None, earliest: float = 0.35) -> float:
        """A time after the warm-up part of the window, at a local hour in ``hours`` (inclusive-exclusive)."""
        all_hours = local_hours(integ.tz, self.start, self.days, integ.country)
        lo = self.t0 + max(1.0, self.days * earliest) * 86400
        ok = [h for h in all_hours if lo <= h.ts < self.t1 - 86400 and (hours is None or _in(h.hour, hours))]
        if not ok:
            ok = [h for h in all_hours if h.ts < self.t1 - 3600] or list(all_hours)
        return self.rng.choice(ok).ts + self.rng.uniform(0, 3400)

    def state(self, integ: Integration) -> State:
        """A copy of the integration's state for the attacker: same credential, its own token session."""
        st = self.states[integ.id]
        return State(cred=st.cred, objects=list(st.objects), auth_ttl=st.auth_ttl, extra=dict(st.extra))

    def session(self, integ: Integration, st: State, ts: float, n: int, ip: str, ua: str) -> list[Ev]:
        build = SESSIONS.get(integ.source)
        return build(integ, st, ts, n, self.rng, ip, ua) if build else []

    def add(
        self, family: str, integ: Integration, events: list[Ev], description: str, indicators: dict[str, Any]
    ) -> None:
        if not events:
            return
        self.out.extend(events)
        start = min(e.ts for e in events)
        end = max(e.ts for e in events)
        ep_id = f"EP-{len(self.episodes) + 1:04d}"
        self.episodes.append(Episode(ep_id, family, integ.id, start, end, description, indicators))

    def ip(self, kind: str = "vps") -> str:
        pool = {"vps": VPS, "tor": TOR, "residential": RESIDENTIAL, "cloud": CLOUD}[kind]
        prefix = self.rng.choice(pool)
        tail = ".".join(str(self.rng.randint(1, 254)) for _ in range(4 - prefix.count(".") - 1))
        return f"{prefix}.{tail}"

    def tool_ua(self, integ: Integration) -> str:
        # now and then the attacker copies the integration's own user agent
        return integ.ua if integ.ua and self.rng.random() < 0.2 else self.rng.choice(TOOL_UAS)

    def silence(self, integ: Integration, t_from: float, t_to: float) -> None:
        """Remove the integration's own events in [t_from, t_to): it went quiet (retired, not revoked)."""
        for src, evs in self.events.items():
            self.events[src] = [e for e in evs if e.integ is not integ or not (t_from <= e.ts < t_to)]


def _in(hour: int, span: tuple[int, int]) -> bool:
    lo, hi = span
    return lo <= hour < hi if lo <= hi else hour >= lo or hour < hi
