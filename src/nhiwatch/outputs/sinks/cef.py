"""An alert as an ArcSight Common Event Format (CEF:0) line.

``CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension``. Header fields escape ``\\`` and
``|``; extension values escape ``\\``, ``=`` and line breaks (``\\n``, ``\\r``); the whole line holds no
raw newline, so it stays one syslog message. Severity is CEF's 0-10 (low 3, medium 5, high 8,
critical 10).
"""

from __future__ import annotations

from datetime import UTC, datetime

from nhiwatch import __version__
from nhiwatch.outputs.jsonl import alert_record
from nhiwatch.outputs.sinks.base import Item
from nhiwatch.outputs.sinks.escape import cef_header, cef_value, clip

SEVERITY = {"low": 3, "medium": 5, "high": 8, "critical": 10}


def _ms(t: datetime) -> int:
    return int(t.replace(tzinfo=UTC).timestamp() * 1000)


def header(*fields: object) -> str:
    return "CEF:0|" + "|".join(cef_header(f) for f in fields) + "|"


def extension(pairs: list[tuple[str, object]]) -> str:
    return " ".join(f"{k}={cef_value(v)}" for k, v in pairs if v is not None and v != "")


def cef_line(item: Item, link: str | None = None) -> str:
    a = item.alert
    r = alert_record(a)  # the texts, redacted
    signature = "nhiwatch:" + ",".join(a.detectors) if a.detectors else "nhiwatch:alert"
    pairs: list[tuple[str, object]] = [
        ("rt", _ms(a.last_seen)),
        ("start", _ms(a.first_seen)),
        ("end", _ms(a.last_seen)),
        ("externalId", a.alert_id),
        ("cat", a.kind),
        ("outcome", a.status),
        ("msg", clip(str(r["explanation"]), 2000)),
        ("cs1Label", "integration"),
        ("cs1", r["integration_name"] or r["integration_id"]),
        ("cs2Label", "owner"),
        ("cs2", r["owner"]),
        ("cs3Label", "detectors"),
        ("cs3", ",".join(a.detectors)),
        ("cs4Label", "riskTier"),
        ("cs4", r["risk_tier"]),
        ("cs5Label", "updateKey"),
        ("cs5", item.update_key),
        ("cs6Label", "consoleUrl"),
        ("cs6", link),
        ("cn1Label", "riskScore"),
        ("cn1", a.risk_score),
    ]
    head = header("nhiwatch", "nhiwatch", __version__, signature, clip(str(r["title"]), 512),
                  SEVERITY.get(a.severity, 0))  # fmt: skip
    return head + extension(pairs)
