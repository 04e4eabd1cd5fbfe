"""Elasticsearch (and OpenSearch): alerts through the ``_bulk`` API as ECS documents.

One NDJSON request per batch: an ``index`` action with ``_id`` = the alert id (so an update replaces the
alert's document instead of adding another) followed by the document. ``_bulk`` answers 200 even when
some items fail, so every item's own status is read: 2xx delivered; 429 and 5xx retried; anything else
(a mapping conflict, a closed index) failed with the item's error type and reason.

ECS fields: ``@timestamp``, ``message``, ``event.*`` (kind ``alert``, ``severity`` 1-4, ``risk_score``,
``start``/``end``, ``id``, ``dataset``, ``url``), ``rule.*`` (the detectors), ``threat.*`` (ATT&CK
techniques), ``observer.*`` (nhiwatch), ``labels``; what ECS has no field for is under ``nhiwatch.*``.
The API key needs ``create_doc``/``index`` and ``create_index`` on the target index only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from nhiwatch import __version__
from nhiwatch.outputs.jsonl import alert_record
from nhiwatch.outputs.sinks.base import Item, Outcome
from nhiwatch.outputs.sinks.config import ElasticsearchSink as EsConfig
from nhiwatch.outputs.sinks.http import HttpSink
from nhiwatch.outputs.sinks.retry import retry_after
from nhiwatch.outputs.sinks.secrets import resolve

SEVERITY = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def ecs_document(item: Item, link: str | None = None) -> dict[str, Any]:
    """The alert as an ECS document; its texts come from :func:`alert_record` (redacted)."""
    r = alert_record(item.alert)
    attacks = r["references"].get("attack", []) if isinstance(r["references"], dict) else []
    doc: dict[str, Any] = {
        "@timestamp": r["last_seen"],
        "message": r["title"],
        "event": {
            "kind": "alert",
            "category": ["iam"],
            "type": ["info"],
            "module": "nhiwatch",
            "dataset": "nhiwatch.alert",
            "id": r["alert_id"],
            "severity": SEVERITY.get(r["severity"], 0),
            "risk_score": r["risk_score"],
            "start": r["first_seen"],
            "end": r["last_seen"],
            "created": r["created_at"],
            "reason": r["explanation"],
        },
        "rule": {
            "name": " + ".join(r["detectors"]),
            "id": ",".join(r["detectors"]),
            "category": r["kind"],
            "ruleset": "nhiwatch",
        },
        "observer": {"product": "nhiwatch", "vendor": "nhiwatch project", "version": __version__},
        "labels": {"risk_tier": r["risk_tier"], "data_sensitivity": r["data_sensitivity"]},
        "nhiwatch": {
            "integration": {"id": r["integration_id"], "name": r["integration_name"]},
            "owner": r["owner"],
            "purpose": r["purpose"],
            "status": r["status"],
            "severity": r["severity"],
            "detectors": r["detectors"],
            "evidence": r["evidence"],
            "update_key": item.update_key,
        },
    }
    if link:
        doc["event"]["url"] = link
    if attacks:
        doc["threat"] = {
            "framework": "MITRE ATT&CK",
            "technique": {"id": [t["id"] for t in attacks], "name": [t["name"] for t in attacks]},
        }
    return doc


class ElasticsearchSink(HttpSink):
    config: EsConfig

    def __init__(self, config: EsConfig, console_url: str | None = None) -> None:
        super().__init__(config, console_url)
        self.api_key = resolve(config.name, "api_key", config.api_key_env, config.api_key_file)
        self.secrets.append(self.api_key)

    def ndjson(self, items: Sequence[Item]) -> bytes:
        lines = []
        for it in items:
            lines.append(orjson.dumps({"index": {"_index": self.config.index, "_id": it.dedupe_key}}))
            lines.append(orjson.dumps(ecs_document(it, self.link(it.alert))))
        return b"\n".join(lines) + b"\n"

    def send(self, items: Sequence[Item]) -> list[Outcome]:
        if not items:
            return []
        headers = {
            "Authorization": f"ApiKey {self.api_key.reveal()}",
            "Content-Type": "application/x-ndjson",
        }
        resp, outcome = self.post(self.config.url.rstrip("/") + "/_bulk", self.ndjson(items), headers)
        if resp is None or not outcome.ok:
            return [outcome] * len(items)
        return self.per_item(resp, len(items))

    def per_item(self, resp: httpx.Response, n: int) -> list[Outcome]:
        try:
            answer = orjson.loads(resp.content)
            results = [next(iter(entry.values())) for entry in answer["items"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, StopIteration):
            return [Outcome.again(self.scrub("_bulk answer is not the documented shape"))] * n
        if len(results) != n:
            return [Outcome.again(f"_bulk answered {len(results)} items for {n} sent")] * n
        if not answer.get("errors"):
            return [Outcome.done(str(r.get("_id"))) for r in results]
        wait = retry_after(resp.headers.get("retry-after"))
        out = []
        for r in results:
            status = int(r.get("status") or 0)
            if 200 <= status < 300:
                out.append(Outcome.done(str(r.get("_id"))))
                continue
            err = r.get("error") or {}
            text = self.scrub(f"item status {status}: {err.get('type', '?')}: {err.get('reason', '')}")
            out.append(Outcome.again(text, wait) if status == 429 or status >= 500 else Outcome.failed(text))
        return out
