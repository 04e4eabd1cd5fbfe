"""The CloudTrail-from-S3 collector against moto's S3 and SQS: day listings with StartAfter, objects read
once across runs, late and out-of-order files, throttling, expired credentials, crashes, and SQS
notifications deleted only after their events are committed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.sources.aws.cloudtrail_s3 import notified_objects
from nhiwatch.sources.collect import registry, runner
from nhiwatch.sources.collect.base import Collector
from nhiwatch.store import Store
from tests.collectors.conftest import Clock, checkpoint, ids, options
from tests.collectors.crash import Crash, CrashingStore
from tests.collectors.fake_aws import (
    ACCOUNTS,
    BUCKET,
    SECRET_KEY,
    Status,
    Trail,
    error,
    fault,
    fill_trail,
    notification,
)
from tests.collectors.fakes import NOW

moto = pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

INSTANCE = f"s3://{BUCKET}/"
SINCE = NOW - timedelta(days=3)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3, sqs


def _build(clock: Clock, **settings: Any) -> Collector:
    env = {"AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    return registry.build(
        "cloudtrail_s3", {"bucket": BUCKET, "region": "us-east-1", **settings}, env=env, http=options(clock)
    )


def _run(store: Store, collector: Collector, **kw: Any) -> runner.RunReport:
    try:
        return runner.run(store, collector, now=kw.pop("now", lambda: NOW), **kw)
    finally:
        collector.close()


def _stored(store: Store) -> list[str]:
    return [u.split(":", 1)[1] for u in ids(store, "aws")]


def _gets(collector: Collector) -> list[int]:
    return fault(collector.streams[0].s3, "GetObject", {})  # type: ignore[union-attr]


def test_every_trail_file_is_read_once_across_accounts_regions_days_and_list_pages(
    aws: tuple[Any, Any], store: Store, clock: Clock
) -> None:
    trail = fill_trail(aws[0], days=2, per_day=1)
    collector = _build(clock)
    collector.streams[0].page_size = 1  # type: ignore[union-attr]  # several ListObjectsV2 pages per scope
    gets = _gets(collector)
    report = _run(store, collector, since=SINCE)
    assert report.ok, [s.error for s in report.streams]
    s = report.streams[0]
    assert (s.pages, s.stored, s.duplicates, s.quarantined) == (8, 40, 0, 0) and s.caught_up
    assert gets[0] == 8  # the digest folder and the .txt were never fetched
    assert sorted(_stored(store)) == sorted(trail.ids)
    cp = checkpoint(store, "cloudtrail_s3", INSTANCE)
    assert cp.cursor == "2026-11-29" and cp.since == NOW
    # The next run lists from the floor and fetches nothing it has read.
    again = _build(clock)
    gets = _gets(again)
    report = _run(store, again, now=lambda: NOW + timedelta(minutes=10))
    assert report.ok and report.stored == 0 and gets[0] == 0


def test_a_file_that_sorts_before_the_last_key_read_is_still_found(
    aws: tuple[Any, Any], store: Store, clock: Clock
) -> None:
    trail = fill_trail(aws[0])
    assert _run(store, _build(clock), since=SINCE).ok
    # Delivered late into a day already listed, with a name that sorts first in its folder.
    late = trail.put(ACCOUNTS[0], "us-east-1", NOW.replace(hour=0, minute=1))
    assert late < max(k for k in trail.keys if "/us-east-1/" in k and ACCOUNTS[0] in k)
    report = _run(store, _build(clock), now=lambda: NOW + timedelta(minutes=10))
    assert report.ok and report.stored == 5
    assert sorted(_stored(store)) == sorted(trail.ids)


def test_settings_narrow_the_accounts_and_regions_listed(
    aws: tuple[Any, Any], store: Store, clock: Clock
) -> None:
    trail = fill_trail(aws[0])
    report = _run(store, _build(clock, accounts=ACCOUNTS[1], regions="eu-west-1"), since=SINCE)
    assert report.ok and report.stored == 10
    chosen = [i for i, k in enumerate(trail.keys) if f"/{ACCOUNTS[1]}/CloudTrail/eu-west-1/" in k]
    assert sorted(_stored(store)) == sorted(
        f"{i:04d}-{j:04d}-0000-0000-000000000000" for i in chosen for j in range(5)
    )


def test_throttling_and_5xx_are_waited_out_with_backoff(
    aws: tuple[Any, Any], store: Store, clock: Clock
) -> None:
    trail = fill_trail(aws[0])
    collector = _build(clock, accounts=ACCOUNTS[0], regions="us-east-1")
    s3 = collector.streams[0].s3  # type: ignore[union-attr]
    fault(s3, "ListObjectsV2", {1: error("SlowDown", 503), 2: error("SlowDown", 503)})
    fault(s3, "GetObject", {2: error("InternalError", 500), 3: error("ServiceUnavailable", 503)})
    report = _run(store, collector, since=SINCE)
    assert report.ok, report
    assert len(_stored(store)) == 10 == len(set(_stored(store)))
    assert clock.sleeps == [0.5, 1.0, 0.5, 1.0]  # full jitter (rng 0.5) of 1, 2 s, per call
    assert set(_stored(store)) <= set(trail.ids)


def test_a_body_cut_short_is_fetched_again(aws: tuple[Any, Any], store: Store, clock: Clock) -> None:
    fill_trail(aws[0])
    collector = _build(clock, accounts=ACCOUNTS[0], regions="us-east-1")
    from botocore.response import StreamingBody

    def short() -> tuple[Any, dict[str, Any]]:
        body = b"\x1f\x8b\x08\x00partial"
        return Status(200), {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentLength": 4096}

    fault(collector.streams[0].s3, "GetObject", {1: short})  # type: ignore[union-attr]
    report = _run(store, collector, since=SINCE)
    assert report.ok and report.stored == 10 and report.streams[0].quarantined == 0
    assert clock.sleeps == [0.5]


def test_a_corrupt_object_is_quarantined_with_its_reason_and_the_rest_is_read(
    aws: tuple[Any, Any], store: Store, clock: Clock
) -> None:
    trail = fill_trail(aws[0])
    bad = trail.keys[1]
    aws[0].put_object(Bucket=BUCKET, Key=bad, Body=b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03broken")
    report = _run(store, _build(clock), since=SINCE)
    assert report.ok
    assert report.stored == 35
    reasons = [r[0] for r in store.fetchall("SELECT reason FROM quarantine")]
    assert len(reasons) == 1 and "corrupt gzip" in reasons[0]
    again = _run(store, _build(clock), now=lambda: NOW + timedelta(minutes=5))
    assert again.ok and again.streams[0].pages == 0  # read is read: not fetched again


def test_expired_credentials_are_a_clear_error_that_leaves_the_checkpoint(
    aws: tuple[Any, Any], store: Store, clock: Clock
) -> None:
    fill_trail(aws[0])
    assert _run(store, _build(clock), since=SINCE).ok
    before = checkpoint(store, "cloudtrail_s3", INSTANCE)
    collector = _build(clock)
    fault(
        collector.streams[0].s3,
        "ListObjectsV2",
        {1: error("ExpiredToken", 400, "The provided token has expired.")},
    )  # type: ignore[union-attr]
    report = _run(store, collector, now=lambda: NOW + timedelta(hours=1))
    error_text = report.streams[0].error or ""
    assert "AWS refused" in error_text and "ExpiredToken" in error_text and "standard chain" in error_text
    after = checkpoint(store, "cloudtrail_s3", INSTANCE)
    assert (after.cursor, after.since, after.pages) == (before.cursor, before.since, before.pages)
    assert after.last_error == error_text


def test_the_secret_key_never_reaches_errors_logs_or_state(
    aws: tuple[Any, Any], store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    fill_trail(aws[0])
    caplog.set_level(logging.DEBUG)
    collector = _build(clock)
    echo = error("AccessDenied", 403, f"credential {SECRET_KEY} lacks s3:ListBucket")
    fault(
        collector.streams[0].s3, "ListObjectsV2", {1: error("SlowDown", 503, f"slow {SECRET_KEY}"), 2: echo}
    )  # type: ignore[union-attr]
    report = _run(store, collector, since=SINCE)
    error_text = report.streams[0].error or ""
    assert "AccessDenied" in error_text and "[redacted]" in error_text
    dumped = str(store.fetchall("SELECT * FROM collector_state")) + caplog.text + error_text
    assert SECRET_KEY not in dumped
    assert SECRET_KEY not in repr(collector) + str(collector.__dict__)


def test_settings_never_take_a_credential() -> None:
    from nhiwatch.errors import ConfigError

    with pytest.raises(ConfigError, match=r"aws_secret_access_key .*unknown setting") as err:
        registry.settings("cloudtrail_s3", {"bucket": BUCKET, "aws_secret_access_key": SECRET_KEY}, env={})
    assert SECRET_KEY not in str(err.value)
    with pytest.raises(ConfigError, match="12-digit"):
        registry.settings("cloudtrail_s3", {"bucket": BUCKET, "accounts": "../../etc"}, env={})


def test_a_crash_inside_a_commit_leaves_no_gap_and_no_duplicate(
    aws: tuple[Any, Any], tmp_path: Path, clock: Clock
) -> None:
    trail = fill_trail(aws[0])
    db = tmp_path / "crash.duckdb"
    s = CrashingStore(db)
    s.crash_at = 4
    try:
        with pytest.raises(Crash):
            _run(s, _build(clock), since=SINCE)
    finally:
        s.close()
    with Store(db) as s2:
        assert 0 < len(_stored(s2)) < len(trail.ids)
        report = _run(s2, _build(clock))
        assert report.ok and report.streams[0].duplicates == 0
        assert sorted(_stored(s2)) == sorted(trail.ids)


def test_the_page_limit_bounds_a_run_and_the_next_run_goes_on(
    aws: tuple[Any, Any], store: Store, clock: Clock
) -> None:
    trail = fill_trail(aws[0])
    first = _run(store, _build(clock), since=SINCE, max_pages=5)
    assert first.ok and not first.streams[0].caught_up and first.stored == 25
    assert checkpoint(store, "cloudtrail_s3", INSTANCE).since is None
    second = _run(store, _build(clock), max_pages=100)
    assert second.ok and second.streams[0].caught_up and second.streams[0].duplicates == 0
    assert sorted(_stored(store)) == sorted(trail.ids)


def _queue(sqs: Any) -> str:
    return sqs.create_queue(QueueName="trail-notices", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]  # type: ignore[no-any-return]


def test_sqs_notifications_are_read_and_deleted_only_after_the_commit(
    aws: tuple[Any, Any], store: Store, clock: Clock
) -> None:
    s3, sqs = aws
    trail = Trail(s3)
    url = _queue(sqs)
    k1 = trail.put(ACCOUNTS[0], "us-east-1", NOW - timedelta(minutes=30))
    k2 = trail.put(ACCOUNTS[1], "eu-west-1", NOW - timedelta(minutes=20))
    k3 = trail.put(ACCOUNTS[1], "us-east-1", NOW - timedelta(minutes=10))
    sqs.send_message(QueueUrl=url, MessageBody=notification(BUCKET, k1))
    sqs.send_message(QueueUrl=url, MessageBody=notification(BUCKET, k2, sns=True))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"s3Bucket": BUCKET, "s3ObjectKey": [k3]}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Event": "s3:TestEvent", "Bucket": BUCKET}))
    sqs.send_message(QueueUrl=url, MessageBody=notification("someone-elses-bucket", k1))
    report = _run(store, _build(clock, queue_url=url, listing=False, wait_seconds=0), since=SINCE)
    assert report.ok, report
    assert sorted(_stored(store)) == sorted(trail.ids)
    left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in left] == [
        notification("someone-elses-bucket", k1)
    ]  # for its dead-letter queue
    # The listing shares the record of objects read: it finds nothing new.
    again = _run(store, _build(clock), since=SINCE)
    assert again.ok and again.stored == 0 and again.streams[0].pages == 0


def test_a_crash_before_the_delete_redelivers_and_nothing_is_stored_twice(
    aws: tuple[Any, Any], store: Store, clock: Clock
) -> None:
    s3, sqs = aws
    trail = Trail(s3)
    url = _queue(sqs)
    key = trail.put(ACCOUNTS[0], "us-east-1", NOW - timedelta(minutes=30))
    sqs.send_message(QueueUrl=url, MessageBody=notification(BUCKET, key))
    collector = _build(clock, queue_url=url, listing=False, wait_seconds=0)
    fault(collector.streams[0].sqs, "DeleteMessage", {1: lambda: (_ for _ in ()).throw(Crash())})  # type: ignore[union-attr]
    with pytest.raises(Crash):
        _run(store, collector, since=SINCE)
    assert len(_stored(store)) == 5  # committed before the delete
    report = _run(store, _build(clock, queue_url=url, listing=False, wait_seconds=0))
    assert report.ok and report.stored == 0 and report.streams[0].pages == 1
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    assert sorted(_stored(store)) == sorted(trail.ids)


JSON = st.recursive(
    st.none() | st.booleans() | st.text(max_size=20) | st.integers(),
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(
            st.sampled_from(["Records", "s3", "Type", "Message", "s3Bucket", "s3ObjectKey", "x"]),
            c,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), JSON.map(json.dumps)))
def test_any_message_body_is_parsed_or_refused_without_an_exception(body: str) -> None:
    found = notified_objects(body)
    assert found is None or all(isinstance(b, str) and isinstance(k, str) for b, k in found)
