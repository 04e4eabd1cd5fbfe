"""PagerDuty Events API v2: ``trigger`` for an open alert, ``resolve`` once it is marked benign or
suppressed, with ``dedup_key`` = the alert id so every update lands on the same PagerDuty incident.

The routing key (an integration key of one service's "Events API v2" integration) comes from env or file;
it can only send events to that service. PagerDuty answers 202 ``{"status": "success"}``; 400 (invalid
event) is not retried, 429 and 5xx are.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import orjson

from nhiwatch import __version__
from nhiwatch.outputs.jsonl import alert_record
from nhiwatch.outputs.sinks.base import Item, Outcome
from nhiwatch.outputs.sinks.config import PagerDutySink as PagerDutyConfig
from nhiwatch.outputs.sinks.escape import clip
from nhiwatch.outputs.sinks.http import PerAlertHttpSink
from nhiwatch.outputs.sinks.secrets import resolve

SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}


def event(item: Item, routing_key: str, source: str, link: str | None = None) -> dict[str, Any]:
    a = item.alert
    base: dict[str, Any] = {"routing_key": routing_key, "dedup_key": item.dedupe_key}
    if item.resolved:
        return {**base, "event_action": "resolve"}
    r = alert_record(a)
    out: dict[str, Any] = {
        **base,
        "event_action": "trigger",
        "client": f"nhiwatch {__version__}",
        "payload": {
            "summary": clip(f"[{a.severity}] {r['title']}".replace("\n", " "), 1024),
            "source": clip(source, 255),
            "severity": SEVERITY.get(a.severity, "warning"),
            "timestamp": a.last_seen.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z"),
            "component": clip(str(r["integration_name"] or r["integration_id"]), 255),
            "group": clip(str(r["owner"] or "unowned"), 255),
            "class": clip(",".join(a.detectors) or a.kind, 255),
            "custom_details": {
                "alert_id": a.alert_id,
                "status": a.status,
                "risk_score": a.risk_score,
                "explanation": clip(str(r["explanation"]), 8000),
                "purpose": r["purpose"],
                "first_seen": r["first_seen"],
                "last_seen": r["last_seen"],
            },
        },
    }
    if link:
        out["client_url"] = link
        out["links"] = [{"href": link, "text": "nhiwatch alert"}]
    return out


class PagerDutySink(PerAlertHttpSink):
    config: PagerDutyConfig

    def __init__(self, config: PagerDutyConfig, console_url: str | None = None) -> None:
        super().__init__(config, console_url)
        self.key = resolve(config.name, "routing_key", config.routing_key_env, config.routing_key_file)
        self.secrets.append(self.key)

    def send_one(self, item: Item) -> Outcome:
        body = orjson.dumps(event(item, self.key.reveal(), self.config.source, self.link(item.alert)))
        _, outcome = self.post(self.config.url, body, {"Content-Type": "application/json"})
        return Outcome.done(item.dedupe_key) if outcome.ok else outcome
