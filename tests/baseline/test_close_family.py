"""Month, quarter and year ends as one family of closes, and the first close of a new integration.

Found on the hard 120-day company (``nhiwatch simulate --hard``): a month end that follows a quarter end was
judged against the month ends alone (the quarter end had a regime of its own), so a close-only export
(an hour or two a month) fell back to the all-classes bound of ordinary hours; a month-end job's accounts,
read at every close, counted as never seen; a close's longer working day read as "around the clock"; and an
integration's first month end, with no close in its memory, was judged as an ordinary day. Each test has
its look-alike: ten times the close, or data never touched at a close, still alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nhiwatch.detectors.cadence_change import DETECTOR as CADENCE
from nhiwatch.detectors.fan_out import DETECTOR as FAN_OUT
from nhiwatch.detectors.unticketed_burst import DETECTOR as BURST
from nhiwatch.detectors.volume_spike import DETECTOR as SPIKE
from nhiwatch.store import Store
from tests.detectors.world import World

DAY = timedelta(days=1)
START = datetime(2026, 8, 3)  # a Monday: the July close is not in memory, August's and September's are
OCT_CLOSE = datetime(2026, 10, 28)  # Wed; Oct 28-30 are the last three business days of October


def _last3(day: datetime) -> bool:
    nxt = [day + k * DAY for k in range(1, 7)]
    return sum(d.month == day.month and d.isoweekday() <= 5 for d in nxt) < 3


def _business(day: datetime, month: int) -> bool:
    return day.month == month and day.isoweekday() <= 5


def _billing(store: Store, until: datetime = OCT_CLOSE, start: datetime = START) -> World:
    """Reads all day on business days; at each close (heavier at the quarter end) more reads, the same 40
    accounts, and one hour of export at 15:00 on the last business day (2,000 records at a month end,
    20,000 at the quarter end)."""
    w = World(store)
    w.integration("billing-sync")
    day = start
    while day < until:
        if day.isoweekday() <= 5:
            close = _last3(day)
            quarter = day.month in (3, 6, 9, 12)
            per_hour = (12 if quarter else 8) if close else 4
            w.daily("billing-sync", day, 1, range(8, 18), per_hour=per_hour, records=10)
            if close:
                for i in range(40):
                    w.event(
                        "billing-sync", day + timedelta(hours=4, seconds=30 * i), resource_name=f"Acct-{i}"
                    )
            if close and not any(_business(day + k * DAY, day.month) for k in range(1, 5)):  # the last one
                w.event(
                    "billing-sync",
                    day + timedelta(hours=15),
                    action_class="export",
                    records=20_000 if quarter else 2_000,
                    resource_name="Opportunity",
                )
        day += DAY
    return w


def _october_close(w: World, export_records: int, accounts: str = "Acct", n_accounts: int = 40) -> list:  # type: ignore[no-untyped-def]
    for k in range(3):
        day = OCT_CLOSE + k * DAY
        w.daily("billing-sync", day, 1, range(8, 18), per_hour=8, records=10)
        for i in range(n_accounts):
            w.event("billing-sync", day + timedelta(hours=4, seconds=30 * i), resource_name=f"{accounts}-{i}")
    w.event(
        "billing-sync",
        OCT_CLOSE + 2 * DAY + timedelta(hours=15),
        action_class="export",
        records=export_records,
        resource_name="Opportunity",
    )
    return [
        f
        for det in (SPIKE, BURST, FAN_OUT)
        for f in w.detect(det, OCT_CLOSE, OCT_CLOSE + 3 * DAY)
        if f.integration_id == "billing-sync"
    ]


def test_a_month_end_after_a_quarter_end_is_judged_against_every_close(store: Store) -> None:
    """October's export, twice September's: the same close process, quiet (was a 'burst' and a 'spike'
    against the ordinary hours' bound, and a fan-out to the accounts read at every close)."""
    assert _october_close(_billing(store), 36_000) == []


def test_ten_times_the_closes_before_still_alerts(store: Store) -> None:
    found = _october_close(_billing(store), 400_000)
    assert {f.detector for f in found} >= {"volume_spike", "unticketed_burst"}


def test_accounts_never_read_at_a_close_are_still_new(store: Store) -> None:
    """The look-alike: the usual close volume, but twice as many accounts, none of them ever read (an hour
    that beats the largest close hour with improbably many new values)."""
    found = _october_close(_billing(store), 2_000, accounts="Payroll", n_accounts=80)
    (fan,) = {f.detector: f for f in found if f.detector == "fan_out"}.values()
    assert fan.details["new_values"] >= 80


def test_a_close_working_longer_days_than_ordinary_ones_is_not_around_the_clock(store: Store) -> None:
    """Ordinary days 08-18, month ends 06-20, the September quarter end 02-22. The November close works
    02-22 again: the short memory holds only October's 14-hour close, the long memory September's 20 hours,
    so it is quiet (was "around the clock"). An ordinary day around the clock still alerts."""
    w = World(store)
    w.integration("ledger")
    nov_close = datetime(2026, 11, 26)  # Thu; Nov 26, 27 and 30 are the last three business days
    day = START
    while day < nov_close:
        if day.isoweekday() <= 5:
            hours = (
                range(2, 22)
                if _last3(day) and day.month == 9
                else range(6, 20)
                if _last3(day)
                else range(8, 18)
            )
            w.daily("ledger", day, 1, hours, per_hour=2)
        day += DAY
    for k in (0, 1, 4):
        w.daily("ledger", nov_close + k * DAY, 1, range(2, 22), per_hour=2)
    assert [
        f for f in w.detect(CADENCE, nov_close, nov_close + 5 * DAY) if f.details["test"] != "period"
    ] == []
    ordinary = datetime(2026, 12, 3)
    w.daily("ledger", datetime(2026, 12, 1), 2, range(8, 18), per_hour=2)
    w.daily("ledger", ordinary, 1, range(24), per_hour=2)
    found = w.detect(CADENCE, ordinary, ordinary + DAY)
    assert [f.details["test"] for f in found] == ["around_the_clock"]


def test_a_new_integrations_first_month_end_is_a_close_with_no_history(store: Store) -> None:
    """First seen on September 14: its first close (three times its ordinary hours) is judged as a close
    never observed (normal x burst allowance), not as an ordinary day; fifty times still alerts."""
    w = _billing(store, until=datetime(2026, 9, 28), start=datetime(2026, 9, 14))
    close = datetime(2026, 9, 28)
    w.daily("billing-sync", close, 3, range(8, 18), per_hour=12, records=10)
    assert [f for f in w.detect(SPIKE, close, close + 3 * DAY) if f.integration_id == "billing-sync"] == []
    days = store.fetchall("SELECT DISTINCT why FROM nw_regime_days WHERE integration_id = 'billing-sync'")
    assert days == [("first close: no month end in its memory yet",)]
    w.daily("billing-sync", close + DAY, 1, [14], per_hour=200, records=10)
    found = w.detect(SPIKE, close, close + 3 * DAY)
    assert [f.detector for f in found if f.integration_id == "billing-sync"] == ["volume_spike"]


def test_the_day_after_a_close_that_ran_faster_keeps_its_period(store: Store) -> None:
    """An hourly job that polls every two minutes through its (declared) month end: its period is learned
    from ordinary days, so the hourly day after the close is its usual rhythm (was "runs every 1 hour
    against a learned period of 2 minutes"); the close itself is not a period change either."""
    w = World(store)
    w.integration("poller", bursty=[{"calendar": "month_end", "business_days": 3}])
    w.every("poller", datetime(2026, 9, 28), OCT_CLOSE, timedelta(hours=1))
    w.every("poller", OCT_CLOSE, OCT_CLOSE + 3 * DAY, timedelta(minutes=2))
    after = datetime(2026, 11, 2)
    w.every("poller", OCT_CLOSE + 3 * DAY, after + DAY, timedelta(hours=1))
    assert w.detect(CADENCE, after, after + DAY) == []
    (period,) = store.fetchall("SELECT period_s FROM baseline_integrations WHERE integration_id = 'poller'")[
        0
    ]
    assert period == 3600


def test_the_first_year_end_is_allowed_heavier_than_the_closes_before_it(store: Store) -> None:
    """September to November closes behind it, no December: the first year end, two and a half times the
    quarter close, is a close of a kind never observed (normal x burst allowance, at least): quiet; thirty
    times the quarter close still alerts."""
    year_end = datetime(2026, 12, 29)  # Tue; Dec 29-31 are the last three business days

    def ledger(w: World) -> None:
        w.integration("ledger")
        day = datetime(2026, 9, 1)
        while day < year_end:
            if day.isoweekday() <= 5:
                factor = (4 if day.month == 9 else 2) if _last3(day) else 1
                w.daily(
                    "ledger", day, 1, range(9, 17), per_hour=4 * factor, action_class="export", records=100
                )
            day += DAY

    w = World(store)
    ledger(w)
    w.daily("ledger", year_end, 3, range(9, 17), per_hour=40, action_class="export", records=100)
    found = [f for det in (SPIKE, BURST) for f in w.detect(det, year_end, year_end + 3 * DAY)]
    assert found == []
    assert ("ledger", "year") in store.fetchall("SELECT DISTINCT integration_id, kind FROM nw_first_closes")
    w.daily("ledger", year_end, 1, [12], per_hour=480, action_class="export", records=100)
    assert {f.detector for det in (SPIKE, BURST) for f in w.detect(det, year_end, year_end + 3 * DAY)} == {
        "volume_spike",
        "unticketed_burst",
    }


def _first_close_reads(store: Store, accounts: int) -> list:  # type: ignore[type-arg]
    """First seen on September 7, reading the same object every hour; on its first close (September 28) it
    reads ``accounts`` accounts it never read in one hour."""
    w = World(store)
    w.integration("billing-sync")
    close = datetime(2026, 9, 28)
    day = datetime(2026, 9, 7)
    while day < close:
        if day.isoweekday() <= 5:
            w.daily("billing-sync", day, 1, range(8, 18), per_hour=4, resource_name="Invoice")
        day += DAY
    w.daily("billing-sync", close, 1, range(8, 18), per_hour=4, resource_name="Invoice")
    for i in range(accounts):
        w.event("billing-sync", close + timedelta(hours=4, seconds=30 * i), resource_name=f"Acct-{i}")
    return [f for f in w.detect(FAN_OUT, close, close + DAY) if f.integration_id == "billing-sync"]


def test_accounts_only_a_close_reads_are_not_judged_new_at_the_first_close(store: Store) -> None:
    assert _first_close_reads(store, 6) == []


def test_a_mass_read_at_the_first_close_still_fans_out(store: Store) -> None:
    found = _first_close_reads(store, 60)
    assert found and found[0].details["metric"] == "resources"
