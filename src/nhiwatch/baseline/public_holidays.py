"""Public holidays per integration: the first business day after one is a catch-up day, bursty by design.

An integration's country is that of its declared time zone (``schedule.timezone``), read from the IANA
``zone.tab`` that ships with ``tzdata``; its public holidays come from the ``holidays`` package. Work that
a holiday (and the weekend around it) held back arrives on the next business day, so that day joins the
bursty-by-design regime: its volume is compared with earlier catch-up and month-end days, not with an
ordinary Tuesday. The holiday itself needs nothing: a quiet day raises no volume alert.

>>> country_of("America/New_York"), country_of("Europe/Berlin"), country_of("UTC")
('US', 'DE', None)
>>> [str(d) for d, _ in catch_up_days("US", date(2026, 5, 20), date(2026, 5, 31))]
['2026-05-26']
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from importlib import resources

import holidays as _holidays

_MAX_SKIP = 10  # business days looked past a holiday for the next working one


@functools.cache
def _zone_countries() -> dict[str, str]:
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                out[parts[2]] = parts[0]
    return out


def country_of(tz: str | None) -> str | None:
    """ISO 3166 country of an IANA time zone, or None (UTC, Etc/*, unknown)."""
    return _zone_countries().get(tz or "")


def catch_up_days(country: str, start: date, end: date) -> list[tuple[date, str]]:
    """(day, holiday name) for each first business day after a public holiday of ``country`` whose day
    falls in ``[start, end]``; empty for a country the package does not know."""
    try:
        cal = dict(_holidays.country_holidays(country, years=range(start.year - 1, end.year + 2)))
    except NotImplementedError:
        return []  # a plain dict: the package's mapping grows when asked about other years
    out: dict[date, str] = {}
    for day, name in cal.items():
        if day.isoweekday() > 5:
            continue  # a holiday on a weekend holds nothing back (its observed day is listed itself)
        nxt = day + timedelta(days=1)
        for _ in range(_MAX_SKIP):
            if nxt.isoweekday() <= 5 and nxt not in cal:
                break
            nxt += timedelta(days=1)
        if start <= nxt <= end:
            out.setdefault(nxt, f"after {name}")
    return sorted(out.items())


def holiday_rows(tzs: dict[str, str | None], start: date, end: date) -> list[tuple[str, date, str]]:
    """(integration_id, day, why) catch-up rows for integrations keyed to their time zone."""
    by_country: dict[str, list[tuple[date, str]]] = {}
    rows = []
    for integration_id, tz in tzs.items():
        country = country_of(tz)
        if country is None:
            continue
        if country not in by_country:
            by_country[country] = catch_up_days(country, start, end)
        rows += [(integration_id, d, f"holiday:{why}") for d, why in by_country[country]]
    return rows


__all__ = ["catch_up_days", "country_of", "holiday_rows"]
