"""What every sink shares: the unit of delivery (:class:`Item`), the result of one attempt
(:class:`Outcome`), the sink contract, the per-sink filter and the identity of an alert's update.

An alert is delivered once per *update*: its fingerprint covers what a receiver must hear about again
(severity, triage status, detectors); a re-run that only moves ``last_seen`` or the score within the same
severity does not re-deliver. ``dedupe_key`` (the alert id) is stable across updates, so receivers that
keep one record per incident (PagerDuty, Elasticsearch, Jira) update it instead of opening another.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from nhiwatch.alerts.model import Alert
from nhiwatch.outputs.sinks.config import SEVERITIES, SinkBase
from nhiwatch.outputs.sinks.secrets import Secret, scrub

RESOLVED = ("benign", "suppressed")  # statuses that close an alert at the receiver
ACTIVE = ("open", "malicious")


def fingerprint(a: Alert) -> str:
    """What makes an update worth sending again: severity, status and the detectors involved."""
    text = "\x1f".join([a.severity, a.status, ",".join(sorted(a.detectors))])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def update_key(a: Alert) -> str:
    return f"{a.alert_id}@{fingerprint(a)}"


def selects(cfg: SinkBase, a: Alert) -> bool:
    """The sink's filter: minimum severity, alert kinds and integration tiers."""
    if a.severity not in SEVERITIES or SEVERITIES.index(a.severity) < SEVERITIES.index(cfg.min_severity):
        return False
    if cfg.kinds is not None and a.kind not in cfg.kinds:
        return False
    return cfg.tiers is None or (a.risk_tier or "unknown") in cfg.tiers


@dataclass(frozen=True)
class Item:
    """One update of one alert to deliver; ``remote_id`` is what the sink returned for an earlier update
    of the same alert (a Jira issue key), if any."""

    alert: Alert
    update_key: str
    remote_id: str | None = None

    @property
    def dedupe_key(self) -> str:
        return self.alert.alert_id

    @property
    def resolved(self) -> bool:
        return self.alert.status in RESOLVED


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt for one item: delivered, worth retrying (with the wait the receiver
    asked for), or failed for good (a rejected payload or credential retrying cannot fix)."""

    ok: bool
    retry: bool = False
    error: str | None = None
    retry_after: float | None = None
    remote_id: str | None = None

    @classmethod
    def done(cls, remote_id: str | None = None) -> Outcome:
        return cls(True, remote_id=remote_id)

    @classmethod
    def again(cls, error: str, retry_after: float | None = None) -> Outcome:
        return cls(False, True, error, retry_after)

    @classmethod
    def failed(cls, error: str) -> Outcome:
        return cls(False, False, error)


class Sink(ABC):
    """A destination. :meth:`send` returns one outcome per item, in order, and raises nothing for a
    failure of the receiver (those are outcomes); the runner retries and spools."""

    def __init__(self, config: SinkBase, console_url: str | None = None) -> None:
        self.config = config
        self.console_url = console_url.rstrip("/") if console_url else None
        self.secrets: list[Secret] = []

    @property
    def name(self) -> str:
        return self.config.name

    @abstractmethod
    def send(self, items: Sequence[Item]) -> list[Outcome]: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def link(self, a: Alert) -> str | None:
        return f"{self.console_url}/alerts/{a.alert_id}" if self.console_url else None

    def scrub(self, text: str, limit: int = 500) -> str:
        """Error text safe to store and log: this sink's secrets and anything the redaction rules know
        removed, cut short."""
        out = scrub(text, self.secrets)
        return out if len(out) <= limit else out[: limit - 1] + "…"
