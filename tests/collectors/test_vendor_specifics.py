"""What differs between vendors: GitHub Enterprise Server paths and 403 rate limits, Slack's errors in
HTTP 200 answers, Graph's absolute next links, Google's missing ``items``."""

from __future__ import annotations

from datetime import timedelta

from pytest_httpserver import HTTPServer

from nhiwatch.sources.collect import runner
from nhiwatch.sources.collect.registry import module, settings
from nhiwatch.store import Store
from tests.collectors.conftest import Clock, collect, ids, options, serve
from tests.collectors.fakes import (
    NOW,
    FakeGitHub,
    FakeGoogle,
    FakeGraph,
    FakeSlack,
    github_events,
    graph_signins,
    reply,
    slack_events,
)

TOKEN = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
SINCE = NOW - timedelta(days=1)


def test_github_enterprise_server_and_enterprise_audit_log(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake = FakeGitHub(token=TOKEN, events=github_events(120), org="acme-corp", prefix="/api/v3")
    url = serve(httpserver, fake)
    cfg = {"base_url": url + "/api/v3", "enterprise": "acme-corp"}
    report = collect(store, "github", cfg, {"NHIWATCH_GITHUB_TOKEN": TOKEN}, clock, since=SINCE)
    assert report.ok, report
    assert report.streams[0].instance == "enterprise:acme-corp"
    assert len(set(ids(store, "github"))) == 120
    first = fake.requests[0]
    assert first.path == "/api/v3/enterprises/acme-corp/audit-log"
    assert first.args["phrase"] == "created:>=2026-11-29T12:00:00+00:00"
    assert first.headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_github_403_secondary_rate_limit_is_retried_but_403_permission_is_an_error(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake = FakeGitHub(token=TOKEN, events=github_events(50))
    url = serve(httpserver, fake)
    fake.script[1] = reply(
        403, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "60"}
    )
    env = {"NHIWATCH_GITHUB_TOKEN": TOKEN}
    report = collect(store, "github", {"base_url": url, "org": "acme"}, env, clock, since=SINCE)
    assert report.ok and clock.sleeps and 60 <= clock.sleeps[0] < 61
    fake.script[len(fake.requests) + 1] = reply(
        403,
        {"message": "Must have admin rights to Repository.", "documentation_url": "https://docs.github.com"},
    )
    again = collect(
        store, "github", {"base_url": url, "org": "acme"}, env, clock, now=lambda: NOW + timedelta(hours=1)
    )
    error = again.streams[0].error or ""
    assert error.startswith("permission denied (HTTP 403)") and "Must have admin rights" in error


def test_github_org_names_cannot_reach_other_paths() -> None:
    import pytest

    from nhiwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="org"):
        settings("github", {"org": "../../user"}, env={})


