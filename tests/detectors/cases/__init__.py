"""Positive, negative and cold-start cases for every detection, run by one shared harness.

The cases live in the submodules (volume, timing, access, posture); importing this package registers them.

A case builds a small world (integrations, a history, a window) and states what the detection must
report: ``expect`` is the number of findings (or a predicate over them). The history is five weeks of
realistic activity starting on Tuesday 2026-09-01; the window is the day (or days) after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nhiwatch.detectors.base import Finding
from tests.detectors.world import T0, World

SINCE = T0 + timedelta(days=35)  # Tuesday 2026-10-06
DAY = timedelta(days=1)
Window = tuple[datetime, datetime]


@dataclass
class Case:
    detector: str
    name: str
    kind: str  # positive | negative | cold_start
    build: Callable[[World], Window]
    expect: Callable[[list[Finding]], bool]
    params: dict[str, Any] = field(default_factory=dict)


CASES: list[Case] = []


def case(
    detector: str,
    kind: str,
    expect: int | Callable[[list[Finding]], bool],
    params: dict[str, Any] | None = None,
) -> Callable[[Callable[[World], Window]], Callable[[World], Window]]:
    def deco(fn: Callable[[World], Window]) -> Callable[[World], Window]:
        check = (lambda fs: len(fs) == expect) if isinstance(expect, int) else expect
        CASES.append(Case(detector, fn.__name__, kind, fn, check, params or {}))
        return fn

    return deco


def some(n: int = 1, **details: Any) -> Callable[[list[Finding]], bool]:
    """At least ``n`` findings, the first with these details."""
    return lambda fs: len(fs) >= n and all(fs[0].details.get(k) == v for k, v in details.items())


# ---- shared behaviours ---------------------------------------------------------------------------


def business(w: World, integ: str, days: int = 35, start: datetime = T0, **cols: Any) -> None:
    """A weekday business-hours sync: 4 reads at each local hour 09-17."""
    w.daily(integ, start, days, range(9, 18), per_hour=4, weekdays=range(1, 6), **cols)


def crm(w: World, integ: str = "crm-sync", **kw: Any) -> str:
    return w.integration(
        integ,
        kind="oauth_app",
        vendor="salesforce",
        tz="America/New_York",
        days="mon-fri",
        hours="08:00-19:00",
        **kw,
    )


from tests.detectors.cases import access, change, posture, timing, volume  # noqa: E402,F401 - registers the cases
