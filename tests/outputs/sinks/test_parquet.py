"""OCSF Detection Finding Parquet in a folder, partitioned by event day."""

from __future__ import annotations

import io
import json
import sys
import types
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from nhiwatch.errors import ConfigError
from nhiwatch.outputs.sinks import build
from nhiwatch.outputs.sinks.config import DeliveryConfig
from tests.outputs.sinks.helpers import hostile_alert, item
from tests.outputs.test_outputs import alert


def test_findings_are_written_as_parquet_by_day(tmp_path: Path) -> None:
    spec = {"name": "lake", "type": "parquet", "path": str(tmp_path / "lake")}
    sink = build(DeliveryConfig.model_validate({"sinks": [spec]}).sinks[0])
    other_day = alert(alert_id="al-2", references={}, owner=None, last_seen=alert().last_seen.replace(day=3))
    outs = sink.send([item(), item(hostile_alert()), item(other_day)])
    assert all(o.ok for o in outs)
    files = sorted((tmp_path / "lake").rglob("*.parquet"))
    assert [f.parent.name for f in files] == ["eventDay=20250901", "eventDay=20250903"]
    assert not list((tmp_path / "lake").rglob("*.tmp"))
    rows = pq.read_table(files[0]).to_pylist()
    assert {r["class_uid"] for r in rows} == {2004} and {r["type_uid"] for r in rows} == {200401}
    assert sorted(r["finding_info"]["uid"] for r in rows) == ["al-1", "al-hostile"]
    hostile = next(r for r in rows if r["finding_info"]["uid"] == "al-hostile")
    assert "abcdefghijklmnopqrstuvwxyz0123456789" not in json.dumps(hostile, default=str)
    assert json.loads(hostile["unmapped"])["update_key"].startswith("al-hostile@")
    assert hostile["attacks"][0]["technique"]["uid"].startswith("T")
    (lone,) = pq.read_table(files[1]).to_pylist()
    assert lone["resources"][0]["owner"] is None and lone["attacks"] == []


def test_an_unwritable_folder_is_retried_later(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    spec = {"name": "lake", "type": "parquet", "path": str(blocker / "lake")}
    (out,) = build(DeliveryConfig.model_validate({"sinks": [spec]}).sinks[0]).send([item()])
    assert out.retry and "cannot write" in (out.error or "")


class ClientError(Exception):
    """botocore's ClientError, as far as the sink reads it."""

    def __init__(self, code: str) -> None:
        super().__init__(f"An error occurred ({code}) when calling the PutObject operation")
        self.response = {"Error": {"Code": code}}


class FakeS3:
    def __init__(self, fail: list[str] | None = None) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.fail = fail or []

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> dict[str, str]:
        if self.fail:
            raise ClientError(self.fail.pop(0))
        self.objects[(Bucket, Key)] = Body
        return {"ETag": "x"}


def s3_sink(monkeypatch: pytest.MonkeyPatch, fake: FakeS3) -> Any:
    made: list[tuple[str, str | None]] = []

    def client(service: str, region_name: str | None = None) -> FakeS3:
        made.append((service, region_name))
        return fake

    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=client))
    uri = "s3://aws-security-data-lake-eu-west-1-abc/ext/nhiwatch/region=eu-west-1/accountId=123456789012/"
    spec = {"name": "lake", "type": "parquet", "s3_uri": uri, "s3_region": "eu-west-1"}
    sink = build(DeliveryConfig.model_validate({"sinks": [spec]}).sinks[0])
    assert made == [("s3", "eu-west-1")]
    return sink


def test_findings_go_to_s3_in_the_security_lake_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeS3()
    outs = s3_sink(monkeypatch, fake).send([item(), item(hostile_alert())])
    assert all(o.ok for o in outs)
    ((bucket, key),) = fake.objects
    assert bucket == "aws-security-data-lake-eu-west-1-abc"
    assert key.startswith(
        "ext/nhiwatch/region=eu-west-1/accountId=123456789012/eventDay=20250901/nhiwatch-findings-"
    )
    table = pq.read_table(io.BytesIO(fake.objects[(bucket, key)]))
    assert table.num_rows == 2 and set(table.column("class_uid").to_pylist()) == {2004}


def test_s3_throttling_is_retried_and_access_denied_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = s3_sink(monkeypatch, FakeS3(fail=["SlowDown", "AccessDenied"]))
    (slow,) = sink.send([item()])
    (denied,) = sink.send([item()])
    assert slow.retry and "SlowDown" in (slow.error or "")
    assert not denied.ok and not denied.retry and "AccessDenied" in (denied.error or "")


def test_s3_without_boto3_is_a_set_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 raises ImportError
    spec = {"name": "lake", "type": "parquet", "s3_uri": "s3://bucket-name/prefix"}
    with pytest.raises(ConfigError, match=r"nhiwatch\[aws\]"):
        build(DeliveryConfig.model_validate({"sinks": [spec]}).sinks[0])
    with pytest.raises(ValidationError, match="exactly one of path or s3_uri"):
        DeliveryConfig.model_validate({"sinks": [{**spec, "path": "/tmp/x"}]})
