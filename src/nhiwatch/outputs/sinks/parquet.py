"""OCSF Detection Findings (class 2004) as Parquet files in a folder, laid out as Amazon Security Lake
custom sources are (``eventDay=YYYYMMDD/`` partitions), one file per delivery batch and day.

The findings are :func:`nhiwatch.outputs.ocsf.detection_finding` (the one OCSF mapping). Fields OCSF
types as JSON (``evidences[].data``) or as free objects (``unmapped``) are stored as JSON text so every
file has one stable schema. A file is written under a temporary name and renamed, so a reader never sees
half of one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from nhiwatch.outputs.ocsf import detection_finding
from nhiwatch.outputs.sinks.base import Item, Outcome, Sink
from nhiwatch.outputs.sinks.config import ParquetSink as ParquetConfig


def row(item: Item) -> dict[str, Any]:
    f = detection_finding(item.alert)
    f["evidences"] = [{"data": orjson.dumps(e.get("data", {})).decode()} for e in f["evidences"]]
    f["unmapped"] = orjson.dumps({**f["unmapped"], "update_key": item.update_key}).decode()
    f["attacks"] = [
        {
            "technique": {k: str(v) for k, v in a["technique"].items() if v is not None},
            "version": a["version"],
        }
        for a in f["attacks"]
    ]
    for r in f["resources"]:
        r["owner"] = (r.get("owner") or {}).get("name")
    return f


class ParquetSink(Sink):
    config: ParquetConfig

    def send(self, items: Sequence[Item]) -> list[Outcome]:
        if not items:
            return []
        by_day: dict[str, list[int]] = {}
        for i, it in enumerate(items):
            by_day.setdefault(f"{it.alert.last_seen:%Y%m%d}", []).append(i)
        out: list[Outcome] = [Outcome.failed("not written")] * len(items)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        for day, idx in by_day.items():
            folder = self.config.path / f"eventDay={day}"
            name = f"nhiwatch-findings-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
            try:
                table = pa.Table.from_pylist([row(items[i]) for i in idx])
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{name}.tmp"
                pq.write_table(table, tmp, compression="zstd")
                os.replace(tmp, folder / name)
            except OSError as exc:
                err = Outcome.again(self.scrub(f"cannot write under {folder}: {exc.strerror or exc}"))
                for i in idx:
                    out[i] = err
                continue
            except (pa.ArrowException, ValueError, TypeError) as exc:
                err = Outcome.failed(self.scrub(f"cannot convert to Parquet: {exc}"))
                for i in idx:
                    out[i] = err
                continue
            for i in idx:
                out[i] = Outcome.done(name)
        return out
