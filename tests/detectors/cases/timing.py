"""Cases for dormant_reactivation, off_hours and cadence_change."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.detectors.cases import DAY, SINCE, Window, business, case, crm, some
from tests.detectors.world import T0, World

# ---- dormant_reactivation ------------------------------------------------------------------------


@case("dormant_reactivation", "positive", some(level="integration", off_hours=True))
def legacy_app_wakes_up_at_night(w: World) -> Window:
    crm(w, "legacy-test-app")
    business(w, "legacy-test-app", days=5)
    w.event("legacy-test-app", w.local("legacy-test-app", SINCE, 3))
    return SINCE, SINCE + DAY


@case("dormant_reactivation", "negative", 0)
def monthly_job_is_not_dormant(w: World) -> Window:
    w.integration("monthly-report", vendor="workday")
    for m in (6, 7, 8, 9):
        w.daily("monthly-report", datetime(2026, m, 5), 1, [6], per_hour=5)
    w.daily("monthly-report", datetime(2026, 10, 5), 1, [6], per_hour=5)
    return datetime(2026, 10, 5), datetime(2026, 10, 6)


@case("dormant_reactivation", "cold_start", 0)
def first_ever_activity_is_not_a_reactivation(w: World) -> Window:
    crm(w, "just-installed")
    business(w, "just-installed", start=SINCE, days=1)
    return SINCE, SINCE + DAY


# ---- off_hours -----------------------------------------------------------------------------------


@case("off_hours", "positive", some(state="established"))
def night_logins_of_a_business_sync(w: World) -> Window:
    crm(w)
    business(w, "crm-sync")
    business(w, "crm-sync", start=SINCE, days=1)
    for h in (0, 4, 22):
        w.daily("crm-sync", SINCE, 1, [h], per_hour=2, minute=17)
    return SINCE, SINCE + 2 * DAY


@case("off_hours", "negative", 0)
def dst_week_keeps_local_hours(w: World) -> Window:
    # Paris leaves summer time on Sunday 2026-10-25: the 09:00 job moves from 07:00 to 08:00 UTC.
    w.integration("paris-batch", tz="Europe/Paris")  # a time zone, no declared hours
    w.daily("paris-batch", datetime(2026, 9, 1), 60, [9], per_hour=5)
    return datetime(2026, 10, 24), datetime(2026, 10, 24) + 4 * DAY


@case("off_hours", "positive", lambda fs: len(fs) == 1 and fs[0].details["local_hours"][0].endswith("02:00"))
def dst_week_night_run_in_local_time(w: World) -> Window:
    w.integration("paris-batch", tz="Europe/Paris")
    w.daily("paris-batch", datetime(2026, 9, 1), 60, [9], per_hour=5)
    w.daily("paris-batch", datetime(2026, 10, 26), 1, [2, 3, 4, 5], per_hour=2)
    return datetime(2026, 10, 24), datetime(2026, 10, 24) + 4 * DAY


@case("off_hours", "negative", 0)
def night_migration_inside_its_own_change_ticket(w: World) -> Window:
    crm(w)
    business(w, "crm-sync")
    business(w, "crm-sync", start=SINCE, days=1)
    for h in (0, 4, 22):
        w.daily("crm-sync", SINCE, 1, [h], per_hour=2, minute=17)
    w.ticket(
        "CHG-9", w.local("crm-sync", SINCE, 0), w.local("crm-sync", SINCE, 23), "crm-sync", "org migration"
    )
    return SINCE, SINCE + 2 * DAY


@case("off_hours", "negative", 0)
def business_day_as_usual(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=36)
    return SINCE, SINCE + DAY


@case("off_hours", "cold_start", some(state="learning"))
def new_integration_outside_declared_schedule(w: World) -> Window:
    crm(w, "new-sync")
    business(w, "new-sync", start=SINCE - DAY, days=2)
    for h in (1, 2, 3, 4):
        w.daily("new-sync", SINCE, 1, [h], per_hour=3)
    return SINCE, SINCE + DAY


@case("off_hours", "cold_start", 0)
def new_integration_without_schedule_is_not_judged(w: World) -> Window:
    w.integration("no-sched", schedule=False)
    w.daily("no-sched", SINCE - DAY, 2, [1, 2, 3, 12], per_hour=3)
    return SINCE, SINCE + DAY


# ---- cadence_change ------------------------------------------------------------------------------


def _nightly(w: World, integ: str = "nightly-etl", days: int = 35) -> None:
    w.integration(
        integ,
        kind="service_principal",
        vendor="azure",
        tz="Europe/Berlin",
        days="mon-sun",
        hours="01:00-03:00",
    )
    w.daily(integ, T0, days, [2], per_hour=6, action_class="export", records=500)


@case("cadence_change", "positive", some(test="around_the_clock"))
def nightly_job_now_polls_around_the_clock(w: World) -> Window:
    _nightly(w)
    w.daily("nightly-etl", SINCE, 1, range(24), per_hour=2, minute=31)
    return SINCE, SINCE + DAY


@case("cadence_change", "positive", some(test="period", faster=True))
def fifteen_minute_sync_polls_every_minute(w: World) -> Window:
    w.integration("poller", every="15m")
    w.every("poller", T0, SINCE, timedelta(minutes=15))
    w.every("poller", SINCE, SINCE + DAY, timedelta(minutes=2))
    return SINCE, SINCE + DAY


@case("cadence_change", "negative", 0)
def nightly_job_running_a_ticketed_backfill_all_day(w: World) -> Window:
    _nightly(w)
    w.daily("nightly-etl", SINCE, 1, range(24), per_hour=2, minute=31)
    w.ticket("CHG-11", SINCE, SINCE + DAY, "nightly-etl", "historical backfill")
    return SINCE, SINCE + DAY


@case("cadence_change", "negative", 0)
def steady_poller_and_nightly_job(w: World) -> Window:
    w.integration("poller", every="15m")
    w.every("poller", T0, SINCE + DAY, timedelta(minutes=15))
    _nightly(w, days=36)
    return SINCE, SINCE + DAY


@case("cadence_change", "negative", 0)
def dst_week_poller(w: World) -> Window:
    w.integration("paris-poll", tz="Europe/Paris", every="30m")
    w.every("paris-poll", datetime(2026, 9, 15), datetime(2026, 10, 29), timedelta(minutes=30))
    return datetime(2026, 10, 24), datetime(2026, 10, 28)


@case("cadence_change", "cold_start", some(basis="declared"))
def new_poller_faster_than_declared(w: World) -> Window:
    w.integration("new-poller", every="1h")
    w.every("new-poller", SINCE - DAY, SINCE + DAY, timedelta(minutes=5))
    return SINCE, SINCE + DAY


# ---- off_hours on off days -----------------------------------------------------------------------

SATURDAY = datetime(2026, 10, 10)


@case("off_hours", "negative", 0)
def weekday_sync_runs_one_saturday_at_its_usual_hours(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=39)
    w.daily("crm-sync", SATURDAY, 1, [10, 11, 14], per_hour=3)
    return SATURDAY, SATURDAY + DAY


@case("off_hours", "positive", some(off_hours_never_worked=3))
def weekday_sync_runs_one_saturday_at_night(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=39)
    w.daily("crm-sync", SATURDAY, 1, [10, 11], per_hour=3)
    w.daily("crm-sync", SATURDAY, 1, [1, 2, 3], per_hour=3, minute=17)
    return SATURDAY, SATURDAY + DAY


@case("off_hours", "positive", some(off_days_at_usual_hours=8))
def weekday_sync_starts_working_every_weekend(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=35)
    start = T0 + timedelta(days=35)
    w.daily("crm-sync", start, 28, range(9, 18), per_hour=4)
    return start, start + 28 * DAY
