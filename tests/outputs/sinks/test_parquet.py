"""OCSF Detection Finding Parquet in a folder, partitioned by event day."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

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
