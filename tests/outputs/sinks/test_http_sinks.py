"""Each HTTP sink against a local receiver that checks what the real service checks."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from nhiwatch.outputs.sinks import Sink, build
from nhiwatch.outputs.sinks.config import DeliveryConfig
from nhiwatch.outputs.sinks.webhook import sign, verify
from tests.outputs.sinks.helpers import Script, hostile_alert, item

BEARER = "abcdefghijklmnopqrstuvwxyz0123456789"


def sink_of(spec: dict[str, Any], console_url: str | None = "https://nhiwatch.example.com") -> Sink:
    cfg = DeliveryConfig.model_validate({"sinks": [spec], "console_url": console_url})
    return build(cfg.sinks[0], cfg.console_url)


def json_of(script: Script, i: int = -1) -> Any:
    return json.loads(script.requests[i][1])


# --- Slack -------------------------------------------------------------------------------------------


def slack_shape(req: Request) -> Response | None:
    """What Slack's incoming webhook refuses (invalid_blocks / invalid_payload), checked."""
    body = req.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return Response("invalid_payload", 400)
    blocks = body.get("blocks", [])
    if len(blocks) > 50:
        return Response("invalid_blocks", 400)
    for b in blocks:
        if b["type"] == "header" and (b["text"]["type"] != "plain_text" or len(b["text"]["text"]) > 150):
            return Response("invalid_blocks", 400)
        if b["type"] == "section":
            if "text" in b and (b["text"]["type"] != "mrkdwn" or len(b["text"]["text"]) > 3000):
                return Response("invalid_blocks", 400)
            if len(b.get("fields", [])) > 10 or any(len(f["text"]) > 2000 for f in b.get("fields", [])):
                return Response("invalid_blocks", 400)
        if b["type"] == "context" and len(b["elements"]) > 10:
            return Response("invalid_blocks", 400)
    return None


def test_slack_posts_block_kit_with_mrkdwn_escaped(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script([(200, {}, "ok")], check=slack_shape)
    httpserver.expect_request("/services/T0/B0/x", method="POST").respond_with_handler(script)
    monkeypatch.setenv("SLACK_URL", httpserver.url_for("/services/T0/B0/x"))
    sink = sink_of({"name": "s", "type": "slack", "url_env": "SLACK_URL"})
    long = hostile_alert(explanation=hostile_alert().explanation * 200)
    outcomes = sink.send([item(long)])
    assert outcomes[0].ok, outcomes
    raw = script.requests[0][1].decode()
    body = json.loads(raw)
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "section", "context"]
    assert "<!channel>" not in raw and "<https://evil.example|click>" not in raw
    assert "&lt;!channel&gt;" in raw and BEARER not in raw and "[REDACTED]" in raw
    assert "<https://nhiwatch.example.com/alerts/al-hostile|open in the console>" in raw


