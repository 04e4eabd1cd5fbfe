"""Cases for volume_spike, unticketed_burst and fan_out."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.detectors.cases import DAY, SINCE, Window, business, case, crm, some
from tests.detectors.world import T0, World

# ---- volume_spike --------------------------------------------------------------------------------


@case("volume_spike", "positive", some(metric="records"))
def export_of_whole_dataset(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", records=40)
    business(w, "crm-sync", start=SINCE, days=1, records=40)
    for i in range(5):
        w.event("crm-sync", w.local("crm-sync", SINCE, 14, i), action_class="export", records=50_000)
    return SINCE, SINCE + DAY


@case("volume_spike", "negative", 0)
def ordinary_day(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", records=40)
    business(w, "crm-sync", start=SINCE, days=1, records=45)
    return SINCE, SINCE + DAY


@case("volume_spike", "cold_start", some(basis="peer oauth_app|salesforce"))
def new_integration_judged_by_peers(w: World) -> Window:
    crm(w, "crm-a")
    business(w, "crm-a", records=40)
    crm(w, "crm-b")
    business(w, "crm-b", records=60)
    crm(w, "crm-new")
    business(w, "crm-new", start=SINCE - 2 * DAY, days=2, records=40)
    w.event("crm-new", w.local("crm-new", SINCE, 11), action_class="read", records=90_000)
    return SINCE, SINCE + DAY


@case("volume_spike", "cold_start", 0)
def new_integration_without_peers_is_not_guessed(w: World) -> Window:
    w.integration("lonely", kind="bot", vendor="slack")
    business(w, "lonely", start=SINCE - 2 * DAY, days=2, records=40)
    business(w, "lonely", start=SINCE, days=1, records=400)
    return SINCE, SINCE + DAY


MONTH_END = datetime(2026, 10, 28)  # Wed: Oct 28-30 are the last three business days of October


def _month_end_world(w: World, factor: float) -> Window:
    crm(w, "finance-export", bursty=[{"calendar": "month_end", "business_days": 3}])
    start = datetime(2026, 8, 31)
    days = (MONTH_END - start).days
    for d in range(days):
        day = start + timedelta(days=d)
        if day.isoweekday() > 5:
            continue
        boost = 6 if day.month == 9 and day.day >= 28 else 1  # September's month end exported six times more
        w.daily(
            "finance-export", day, 1, range(9, 18), per_hour=4, action_class="export", records=100 * boost
        )
    w.daily(
        "finance-export",
        MONTH_END,
        3,
        range(9, 18),
        per_hour=4,
        action_class="export",
        records=int(100 * factor),
    )
    return MONTH_END, MONTH_END + 3 * DAY


@case("volume_spike", "negative", 0)
def month_end_export_does_not_alert(w: World) -> Window:
    return _month_end_world(w, 6.5)


@case("volume_spike", "positive", some(regime="month_end"))
def abnormal_month_end_still_alerts(w: World) -> Window:
    return _month_end_world(w, 400)


# ---- unticketed_burst ----------------------------------------------------------------------------


def _burst(w: World) -> None:
    crm(w)
    business(w, "crm-sync", records=40)
    business(w, "crm-sync", start=SINCE, days=1, records=40)
    for i in range(30):
        w.event("crm-sync", w.local("crm-sync", SINCE, 15, i), action_class="export", records=2_000)


@case("unticketed_burst", "positive", some(ticketed=False))
def export_burst_without_ticket(w: World) -> Window:
    _burst(w)
    return SINCE, SINCE + DAY


def _ticketed_burst(w: World) -> Window:
    _burst(w)
    w.ticket(
        "CHG-1042", w.local("crm-sync", SINCE, 14), w.local("crm-sync", SINCE, 17), "crm-sync", "backfill"
    )
    return SINCE, SINCE + DAY


@case("unticketed_burst", "negative", 0)
def burst_inside_its_own_change_ticket_is_planned(w: World) -> Window:
    return _ticketed_burst(w)


@case("volume_spike", "negative", 0)
def backfill_inside_its_own_change_ticket(w: World) -> Window:
    return _ticketed_burst(w)


@case(
    "unticketed_burst",
    "positive",
    lambda fs: len(fs) == 1 and fs[0].details["ticket_id"] == "CHG-1042" and fs[0].deviation < 0.3,
)
def burst_running_past_its_ticket_is_lowered_and_names_it(w: World) -> Window:
    _burst(w)  # the burst runs 15:00-15:30; the ticket ended at 14:45, within the slack
    w.ticket(
        "CHG-1042",
        w.local("crm-sync", SINCE, 12),
        w.local("crm-sync", SINCE, 14, 45),
        "crm-sync",
        "backfill",
    )
    return SINCE, SINCE + DAY


@case("unticketed_burst", "positive", some(ticket_id="EVT-Q3"))
def company_wide_event_covers_burst(w: World) -> Window:
    _burst(w)
    w.ticket("EVT-Q3", SINCE, SINCE + DAY, None, "quarter close")
    return SINCE, SINCE + DAY


@case("unticketed_burst", "negative", 0)
def steady_sync(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", records=40)
    business(w, "crm-sync", start=SINCE, days=1, records=40)
    return SINCE, SINCE + DAY


@case("unticketed_burst", "negative", 0)
def month_end_export_is_not_a_burst(w: World) -> Window:
    return _month_end_world(w, 6.5)


@case("unticketed_burst", "cold_start", 0)
def learning_integration_without_peers(w: World) -> Window:
    w.integration("brand-new", kind="webhook", vendor="acme")
    w.daily("brand-new", SINCE - DAY, 2, range(9, 12), per_hour=3, action_class="webhook")
    return SINCE, SINCE + DAY


# ---- fan_out -------------------------------------------------------------------------------------


def _ci(w: World, integ: str = "ci-bot", days: int = 35, start: datetime = T0) -> None:
    w.integration(integ, kind="github_app", vendor="github")
    for d in range(days):
        for h in (10, 15):
            for i, repo in enumerate(("acme/api", "acme/web", "acme/infra")):
                w.event(
                    integ,
                    start + timedelta(days=d, hours=h, minutes=i),
                    source="github",
                    resource_type="repo",
                    resource_name=repo,
                    action_class="read",
                )


@case("fan_out", "positive", some(metric="resources"))
def worm_clones_every_repository(w: World) -> Window:
    _ci(w)
    for i in range(150):
        w.event(
            "ci-bot",
            SINCE + timedelta(hours=2, seconds=12 * i),
            source="github",
            resource_type="repo",
            resource_name=f"acme/repo-{i}",
            action_class="export",
        )
    return SINCE, SINCE + DAY


@case("fan_out", "negative", 0)
def full_resync_inside_its_own_change_ticket(w: World) -> Window:
    _ci(w)
    for i in range(150):
        w.event(
            "ci-bot",
            SINCE + timedelta(hours=2, seconds=12 * i),
            source="github",
            resource_type="repo",
            resource_name=f"acme/repo-{i}",
            action_class="read",
        )
    w.ticket("CHG-7", SINCE + timedelta(hours=1), SINCE + timedelta(hours=4), "ci-bot", "full resync")
    return SINCE, SINCE + DAY


@case("fan_out", "negative", 0)
def usual_three_repositories(w: World) -> Window:
    _ci(w, days=36)
    return SINCE, SINCE + DAY


@case("fan_out", "negative", 0)
def one_repository_more_than_a_small_usual_is_chance(w: World) -> Window:
    """A backup key that touches one bucket a day: one hour with three, two of them new, is beyond twice its
    largest hour but no fan-out (a Poisson draw around 1 reaches 3 about one time in twelve)."""
    w.integration("backup-key", kind="api_key", vendor="backblaze")
    for d in range(35):
        w.event("backup-key", T0 + timedelta(days=d, hours=16), resource_name="bucket-0")
    for i, bucket in enumerate(("bucket-0", "bucket-7", "bucket-8")):
        w.event("backup-key", SINCE + timedelta(hours=16, minutes=i), resource_name=bucket)
    return SINCE, SINCE + DAY


@case("fan_out", "cold_start", 0)
def new_app_without_history_or_peers(w: World) -> Window:
    w.integration("fresh-app", kind="github_app", vendor="gitlab")
    for i in range(30):
        w.event("fresh-app", SINCE + timedelta(hours=1, minutes=i), resource_name=f"g/{i}")
    return SINCE, SINCE + DAY


def _new_ci_bot_clones(w: World, first: int, second: int) -> Window:
    """A new CI app (learning, judged by its peer ci-bot's three repositories an hour) that cloned ``first``
    repositories on its first day and ``second`` on its second."""
    _ci(w)
    w.integration("ci-bot-2", kind="github_app", vendor="github")
    for day, n in ((SINCE - DAY, first), (SINCE, second)):
        for i in range(n):
            w.event(
                "ci-bot-2",
                day + timedelta(hours=2, seconds=30 * i),
                source="github",
                resource_type="repo",
                resource_name=f"acme/repo-{day.day}-{i}",
                action_class="read",
            )
    return SINCE, SINCE + DAY


@case("fan_out", "cold_start", 0)
def new_integration_repeating_its_first_day_is_not_judged_again(w: World) -> Window:
    return _new_ci_bot_clones(w, 40, 40)


@case("fan_out", "cold_start", some(metric="resources"))
def new_integration_far_beyond_its_first_day_still_alerts(w: World) -> Window:
    return _new_ci_bot_clones(w, 40, 110)


@case("unticketed_burst", "cold_start", 0)
def new_integration_repeating_its_first_day_burst(w: World) -> Window:
    return _new_ci_bot_clones(w, 40, 40)
