"""The Security Lake collector against moto's S3: OCSF Parquet objects under region / account / day
partitions, read once, with random file names arriving late into a day already read."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from nhiwatch.sources.collect import registry, runner
from nhiwatch.store import Store
from tests.collectors.conftest import Clock, checkpoint, options
from tests.collectors.fake_aws import LAKE, SECRET_KEY, lake_events, parquet
from tests.collectors.fakes import NOW

moto = pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

PREFIX = "aws/CLOUD_TRAIL_MGMT/2.0/"
SINCE = NOW - timedelta(days=2)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=LAKE)
        yield client


def _put(s3: Any, region: str, account: str, day: date, n: int, tag: str) -> list[str]:
    rows = lake_events(n, day, tag)
    key = f"{PREFIX}region={region}/accountId={account}/eventDay={day:%Y%m%d}/{secrets.token_hex(16)}.gz.parquet"
    s3.put_object(Bucket=LAKE, Key=key, Body=parquet(rows))
    return [r["metadata"]["uid"] for r in rows]


def _run(store: Store, clock: Clock, **kw: Any) -> runner.RunReport:
    collector = registry.build(
        "security_lake",
        {"bucket": LAKE, "prefix": PREFIX, "region": "us-east-1"},
        env={},
        http=options(clock),
    )
    try:
        return runner.run(store, collector, now=kw.pop("now", lambda: NOW), **kw)
    finally:
        collector.close()


def _uids(store: Store) -> list[str]:
    return [r[0] for r in store.fetchall("SELECT metadata_uid FROM events ORDER BY metadata_uid")]


def test_parquet_objects_in_every_partition_are_read_once_with_their_times(
    s3: Any, store: Store, clock: Clock
) -> None:
    today, yesterday = NOW.date(), NOW.date() - timedelta(days=1)
    expected = _put(s3, "us-east-1", "111122223333", yesterday, 4, "a")
    expected += _put(s3, "us-east-1", "111122223333", today, 4, "b")
    expected += _put(s3, "eu-west-1", "444455556666", today, 3, "c")
    s3.put_object(Bucket=LAKE, Key=f"{PREFIX}region=us-east-1/accountId=111122223333/_SUCCESS", Body=b"")
    report = _run(store, clock, since=SINCE)
    assert report.ok, [s.error for s in report.streams]
    s = report.streams[0]
    assert (s.pages, s.stored, s.quarantined) == (3, 11, 0) and s.caught_up
    assert len(_uids(store)) == 11 and all(any(u.endswith(x) for x in expected) for u in _uids(store))
    first = store.fetchall("SELECT time FROM events WHERE metadata_uid LIKE '%a-00000'")[0][0]
    assert first == NOW.replace(hour=3, minute=0) - timedelta(days=1)  # epoch ms from the Parquet timestamp
    cp = checkpoint(store, "security_lake", f"s3://{LAKE}/{PREFIX}")
    assert cp.cursor == yesterday.isoformat()
    # A file with a random name arriving late into today's partition is found; nothing is read twice.
    _put(s3, "us-east-1", "111122223333", today, 2, "d")
    again = _run(store, clock, now=lambda: NOW + timedelta(minutes=15))
    assert again.ok and again.streams[0].pages == 1 and again.stored == 2
    assert len(set(_uids(store))) == 13


def test_an_object_that_is_not_parquet_is_quarantined_and_the_rest_is_read(
    s3: Any, store: Store, clock: Clock
) -> None:
    _put(s3, "us-east-1", "111122223333", NOW.date(), 3, "a")
    s3.put_object(
        Bucket=LAKE,
        Key=f"{PREFIX}region=us-east-1/accountId=111122223333/eventDay={NOW:%Y%m%d}/0000-broken.parquet",
        Body=b"PAR1 this is not really parquet",
    )
    report = _run(store, clock, since=SINCE)
    assert report.ok and report.stored == 3
    assert store.scalar("SELECT count(*) FROM quarantine") >= 1
    again = _run(store, clock, now=lambda: NOW + timedelta(minutes=5))
    assert again.ok and again.streams[0].pages == 0


def test_settings_refuse_a_prefix_outside_the_lake_layout() -> None:
    from nhiwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="prefix"):
        registry.settings("security_lake", {"bucket": LAKE, "prefix": "../x"}, env={})
