"""Elasticsearch ``_bulk``: NDJSON with ECS documents, and each item's own result read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from nhiwatch.outputs.sinks import build
from nhiwatch.outputs.sinks.config import DeliveryConfig
from nhiwatch.outputs.sinks.elastic import ElasticsearchSink
from tests.outputs.sinks.helpers import Script, hostile_alert, item
from tests.outputs.test_outputs import alert

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="


def sink(url: str) -> ElasticsearchSink:
    spec = {
        "name": "es",
        "type": "elasticsearch",
        "url": url,
        "api_key_env": "ES_KEY",
        "index": "nhiwatch-alerts",
    }
    s = build(DeliveryConfig.model_validate({"sinks": [spec]}).sinks[0])
    assert isinstance(s, ElasticsearchSink)
    return s


def bulk(failures: dict[int, tuple[int, str]]) -> Any:
    """A receiver parsing the NDJSON as Elasticsearch does, failing the items in ``failures``."""

    def check(req: Request) -> Response | None:
        if req.headers.get("Authorization") != f"ApiKey {API_KEY}":
            return Response('{"error":{"type":"security_exception"},"status":401}', 401)
        if req.mimetype != "application/x-ndjson":
            return Response('{"error":"Content-Type header is not supported","status":406}', 406)
        raw = req.get_data().decode()
        if not raw.endswith("\n"):
            return Response(
                '{"error":{"type":"illegal_argument_exception","reason":"must be terminated by a newline"}}',
                400,
            )
        lines = raw.rstrip("\n").split("\n")
        items = []
        for i in range(0, len(lines), 2):
            action, doc = json.loads(lines[i]), json.loads(lines[i + 1])
            ((op, meta),) = action.items()
            assert op == "index" and meta["_index"] == "nhiwatch-alerts"
            assert "@timestamp" in doc and doc["event"]["kind"] == "alert"
            status, etype = failures.get(i // 2, (201, ""))
            entry: dict[str, Any] = {"_index": meta["_index"], "_id": meta["_id"], "status": status}
            if etype:
                entry["error"] = {"type": etype, "reason": f"{etype} for {meta['_id']}"}
            items.append({op: entry})
        return Response(json.dumps({"took": 3, "errors": bool(failures), "items": items}), 200)

    return check


def test_bulk_is_ndjson_of_ecs_documents(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script([(500, {}, "")], check=bulk({}))
    httpserver.expect_request("/_bulk", method="POST").respond_with_handler(script)
    monkeypatch.setenv("ES_KEY", API_KEY)
    outs = sink(httpserver.url_for("/")).send([item(), item(hostile_alert())])
    assert [o.ok for o in outs] == [True, True] and outs[0].remote_id == "al-1"
    lines = script.requests[0][1].decode().splitlines()
    doc = json.loads(lines[1])
    assert doc["@timestamp"] == "2025-09-01T14:30:00.000Z"
    assert doc["event"]["severity"] == 3 and doc["event"]["risk_score"] == 81
    assert doc["rule"]["name"] == "new_destination + volume_spike"
    assert doc["threat"]["framework"] == "MITRE ATT&CK" and doc["threat"]["technique"]["id"]
    assert doc["nhiwatch"]["integration"]["id"] == "crm-sync"
    assert "abcdefghijklmnopqrstuvwxyz0123456789" not in script.requests[0][1].decode()


def test_partial_failure_is_read_per_item(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    failures = {1: (400, "mapper_parsing_exception"), 2: (429, "es_rejected_execution_exception")}
    httpserver.expect_request("/_bulk").respond_with_handler(Script([(500, {}, "")], check=bulk(failures)))
    monkeypatch.setenv("ES_KEY", API_KEY)
    items = [item(alert(alert_id=f"al-{i}")) for i in range(4)]
    ok, refused, busy, ok2 = sink(httpserver.url_for("/")).send(items)
    assert ok.ok and ok2.ok
    assert not refused.ok and not refused.retry and "mapper_parsing_exception" in (refused.error or "")
    assert busy.retry and "es_rejected_execution_exception" in (busy.error or "")


def test_a_bad_key_or_an_odd_answer_fails_every_item(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/_bulk").respond_with_handler(Script([(500, {}, "")], check=bulk({})))
    monkeypatch.setenv("ES_KEY", "not-the-key-0000")
    outs = sink(httpserver.url_for("/")).send([item(), item(alert(alert_id="al-2"))])
    assert all(not o.ok and not o.retry for o in outs)
    assert all("not-the-key-0000" not in (o.error or "") for o in outs)
    httpserver.clear()
    httpserver.expect_request("/_bulk").respond_with_data('{"errors": false, "items": []}')
    monkeypatch.setenv("ES_KEY", API_KEY)
    outs = sink(httpserver.url_for("/")).send([item()])
    assert outs[0].retry and "0 items for 1 sent" in (outs[0].error or "")
