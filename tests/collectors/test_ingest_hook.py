"""ingest's ``before_commit`` hook: it runs inside the transaction that stores a file's events, so what
it writes commits with them, and a failure in it stores neither."""

from __future__ import annotations

from pathlib import Path

from nhiwatch.ingest import ingest
from nhiwatch.store import Store
from tests.conftest import FIXTURES


def test_the_hook_writes_in_the_same_transaction_as_the_events(store: Store, tmp_path: Path) -> None:
    store.execute("CREATE TABLE marks (n INTEGER)")
    seen: list[int] = []

    def hook(s: Store) -> None:
        seen.append(int(s.scalar("SELECT count(*) FROM events")))  # the events are there, uncommitted
        s.execute("INSERT INTO marks VALUES (1)")

    report = ingest(store, [FIXTURES / "okta" / "system_log" / "001.json"], source="okta", before_commit=hook)
    assert report.stored > 0 and seen == [report.stored]
    assert store.scalar("SELECT count(*) FROM marks") == 1


def test_a_failing_hook_stores_nothing(store: Store, tmp_path: Path) -> None:
    def hook(s: Store) -> None:
        raise RuntimeError("checkpoint could not be written")

    report = ingest(store, [FIXTURES / "okta" / "system_log" / "001.json"], source="okta", before_commit=hook)
    assert report.stored == 0
    assert store.event_count() == 0
