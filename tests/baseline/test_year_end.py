"""The year end as a stronger month end: learned from a December behind it, declared in ``bursty_windows``,
and — with no December behind it — judged as the quarter ends (else month ends) the integration has shown.

A usual year end stays quiet; ten times the closes before it, or an export of data never exported, still
alerts. Before the fallback, a declared ``year_end`` with no history of its own was judged as an ordinary
day times the burst allowance, so declaring it raised an alert on a year end that the same integration
without the declaration passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from nhiwatch.detectors.scope_expansion import DETECTOR as SCOPE
from nhiwatch.detectors.unticketed_burst import DETECTOR as BURST
from nhiwatch.detectors.volume_spike import DETECTOR as SPIKE
from nhiwatch.store import Store
from tests.detectors.world import World

DAY = timedelta(days=1)
YEAR_END = datetime(2026, 12, 29)  # Tue; Dec 29-31 are the last three business days of 2026
MONTH_END = [{"calendar": "month_end", "business_days": 3}]
QUARTER_END = [*MONTH_END, {"calendar": "quarter_end", "business_days": 3}]
YEAR_END_DECLARED = [*QUARTER_END, {"calendar": "year_end", "business_days": 3}]


def _last3(day: datetime) -> bool:
    nxt = [day + k * DAY for k in range(1, 7)]
    return sum(d.month == day.month and d.isoweekday() <= 5 for d in nxt) < 3


def _closer(
    store: Store, bursty: list[dict[str, Any]], *, start: datetime = datetime(2026, 9, 7), december: int = 12
) -> World:
    """A finance export job: ordinary days 100 records an event, month ends 5x, quarter ends 12x, and the
    Decembers before the scored one ``december`` x."""
    w = World(store)
    w.integration("ledger-export", tz="Europe/Paris", bursty=bursty)
    day = start
    while day < YEAR_END:
        if day.isoweekday() <= 5:
            factor = 1
            if _last3(day):
                factor = december if day.month == 12 else 12 if day.month in (3, 6, 9) else 5
            w.daily(
                "ledger-export", day, 1, range(9, 17), per_hour=4, action_class="export", records=100 * factor
            )
        day += DAY
    return w


def _year_end(w: World, factor: float, detectors=(SPIKE, BURST), **cols: Any) -> list:  # type: ignore[no-untyped-def]
    w.daily(
        "ledger-export",
        YEAR_END,
        3,
        range(9, 17),
        per_hour=4,
        action_class="export",
        records=int(100 * factor),
        **cols,
    )
    return [
        f
        for det in detectors
        for f in w.detect(det, YEAR_END, YEAR_END + 3 * DAY)
        if f.integration_id == "ledger-export"
    ]


def test_a_declared_year_end_with_no_december_behind_it_is_judged_as_the_quarter_end(store: Store) -> None:
    """1.5x the September quarter close: a usual year end, quiet, judged against the quarter end."""
    w = _closer(store, YEAR_END_DECLARED)
    assert _year_end(w, 18) == []
    days = store.fetchall(
        "SELECT DISTINCT regime, why FROM nw_regime_days WHERE d BETWEEN ? AND ?",
        [YEAR_END.date(), (YEAR_END + 2 * DAY).date()],
    )
    assert [r for r, _ in days] == ["quarter_end"] and "no year_end behind it" in days[0][1]


def test_declaring_the_year_end_is_no_worse_than_declaring_the_quarter_end(store: Store) -> None:
    assert _year_end(_closer(store, QUARTER_END), 18) == []


@pytest.mark.parametrize("bursty", [YEAR_END_DECLARED, QUARTER_END, MONTH_END, []])
def test_ten_times_the_closes_before_still_alerts(store: Store, bursty: list[dict[str, Any]]) -> None:
    """Ten times the quarter close (24x the month ends): whatever is declared, a volume finding."""
    found = _year_end(_closer(store, bursty), 120)
    assert found
    assert found[0].details["regime"] in ("quarter_end", "month_end")


def test_an_undeclared_month_end_job_passes_a_usual_year_end(store: Store) -> None:
    """Nothing declared: the month end is learned (Sep, Oct, Nov), the year end judged as a month end."""
    w = _closer(store, [])
    assert _year_end(w, 12) == []
    (learned,) = store.fetchall("SELECT regime FROM baseline_regimes")
    assert learned == ("month_end",)


def test_a_year_end_export_of_data_never_exported_still_alerts(store: Store) -> None:
    """The look-alike: a usual year-end volume, but of a dataset the job never exported (Payroll)."""
    w = _closer(store, YEAR_END_DECLARED)
    found = _year_end(w, 18, (SPIKE, BURST, SCOPE), resource_type="Payroll", resource_name="Payroll")
    assert [f.detector for f in found] == ["scope_expansion"]
    assert "Payroll" in str(found[0].details)


def test_a_year_end_learned_from_the_december_before(store: Store) -> None:
    """Sixteen months of history with a December close 30x: the year end is a regime of its own, and a
    usual one is quiet while three times it alerts."""
    w = _closer(store, [], start=datetime(2025, 8, 4), december=30)
    assert _year_end(w, 30) == []
    regimes = {r[0]: r[1] for r in store.fetchall("SELECT regime, compared_with FROM baseline_regimes")}
    assert regimes.get("year_end") in ("quarter_end", "month_end")


def _month_end_exporter(store: Store, bursty: list[dict[str, Any]]) -> World:
    """A sync that reads every business day and bulk-exports only on the last three business days of each
    month (Sep, Oct, Nov): by Dec 29 the last export is more than the 28 days of short memory ago."""
    w = World(store)
    w.integration("crm-export", tz="Europe/Paris", bursty=bursty)
    day = datetime(2026, 9, 7)
    while day < YEAR_END:
        if day.isoweekday() <= 5:
            w.daily("crm-export", day, 1, range(9, 17), per_hour=4, action_class="read")
            if _last3(day):
                w.daily("crm-export", day, 1, [11, 15], per_hour=2, action_class="export")
        day += DAY
    return w


def _exports_on(w: World, day: datetime) -> list:  # type: ignore[no-untyped-def]
    w.daily("crm-export", day, 1, range(9, 17), per_hour=4, action_class="read")
    w.daily("crm-export", day, 1, [11, 15], per_hour=2, action_class="export")
    # 28 days of short memory, as the default configuration learns (detection.history_days)
    return [f for f in w.detect(SCOPE, day, day + DAY, history_days=28) if f.integration_id == "crm-export"]


@pytest.mark.parametrize("bursty", [MONTH_END, []])
def test_year_end_exports_of_a_month_end_exporter_are_not_new(
    store: Store, bursty: list[dict[str, Any]]
) -> None:
    """Declared or learned month end: the exports the earlier closes brought are the close's usual work."""
    assert _exports_on(_month_end_exporter(store, bursty), YEAR_END) == []
    assert ("crm-export", "action_class", "export") in store.fetchall(
        "SELECT integration_id, dimension, value FROM baseline_regime_values"
    )


def test_the_same_export_on_an_ordinary_day_is_still_new(store: Store) -> None:
    """The look-alike: the job exports on an ordinary January day, outside any close, with its last export
    (end of November) beyond its short memory: still new."""
    found = _exports_on(_month_end_exporter(store, MONTH_END), datetime(2027, 1, 6))
    assert found and "export" in str(found[0].details)