def test_slack_errors_in_ok_false_answers_are_named(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake = FakeSlack(token=TOKEN, events=slack_events(10))
    url = serve(httpserver, fake)
    env = {"NHIWATCH_SLACK_TOKEN": TOKEN}
    fake.script[1] = reply(200, {"ok": False, "error": "missing_scope", "needed": "auditlogs:read"})
    report = collect(store, "slack", {"base_url": url}, env, clock, since=SINCE)
    assert "needs auditlogs:read" in (report.streams[0].error or "")
    fake.script[2] = reply(200, {"ok": False, "error": "invalid_auth"})
    report = collect(store, "slack", {"base_url": url}, env, clock, since=SINCE)
    assert "Slack refused the token (invalid_auth)" in (report.streams[0].error or "")
    report = collect(store, "slack", {"base_url": url}, env, clock, since=SINCE)
    assert report.ok and len(ids(store, "slack")) == 10


def test_slack_backfill_is_read_a_day_at_a_time_newest_first(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake = FakeSlack(token=TOKEN, events=slack_events(60, start=NOW - timedelta(days=3)))
    url = serve(httpserver, fake)
    report = collect(
        store,
        "slack",
        {"base_url": url, "limit": "25"},
        {"NHIWATCH_SLACK_TOKEN": TOKEN},
        clock,
        since=NOW - timedelta(days=3),
    )
    assert report.ok and len(set(ids(store, "slack"))) == 60
    windows = {(int(r.args["oldest"]), int(r.args["latest"])) for r in fake.requests}
    assert len(windows) >= 3 and all(hi - lo <= 86400 + 1 for lo, hi in windows)  # a day at a time


def test_graph_next_link_to_another_host_is_refused(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake = FakeGraph(token=TOKEN, signins=graph_signins(5))
    url = serve(httpserver, fake)
    fake.script[1] = reply(
        200,
        {
            "value": graph_signins(2),
            "@odata.nextLink": "https://graph.evil.example/beta/auditLogs/signIns?$skiptoken=1",
        },
    )
    cfg = settings(
        "microsoft",
        {
            "base_url": url,
            "tenant_id": "acme.onmicrosoft.com",
            "client_id": "249ccaa9-e7ff-43ca-b818-b925e5a13d47",
            "streams": "signIns.servicePrincipal",
        },
        env={},
    )
    collector = module("microsoft").build(cfg, env={}, http=options(clock), tokens=lambda refresh: TOKEN)
    try:
        report = runner.run(store, collector, since=SINCE, now=lambda: NOW)
    finally:
        collector.close()
    assert "refusing a link to another host" in (report.streams[0].error or "")
    assert len(fake.requests) == 1


def test_google_answers_without_items_are_empty_pages(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake = FakeGoogle(token=TOKEN, activities=[])
    url = serve(httpserver, fake)
    cfg = settings(
        "gws", {"base_url": url, "subject": "admin@acme.example", "applications": "login,drive"}, env={}
    )
    collector = module("gws").build(cfg, env={}, http=options(clock), tokens=lambda refresh: TOKEN)
    try:
        report = runner.run(store, collector, since=SINCE, now=lambda: NOW)
    finally:
        collector.close()
    assert report.ok and [s.instance for s in report.streams] == ["login", "drive"]
    assert all(s.caught_up and s.pages == 1 for s in report.streams)
    assert fake.requests[0].args["startTime"] == "2026-11-29T12:00:00Z"


def test_the_next_window_overlaps_the_last_so_a_late_event_is_read(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    """Window 1 is read; then Slack publishes an event dated five minutes before its end. Window 2
    starts ten minutes (the overlap) before window 1 ended, so the late event is stored."""
    from datetime import UTC

    fake = FakeSlack(token=TOKEN, events=[])
    url = serve(httpserver, fake)
    late = slack_events(1)[0]
    late["id"] = "late-one"
    late["date_create"] = int((NOW - timedelta(days=1, minutes=5)).replace(tzinfo=UTC).timestamp())

    def publish_late(request):  # type: ignore[no-untyped-def]
        fake.events.append(late)
        return fake.page(request)

    fake.script[2] = publish_late  # the first request of the second window
    report = collect(
        store,
        "slack",
        {"base_url": url},
        {"NHIWATCH_SLACK_TOKEN": TOKEN},
        clock,
        since=NOW - timedelta(days=2),
    )
    assert report.ok
    assert ids(store, "slack") == ["slack:late-one"]


def test_an_expired_stored_cursor_restarts_its_window_once(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake = FakeSlack(token=TOKEN, events=slack_events(60))
    url = serve(httpserver, fake)
    env = {"NHIWATCH_SLACK_TOKEN": TOKEN}
    cfg = {"base_url": url, "limit": "25"}
    first = collect(store, "slack", cfg, env, clock, since=SINCE, max_pages=1)
    assert first.ok and not first.streams[0].caught_up
    rejected = len(fake.requests)  # index of the next request
    fake.script[rejected + 1] = reply(200, {"ok": False, "error": "invalid_cursor"})
    second = collect(store, "slack", cfg, env, clock, now=lambda: NOW + timedelta(minutes=1))
    assert second.ok, second.streams[0].error
    assert "cursor" in fake.requests[rejected].args
    assert "cursor" not in fake.requests[rejected + 1].args  # the window again, from its first page
    assert len(set(ids(store, "slack"))) == 60 and second.streams[0].duplicates >= 25  # page 1 again