def test_slack_refusal_is_final_and_rate_limit_is_retried(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script([(429, {"Retry-After": "7"}, "rate_limited"), (404, {}, "no_service")])
    httpserver.expect_request("/hook").respond_with_handler(script)
    monkeypatch.setenv("SLACK_URL", httpserver.url_for("/hook"))
    sink = sink_of({"name": "s", "type": "slack", "url_env": "SLACK_URL"})
    first, second = sink.send([item()])[0], sink.send([item()])[0]
    assert first.retry and first.retry_after == 7.0
    assert not second.ok and not second.retry and "no_service" in (second.error or "")


# --- Teams ---------------------------------------------------------------------------------------------


def teams_shape(req: Request) -> Response | None:
    """The Workflows trigger's envelope and the Adaptive Card elements it renders."""
    body = req.get_json(silent=True)
    try:
        assert body["type"] == "message"
        (att,) = body["attachments"]
        assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = att["content"]
        assert card["type"] == "AdaptiveCard" and card["version"] in ("1.2", "1.3", "1.4", "1.5")
        assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
        for el in card["body"]:
            assert el["type"] in ("TextBlock", "FactSet")
            if el["type"] == "TextBlock":
                assert isinstance(el["text"], str)
            else:
                assert all(set(f) == {"title", "value"} for f in el["facts"])
        for act in card.get("actions", []):
            assert act["type"] == "Action.OpenUrl" and act["url"].startswith("https://")
    except (AssertionError, KeyError, TypeError, ValueError):
        return Response('{"error":{"code":"InvalidRequestContent"}}', 400)
    return None


def test_teams_posts_an_adaptive_card_with_html_escaped(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script([(202, {}, "")], check=teams_shape)
    httpserver.expect_request("/workflows/run").respond_with_handler(script)
    monkeypatch.setenv(
        "TEAMS_URL", httpserver.url_for("/workflows/run") + "?sig=abcdefghijklmnopqrstuvwxyz012345"
    )
    sink = sink_of({"name": "t", "type": "teams", "url_env": "TEAMS_URL"})
    assert sink.send([item(hostile_alert())])[0].ok
    raw = script.requests[0][1].decode()
    assert "<script>" not in raw and "&lt;script&gt;" in raw and BEARER not in raw
    assert json_of(script)["attachments"][0]["content"]["actions"][0]["url"].endswith("/alerts/al-hostile")


def test_teams_connection_errors_never_quote_the_signed_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMS_URL", "http://127.0.0.1:9/workflows?sig=abcdefghijklmnopqrstuvwxyz012345")
    sink = sink_of({"name": "t", "type": "teams", "url_env": "TEAMS_URL", "timeout_seconds": 2})
    out = sink.send([item()])[0]
    assert out.retry and "abcdefghijklmnopqrstuvwxyz012345" not in (out.error or "")


# --- signed webhook ----------------------------------------------------------------------------------

SECRET = "whk-0123456789abcdef0123456789abcdef"


def test_webhook_signature_verifies_at_the_receiver(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def check(req: Request) -> Response | None:
        if not verify(SECRET.encode(), req.headers.get("X-Nhiwatch-Signature", ""), req.get_data()):
            return Response("bad signature", 401)
        return None

    script = Script([(204, {}, "")], check=check)
    httpserver.expect_request("/in").respond_with_handler(script)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    sink = sink_of(
        {"name": "w", "type": "webhook", "url": httpserver.url_for("/in"), "secret_env": "HOOK_SECRET"}
    )
    it = item(hostile_alert())
    assert sink.send([it])[0].ok
    headers, body = script.requests[0]
    assert (
        headers["X-Nhiwatch-Delivery"] == it.update_key and headers["X-Nhiwatch-Dedupe-Key"] == "al-hostile"
    )
    assert json.loads(body)["alert"]["alert_id"] == "al-hostile" and BEARER not in body.decode()
    assert SECRET not in str(headers) and SECRET not in body.decode()


def test_a_wrong_secret_is_refused_and_not_retried(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def check(req: Request) -> Response | None:
        ok = verify(b"the-receivers-secret", req.headers.get("X-Nhiwatch-Signature", ""), req.get_data())
        return None if ok else Response("bad signature", 401)

    httpserver.expect_request("/in").respond_with_handler(Script([(204, {}, "")], check=check))
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    sink = sink_of(
        {"name": "w", "type": "webhook", "url": httpserver.url_for("/in"), "secret_env": "HOOK_SECRET"}
    )
    out = sink.send([item()])[0]
    assert not out.ok and not out.retry and "401" in (out.error or "")


def test_verify_refuses_tampering_and_stale_or_future_timestamps() -> None:
    body, secret, now = b'{"event":"alert.updated"}', b"s3cret-value", 1_764_500_000
    header = sign(secret, now, body)
    assert verify(secret, header, body, now=now + 299)
    assert not verify(secret, header, body, now=now + 301)  # replayed later
    assert not verify(secret, header, body, now=now - 301)  # from the future
    assert not verify(secret, header, body + b" ", now=now)
    assert not verify(b"other", header, body, now=now)
    assert not verify(secret, header.replace(f"t={now}", f"t={now + 1}"), body, now=now)
    assert not verify(secret, "v1=deadbeef", body, now=now) and not verify(secret, "", body, now=now)
    # a receiver accepts either of two signatures while the sender rotates secrets
    assert verify(secret, f"t={now},v1=00ff,v1={header.split('v1=')[1]}", body, now=now)


# --- Splunk HEC --------------------------------------------------------------------------------------

HEC_TOKEN = "b6d9a8f2-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


def hec_events(raw: bytes) -> list[dict[str, Any]]:
    dec, text, pos, out = json.JSONDecoder(), raw.decode(), 0, []
    while pos < len(text):
        obj, pos = dec.raw_decode(text, pos)
        out.append(obj)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def hec_check(req: Request) -> Response | None:
    """Splunk's answers: 401 no auth (code 2), 403 bad token (4), 400 bad event (6 / 12 / 13)."""
    auth = req.headers.get("Authorization", "")
    if not auth.startswith("Splunk "):
        return Response('{"text":"Token is required","code":2}', 401)
    if auth != f"Splunk {HEC_TOKEN}":
        return Response('{"text":"Invalid token","code":4}', 403)
    try:
        events = hec_events(req.get_data())
    except ValueError:
        return Response('{"text":"Invalid data format","code":6}', 400)
    for i, ev in enumerate(events):
        if "event" not in ev or ev["event"] in ("", None):
            return Response(f'{{"text":"Event field is required","code":12,"invalid-event-number":{i}}}', 400)
        if not isinstance(ev.get("time"), int | float) or not all(
            isinstance(ev.get(k), str) for k in ("host", "source", "sourcetype")
        ):
            return Response(f'{{"text":"Invalid data format","code":6,"invalid-event-number":{i}}}', 400)
    return None


def test_hec_sends_one_request_of_event_envelopes(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script([(200, {}, '{"text":"Success","code":0}')], check=hec_check)
    httpserver.expect_request("/services/collector/event", method="POST").respond_with_handler(script)
    monkeypatch.setenv("HEC_TOKEN", HEC_TOKEN)
    sink = sink_of(
        {"name": "h", "type": "splunk_hec", "url": httpserver.url_for("/"), "token_env": "HEC_TOKEN",
         "index": "security", "host": "nhiwatch-1", "format": "ocsf"}
    )  # fmt: skip
    outs = sink.send([item(), item(hostile_alert())])
    assert all(o.ok for o in outs) and len(script.requests) == 1
    events = hec_events(script.requests[0][1])
    assert [e["event"]["class_uid"] for e in events] == [2004, 2004]
    assert events[0]["time"] == 1756737000.0  # last_seen 2025-09-01 14:30 UTC
    assert {e["sourcetype"] for e in events} == {"nhiwatch:alert"} and events[0]["index"] == "security"
    assert BEARER not in script.requests[0][1].decode()


def test_hec_bad_token_is_final_busy_is_retried(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/services/collector/event").respond_with_handler(
        Script([(200, {}, "{}")], check=hec_check)
    )
    monkeypatch.setenv("HEC_TOKEN", "wrong-token-value-000")
    sink = sink_of(
        {"name": "h", "type": "splunk_hec", "url": httpserver.url_for("/"), "token_env": "HEC_TOKEN"}
    )
    (out,) = sink.send([item()])
    assert not out.ok and not out.retry and "Invalid token" in (out.error or "")
    assert "wrong-token-value-000" not in (out.error or "")
    httpserver.clear()
    httpserver.expect_request("/services/collector/event").respond_with_handler(
        Script([(503, {}, '{"text":"Server is busy","code":9}')])
    )
    (busy,) = sink.send([item()])
    assert busy.retry


# --- PagerDuty ----------------------------------------------------------------------------------------

ROUTING_KEY = "R0123456789abcdef0123456789abcde"


def pd_check(req: Request) -> Response | None:
    """The Events API v2 validation (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/)."""
    ev = req.get_json(silent=True) or {}
    errors = []
    if len(ev.get("routing_key", "")) != 32:
        errors.append("routing_key")
    if ev.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        errors.append("event_action")
    if ev.get("event_action") == "trigger":
        p = ev.get("payload") or {}
        if not p.get("summary") or len(p["summary"]) > 1024 or not p.get("source"):
            errors.append("payload.summary/source")
        if p.get("severity") not in ("critical", "error", "warning", "info"):
            errors.append("payload.severity")
        if "timestamp" in p and not str(p["timestamp"]).endswith("Z"):
            errors.append("payload.timestamp")
    elif not ev.get("dedup_key"):
        errors.append("dedup_key")
    if errors:
        return Response(json.dumps({"status": "invalid event", "errors": errors}), 400)
    return Response(json.dumps({"status": "success", "dedup_key": ev.get("dedup_key")}), 202)


def test_pagerduty_triggers_and_resolves_on_one_dedup_key(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script([(500, {}, "")], check=pd_check)
    httpserver.expect_request("/v2/enqueue").respond_with_handler(script)
    monkeypatch.setenv("PD_KEY", ROUTING_KEY)
    sink = sink_of(
        {
            "name": "p",
            "type": "pagerduty",
            "url": httpserver.url_for("/v2/enqueue"),
            "routing_key_env": "PD_KEY",
        }
    )
    a = hostile_alert(severity="critical")
    assert sink.send([item(a)])[0].ok
    a.status = "benign"
    assert sink.send([item(a)])[0].ok
    trig, res = json_of(script, 0), json_of(script, 1)
    assert trig["event_action"] == "trigger" and trig["payload"]["severity"] == "critical"
    assert res == {"routing_key": ROUTING_KEY, "dedup_key": "al-hostile", "event_action": "resolve"}
    assert trig["dedup_key"] == "al-hostile" and BEARER not in json.dumps(trig)
    assert trig["links"][0]["href"] == "https://nhiwatch.example.com/alerts/al-hostile"


# --- Jira -----------------------------------------------------------------------------------------------


def jira_check(req: Request) -> Response | None:
    auth = req.headers.get("Authorization", "")
    if (
        base64.b64decode(auth.removeprefix("Basic ")).decode()
        != "sec-bot@example.com:jira-api-token-0123456789"
    ):
        return Response('{"errorMessages":["Client must be authenticated"]}', 401)
    body = req.get_json(silent=True) or {}
    if req.path.endswith("/issue"):
        f = body.get("fields", {})
        if "\n" in f.get("summary", "") or len(f.get("summary", "")) > 255 or f["project"]["key"] != "SEC":
            return Response('{"errors":{"summary":"invalid"}}', 400)
        if any(" " in label for label in f.get("labels", [])):
            return Response('{"errors":{"labels":"no spaces"}}', 400)
        return Response('{"id":"10001","key":"SEC-42","self":"x"}', 201)
    return Response('{"id":"20001"}', 201)


def test_jira_creates_an_issue_then_comments_on_updates(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script([(500, {}, "")], check=jira_check)
    httpserver.expect_request("/rest/api/3/issue", method="POST").respond_with_handler(script)
    httpserver.expect_request("/rest/api/3/issue/SEC-42/comment", method="POST").respond_with_handler(script)
    monkeypatch.setenv("JIRA_TOKEN", "jira-api-token-0123456789")
    spec = {
        "name": "j",
        "type": "jira",
        "url": httpserver.url_for("/"),
        "project": "SEC",
        "email": "sec-bot@example.com",
        "token_env": "JIRA_TOKEN",
    }
    sink = sink_of(spec)
    created = sink.send([item(hostile_alert())])[0]
    assert created.ok and created.remote_id == "SEC-42"
    issue = json_of(script, 0)["fields"]
    assert issue["description"]["type"] == "doc" and issue["issuetype"] == {"name": "Task"}
    assert "nhiwatch-new_destination" in issue["labels"] and BEARER not in json.dumps(issue)
    a = hostile_alert(status="malicious")
    assert sink.send([item(a, remote_id="SEC-42")])[0].ok
    assert "status malicious" in json.dumps(json_of(script, 1)["body"])


def test_jira_v2_wiki_cannot_be_broken_out_of(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Script([(500, {}, "")], check=jira_check)
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_handler(script)
    monkeypatch.setenv("JIRA_TOKEN", "jira-api-token-0123456789")
    spec = {
        "name": "j",
        "type": "jira",
        "url": httpserver.url_for("/"),
        "project": "SEC",
        "email": "sec-bot@example.com",
        "token_env": "JIRA_TOKEN",
        "api_version": 2,
    }
    a = hostile_alert(
        explanation="x {noformat} [link|https://evil] {noformat}", integration_name="[x|https://evil]"
    )
    assert sink_of(spec).send([item(a)])[0].ok
    desc = json_of(script)["fields"]["description"]
    assert desc.count("{noformat}") == 2 and "\\[x\\|https://evil\\]" in desc


def test_http_sinks_do_not_follow_redirects(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/in").respond_with_data(
        "", status=307, headers={"Location": "https://elsewhere.example/"}
    )
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    sink = sink_of(
        {"name": "w", "type": "webhook", "url": httpserver.url_for("/in"), "secret_env": "HOOK_SECRET"}
    )
    out = sink.send([item()])[0]
    assert not out.ok and not out.retry and "redirect" in (out.error or "")


def test_the_documented_python_recipe_verifies_what_the_sink_signs() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "delivery.md").read_text(encoding="utf-8")
    code = doc.split("Python (this is `nhiwatch.outputs.sinks.webhook.verify`):\n\n```python\n", 1)[1]
    namespace: dict[str, Any] = {}
    exec(code.split("```", 1)[0], namespace)
    body, now = b'{"event":"alert.updated"}', int(time.time())
    header = sign(b"k" * 32, now, body)
    assert namespace["verify"](b"k" * 32, header, body)
    assert not namespace["verify"](b"k" * 32, header, body + b"x")
    assert not namespace["verify"](b"k" * 32, sign(b"k" * 32, now - 301, body), body)
