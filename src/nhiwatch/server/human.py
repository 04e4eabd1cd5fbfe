"""The two human-unit helpers the console needs beyond :mod:`nhiwatch.alerts.units`: a stretch of time in the
integration's zone, and a measured amount. (``alerts.units`` gains the same on its own branch; these can then
point at it.)

>>> span(datetime(2026, 10, 6, 3, 0), datetime(2026, 10, 6, 3, 13), "Europe/Berlin")
'2026-10-06 05:00–05:13 Europe/Berlin (03:00–03:13 UTC)'
>>> amount(18_674_933, "byte"), amount(1, "record"), amount(177_000, "record")
('18.7 MB', '1 record', '177,000 records')
"""

from __future__ import annotations

from datetime import UTC, datetime

from nhiwatch.alerts.units import plural, size, zone


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def span(first: datetime, last: datetime, tz: str | None = None) -> str:
    """From ``first`` to ``last`` in the zone ``tz`` (named), UTC beside it; one date when it fits in a day."""
    a, b = _utc(first), _utc(last)
    info = zone(tz)
    la, lb = (a, b) if info is None else (a.astimezone(info), b.astimezone(info))
    name = "UTC" if info is None else str(tz)
    if f"{la:%Y-%m-%d %H:%M}" == f"{lb:%Y-%m-%d %H:%M}":
        local, utc = f"{la:%Y-%m-%d %H:%M} {name}", f"{a:%H:%M} UTC"
    elif la.date() == lb.date():
        local, utc = f"{la:%Y-%m-%d %H:%M}–{lb:%H:%M} {name}", f"{a:%H:%M}–{b:%H:%M} UTC"
    else:
        local = f"{la:%Y-%m-%d %H:%M} to {lb:%Y-%m-%d %H:%M} {name}"
        utc = f"{a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M} UTC"
    return local if info is None else f"{local} ({utc})"


def amount(value: float, unit: str) -> str:
    """A measured quantity: bytes as a size, anything else as a count of ``unit`` (a singular noun)."""
    return size(value) if unit == "byte" else plural(value, unit)
