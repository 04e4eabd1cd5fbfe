"""Calendar regimes learned from the long memory, and public holidays with the catch-up after them.

A month end (or quarter end) an integration has shown for months is learned by a rank test and judged
against earlier ones: a usual one stays quiet, ten times the usual still alerts. An integration with no
month end behind it gets no regime (its first month end is a close never observed). A quiet public holiday of the integration's country is neither a volume
nor a cadence anomaly, and the catch-up day after it is judged against what the holiday held back, while
an export on the holiday or far beyond the backlog still alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nhiwatch.baseline import learn
from nhiwatch.detectors.cadence_change import DETECTOR as CADENCE
from nhiwatch.detectors.unticketed_burst import DETECTOR as BURST
from nhiwatch.detectors.volume_spike import DETECTOR as SPIKE
from nhiwatch.store import Store
from tests.detectors.world import World

DAY = timedelta(days=1)
MONTH_END = datetime(2026, 10, 28)  # Wed; Oct 28-30 are the last three business days of October


def _last3(day: datetime, n: int = 3) -> bool:
    nxt = [day + k * DAY for k in range(1, 10)]
    return sum(d.month == day.month and d.isoweekday() <= 5 for d in nxt) < n


def _ledger(
    store: Store,
    *,
    start: datetime,
    until: datetime,
    month_end: int = 5,
    quarter_end: int = 5,
    close_days: int = 3,
) -> World:
    """A business-hours export job (nothing declared) whose month ends (its last ``close_days`` business
    days) move ``month_end`` times the records of an ordinary day, and its quarter ends ``quarter_end`` times."""
    w = World(store)
    w.integration("ledger-export", tz="Europe/Paris")
    day = start
    while day < until:
        if day.isoweekday() <= 5:
            factor = (
                (quarter_end if day.month in (3, 6, 9, 12) else month_end) if _last3(day, close_days) else 1
            )
            w.daily(
                "ledger-export", day, 1, range(9, 17), per_hour=4, action_class="export", records=100 * factor
            )
        day += DAY
    return w


def _scored(w: World, since: datetime, records: int, detectors=(SPIKE,)) -> list:  # type: ignore[no-untyped-def]
    """Findings of ``detectors`` on three days from ``since`` that move ``records`` an event."""
    w.daily("ledger-export", since, 3, range(9, 17), per_hour=4, action_class="export", records=records)
    return [
        f
        for det in detectors
        for f in w.detect(det, since, since + 3 * DAY)
        if f.integration_id == "ledger-export"
    ]


def _regimes(store: Store) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r["regime"]: r for r in store.records("SELECT * FROM baseline_regimes")}


def test_month_end_is_learned_over_months_and_a_usual_one_does_not_alert(store: Store) -> None:
    w = _ledger(store, start=datetime(2026, 4, 1), until=MONTH_END)
    assert _scored(w, MONTH_END, 500, (SPIKE, BURST)) == []
    got = _regimes(store)
    assert set(got) == {"month_end"}  # quarter ends are no heavier than month ends here: no quarter regime
    assert got["month_end"]["occurrences"] == 6 and got["month_end"]["p_value"] < 0.01
    assert got["month_end"]["compared_with"] == "ordinary"


def test_ten_times_the_usual_month_end_still_alerts(store: Store) -> None:
    w = _ledger(store, start=datetime(2026, 4, 1), until=MONTH_END)
    found = _scored(w, MONTH_END, 5000)
    assert found and found[0].details["regime"] == "month_end" and found[0].details["metric"] == "records"


WEEK_CLOSE = datetime(2026, 10, 26)  # Mon; Oct 26-30 are the last five business days of October


def test_a_close_that_lasts_a_week_is_learned_with_its_length(store: Store) -> None:
    """Closes of five business days: the two days before the usual three are heavier at every close, so
    the regime covers them, and the first days of the next close do not alert."""
    w = _ledger(store, start=datetime(2026, 5, 1), until=WEEK_CLOSE, close_days=5)
    assert _scored(w, WEEK_CLOSE, 500, (SPIKE, BURST)) == []
    assert _regimes(store)["month_end"]["business_days"] == 5


def test_a_three_day_close_keeps_its_length_and_a_heavy_day_before_it_alerts(store: Store) -> None:
    w = _ledger(store, start=datetime(2026, 5, 1), until=WEEK_CLOSE, close_days=3)
    found = _scored(w, WEEK_CLOSE, 500)
    assert _regimes(store)["month_end"]["business_days"] == 3
    assert found and found[0].details["regime"] != "month_end"


def test_a_quarter_end_heavier_than_month_ends_gets_its_own_regime(store: Store) -> None:
    qe = datetime(2026, 9, 28)  # Mon; Sep 28-30 close the third quarter
    w = _ledger(store, start=datetime(2025, 8, 1), until=qe, month_end=3, quarter_end=12)
    assert _scored(w, qe, 1200) == []  # a usual quarter end: four times a month end, and no alert
    got = _regimes(store)
    assert set(got) == {"month_end", "quarter_end"}
    assert got["quarter_end"]["compared_with"] == "month_end" and got["quarter_end"]["occurrences"] == 4
    assert got["quarter_end"]["ratio"] > 3


def test_an_abnormal_quarter_end_still_alerts(store: Store) -> None:
    qe = datetime(2026, 9, 28)
    w = _ledger(store, start=datetime(2025, 8, 1), until=qe, month_end=3, quarter_end=12)
    found = _scored(w, qe, 12_000)
    assert found and found[0].details["regime"] == "quarter_end"


def test_no_month_end_history_no_regime(store: Store) -> None:
    """Three weeks inside one month: the month end has never been seen, so no regime is learned; the first
    month end is judged as a close never observed (its normal days times the burst allowance): five times
    an ordinary day passes, fifty times alerts."""
    w = _ledger(store, start=datetime(2026, 10, 5), until=MONTH_END)
    assert _scored(w, MONTH_END, 500) == []
    assert _regimes(store) == {}
    found = _scored(w, MONTH_END, 5_000)
    assert found and found[0].details["regime"] == "month_end"


def test_a_flat_integration_gets_no_regime(store: Store) -> None:
    _ledger(store, start=datetime(2026, 3, 2), until=MONTH_END, month_end=1, quarter_end=1).flush()
    learn(store, until=MONTH_END)
    assert _regimes(store) == {}


def test_a_declared_quarter_end_holds_from_the_first_day(store: Store) -> None:
    """A declared quarter end never observed is its normal days times the burst allowance from the first
    day; so is the first quarter end in an undeclared integration's memory (an ordinary August close behind
    both). Five times an ordinary day passes both; fifty times alerts both."""
    qe = datetime(2026, 9, 28)
    w = World(store)
    for integ, windows in (
        ("declared", [{"calendar": "quarter_end", "business_days": 3}]),
        ("undeclared", []),
    ):
        w.integration(integ, bursty=windows)
        w.daily(
            integ,
            qe - 42 * DAY,
            42,
            range(9, 17),
            per_hour=4,
            weekdays=range(1, 6),
            action_class="export",
            records=100,
        )
        w.daily(integ, qe, 3, range(9, 17), per_hour=4, action_class="export", records=500)
    assert {f.integration_id for f in w.detect(SPIKE, qe, qe + 3 * DAY)} == set()
    kinds = store.fetchall(
        "SELECT DISTINCT integration_id, kind FROM nw_first_closes WHERE d >= ? ORDER BY ALL", [qe.date()]
    )
    assert ("undeclared", "quarter") in kinds and ("undeclared", "month") not in kinds
    for integ in ("declared", "undeclared"):
        w.daily(integ, qe + DAY, 1, [12], per_hour=4, action_class="export", records=5_000)
    assert {f.integration_id for f in w.detect(SPIKE, qe, qe + 3 * DAY)} == {"declared", "undeclared"}


# ---- public holidays -------------------------------------------------------------------------------------

HOLIDAY = datetime(2026, 7, 3)  # Friday: Independence Day (observed) in the US
CATCH_UP = datetime(2026, 7, 6)  # the Monday after


def _office_job(
    store: Store,
    country: str | None,
    *,
    holiday_records: int = 0,
    catch_up_per_hour: int = 10,
    catch_up_records: int = 100,
) -> World:
    """An export job fed by people: busy on business days 09-17, idle on US public holidays."""
    w = World(store)
    w.integration("office-sync", tz="America/New_York", country=country)
    day = datetime(2026, 5, 1)
    while day < HOLIDAY:
        if day.isoweekday() <= 5 and day != datetime(2026, 5, 25):  # Memorial Day is quiet too
            w.daily("office-sync", day, 1, range(9, 17), per_hour=4, action_class="export", records=100)
        day += DAY
    if holiday_records:
        w.daily("office-sync", HOLIDAY, 1, [11], per_hour=4, action_class="export", records=holiday_records)
    w.daily(
        "office-sync",
        CATCH_UP,
        1,
        range(9, 17),
        per_hour=catch_up_per_hour,
        action_class="export",
        records=catch_up_records,
    )
    return w


def _office_findings(w: World, detectors=(SPIKE,)) -> list:  # type: ignore[no-untyped-def]
    return [
        f
        for det in detectors
        for f in w.detect(det, HOLIDAY, CATCH_UP + DAY)
        if f.integration_id == "office-sync"
    ]


def test_catch_up_after_a_holiday_does_not_alert(store: Store) -> None:
    assert _office_findings(_office_job(store, "US"), (SPIKE, BURST)) == []


def test_the_same_catch_up_alerts_without_the_holiday_calendar(store: Store) -> None:
    """The backlog model is what keeps the catch-up quiet: without a country it is a volume spike."""
    found = _office_findings(_office_job(store, None))
    assert found and found[0].details["backlog"] is None


def test_catch_up_far_beyond_the_backlog_still_alerts(store: Store) -> None:
    """Fifteen times the hourly volume, every hour: one typical day of backlog does not cover it."""
    found = _office_findings(_office_job(store, "US", catch_up_per_hour=60))
    assert found and found[0].details["metric"] in ("events", "records") and found[0].details["backlog"] > 0


def test_an_export_on_a_holiday_still_alerts(store: Store) -> None:
    found = _office_findings(_office_job(store, "US", holiday_records=3000))
    assert found and found[0].first_seen.date() == HOLIDAY.date()


def test_a_quiet_holiday_is_not_a_cadence_change(store: Store) -> None:
    def world(country: str | None) -> list:  # type: ignore[type-arg]
        w = World(store)
        integ = f"poller-{country or 'none'}"
        w.integration(integ, tz="America/New_York", every="15m", country=country)
        w.every(integ, datetime(2026, 6, 1), w.local(integ, HOLIDAY, 0), timedelta(minutes=15))
        # on the holiday only a run every two hours
        w.every(integ, w.local(integ, HOLIDAY, 0), w.local(integ, HOLIDAY + DAY, 0), timedelta(hours=2))
        return [f for f in w.detect(CADENCE, HOLIDAY, HOLIDAY + DAY) if f.integration_id == integ]

    assert world(None)  # the slowed rhythm is a cadence change for an integration without a calendar
    assert world("US") == []


def test_business_calendar_skips_public_holidays() -> None:
    from datetime import date

    from nhiwatch.baseline.calendar import calendar_rows

    rows = {r[1]: r for r in calendar_rows("US", date(2026, 5, 1), date(2026, 5, 31))}
    # (country, d, dow, mon, bday, holiday, me_rank, ms_rank, held_back)
    assert rows[date(2026, 5, 25)][4:6] == (False, "Memorial Day")
    assert rows[date(2026, 5, 26)][8] == 1  # the Tuesday after catches up one business day
    assert rows[date(2026, 5, 27)][8] == 0
    assert [rows[date(2026, 5, d)][6] for d in (26, 27, 28, 29, 30, 31)] == [4, 3, 2, 1, 0, 0]
    plain = {r[1]: r for r in calendar_rows("", date(2026, 5, 1), date(2026, 5, 31))}
    assert plain[date(2026, 5, 25)][4] and plain[date(2026, 5, 25)][6] == 5


def test_a_store_from_before_holiday_calendars_gets_the_country_column(store: Store) -> None:
    from nhiwatch.inventory.resolve import INTEGRATIONS_DDL, ensure_tables

    store.execute(INTEGRATIONS_DDL.replace(", country VARCHAR)", ")"))
    store.execute("INSERT INTO integrations (id, name) VALUES ('old', 'old')")
    ensure_tables(store)
    assert store.fetchall("SELECT id, country FROM integrations") == [("old", None)]


def test_doctests() -> None:
    import doctest

    from nhiwatch.baseline import calendar, regimes, stats

    for module in (calendar, regimes, stats):
        assert doctest.testmod(module).failed == 0
