"""The same contract checked for every collector against its fake API: a multi-page run stores every
event once, a second run adds nothing twice, a 429 storm is waited out, a crash mid-run leaves no gap and
no duplicate, and rejected credentials are a clear error that leaves the checkpoint where it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.sources.collect import runner
from nhiwatch.sources.collect.base import Collector
from nhiwatch.sources.collect.http import HttpOptions
from nhiwatch.sources.collect.registry import build, module, settings
from nhiwatch.store import Store
from tests.collectors.conftest import Clock, ids, options, serve
from tests.collectors.crash import Crash, CrashingStore
from tests.collectors.fakes import (
    NOW,
    FakeApi,
    FakeGitHub,
    FakeGoogle,
    FakeGraph,
    FakeOkta,
    FakeSlack,
    github_events,
    graph_audits,
    graph_signins,
    gws_activities,
    okta_events,
    reply,
)

TOKEN = "tok_3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
SINCE = NOW - timedelta(days=1, hours=12)


@dataclass
class Vendor:
    name: str
    make_fake: Callable[[], FakeApi]
    settings: Callable[[str], dict[str, Any]]
    events: int  # events the fake holds, over all streams
    env: dict[str, str]
    injected_tokens: bool = False  # OAuth vendors: the fake's token comes from an injected token source

    def build(self, url: str, http: HttpOptions, fake: FakeApi) -> Collector:
        if not self.injected_tokens:
            return build(self.name, self.settings(url), env=self.env, http=http)
        mod = module(self.name)
        return mod.build(
            settings(self.name, self.settings(url), env={}), env={}, http=http, tokens=lambda refresh: TOKEN
        )  # type: ignore[no-any-return]


VENDORS = [
    Vendor(
        "okta",
        lambda: FakeOkta(token=TOKEN, events=okta_events(250)),
        lambda url: {"base_url": url, "limit": 100},
        250,
        {"NHIWATCH_OKTA_API_TOKEN": TOKEN},
    ),
    Vendor(
        "github",
        lambda: FakeGitHub(token=TOKEN, events=github_events(250)),
        lambda url: {"base_url": url, "org": "acme", "per_page": 100},
        250,
        {"NHIWATCH_GITHUB_TOKEN": TOKEN},
    ),
    Vendor(
        "slack",
        lambda: FakeSlack(token=TOKEN, events=slack_events_250()),
        lambda url: {"base_url": url, "limit": 100},
        250,
        {"NHIWATCH_SLACK_TOKEN": TOKEN},
    ),
    Vendor(
        "microsoft",
        lambda: FakeGraph(
            token=TOKEN,
            signins=graph_signins(120) + graph_signins(30, "managedIdentity"),
            audits=graph_audits(100),
        ),
        lambda url: {
            "base_url": url,
            "tenant_id": "acme.onmicrosoft.com",
            "client_id": "249ccaa9-e7ff-43ca-b818-b925e5a13d47",
            "top": 50,
        },
        250,
        {},
        injected_tokens=True,
    ),
    Vendor(
        "gws",
        lambda: FakeGoogle(token=TOKEN, activities=gws_activities(230) + gws_activities(20, "login")),
        lambda url: {"base_url": url, "subject": "admin@acme.example", "max_results": 100},
        250,
        {},
        injected_tokens=True,
    ),
]


def slack_events_250() -> list[dict[str, Any]]:
    from tests.collectors.fakes import slack_events

    return slack_events(250)


def _run(vendor: Vendor, store: Store, url: str, fake: FakeApi, clock: Clock, **kw: Any) -> runner.RunReport:
    http_kw = {k: kw.pop(k) for k in list(kw) if k in ("sleep", "max_body")}
    collector = vendor.build(url, options(clock, **http_kw), fake)
    try:
        return runner.run(store, collector, now=kw.pop("now", lambda: NOW), **kw)
    finally:
        collector.close()


def _stored(store: Store, vendor: Vendor) -> list[str]:
    return ids(store, vendor.name)


@pytest.fixture(params=VENDORS, ids=[v.name for v in VENDORS])
def vendor(request: pytest.FixtureRequest) -> Vendor:
    return request.param  # type: ignore[no-any-return]


def test_multi_page_run_then_a_second_run_stores_every_event_once(
    vendor: Vendor, httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake = vendor.make_fake()
    url = serve(httpserver, fake)
    report = _run(vendor, store, url, fake, clock, since=SINCE)
    assert report.ok, [s.error for s in report.streams]
    assert all(s.caught_up for s in report.streams)
    assert sum(s.pages for s in report.streams) >= 3
    assert report.stored == vendor.events
    stored = _stored(store, vendor)
    assert len(stored) == len(set(stored)) == vendor.events
    assert store.scalar("SELECT count(*) FROM quarantine") == 0
    again = _run(vendor, store, url, fake, clock, now=lambda: NOW + timedelta(minutes=5))
    assert again.ok and again.stored == 0
    assert len(_stored(store, vendor)) == vendor.events


def test_a_429_storm_with_retry_after_is_waited_out(
    vendor: Vendor, httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake = vendor.make_fake()
    url = serve(httpserver, fake)
    for n in (2, 3, 4, 5):
        fake.script[n] = reply(429, {"error": "rate limited"}, {"Retry-After": "3"})
    report = _run(vendor, store, url, fake, clock, since=SINCE)
    assert report.ok
    assert len(set(_stored(store, vendor))) == vendor.events
    assert len(clock.sleeps) == 4 and all(3 <= s < 4 for s in clock.sleeps)


def test_a_crash_inside_a_commit_mid_run_leaves_no_gap_and_no_duplicate(
    vendor: Vendor, httpserver: HTTPServer, tmp_path: Path, clock: Clock
) -> None:
    fake = vendor.make_fake()
    url = serve(httpserver, fake)
    db = tmp_path / "crash.duckdb"
    s = CrashingStore(db)
    s.crash_at = 3
    try:
        with pytest.raises(Crash):
            _run(vendor, s, url, fake, clock, since=SINCE)
    finally:
        s.close()
    with Store(db) as s2:
        before = len(_stored(s2, vendor))
        assert 0 < before < vendor.events
        report = _run(vendor, s2, url, fake, clock)
        assert report.ok, [x.error for x in report.streams]
        stored = _stored(s2, vendor)
        assert len(stored) == len(set(stored)) == vendor.events


def test_rejected_credentials_are_a_clear_error_and_leave_the_checkpoint(
    vendor: Vendor, httpserver: HTTPServer, store: Store, clock: Clock
) -> None:
    fake = vendor.make_fake()
    url = serve(httpserver, fake)
    assert _run(vendor, store, url, fake, clock, since=SINCE).ok
    before = store.fetchall("SELECT source, instance, since, cursor, pages FROM collector_state ORDER BY ALL")
    fake.token = "expired"
    report = _run(vendor, store, url, fake, clock, now=lambda: NOW + timedelta(hours=2))
    errors = [s.error for s in report.streams]
    assert all(e and ("refused" in e or "HTTP 401" in e) for e in errors), errors
    assert all(TOKEN not in (e or "") for e in errors)
    after = store.fetchall("SELECT source, instance, since, cursor, pages FROM collector_state ORDER BY ALL")
    assert after == before
    assert store.scalar("SELECT count(*) FROM collector_state WHERE last_error IS NULL") == 0
