"""The delivery run: retries with backoff and Retry-After, the dead-letter spool, no re-delivery of
unchanged alerts, filters, and secrets kept out of the spool and the logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from nhiwatch.alerts import tables
from nhiwatch.alerts.triage import triage
from nhiwatch.errors import ConfigError
from nhiwatch.outputs.sinks import Item, Outcome, Sink, deliver
from nhiwatch.outputs.sinks.config import DeliveryConfig
from nhiwatch.outputs.sinks.webhook import verify
from nhiwatch.store import Store
from tests.outputs.sinks.helpers import NOW, Script, hostile_alert, store_with
from tests.outputs.test_outputs import alert

SECRET = "whk-0123456789abcdef0123456789abcdef"


def config(url: str, **kw: Any) -> DeliveryConfig:
    spec = {"name": "hook", "type": "webhook", "url": url, "secret_env": "HOOK_SECRET", **kw}
    return DeliveryConfig.model_validate({"sinks": [spec]})


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def rows(store: Store) -> list[dict[str, Any]]:
    return store.records("SELECT * FROM deliveries ORDER BY created_at, update_key")


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def run(store: Store, cfg: DeliveryConfig, sleeps: Sleeps | None = None, **kw: Any) -> deliver.SinkReport:
    (report,) = deliver.run(
        store,
        cfg,
        now=kw.pop("now", NOW),
        sleep=Sleeps() if sleeps is None else sleeps,
        rand=lambda: 1.0,
        **kw,
    )
    return report


def test_429_and_5xx_are_retried_after_backoff_and_retry_after(store: Store, httpserver: HTTPServer) -> None:
    script = Script([(429, {"Retry-After": "3"}, "slow down"), (503, {}, "busy"), (204, {}, "")])
    httpserver.expect_request("/in").respond_with_handler(script)
    store_with(store, alert())
    sleeps = Sleeps()
    report = run(store, config(httpserver.url_for("/in")), sleeps)
    assert (report.delivered, report.dead) == (1, 0)
    assert sleeps == [3.0, 2.0]  # Retry-After 3 s beats the 1 s first backoff; then 2 s
    (row,) = rows(store)
    assert row["status"] == "delivered" and row["attempts"] == 3 and row["delivered_at"] == NOW
    assert len({h["X-Nhiwatch-Delivery"] for h, _ in script.requests}) == 1  # one idempotency key


def test_dead_letter_after_max_attempts_and_retry_later(store: Store, httpserver: HTTPServer) -> None:
    script = Script([(500, {}, "receiver down")])
    httpserver.expect_request("/in").respond_with_handler(script)
    store_with(store, alert())
    cfg = config(httpserver.url_for("/in"), max_attempts=3)
    sleeps = Sleeps()
    report = run(store, cfg, sleeps)
    assert (report.delivered, report.dead) == (0, 1) and len(script.requests) == 3 and sleeps == [1.0, 2.0]
    (row,) = rows(store)
    assert row["status"] == "dead" and row["attempts"] == 3 and row["last_error"] == "HTTP 500: receiver down"
    # a plain run leaves the dead letter alone; --retry sends it again, and now it gets through
    script.answers[:] = [(200, {}, "")]
    script.requests.clear()
    assert run(store, cfg, now=NOW + timedelta(hours=1)).delivered == 0 and not script.requests
    report = run(store, cfg, retry_dead=True, now=NOW + timedelta(hours=1))
    assert report.delivered == 1 and len(script.requests) == 1
    assert rows(store)[0]["status"] == "delivered" and rows(store)[0]["attempts"] == 4


def test_a_refused_payload_is_dead_at_once(store: Store, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/in").respond_with_handler(Script([(422, {}, "unprocessable")]))
    store_with(store, alert())
    sleeps = Sleeps()
    assert run(store, config(httpserver.url_for("/in")), sleeps).dead == 1 and sleeps == []


def test_only_changed_alerts_are_delivered_again(store: Store, httpserver: HTTPServer) -> None:
    script = Script([(204, {}, "")])
    httpserver.expect_request("/in").respond_with_handler(script)
    cfg = config(httpserver.url_for("/in"))
    store_with(store, alert())
    assert run(store, cfg).delivered == 1
    # a re-run that only moves last_seen and the score within the severity: nothing new
    tables.save_alerts(store, [alert(last_seen=NOW, risk_score=84)], NOW)
    assert run(store, cfg).queued == 0 and len(script.requests) == 1
    tables.save_alerts(store, [alert(severity="critical", risk_score=93)], NOW)
    assert run(store, cfg).delivered == 1
    triage(store, "al-1", "benign", analyst="ana", now=NOW)
    assert run(store, cfg).delivered == 1
    events = [json.loads(b)["event"] for _, b in script.requests]
    assert events == ["alert.updated", "alert.updated", "alert.resolved"]
    assert len({json.loads(b)["dedupe_key"] for _, b in script.requests}) == 1
    assert len({json.loads(b)["update_key"] for _, b in script.requests}) == 3
    assert run(store, cfg).queued == 0 and len(script.requests) == 3


def test_filters_and_resolved_alerts_never_delivered(store: Store, httpserver: HTTPServer) -> None:
    script = Script([(204, {}, "")])
    httpserver.expect_request("/in").respond_with_handler(script)
    store_with(
        store,
        alert(alert_id="al-high"),
        alert(alert_id="al-low", severity="low"),
        alert(alert_id="al-posture", kind="posture"),
        alert(alert_id="al-tier", risk_tier="low"),
        alert(alert_id="al-untiered", risk_tier=None),
        alert(alert_id="al-benign", status="benign"),
        alert(alert_id="al-suppressed", status="suppressed"),
    )
    cfg = config(
        httpserver.url_for("/in"), min_severity="medium", kinds=["behaviour"], tiers=["high", "unknown"]
    )
    assert run(store, cfg).delivered == 2
    assert sorted(json.loads(b)["dedupe_key"] for _, b in script.requests) == ["al-high", "al-untiered"]


def test_an_update_made_while_waiting_supersedes_the_queued_one(store: Store, httpserver: HTTPServer) -> None:
    script = Script([(429, {"Retry-After": "3600"}, "")])
    httpserver.expect_request("/in").respond_with_handler(script)
    cfg = config(httpserver.url_for("/in"))
    store_with(store, alert())
    sleeps = Sleeps()
    report = run(store, cfg, sleeps)
    assert report.retrying == 1 and sleeps == []  # asked for an hour: left for a later run
    (row,) = rows(store)
    assert row["status"] == "retrying" and row["next_attempt"] == NOW + timedelta(hours=1)
    assert run(store, cfg, now=NOW + timedelta(minutes=10)).retrying == 0 and len(script.requests) == 1
    triage(store, "al-1", "benign", analyst="ana", now=NOW)
    # the next run marks the queued update superseded at once, before its retry time comes
    run(store, cfg, now=NOW + timedelta(minutes=20))
    assert [r["status"] for r in rows(store)] == ["superseded"]
    script.answers[:] = [(204, {}, "")]
    run(store, cfg, now=NOW + timedelta(hours=2))
    assert [r["status"] for r in rows(store)] == ["superseded"] and len(script.requests) == 1


class Exploding(Sink):
    def send(self, items: Sequence[Item]) -> list[Outcome]:
        raise RuntimeError(f"bug while sending with {SECRET}")


def test_secrets_stay_out_of_the_spool_and_the_logs(
    store: Store, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    # a receiver that echoes the secret into its error answer; a sink whose exception quotes it
    script = Script([(500, {}, f"bad signature; expected secret {SECRET}; Authorization: Bearer {SECRET}")])
    httpserver.expect_request("/in").respond_with_handler(script)
    store_with(store, hostile_alert())
    cfg = DeliveryConfig.model_validate(
        {
            "sinks": [
                {
                    "name": "hook",
                    "type": "webhook",
                    "url": httpserver.url_for("/in"),
                    "secret_env": "HOOK_SECRET",
                    "max_attempts": 2,
                },
                {
                    "name": "boom",
                    "type": "webhook",
                    "url": httpserver.url_for("/in"),
                    "secret_env": "HOOK_SECRET",
                    "max_attempts": 1,
                },
            ]
        }
    )
    boom = Exploding(cfg.sinks[1])
    boom.secrets = deliver.build(cfg.sinks[0]).secrets
    caplog.set_level(logging.DEBUG, logger="nhiwatch.delivery")
    reports = deliver.run(store, cfg, now=NOW, sleep=Sleeps(), rand=lambda: 1.0, sinks={"boom": boom})
    assert [r.dead for r in reports] == [1, 1]
    spooled = json.dumps(rows(store), default=str)
    assert SECRET not in spooled and "[REDACTED]" in spooled and "RuntimeError" in spooled
    assert SECRET not in caplog.text and "abcdefghijklmnopqrstuvwxyz0123456789" not in caplog.text
    assert "sink boom raised while sending" in caplog.text
    # what went out was signed with the secret, and carried none of it
    headers, body = script.requests[0]
    assert verify(SECRET.encode(), headers["X-Nhiwatch-Signature"], body, tolerance=10**9)
    assert SECRET not in body.decode()


def test_a_sink_that_cannot_be_set_up_does_not_stop_the_others(
    store: Store, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/in").respond_with_handler(Script([(204, {}, "")]))
    store_with(store, alert())
    cfg = DeliveryConfig.model_validate(
        {
            "sinks": [
                {"name": "slack", "type": "slack", "url_env": "NO_SUCH_VARIABLE_SET"},
                {
                    "name": "hook",
                    "type": "webhook",
                    "url": httpserver.url_for("/in"),
                    "secret_env": "HOOK_SECRET",
                },
            ]
        }
    )
    monkeypatch.delenv("NO_SUCH_VARIABLE_SET", raising=False)
    slack, hook = deliver.run(store, cfg, now=NOW, sleep=Sleeps())
    assert slack.error and "NO_SUCH_VARIABLE_SET" in slack.error and hook.delivered == 1
    # its rows wait, queued, for a run where it is set up
    assert store.scalar("SELECT status FROM deliveries WHERE sink = 'slack'") == "pending"
    with pytest.raises(ConfigError, match="no sink named 'nope'"):
        deliver.run(store, cfg, now=NOW, only=["nope"])


def test_dry_run_sends_and_writes_nothing(store: Store, httpserver: HTTPServer) -> None:
    script = Script([(204, {}, "")])
    httpserver.expect_request("/in").respond_with_handler(script)
    store_with(store, alert(), alert(alert_id="al-2"))
    report = run(store, config(httpserver.url_for("/in")), dry_run=True)
    assert len(report.would_send) == 2 and not script.requests and rows(store) == []
