"""Splunk HTTP Event Collector: the alerts of a batch in one request to ``/services/collector/event``.

``Authorization: Splunk <token>``; each event is an envelope ``{time, host, source, sourcetype, [index],
event}`` with ``time`` in epoch seconds (the alert's last evidence). HEC answers ``{"text": "Success",
"code": 0}``; an invalid token (code 4), a disabled token (1) or unparseable data (6) is not retried;
a busy or unhealthy server (503, code 9) and 429 are.

The token needs only the HEC input it belongs to, restricted to the index it writes.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import UTC

import orjson

from nhiwatch.outputs.jsonl import alert_record
from nhiwatch.outputs.ocsf import detection_finding
from nhiwatch.outputs.sinks.base import Item, Outcome
from nhiwatch.outputs.sinks.config import SplunkHecSink as HecConfig
from nhiwatch.outputs.sinks.http import HttpSink
from nhiwatch.outputs.sinks.secrets import resolve

PATH = "/services/collector/event"


class SplunkHecSink(HttpSink):
    config: HecConfig

    def __init__(self, config: HecConfig, console_url: str | None = None) -> None:
        super().__init__(config, console_url)
        self.token = resolve(config.name, "token", config.token_env, config.token_file)
        self.secrets.append(self.token)
        self.host = config.host or socket.gethostname()

    def envelope(self, item: Item) -> dict[str, object]:
        a = item.alert
        event = detection_finding(a) if self.config.format == "ocsf" else alert_record(a)
        out: dict[str, object] = {
            "time": round(a.last_seen.replace(tzinfo=UTC).timestamp(), 3),
            "host": self.host,
            "source": self.config.source,
            "sourcetype": self.config.sourcetype,
            "event": event,
            "fields": {"dedupe_key": item.dedupe_key, "update_key": item.update_key},
        }
        if self.config.index:
            out["index"] = self.config.index
        return out

    def send(self, items: Sequence[Item]) -> list[Outcome]:
        if not items:
            return []
        body = b"".join(orjson.dumps(self.envelope(it)) for it in items)
        headers = {"Authorization": f"Splunk {self.token.reveal()}", "Content-Type": "application/json"}
        _, outcome = self.post(self.config.url.rstrip("/") + PATH, body, headers)
        return [outcome] * len(items)
