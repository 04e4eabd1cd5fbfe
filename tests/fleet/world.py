"""A small fleet for the fleet-context tests: pollers of one platform, a month of history, an outage day.

Built on :class:`tests.detectors.world.World`. Each integration polls Salesforce every 15 minutes (one read
of 100 records); on the scored day (``DAY``) an outage may make every poll in ``[OUT0, OUT1)`` fail with the
platform's error, and each integration then catches up what it missed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from tests.detectors.world import T0, World

HISTORY_DAYS = 35
DAY = T0 + timedelta(days=HISTORY_DAYS)  # the scored day, 2026-10-06
OUT0, OUT1 = DAY.replace(hour=14, minute=10), DAY.replace(hour=16, minute=40)
STEP = timedelta(minutes=15)
PLATFORM_ERROR = "UNKNOWN_EXCEPTION"  # what Salesforce answers when it is itself failing: not a retry code
RECORDS = 100


def fleet(w: World, n: int = 6, prefix: str = "sf", source: str = "salesforce") -> list[str]:
    """``n`` pollers of ``source`` with a month of clean history and an ordinary scored day so far."""
    ids = []
    for k in range(1, n + 1):
        integ = w.integration(f"{prefix}-{k}", vendor=f"vendor{k}", kind="oauth_app")
        # pollers start at different minutes, like real ones
        w.every(integ, T0 + timedelta(minutes=k), DAY, STEP, source=source, records=RECORDS)
        ids.append(integ)
    return ids


def day(
    w: World,
    integ: str,
    *,
    fail: tuple[datetime, datetime] | None = None,
    reason: str = PLATFORM_ERROR,
    catchup: int | None = None,
    source: str = "salesforce",
    offset: int = 0,
) -> None:
    """The scored day of one poller: polls fail in ``fail`` (with ``reason``); after it, a sign-in (a kind of
    action it never had: it kept one session for a month) and catch-up reads of ``catchup`` records in all
    (default: exactly what the failed polls missed)."""
    t, missed = DAY + timedelta(minutes=offset + 1), 0
    while t < DAY + timedelta(days=1):
        if fail and fail[0] <= t < fail[1]:
            w.event(integ, t, source=source, status="Failure", status_detail=reason, records=0)
            missed += RECORDS
        else:
            w.event(integ, t, source=source, records=RECORDS)
        t += STEP
    if fail:  # the connector signs in again; a backlog is more reads of the usual size, not larger ones
        w.event(
            integ, fail[1] + timedelta(minutes=6), source=source, action_class="auth", api_operation="Login"
        )
        extra = missed if catchup is None else catchup
        t = fail[1] + timedelta(minutes=7)
        for _ in range(-(-extra // RECORDS)):
            w.event(integ, t, source=source, records=RECORDS)
            t += timedelta(seconds=20)


def outage(w: World, ids: Iterable[str], **kw: object) -> None:
    for k, integ in enumerate(ids):
        day(w, integ, fail=(OUT0, OUT1), offset=k, **kw)  # type: ignore[arg-type]
