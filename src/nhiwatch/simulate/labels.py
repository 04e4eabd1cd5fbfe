"""Benign irregularities written to the truth file with their cause, so an evaluation can say why it erred.

An attack episode says "alert here"; a benign label says "this looks odd, and this is why": a vendor outage
and its catch-up, a calendar day (a holiday and the backlog after it, a month, quarter or year end), a vendor
change (an SDK upgrade, a move to new addresses) or an on-demand tool's burst. Each label has a window and
the integrations it touched; ``truth.jsonl`` holds them as lines with ``"kind": "benign"`` beside the
episodes. Calendar labels are derived from each integration's own local calendar (the same one the
simulator draws its activity from), so they cover exactly the days whose volume the calendar changed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nhiwatch.simulate.calendar import Hour, local_hours
from nhiwatch.simulate.model import Integration

CAUSES = ("outage", "calendar", "vendor_change", "on_demand")


@dataclass(frozen=True)
class Benign:
    """One benign irregularity: its cause, what exactly (``detail``), its UTC window and integrations."""

    cause: str  # outage | calendar | vendor_change | on_demand
    detail: str  # e.g. holiday, month_end, quarter_end, year_end, sdk_upgrade, network_move, burst
    start: float
    end: float
    integrations: tuple[str, ...]
    description: str

    def record(self, label_id: str) -> dict[str, Any]:
        from nhiwatch.simulate.writers.common import iso_s

        return {
            "kind": "benign",
            "label_id": label_id,
            "cause": self.cause,
            "detail": self.detail,
            "start": iso_s(self.start),
            "end": iso_s(self.end),
            "integrations": sorted(self.integrations),
            "description": self.description,
        }


def _calendar_kind(d: date) -> str:
    if d.month == 12:
        return "year_end"
    return "quarter_end" if d.month in (3, 6, 9) else "month_end"


def _day_span(day: date, tz: str) -> tuple[float, float]:
    zone = ZoneInfo(tz)
    lo = datetime(day.year, day.month, day.day, tzinfo=zone)
    return lo.timestamp(), (lo + timedelta(days=1)).timestamp()


def _days(hours: tuple[Hour, ...]) -> dict[date, Hour]:
    out: dict[date, Hour] = {}
    for h in hours:
        out.setdefault(h.day, h)
    return out


def calendar_labels(company: list[Integration], start: date, days: int) -> list[Benign]:
    """Month, quarter and year ends of the integrations with a month-end close, and holidays with the
    business day after them for those whose work follows people (business hours, event-driven)."""
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()
    hi = lo + days * 86400
    spans: dict[tuple[str, str], list[float]] = {}
    members: dict[tuple[str, str], set[str]] = defaultdict(set)

    def add(detail: str, key: str, t0: float, t1: float, integ: Integration) -> None:
        t0, t1 = max(t0, lo), min(t1, hi)
        if t0 >= t1:
            return
        span = spans.setdefault((detail, key), [t0, t1])
        span[0], span[1] = min(span[0], t0), max(span[1], t1)
        members[(detail, key)].add(integ.id)

    for integ in company:
        if integ.shadow:
            continue
        by_day = _days(local_hours(integ.tz, start, days, integ.country))
        people = integ.pattern in ("business", "event")
        run: list[date] = []
        for d, h in sorted(by_day.items()):
            if integ.month_end and h.month_end_rank < integ.month_end_days:
                t0, t1 = _day_span(d, integ.tz)
                add(_calendar_kind(d), f"{d:%Y-%m}", t0, t1, integ)
            if not people:
                continue
            if not h.business_day and h.weekday < 5:
                run.append(d)  # a weekday off: a holiday
            elif run and h.business_day:
                t0, _ = _day_span(run[0], integ.tz)
                _, t1 = _day_span(d, integ.tz)  # the backlog day after it
                add("holiday", f"{integ.country or integ.tz}:{run[0]}", t0, t1, integ)
                run = []
    out = []
    for (detail, key), (t0, t1) in sorted(spans.items(), key=lambda kv: (kv[1][0], kv[0])):
        what = {
            "holiday": f"public holiday {key} and the backlog on the next business day",
            "month_end": f"month-end close {key}",
            "quarter_end": f"quarter close {key} (heavier than a month end)",
            "year_end": f"year-end close {key} (heavier than a quarter end, bulk exports)",
        }[detail]
        out.append(Benign("calendar", detail, t0, t1, tuple(sorted(members[(detail, key)])), what))
    return out


__all__ = ["CAUSES", "Benign", "calendar_labels"]
