"""Helpers for collector tests: a fake clock and sleep, and one call that builds and runs a collector."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.sources.collect import registry, runner, state
from nhiwatch.sources.collect.http import HttpOptions, RetryPolicy
from nhiwatch.store import Store
from tests.collectors.fakes import NOW, NOW_EPOCH, FakeApi


@dataclass
class Clock:
    """A clock the client reads and a sleep that advances it instead of waiting."""

    now: float = NOW_EPOCH
    sleeps: list[float] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def serve(httpserver: HTTPServer, fake: FakeApi) -> str:
    """Route every request to ``fake``; returns the server's base URL."""
    import re

    fake.base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake)
    return fake.base


def options(clock: Clock, **kw: Any) -> HttpOptions:
    values: dict[str, Any] = {
        "policy": RetryPolicy(),
        "sleep": clock.sleep,
        "clock": clock.time,
        "rng": lambda: 0.5,
        "timeout": 10,
    }
    return HttpOptions(**{**values, **kw})


def collect(
    store: Store,
    name: str,
    settings: Mapping[str, Any],
    env: Mapping[str, str],
    clock: Clock,
    *,
    since: datetime | None = None,
    max_pages: int = 100,
    now: Callable[[], datetime] = lambda: NOW,
    **http: Any,
) -> runner.RunReport:
    collector = registry.build(name, settings, env=env, http=options(clock, **http))
    try:
        return runner.run(store, collector, since=since, max_pages=max_pages, now=now)
    finally:
        collector.close()


def ids(store: Store, source: str) -> list[str]:
    """metadata_uid of every stored event of ``source``, in time order (duplicates would show)."""
    return [
        r[0]
        for r in store.fetchall(
            "SELECT metadata_uid FROM events WHERE source = ? ORDER BY time, metadata_uid", [source]
        )
    ]


def checkpoint(store: Store, source: str, instance: str) -> state.Checkpoint:
    return state.load(store, source, instance)
