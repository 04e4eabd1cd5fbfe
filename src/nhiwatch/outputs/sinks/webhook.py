"""A generic webhook: the alert as JSON, signed with HMAC-SHA256 over the timestamp and the body.

Headers sent with every POST::

    X-Nhiwatch-Signature: t=1764525600,v1=<hex HMAC-SHA256(secret, "1764525600." + body)>
    X-Nhiwatch-Delivery: <update key: alert id @ update fingerprint>   (idempotency key)
    X-Nhiwatch-Dedupe-Key: <alert id>                                  (same for every update)
    X-Nhiwatch-Event: alert.updated | alert.resolved

A receiver recomputes the HMAC over the raw body bytes, compares in constant time, and refuses a
timestamp more than a few minutes from its clock (a captured request cannot be replayed later).
:func:`verify` is that check; ``docs/delivery.md`` shows it for receivers written in other languages.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import orjson

from nhiwatch.outputs.jsonl import alert_record
from nhiwatch.outputs.ocsf import detection_finding
from nhiwatch.outputs.sinks.base import Item, Outcome
from nhiwatch.outputs.sinks.config import WebhookSink as WebhookConfig
from nhiwatch.outputs.sinks.http import PerAlertHttpSink
from nhiwatch.outputs.sinks.secrets import resolve

TOLERANCE_SECONDS = 300


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(
    secret: bytes, header: str, body: bytes, *, tolerance: int = TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """True when ``header`` (``X-Nhiwatch-Signature``) signs ``body`` with ``secret`` within ``tolerance``
    seconds of ``now``. Any ``v1`` entry may match (a sender rotating secrets may send two)."""
    parts: dict[str, list[str]] = {}
    for piece in header.split(","):
        key, _, value = piece.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        ts = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    expected = sign(secret, ts, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", []))


class WebhookSink(PerAlertHttpSink):
    config: WebhookConfig

    def __init__(
        self, config: WebhookConfig, console_url: str | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(config, console_url)
        self.secret = resolve(config.name, "secret", config.secret_env, config.secret_file)
        self.secrets.append(self.secret)
        self.clock = clock

    def body(self, item: Item) -> bytes:
        a = item.alert
        data = detection_finding(a) if self.config.format == "ocsf" else alert_record(a)
        return orjson.dumps(
            {
                "event": "alert.resolved" if item.resolved else "alert.updated",
                "dedupe_key": item.dedupe_key,
                "update_key": item.update_key,
                "url": self.link(a),
                "alert" if self.config.format == "jsonl" else "finding": data,
            }
        )

    def send_one(self, item: Item) -> Outcome:
        body = self.body(item)
        headers = {
            "Content-Type": "application/json",
            "X-Nhiwatch-Signature": sign(self.secret.reveal().encode(), int(self.clock()), body),
            "X-Nhiwatch-Delivery": item.update_key,
            "X-Nhiwatch-Dedupe-Key": item.dedupe_key,
            "X-Nhiwatch-Event": "alert.resolved" if item.resolved else "alert.updated",
        }
        _, outcome = self.post(self.config.url, body, headers)
        return outcome
