"""The Okta System Log collector against a fake /api/v1/logs: pagination, rate limits, faults, restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.store import Store
from tests.collectors.conftest import Clock, checkpoint, collect, ids, serve
from tests.collectors.crash import Crash, CrashingStore
from tests.collectors.fakes import NOW, FakeOkta, okta_events, reply

TOKEN = "00Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz"
ENV = {"NHIWATCH_OKTA_API_TOKEN": TOKEN}
SINCE = NOW - timedelta(days=1)


def _setup(httpserver: HTTPServer, n: int = 250) -> tuple[FakeOkta, dict[str, str]]:
    fake = FakeOkta(token=TOKEN, events=okta_events(n))
    url = serve(httpserver, fake)
    return fake, {"base_url": url, "limit": "100"}


def _all_uids(n: int) -> list[str]:
    return [f"okta:okta-{i:06d}" for i in range(n)]


def test_multi_page_run_stores_every_event_once_and_moves_the_checkpoint(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver)
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    assert report.ok, report
    s = report.streams[0]
    assert (s.pages, s.read, s.stored, s.duplicates) == (3, 250, 250, 0)
    assert s.caught_up
    assert ids(store, "okta") == _all_uids(250)
    cp = checkpoint(store, "okta", settings["base_url"].split("://")[1])
    assert cp.since == NOW and cp.cursor is None and not cp.in_window and cp.pages == 3
    assert all(a == f"SSWS {TOKEN}" for a in fake.seen_auth)
    # The second page was asked for with Okta's own next link (its ``after`` cursor).
    assert fake.requests[1].args["after"] == "okta-000099"


def test_next_run_starts_at_the_checkpoint_minus_overlap_and_adds_nothing_twice(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver)
    collect(store, "okta", settings, ENV, clock, since=SINCE)
    fake.events += okta_events(10, start=NOW + timedelta(minutes=1), end=NOW + timedelta(minutes=9))
    for i, e in enumerate(fake.events[-10:]):
        e["uuid"] = f"late-{i}"
    later = NOW + timedelta(minutes=10)
    report = collect(store, "okta", settings, ENV, clock, now=lambda: later)
    assert report.ok
    assert fake.requests[-1].args["since"] == "2026-11-30T11:55:00Z"  # 5 minutes of overlap
    assert report.streams[0].stored == 10
    assert len(ids(store, "okta")) == 260 == len(set(ids(store, "okta")))


def test_429_storm_with_retry_after_is_waited_out(httpserver: HTTPServer, store: Store, clock: Clock) -> None:
    fake, settings = _setup(httpserver)
    for n in range(2, 7):  # the second page is refused five times
        fake.script[n] = reply(
            429, {"errorCode": "E0000047"}, {"Retry-After": "7", "X-Rate-Limit-Remaining": "0"}
        )
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    assert report.ok
    assert ids(store, "okta") == _all_uids(250)
    assert clock.sleeps == [7.4] * 5  # Retry-After plus jitter (rng 0.5 of 0.8 s)


def test_429_without_retry_after_waits_for_x_rate_limit_reset(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver)
    reset = int(clock.now) + 42
    fake.script[1] = reply(429, {}, {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(reset)})
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    assert report.ok
    assert 42 <= clock.sleeps[0] <= 43


def test_a_spent_budget_waits_for_the_reset_before_the_next_request(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver)
    first = fake.page

    def spent(request):  # type: ignore[no-untyped-def]
        r = first(request)
        r.headers["X-Rate-Limit-Remaining"] = "0"
        r.headers["X-Rate-Limit-Reset"] = str(int(clock.now) + 30)
        return r

    fake.script[1] = spent
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    assert report.ok and clock.sleeps == [30]


def test_5xx_answers_are_retried_with_backoff(httpserver: HTTPServer, store: Store, clock: Clock) -> None:
    fake, settings = _setup(httpserver)
    fake.script.update({2: reply(500), 3: reply(502, raw=b"<html>bad gateway</html>"), 4: reply(503)})
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    assert report.ok
    assert ids(store, "okta") == _all_uids(250)
    assert clock.sleeps == [0.5, 1.0, 2.0]  # full jitter (rng 0.5) of 1, 2, 4 s


def test_a_wait_longer_than_a_run_allows_ends_the_run_with_a_reason(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver)
    fake.script[2] = reply(429, {}, {"Retry-After": "86400"})
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    s = report.streams[0]
    assert s.error and "asks to wait 86400 s" in s.error
    assert clock.sleeps == []
    cp = checkpoint(store, "okta", settings["base_url"].split("://")[1])
    assert cp.in_window and cp.cursor and cp.last_error == s.error
    assert len(ids(store, "okta")) == 100  # the first page is kept


@pytest.mark.parametrize(
    "body",
    [b'[{"uuid": "okta-000100", "published": "2026-11-30T', b"<html>upstream timeout</html>", b""],
    ids=["truncated", "html", "empty"],
)
def test_a_malformed_page_is_a_recorded_error_and_the_next_run_has_no_gap(
    httpserver: HTTPServer, store: Store, clock: Clock, body: bytes
) -> None:
    fake, settings = _setup(httpserver)
    fake.script[2] = reply(200, raw=body)
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    error = report.streams[0].error
    assert error and error.startswith("malformed JSON from")
    instance = settings["base_url"].split("://")[1]
    cp = checkpoint(store, "okta", instance)
    assert cp.last_error == error and cp.cursor and "after=okta-000099" in cp.cursor
    again = collect(store, "okta", settings, ENV, clock)
    assert again.ok
    assert fake.requests[-2].args["after"] == "okta-000099"  # resumed at the page that failed
    assert ids(store, "okta") == _all_uids(250)


def test_expired_credentials_are_a_clear_error_and_the_checkpoint_stays(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver)
    collect(store, "okta", settings, ENV, clock, since=SINCE)
    instance = settings["base_url"].split("://")[1]
    before = checkpoint(store, "okta", instance)
    fake.token = "rotated-token-value-000000000000"
    report = collect(store, "okta", settings, ENV, clock, now=lambda: NOW + timedelta(hours=1))
    error = report.streams[0].error
    assert error and "refused the credentials (HTTP 401)" in error and "Invalid token provided" in error
    after = checkpoint(store, "okta", instance)
    assert (after.since, after.cursor, after.pages) == (before.since, before.cursor, before.pages)
    assert after.last_error == error


def test_pages_that_repeat_events_store_each_event_once(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    """The second page starts 50 events early (a replayed or overlapping answer): the repeats are counted
    as duplicates, and the store holds every event once."""
    from werkzeug.test import EnvironBuilder

    fake, settings = _setup(httpserver)

    def overlapping(request):  # type: ignore[no-untyped-def]
        args = {**request.args, "after": "okta-000049", "limit": "150"}
        again = EnvironBuilder(path="/api/v1/logs", query_string=args).get_request()
        return fake.page(again)

    fake.script[2] = overlapping
    report = collect(store, "okta", settings, ENV, clock, since=SINCE)
    assert report.ok
    assert report.streams[0].duplicates == 50
    assert ids(store, "okta") == _all_uids(250)


@pytest.mark.parametrize("where", ["between pages", "inside the commit"])
def test_restart_after_a_crash_mid_run_has_no_gap_and_no_duplicate(
    httpserver: HTTPServer, tmp_path, clock: Clock, where: str
) -> None:
    fake, settings = _setup(httpserver, n=550)
    db = tmp_path / "crash.duckdb"
    if where == "between pages":

        def dying_sleep(seconds: float) -> None:
            raise Crash()

        fake.script[4] = reply(503)  # the fourth page fails, and the process dies in the backoff
        with Store(db) as s, pytest.raises(Crash):
            collect(s, "okta", settings, ENV, clock, since=SINCE, sleep=dying_sleep)
    else:
        s2 = CrashingStore(db)
        s2.crash_at = 3
        try:
            with pytest.raises(Crash):
                collect(s2, "okta", settings, ENV, clock, since=SINCE)
        finally:
            s2.close()
    with Store(db) as s:
        kept = len(ids(s, "okta"))
        assert kept == (300 if where == "between pages" else 200)
        report = collect(s, "okta", settings, ENV, clock)
        assert report.ok, report
        assert ids(s, "okta") == _all_uids(550)
        assert report.streams[0].duplicates == 0  # resumed at the page after the last one committed


def test_the_page_limit_ends_a_run_and_the_next_run_goes_on(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    _fake, settings = _setup(httpserver)
    first = collect(store, "okta", settings, ENV, clock, since=SINCE, max_pages=2)
    assert first.ok and not first.streams[0].caught_up and first.streams[0].stored == 200
    second = collect(store, "okta", settings, ENV, clock, max_pages=2)
    assert second.ok and second.streams[0].caught_up
    assert ids(store, "okta") == _all_uids(250)
