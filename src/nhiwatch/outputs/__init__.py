"""Alert outputs: a rich table for people, JSON Lines for pipelines, OCSF Detection Findings for SIEMs."""

from __future__ import annotations

from nhiwatch.outputs.jsonl import alert_record, to_jsonl
from nhiwatch.outputs.ocsf import to_ocsf

FORMATS = ("table", "jsonl", "ocsf")

__all__ = ["FORMATS", "alert_record", "to_jsonl", "to_ocsf"]
