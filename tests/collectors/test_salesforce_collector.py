"""The Salesforce collector against a fake REST API: the JWT bearer flow, EventLogFile listings and
downloads, storage-object windows, API limits, faults, and restarts without gap or duplicate."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.sources.collect import objects
from nhiwatch.store import Store
from tests.collectors.conftest import Clock, checkpoint, collect, ids, serve
from tests.collectors.crash import Crash, CrashingStore
from tests.collectors.fake_salesforce import FakeSalesforce, key_pair, log_files, storage_events
from tests.collectors.fakes import NOW, reply

PRIVATE, PUBLIC = key_pair()
ENV = {"NHIWATCH_SALESFORCE_PRIVATE_KEY": PRIVATE}
SINCE = NOW - timedelta(days=1)
ELF = "EventLogFile.Hourly"


def _setup(
    httpserver: HTTPServer, n_files: int = 6, streams: str = ELF, **kw: Any
) -> tuple[FakeSalesforce, dict[str, Any]]:
    fake = FakeSalesforce(token="", public_key=PUBLIC, files=log_files(n_files), **kw)
    url = serve(httpserver, fake)
    settings = {
        "base_url": url,
        "consumer_key": fake.consumer_key,
        "username": fake.username,
        "streams": streams,
    }
    return fake, settings


def _elf_uids(store: Store) -> list[str]:
    return ids(store, "salesforce")


def test_event_log_files_are_listed_downloaded_and_stored_once(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver, n_files=6)
    fake.batch_size = 4  # two listing batches: the second through nextRecordsUrl
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    assert report.ok, report
    s = report.streams[0]
    assert (s.pages, s.stored, s.duplicates, s.quarantined) == (6, 120, 0, 0) and s.caught_up
    assert fake.downloads == [f.id for f in fake.files]
    assert any("/query/" in r.path for r in fake.requests)  # the continuation was followed
    uids = _elf_uids(store)
    assert len(uids) == len(set(uids)) == 120
    cp = checkpoint(store, "salesforce", ELF)
    assert cp.cursor == "2026-11-30T10:00:00Z" and cp.since == NOW  # the floor: two hours before the pass
    assert fake.token_requests == 1  # the token is kept for the whole run
    # The next run lists again from the floor but downloads nothing it has read.
    again = collect(store, "salesforce", settings, ENV, clock, now=lambda: NOW + timedelta(minutes=30))
    assert again.ok and again.stored == 0 and fake.downloads == [f.id for f in fake.files]
    assert "CreatedDate >= 2026-11-30T10:00:00Z" in fake.queries[-1]


def test_a_file_created_late_below_the_last_one_read_is_still_found(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver, n_files=3)
    assert collect(store, "salesforce", settings, ENV, clock, since=SINCE).ok
    late = log_files(4)[3]
    late.id, late.created = "0AT8c00000L0000001", NOW - timedelta(minutes=20)  # committed after the pass
    fake.files.append(late)
    report = collect(store, "salesforce", settings, ENV, clock, now=lambda: NOW + timedelta(minutes=10))
    assert report.ok and report.stored == 20
    assert fake.downloads[-1] == late.id and len(fake.downloads) == 4


def test_hourly_and_daily_files_of_the_same_events_store_each_event_once(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver, n_files=2, streams="EventLogFile.Hourly,EventLogFile.Daily")
    for f in log_files(2):
        f.interval, f.id = "Daily", f.id.replace("H", "D")
        fake.files.append(f)
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    assert report.ok
    assert [s.stored for s in report.streams] == [40, 0]
    assert report.streams[1].duplicates == 40
    assert len(_elf_uids(store)) == 40


def test_storage_events_are_read_in_windows_with_next_records_url(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver, n_files=0, streams="LoginEvent,ApiEvent")
    fake.events = {"ApiEvent": storage_events(450), "LoginEvent": storage_events(30, "LoginEvent")}
    settings["batch_size"] = 200
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    assert report.ok, [s.error for s in report.streams]
    assert [(s.instance, s.pages, s.stored) for s in report.streams] == [
        ("LoginEvent", 1, 30),
        ("ApiEvent", 3, 450),
    ]
    q = fake.queries[0]
    assert q.startswith("SELECT EventIdentifier, EventDate") and "FROM LoginEvent WHERE EventDate >= " in q
    assert len(set(_elf_uids(store))) == 480
    again = collect(store, "salesforce", settings, ENV, clock, now=lambda: NOW + timedelta(minutes=5))
    assert again.ok and again.stored == 0  # the overlap re-reads; nothing is stored twice


def test_an_invalid_session_gets_a_new_token_once(httpserver: HTTPServer, store: Store, clock: Clock) -> None:
    fake, settings = _setup(httpserver, n_files=4)

    def expire(request):  # type: ignore[no-untyped-def]
        fake.revoke()  # the session timed out: this and later requests with the old token are refused
        return fake.unauthorized()

    fake.script[4] = expire
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    assert report.ok, report
    assert fake.token_requests == 2
    assert len(_elf_uids(store)) == 80


def test_a_user_who_has_not_approved_the_app_is_a_clear_error(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver)
    settings["username"] = "someone-else@acme.example"
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    error = report.streams[0].error or ""
    assert "refused the JWT bearer token request" in error and "hasn't approved this consumer" in error
    assert "BEGIN" not in error and not fake.downloads


def test_request_limit_exceeded_ends_the_run_and_the_next_run_goes_on(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver, n_files=5)
    # token, query, download 1, download 2, then the org's allowance is spent
    fake.script[5] = reply(
        403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    )
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    error = report.streams[0].error or ""
    assert "REQUEST_LIMIT_EXCEEDED" in error and "24-hour API allowance" in error
    assert clock.sleeps == []  # not retried: the allowance is a rolling day
    assert len(_elf_uids(store)) == 40
    again = collect(store, "salesforce", settings, ENV, clock, now=lambda: NOW + timedelta(hours=1))
    assert again.ok
    uids = _elf_uids(store)
    assert len(uids) == len(set(uids)) == 100


def test_sforce_limit_info_stops_a_run_before_the_allowance_is_spent(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver, n_files=6)
    fake.api_used, fake.api_limit = 7_996, 10_000  # the 80 % line is crossed by the fourth answer
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    error = report.streams[0].error or ""
    assert "API usage is 8,000/10,000" in error and "max_api_usage" in error
    assert len(fake.downloads) == 3 and len(_elf_uids(store)) == 60
    settings["max_api_usage"] = 0.95
    again = collect(store, "salesforce", settings, ENV, clock)
    assert again.ok and len(set(_elf_uids(store))) == 120


def test_429_storm_and_5xx_are_waited_out(httpserver: HTTPServer, store: Store, clock: Clock) -> None:
    fake, settings = _setup(httpserver, n_files=3)
    fake.script.update(
        {
            3: reply(429, [{"errorCode": "REQUEST_LIMIT"}], {"Retry-After": "5"}),
            4: reply(429, [{"errorCode": "REQUEST_LIMIT"}], {"Retry-After": "5"}),
            6: reply(503, raw=b"<html>Service Unavailable</html>"),
        }
    )
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    assert report.ok
    assert len(set(_elf_uids(store))) == 60
    assert clock.sleeps[:2] == [5.3, 5.3] and len(clock.sleeps) == 3


def test_a_truncated_log_file_is_not_stored_and_is_read_whole_next_time(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver, n_files=3)
    cut = fake.files[1].body[: len(fake.files[1].body) // 2]
    fake.script[4] = lambda request: __import__("werkzeug").Response(cut, 200, content_type="text/csv")
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    error = report.streams[0].error or ""
    assert "arrived with" in error and fake.files[1].id in error
    assert len(_elf_uids(store)) == 20
    again = collect(store, "salesforce", settings, ENV, clock)
    assert again.ok
    uids = _elf_uids(store)
    assert len(uids) == len(set(uids)) == 60


def test_an_expired_query_locator_lists_again_without_duplicates(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver, n_files=6)
    fake.batch_size = 3
    first_page = fake.page

    def forget(request):  # type: ignore[no-untyped-def]
        fake.locators.clear()  # fifteen minutes idle: the locator is gone
        return first_page(request)

    fake.script[5] = forget  # token, query, 3 downloads; then the continuation fails
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    assert report.ok, report
    assert fake.downloads == [f.id for f in fake.files]
    assert len(set(_elf_uids(store))) == 120


def test_a_crash_inside_a_commit_leaves_no_gap_and_no_duplicate(
    httpserver: HTTPServer, tmp_path: Path, clock: Clock
) -> None:
    _fake, settings = _setup(httpserver, n_files=5)
    db = tmp_path / "crash.duckdb"
    s = CrashingStore(db)
    s.crash_at = 3
    try:
        with pytest.raises(Crash):
            collect(s, "salesforce", settings, ENV, clock, since=SINCE)
    finally:
        s.close()
    with Store(db) as s2:
        kept = len(_elf_uids(s2))
        assert 0 < kept < 100
        assert objects.count(s2, "salesforce", ELF) == kept // 20
        report = collect(s2, "salesforce", settings, ENV, clock)
        assert report.ok
        uids = _elf_uids(s2)
        assert len(uids) == len(set(uids)) == 100
        assert report.streams[0].duplicates == 0


def test_the_page_limit_bounds_a_run_and_the_next_run_goes_on(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake, settings = _setup(httpserver, n_files=5)
    first = collect(store, "salesforce", settings, ENV, clock, since=SINCE, max_pages=2)
    assert first.ok and not first.streams[0].caught_up and len(fake.downloads) == 2
    cp = checkpoint(store, "salesforce", ELF)
    assert cp.cursor == "2026-11-29T12:00:00Z" and cp.since is None  # the floor stays until a pass ends
    second = collect(store, "salesforce", settings, ENV, clock, max_pages=10)
    assert second.ok and second.streams[0].caught_up
    assert fake.downloads == [f.id for f in fake.files]


def test_the_private_key_and_tokens_never_reach_errors_logs_or_state(
    httpserver: HTTPServer, store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    fake, settings = _setup(httpserver, n_files=2)
    issued: list[str] = []
    token_page = fake.issue

    def echo(request):  # type: ignore[no-untyped-def]
        r = token_page(request)
        issued.extend(fake.tokens)
        return r

    fake.issue = echo  # type: ignore[method-assign]
    leak = lambda request: reply(500, [{"message": f"bad {request.headers.get('Authorization')}"}])  # noqa: E731

    def echo_old(request):  # type: ignore[no-untyped-def]
        return reply(401, [{"errorCode": "INVALID_SESSION_ID", "message": f"{issued[0]} expired"}])

    fake.script.update({2: leak, 3: echo_old, 5: echo_old})  # 4 is the new token request
    caplog.set_level(logging.DEBUG)
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    error = report.streams[0].error or ""
    assert "[redacted]" in error
    dumped = str(store.fetchall("SELECT * FROM collector_state")) + caplog.text + error
    body = PRIVATE.split("-----")[2].strip().splitlines()[1]
    assert issued and all(t not in dumped for t in issued)
    assert body not in dumped


def test_settings_refuse_unknown_streams_and_hostile_event_types() -> None:
    from nhiwatch.errors import ConfigError
    from nhiwatch.sources.collect import registry

    base = {
        "base_url": "https://acme.my.salesforce.com",
        "consumer_key": "3MVG9abcdefgh",
        "username": "a@b.c",
    }
    with pytest.raises(ConfigError, match="unknown stream 'SetupAuditTrail'"):
        registry.settings("salesforce", {**base, "streams": "SetupAuditTrail"}, env={})
    with pytest.raises(ConfigError, match="not an EventLogFile EventType"):
        registry.settings("salesforce", {**base, "event_types": "API') OR Id != ('"}, env={})
    with pytest.raises(ConfigError, match="NHIWATCH_SALESFORCE_PRIVATE_KEY"):
        registry.build("salesforce", base, env={})


def test_a_page_that_repeats_events_stores_each_event_once(
    httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    """The second batch starts 100 records early (a replayed or overlapping answer)."""
    fake, settings = _setup(httpserver, n_files=0, streams="ApiEvent")
    fake.events = {"ApiEvent": storage_events(450)}
    settings["batch_size"] = 200

    def overlapping(request):  # type: ignore[no-untyped-def]
        records, _ = next(iter(fake.locators.values()))
        return fake.batch(records, 100, request)

    fake.script[3] = overlapping  # token, first batch, then the continuation
    report = collect(store, "salesforce", settings, ENV, clock, since=SINCE)
    assert report.ok, report
    s = report.streams[0]
    assert (s.pages, s.stored, s.duplicates) == (3, 450, 100)
    assert len(set(_elf_uids(store))) == 450
