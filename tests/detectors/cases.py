"""Positive, negative and cold-start cases for every detection, run by one shared harness.

A case builds a small world (integrations, a history, a window) and states what the detection must
report: ``expect`` is the number of findings (or a predicate over them). The history is five weeks of
realistic activity starting on Tuesday 2026-09-01; the window is the day (or days) after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nhiwatch.detectors.base import Finding
from tests.detectors.world import T0, World

SINCE = T0 + timedelta(days=35)  # Tuesday 2026-10-06
DAY = timedelta(days=1)
Window = tuple[datetime, datetime]


@dataclass
class Case:
    detector: str
    name: str
    kind: str  # positive | negative | cold_start
    build: Callable[[World], Window]
    expect: Callable[[list[Finding]], bool]
    params: dict[str, Any] = field(default_factory=dict)


CASES: list[Case] = []


def case(
    detector: str,
    kind: str,
    expect: int | Callable[[list[Finding]], bool],
    params: dict[str, Any] | None = None,
) -> Callable[[Callable[[World], Window]], Callable[[World], Window]]:
    def deco(fn: Callable[[World], Window]) -> Callable[[World], Window]:
        check = (lambda fs: len(fs) == expect) if isinstance(expect, int) else expect
        CASES.append(Case(detector, fn.__name__, kind, fn, check, params or {}))
        return fn

    return deco


def some(n: int = 1, **details: Any) -> Callable[[list[Finding]], bool]:
    """At least ``n`` findings, the first with these details."""
    return lambda fs: len(fs) >= n and all(fs[0].details.get(k) == v for k, v in details.items())


# ---- shared behaviours ---------------------------------------------------------------------------


def business(w: World, integ: str, days: int = 35, start: datetime = T0, **cols: Any) -> None:
    """A weekday business-hours sync: 4 reads at each local hour 09-17."""
    w.daily(integ, start, days, range(9, 18), per_hour=4, weekdays=range(1, 6), **cols)


def crm(w: World, integ: str = "crm-sync", **kw: Any) -> str:
    return w.integration(
        integ,
        kind="oauth_app",
        vendor="salesforce",
        tz="America/New_York",
        days="mon-fri",
        hours="08:00-19:00",
        **kw,
    )


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


@case("volume_spike", "positive", some(regime="bursty"))
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


@case(
    "unticketed_burst",
    "positive",
    lambda fs: len(fs) == 1 and fs[0].details["ticket_id"] == "CHG-1042" and fs[0].deviation < 0.3,
)
def ticketed_burst_is_lowered_and_names_the_ticket(w: World) -> Window:
    _burst(w)
    w.ticket(
        "CHG-1042", w.local("crm-sync", SINCE, 14), w.local("crm-sync", SINCE, 17), "crm-sync", "backfill"
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
def usual_three_repositories(w: World) -> Window:
    _ci(w, days=36)
    return SINCE, SINCE + DAY


@case("fan_out", "cold_start", 0)
def new_app_without_history_or_peers(w: World) -> Window:
    w.integration("fresh-app", kind="github_app", vendor="gitlab")
    for i in range(30):
        w.event("fresh-app", SINCE + timedelta(hours=1, minutes=i), resource_name=f"g/{i}")
    return SINCE, SINCE + DAY


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


# ---- probing -------------------------------------------------------------------------------------


@case("probing", "positive", some())
def token_tested_until_it_works(w: World) -> Window:
    crm(w)
    business(w, "crm-sync")
    for i in range(12):
        w.event(
            "crm-sync",
            SINCE + timedelta(hours=3, minutes=i),
            status="Failure",
            status_detail="401 INVALID_SESSION_ID",
            api_operation=f"GET /services/data/v59.0/sobjects/{i}",
            src_endpoint_ip="208.68.36.90",
        )
    w.event("crm-sync", SINCE + timedelta(hours=3, minutes=13), src_endpoint_ip="208.68.36.90")
    return SINCE, SINCE + DAY


@case("probing", "negative", 0)
def throttled_retries_are_not_probing(w: World) -> Window:
    crm(w)
    business(w, "crm-sync")
    for i in range(10):
        w.event(
            "crm-sync",
            SINCE + timedelta(hours=15, seconds=30 * i),
            status="Failure",
            status_detail="429 REQUEST_LIMIT_EXCEEDED",
        )
    w.event("crm-sync", SINCE + timedelta(hours=15, minutes=6))
    return SINCE, SINCE + DAY


@case("probing", "negative", 0)
def usual_failure_shape(w: World) -> Window:
    crm(w)
    for d in range(36):  # a flaky integration: runs of three auth failures every day
        for i in range(3):
            w.event(
                "crm-sync", T0 + timedelta(days=d, hours=14, minutes=i), status="Failure", status_detail="401"
            )
        business(w, "crm-sync", start=T0 + timedelta(days=d), days=1)
    return SINCE, SINCE + DAY


@case("probing", "cold_start", some(state="learning"))
def spray_on_a_new_integration(w: World) -> Window:
    crm(w, "new-sync")
    for i in range(9):
        w.event(
            "new-sync",
            SINCE + timedelta(hours=1, minutes=i),
            status="Failure",
            status_detail="invalid_client",
        )
    w.event("new-sync", SINCE + timedelta(hours=1, minutes=10))
    return SINCE, SINCE + DAY


# ---- scope_expansion -----------------------------------------------------------------------------


@case("scope_expansion", "positive", some(basis="declared"))
def undeclared_scope_granted(w: World) -> Window:
    crm(w, scopes=["api", "refresh_token"])
    business(w, "crm-sync", scopes=["api"])
    w.event(
        "crm-sync",
        SINCE + timedelta(hours=15),
        action_class="scope_grant",
        scopes=["full", "api"],
        actor_user_type="user",
        on_behalf_of="admin@acme.io",
    )
    return SINCE, SINCE + DAY


@case("scope_expansion", "positive", lambda fs: len(fs) == 1 and "resource_type" in fs[0].details)
def new_object_types_read(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", resource_type="Account")
    for t in ("Case", "User", "Opportunity", "ContentVersion"):
        w.event("crm-sync", SINCE + timedelta(hours=14), resource_type=t, resource_name=t)
    return SINCE, SINCE + DAY


@case("scope_expansion", "negative", 0)
def same_objects_and_scopes(w: World) -> Window:
    crm(w, scopes=["api"])
    business(w, "crm-sync", days=36, scopes=["api"])
    return SINCE, SINCE + DAY


@case("scope_expansion", "cold_start", 0)
def new_integration_types_are_not_new(w: World) -> Window:
    crm(w, "new-sync")
    w.daily("new-sync", SINCE - DAY, 2, [10], per_hour=3, resource_type="Contact")
    w.event("new-sync", SINCE + timedelta(hours=12), resource_type="Lead")
    return SINCE, SINCE + DAY


# ---- new_destination -----------------------------------------------------------------------------


def _worker(w: World, allowed: tuple[str, ...] = ()) -> None:
    w.integration("etl-worker", kind="service_account", vendor="internal", allowed=allowed)
    w.daily(
        "etl-worker",
        T0,
        35,
        range(0, 24, 2),
        per_hour=3,
        source="zeek",
        action_class="egress",
        dst_endpoint_hostname="api.snowflakecomputing.com",
        traffic_bytes_out=20_000,
    )


@case("new_destination", "positive", some(basis="declared"))
def post_to_webhook_site(w: World) -> Window:
    _worker(w, allowed=("*.snowflakecomputing.com",))
    w.event(
        "etl-worker",
        SINCE + timedelta(hours=3),
        source="zeek",
        action_class="egress",
        dst_endpoint_hostname="webhook.site",
        traffic_bytes_out=3_000_000,
    )
    return SINCE, SINCE + DAY


@case("new_destination", "positive", some(basis="learned"))
def never_seen_host_without_allow_list(w: World) -> Window:
    _worker(w)
    w.event(
        "etl-worker",
        SINCE + timedelta(hours=3),
        source="zeek",
        action_class="egress",
        dst_endpoint_hostname="gist.githubusercontent.com",
    )
    return SINCE, SINCE + DAY


@case("new_destination", "negative", 0)
def allowed_glob_matches(w: World) -> Window:
    _worker(w, allowed=("*.snowflakecomputing.com",))
    w.event(
        "etl-worker",
        SINCE + timedelta(hours=3),
        source="zeek",
        action_class="egress",
        dst_endpoint_hostname="acme.eu-west-1.snowflakecomputing.com",
    )
    return SINCE, SINCE + DAY


@case("new_destination", "cold_start", 0)
def learning_without_allow_list(w: World) -> Window:
    w.integration("new-worker", kind="service_account", vendor="internal")
    w.daily("new-worker", SINCE - DAY, 2, [3], per_hour=3, dst_endpoint_hostname="x.example.com")
    w.event("new-worker", SINCE + timedelta(hours=5), dst_endpoint_hostname="y.example.com")
    return SINCE, SINCE + DAY


# ---- new_network ---------------------------------------------------------------------------------


@case(
    "new_network", "positive", lambda fs: len(fs) == 1 and {"ip24", "asn", "user_agent"} <= set(fs[0].details)
)
def token_replayed_from_vps(w: World) -> Window:
    crm(w)
    business(w, "crm-sync")
    for i in range(5):
        w.event(
            "crm-sync",
            SINCE + timedelta(hours=4, minutes=i),
            src_endpoint_ip="208.68.36.90",
            src_endpoint_asn=14061,
            http_request_user_agent="python-requests/2.32.4",
        )
    return SINCE, SINCE + DAY


@case("new_network", "negative", 0)
def churning_cloud_addresses_are_normal(w: World) -> Window:
    crm(w)
    for d in range(36):  # a SaaS calling from ever new addresses in its cloud's many prefixes
        for h in range(9, 18):
            w.event("crm-sync", T0 + timedelta(days=d, hours=h), src_endpoint_ip=f"52.{d}.{h}.7")
    return SINCE, SINCE + DAY


@case("new_network", "cold_start", 0)
def new_integration_has_no_network_baseline(w: World) -> Window:
    crm(w, "new-sync")
    w.event("new-sync", SINCE - timedelta(hours=5))
    w.event("new-sync", SINCE + timedelta(hours=5), src_endpoint_ip="1.2.3.4")
    return SINCE, SINCE + DAY


# ---- new_credential_then_anomaly -----------------------------------------------------------------


def _graph_app(w: World) -> None:
    w.integration("mail-archiver", kind="service_principal", vendor="microsoft", scopes=["Mail.Read"])
    w.daily(
        "mail-archiver",
        T0,
        35,
        [3],
        per_hour=6,
        source="graph",
        resource_type="message",
        resource_name="archive@acme.io",
    )


@case("new_credential_then_anomaly", "positive", some(new_credential_used=True))
def secret_added_then_mailboxes_read(w: World) -> Window:
    _graph_app(w)
    w.event(
        "mail-archiver",
        SINCE + timedelta(hours=1),
        source="entra_audit",
        action_class="credential_issue",
        actor_user_credential_uid="key-new",
        on_behalf_of="it-admin@acme.io",
        actor_user_type="user",
        api_operation="Update application – Certificates and secrets management",
    )
    for i, box in enumerate(("ceo@acme.io", "cfo@acme.io", "legal@acme.io")):
        w.event(
            "mail-archiver",
            SINCE + timedelta(hours=2, minutes=i),
            source="graph",
            actor_user_credential_uid="key-new",
            src_endpoint_ip="185.220.101.4",
            resource_type="message",
            resource_name=box,
        )
    return SINCE, SINCE + DAY


@case("new_credential_then_anomaly", "negative", 0)
def rotation_then_business_as_usual(w: World) -> Window:
    _graph_app(w)
    w.event(
        "mail-archiver",
        SINCE + timedelta(hours=1),
        source="entra_audit",
        action_class="credential_issue",
        actor_user_credential_uid="key-2",
        on_behalf_of="it-admin@acme.io",
    )
    w.daily(
        "mail-archiver",
        SINCE,
        1,
        [3],
        per_hour=6,
        source="graph",
        resource_type="message",
        resource_name="archive@acme.io",
        actor_user_credential_uid="key-2",
    )
    return SINCE, SINCE + DAY


@case("new_credential_then_anomaly", "cold_start", 0)
def credential_for_a_brand_new_app(w: World) -> Window:
    w.integration("new-app", kind="service_principal", vendor="microsoft")
    w.event(
        "new-app", SINCE + timedelta(hours=1), action_class="credential_issue", actor_user_credential_uid="k1"
    )
    w.event("new-app", SINCE + timedelta(hours=2), actor_user_credential_uid="k1", src_endpoint_ip="9.9.9.9")
    return SINCE, SINCE + DAY


# ---- consent_chain -------------------------------------------------------------------------------


@case(
    "consent_chain",
    "positive",
    lambda fs: (
        len(fs) == 1
        and fs[0].details["grantor"] == "jdoe@acme.io"
        and "full_access_as_app" in fs[0].details["privileged"]
    ),
)
def user_consents_full_mailbox_access(w: World) -> Window:
    _graph_app(w)
    w.event(
        "mail-archiver",
        SINCE + timedelta(hours=10),
        source="entra_audit",
        action_class="scope_grant",
        scopes=["full_access_as_app", "Mail.Read"],
        actor_user_type="user",
        actor_user_name="jdoe@acme.io",
        on_behalf_of="jdoe@acme.io",
        api_operation="Consent to application",
    )
    return SINCE, SINCE + DAY


@case("consent_chain", "negative", 0)
def owner_grants_the_declared_scope(w: World) -> Window:
    _graph_app(w)
    w.event(
        "mail-archiver",
        SINCE + timedelta(hours=10),
        source="entra_audit",
        action_class="scope_grant",
        scopes=["Mail.Read"],
        actor_user_type="user",
        on_behalf_of="a@x.io",
        api_operation="Consent to application",
    )
    return SINCE, SINCE + DAY


@case("consent_chain", "cold_start", some())
def consent_to_an_undeclared_app(w: World) -> Window:
    w.integration("discovered:entra_audit:app_id:1234", discovered=True, owner=None, purpose=None)
    w.event(
        "discovered:entra_audit:app_id:1234",
        SINCE + timedelta(hours=10),
        action_class="scope_grant",
        scopes=["User.Read"],
        actor_user_type="user",
        on_behalf_of="intern@acme.io",
    )
    return SINCE, SINCE + DAY


# ---- posture -------------------------------------------------------------------------------------


@case(
    "posture_ownerless",
    "positive",
    lambda fs: len(fs) == 1 and fs[0].kind == "posture" and fs[0].details["missing"] == ["owner"],
)
def integration_without_owner(w: World) -> Window:
    crm(w, "orphan-sync", owner=None)
    crm(w, "owned-sync")
    business(w, "orphan-sync", days=36)
    return SINCE, SINCE + DAY


@case("posture_ownerless", "negative", 0)
def owned_and_explained(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=36)
    return SINCE, SINCE + DAY


@case("posture_ownerless", "cold_start", some(events_in_window=0))
def declared_never_seen_without_purpose(w: World) -> Window:
    crm(w, "planned", purpose=None)
    crm(w, "other")
    w.event("other", SINCE + timedelta(hours=2))
    return SINCE, SINCE + DAY


@case(
    "posture_discovered",
    "positive",
    lambda fs: len(fs) == 1 and fs[0].details["identity"] == "app_name=shadow-exporter",
)
def shadow_app_in_the_logs(w: World) -> Window:
    w.integration("discovered:github:app_name:shadow-exporter", discovered=True, owner=None, purpose=None)
    w.store.execute(
        "UPDATE integrations SET discovered_identity = 'app_name=shadow-exporter', name = 'shadow-exporter'"
    )
    w.event("discovered:github:app_name:shadow-exporter", SINCE + timedelta(hours=1), action_class="export")
    w.store.execute(
        "UPDATE integrations SET first_seen = ?, last_seen = ?", [SINCE, SINCE + timedelta(hours=1)]
    )
    return SINCE, SINCE + DAY


@case("posture_discovered", "negative", 0)
def only_declared_integrations(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=36)
    return SINCE, SINCE + DAY


@case("posture_discovered", "cold_start", 0)
def discovered_after_the_window_is_not_reported(w: World) -> Window:
    w.integration("discovered:okta:actor:later", discovered=True, owner=None)
    w.store.execute("UPDATE integrations SET first_seen = ?", [SINCE + 3 * DAY])
    crm(w)
    w.event("crm-sync", SINCE + timedelta(hours=1))
    return SINCE, SINCE + DAY


@case(
    "posture_overprivileged",
    "positive",
    lambda fs: len(fs) == 1 and set(fs[0].details["unused"]) == {"full", "delete"},
)
def write_scopes_never_used(w: World) -> Window:
    crm(w, scopes=["api", "full", "delete"])
    business(w, "crm-sync", days=36, scopes=["api"])
    return SINCE, SINCE + DAY


@case("posture_overprivileged", "negative", 0)
def every_scope_used(w: World) -> Window:
    crm(w, scopes=["api", "write:records"])
    business(w, "crm-sync", days=36, scopes=["api"])
    business(w, "crm-sync", days=36, scopes=["write:records"], action_class="write")
    return SINCE, SINCE + DAY


@case(
    "posture_overprivileged",
    "cold_start",
    lambda fs: len(fs) == 1 and fs[0].details["unused"]["api"] == "no activity at all",
)
def declared_but_never_active(w: World) -> Window:
    crm(w, "idle-app", scopes=["api"])
    crm(w)
    w.event("crm-sync", SINCE + timedelta(hours=1))
    return SINCE, SINCE + DAY


@case("posture_stale_credential", "positive", some(state="rotated out but not revoked", credential="tok-old"))
def rotated_key_still_valid(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=3, actor_user_credential_uid="tok-old")
    business(w, "crm-sync", start=T0 + timedelta(days=3), days=33, actor_user_credential_uid="tok-new")
    return SINCE, SINCE + DAY


@case("posture_stale_credential", "negative", 0)
def rotated_and_revoked(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", days=3, actor_user_credential_uid="tok-old")
    w.event(
        "crm-sync",
        T0 + timedelta(days=4),
        action_class="credential_revoke",
        actor_user_credential_uid="tok-old",
    )
    business(w, "crm-sync", start=T0 + timedelta(days=3), days=33, actor_user_credential_uid="tok-new")
    return SINCE, SINCE + DAY


@case("posture_stale_credential", "cold_start", 0)
def fresh_credentials_are_not_stale(w: World) -> Window:
    crm(w)
    business(w, "crm-sync", start=SINCE - 2 * DAY, days=3)
    return SINCE, SINCE + DAY
