"""Local time for simulated integrations: time zones with DST, business days, holidays, month ends.

Holidays follow a *region* (the first part of the time zone: a few public holidays each) or, for a seasonal
company, a *country* (an ISO code such as ``US`` or ``FR``: the ``holidays`` package's public holidays, the
calendar the integration also declares in the inventory).

Every integration runs on its own wall clock. :func:`local_hours` lists the local hours that fall inside
the simulated UTC window with their UTC start, so a schedule written in local time ("07:00-19:00
America/New_York") lands on the right UTC hours before and after a DST change.

>>> from datetime import date
>>> last_business_days(date(2026, 3, 27), 3)   # Friday; Mar 30 and 31 are the last two business days
True
>>> last_business_days(date(2026, 3, 26), 3)
False
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

WEEKDAY_SETS = {
    "mon-fri": frozenset(range(5)),
    "mon-sat": frozenset(range(6)),
    "mon-sun": frozenset(range(7)),
}


@dataclass(frozen=True)
class Hour:
    """One local hour: its UTC start (epoch seconds), local date, weekday (0 = Monday) and hour."""

    ts: float
    day: date
    weekday: int
    hour: int
    business_day: bool
    month_end_rank: int  # 0 = last business day of the month, 1 = the one before, ...; 99 otherwise
    catch_up: int = 0  # on a business day: weekday holidays since the previous business day


def easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


@cache
def holidays(region: str, year: int) -> frozenset[date]:
    """A few public holidays per region: enough for quiet days, not a legal calendar; a country code
    (``US``, ``DE-BY``) takes its public holidays from the ``holidays`` package."""
    if region[:2].isupper() and (len(region) == 2 or region[2] == "-"):
        from nhiwatch.baseline.calendar import public_holidays

        return frozenset(public_holidays(region, year))
    days = {date(year, 1, 1), date(year, 12, 25)}
    if region == "America":
        days |= {_nth_weekday(year, 2, 0, 3), _nth_weekday(year, 9, 0, 1), date(year, 7, 4)}
        days.add(_nth_weekday(year, 11, 3, 4))
    elif region in ("Europe", "Australia"):
        e = easter(year)
        days |= {e - timedelta(days=2), e + timedelta(days=1), date(year, 12, 26)}
        if region == "Europe":
            days.add(date(year, 5, 1))
    elif region == "Asia":
        days |= {date(year, 1, 2), date(year, 1, 3), date(year, 2, 11), date(year, 3, 20), date(year, 4, 29)}
    return frozenset(days)


def is_business_day(d: date, region: str) -> bool:
    return d.weekday() < 5 and d not in holidays(region, d.year)


def _month_end_rank(d: date, region: str) -> int:
    if not is_business_day(d, region):
        return 99
    rank, cur = 0, d + timedelta(days=1)
    while cur.month == d.month:
        if is_business_day(cur, region):
            rank += 1
        cur += timedelta(days=1)
    return rank


def last_business_days(d: date, n: int, region: str = "") -> bool:
    """True when ``d`` is one of the last ``n`` business days of its month."""
    return _month_end_rank(d, region) < n


def _held_back(d: date, region: str) -> int:
    """On a business day, the weekday holidays since the previous business day (0 otherwise)."""
    if not is_business_day(d, region):
        return 0
    n, cur = 0, d - timedelta(days=1)
    while not is_business_day(cur, region):
        n += cur.weekday() < 5 and cur in holidays(region, cur.year)
        cur -= timedelta(days=1)
    return n


@cache
def local_hours(tz: str, start: date, days: int, country: str = "") -> tuple[Hour, ...]:
    """Every local hour of ``tz`` whose UTC start lies in [start 00:00 UTC, start + days); business days
    follow ``country``'s public holidays when given, else the time zone's region."""
    zone = ZoneInfo(tz)
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()
    hi = lo + days * 86400
    region = country or tz.split("/", 1)[0]
    out: list[Hour] = []
    seen: set[float] = set()
    for i in range(-1, days + 2):
        d = start + timedelta(days=i)
        bd = is_business_day(d, region)
        rank = _month_end_rank(d, region)
        back = _held_back(d, region)
        for h in range(24):
            ts = datetime(d.year, d.month, d.day, h, tzinfo=zone).timestamp()
            if lo <= ts < hi and ts not in seen:  # a spring-forward gap maps onto the next hour: keep one
                seen.add(ts)
                out.append(Hour(ts, d, d.weekday(), h, bd, rank, back))
    return tuple(out)


def to_local(ts: float, tz: str) -> datetime:
    return datetime.fromtimestamp(ts, ZoneInfo(tz))


def iso_utc(ts: float, ms: bool = True) -> str:
    """``2026-03-01T12:00:00.123Z``."""
    dt = datetime.fromtimestamp(ts, UTC)
    if ms:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_local(ts: float, tz: str) -> str:
    """ISO 8601 with the zone's offset, seconds precision."""
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).isoformat(timespec="seconds")
