"""Alerts written back to the lake as OCSF Detection Findings (class 2004), one Parquet file per run.

The OCSF attributes a query filters on are columns (flattened, as the events are); the whole finding, as
``nhiwatch detect -f ocsf`` prints it (secrets masked), is kept beside them in ``finding``, JSON text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from nhiwatch.lake.layout import FINDINGS
from nhiwatch.lake.location import LakeLocation, open_lake, s3_errors
from nhiwatch.outputs.ocsf import detection_finding

if TYPE_CHECKING:
    from nhiwatch.detection import DetectionResult

SCHEMA = pa.schema(
    [
        ("time", pa.timestamp("us")),
        ("class_uid", pa.int32()),
        ("type_uid", pa.int32()),
        ("severity_id", pa.int32()),
        ("severity", pa.string()),
        ("status", pa.string()),
        ("risk_score", pa.int32()),
        ("finding_info_uid", pa.string()),
        ("finding_info_title", pa.string()),
        ("finding_info_analytic_uid", pa.string()),
        ("finding_info_first_seen_time", pa.timestamp("us")),
        ("finding_info_last_seen_time", pa.timestamp("us")),
        ("resources_uid", pa.string()),  # the integration
        ("kind", pa.string()),
        ("run_id", pa.string()),
        ("finding", pa.string()),
    ]
)


def write_findings(lake: str | Path | LakeLocation, result: DetectionResult) -> str | None:
    """``findings/event_day=<window end day>/<run_id>.parquet`` (where it went); None when no alert was raised."""
    alerts = result.all_alerts
    if not alerts:
        return None
    loc = open_lake(lake)
    rows = []
    for a in alerts:
        ocsf = detection_finding(a)
        info = ocsf["finding_info"]
        rows.append(
            {
                "time": a.created_at or a.last_seen,
                "class_uid": ocsf["class_uid"],
                "type_uid": ocsf["type_uid"],
                "severity_id": ocsf["severity_id"],
                "severity": ocsf["severity"],
                "status": ocsf["status_detail"],
                "risk_score": a.risk_score,
                "finding_info_uid": a.alert_id,
                "finding_info_title": info["title"],
                "finding_info_analytic_uid": info["analytic"]["uid"],
                "finding_info_first_seen_time": a.first_seen,
                "finding_info_last_seen_time": a.last_seen,
                "resources_uid": a.integration_id,
                "kind": a.kind,
                "run_id": result.run_id,
                "finding": orjson.dumps(ocsf).decode(),
            }
        )
    day = result.until.date()
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    if loc.is_s3:  # one object, written whole
        target = loc.path(FINDINGS, f"event_day={day.isoformat()}", f"{result.run_id}.parquet")
        with s3_errors(loc, "write findings to"):
            pq.write_table(table, target, filesystem=loc.fs, compression="zstd")
        return loc.display(FINDINGS, f"event_day={day.isoformat()}", f"{result.run_id}.parquet")
    folder = loc.local / FINDINGS / f"event_day={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    local = folder / f"{result.run_id}.parquet"
    tmp = folder / f".{result.run_id}.tmp"
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, local)
    return str(local)
