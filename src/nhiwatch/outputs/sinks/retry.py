"""Retry timing: exponential backoff with jitter, and the ``Retry-After`` a receiver asks for.

>>> Backoff(base=1.0, cap=30.0, rand=lambda: 1.0).delay(3)
4.0
>>> Backoff(base=1.0, cap=30.0, rand=lambda: 0.0).delay(3)
2.0
>>> retry_after("120")
120.0
>>> retry_after("soon") is None
True
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Backoff:
    """``base * 2**(attempt-1)``, capped, times a jitter factor in [0.5, 1] so that many senders failing
    together do not come back together."""

    base: float = 1.0
    cap: float = 60.0
    rand: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int, asked: float | None = None) -> float:
        step = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        wait = step * (0.5 + self.rand() / 2)
        return max(wait, asked or 0.0)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)
