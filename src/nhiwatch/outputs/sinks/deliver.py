"""The delivery run: queue each sink's new alert updates, send what is due, retry, spool the rest.

For each enabled sink: alerts its filter selects (and, once an alert has been delivered, every later
update of it, so a benign verdict resolves the PagerDuty incident it opened) are queued per update; an
alert marked benign or suppressed before it was ever delivered is not sent. Due rows go out in batches.
An attempt worth retrying is retried in the same run after an exponential backoff with jitter, or the
receiver's ``Retry-After`` if longer, up to ``max_attempts``; a wait longer than ``max_backoff_seconds``
leaves the row ``retrying`` for a later run. Rows out of attempts, or refused by the receiver, are
``dead`` until ``--retry``. A failing sink never stops the others.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nhiwatch.alerts import tables
from nhiwatch.alerts.model import Alert
from nhiwatch.errors import ConfigError
from nhiwatch.outputs.sinks import build, spool
from nhiwatch.outputs.sinks.base import ACTIVE, Item, Outcome, Sink, fingerprint, selects, update_key
from nhiwatch.outputs.sinks.config import DeliveryConfig, SinkBase
from nhiwatch.outputs.sinks.retry import Backoff
from nhiwatch.redact import protect_logs, redact
from nhiwatch.store import Store

log = logging.getLogger("nhiwatch.delivery")
protect_logs(("nhiwatch.delivery",))


@dataclass
class SinkReport:
    sink: str
    queued: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    would_send: list[str] = field(default_factory=list)  # update keys, in a dry run
    error: str | None = None  # the sink could not be set up (a missing secret, an unreadable CA file)


def plan(
    cfg: SinkBase, alerts: Iterable[Alert], known: spool.Known
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """New rows to queue (alert id, update key, fingerprint) and alerts whose older undelivered rows are
    stale (alert id, current update key)."""
    new, stale = [], []
    for a in alerts:
        key = update_key(a)
        if known.undelivered.get(a.alert_id, set()) - {key}:
            stale.append((a.alert_id, key))
        if key in known.keys:
            continue
        if a.alert_id in known.delivered or (a.status in ACTIVE and selects(cfg, a)):
            new.append((a.alert_id, key, fingerprint(a)))
    return new, stale


def run(
    store: Store,
    config: DeliveryConfig,
    *,
    now: datetime,
    retry_dead: bool = False,
    dry_run: bool = False,
    since: datetime | None = None,
    only: Sequence[str] = (),
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    sinks: dict[str, Sink] | None = None,
) -> list[SinkReport]:
    """One delivery pass over every enabled sink (or the ``only`` ones). ``sinks`` replaces built sinks
    by name (tests); ``sleep`` and ``rand`` make backoff testable; ``now`` is naive UTC."""
    tables.ensure(store)
    spool.ensure(store)
    names = {s.name for s in config.sinks}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ConfigError(
            f"no sink named {', '.join(map(repr, unknown))}; configured: {', '.join(sorted(names))}"
        )
    alerts = tables.load_alerts(store, "last_seen >= ?", [since]) if since else tables.load_alerts(store)
    reports = []
    for cfg in config.sinks:
        if not cfg.enabled or (only and cfg.name not in only):
            continue
        report = SinkReport(cfg.name)
        reports.append(report)
        new, stale = plan(cfg, alerts, spool.known(store, cfg.name))
        report.queued = len(new)
        if dry_run:
            due = [r.update_key for r in spool.due(store, cfg.name, now, include_dead=retry_dead)]
            report.would_send = [*due, *(k for _, k, _ in new if k not in due)]
            continue
        spool.enqueue(store, cfg.name, new, stale, now)
        sink = (sinks or {}).get(cfg.name)
        if sink is None:
            try:
                sink = build(cfg, config.console_url)
            except ConfigError as exc:
                report.error = redact(str(exc))
                log.error("sink %s not set up: %s", cfg.name, report.error)
                continue
        try:
            _send_due(store, sink, report, now=now, retry_dead=retry_dead, sleep=sleep, rand=rand)
        finally:
            sink.close()
        log.info(
            "sink %s: %d delivered, %d retrying, %d dead",
            cfg.name,
            report.delivered,
            report.retrying,
            report.dead,
        )
    return reports


def _send_due(
    store: Store,
    sink: Sink,
    report: SinkReport,
    *,
    now: datetime,
    retry_dead: bool,
    sleep: Callable[[float], None],
    rand: Callable[[], float],
) -> None:
    cfg = sink.config
    rows = spool.due(store, cfg.name, now, include_dead=retry_dead)
    if not rows:
        return
    by_id = {
        a.alert_id: a
        for a in tables.load_alerts(
            store, "alert_id IN (SELECT unnest(?::VARCHAR[]))", [sorted({r.alert_id for r in rows})]
        )
    }
    remote = spool.known(store, cfg.name).remote
    items, attempts, limit = [], {}, {}
    for r in rows:
        a = by_id.get(r.alert_id)
        if a is None or update_key(a) != r.update_key:  # deleted, or changed since it was queued
            spool.record(store, cfg.name, r.update_key, status="superseded", attempts=r.attempts, now=now)
            continue
        items.append(Item(a, r.update_key, r.remote_id or remote.get(r.alert_id)))
        attempts[r.update_key] = r.attempts
        # a dead row sent again with --retry gets a fresh budget; others keep what they have left
        limit[r.update_key] = r.attempts + (
            cfg.max_attempts if r.status == "dead" else max(1, cfg.max_attempts - r.attempts)
        )
    backoff = Backoff(cfg.backoff_seconds, cfg.max_backoff_seconds, rand)
    for start in range(0, len(items), cfg.batch_size):
        _send_batch(
            store, sink, items[start : start + cfg.batch_size], attempts, limit, backoff, report, now, sleep
        )


def _attempt(sink: Sink, items: Sequence[Item]) -> list[Outcome]:
    """One call to the sink, behind a fault boundary: a bug in one sink becomes a retryable outcome for
    its items (with the error scrubbed), not a crash of every other delivery."""
    try:
        outcomes = sink.send(items)
    except Exception as exc:  # the boundary around third-party receivers and our own sink code
        # the traceback may quote a secret the redaction rules cannot recognise: scrubbed by the sink
        error = sink.scrub(f"{type(exc).__name__}: {exc}")
        log.error("sink %s raised while sending: %s", sink.name, error)
        log.debug("%s", sink.scrub("".join(traceback.format_exception(exc)), limit=20000))
        return [Outcome.again(error)] * len(items)
    if len(outcomes) != len(items):
        return [Outcome.again(f"sink returned {len(outcomes)} outcomes for {len(items)} items")] * len(items)
    return outcomes


def _send_batch(
    store: Store,
    sink: Sink,
    batch: list[Item],
    attempts: dict[str, int],
    limit: dict[str, int],
    backoff: Backoff,
    report: SinkReport,
    now: datetime,
    sleep: Callable[[float], None],
) -> None:
    name, rnd, pending = sink.name, 0, batch
    while pending:
        rnd += 1
        again: list[tuple[Item, Outcome]] = []
        with store.transaction():
            for it, o in zip(pending, _attempt(sink, pending), strict=True):
                k = it.update_key
                attempts[k] += 1
                if o.ok:
                    spool.record(
                        store,
                        name,
                        k,
                        status="delivered",
                        attempts=attempts[k],
                        now=now,
                        remote_id=o.remote_id,
                    )
                    report.delivered += 1
                elif not o.retry or attempts[k] >= limit[k]:
                    spool.record(store, name, k, status="dead", attempts=attempts[k], now=now, error=o.error)
                    report.dead += 1
                else:
                    again.append((it, o))
        if not again:
            return
        asked = max((o.retry_after or 0.0) for _, o in again)
        wait = backoff.delay(rnd, asked)
        later = wait > sink.config.max_backoff_seconds
        with store.transaction():
            for it, o in again:
                spool.record(
                    store, name, it.update_key, status="retrying", attempts=attempts[it.update_key], now=now,
                    error=o.error, next_attempt=now + timedelta(seconds=wait),
                )  # fmt: skip
        if later:  # the receiver asked for more patience than this run has: a later run picks them up
            report.retrying += len(again)
            return
        log.warning("sink %s: %d item(s) to retry in %.1f s: %s", name, len(again), wait, again[0][1].error)
        sleep(wait)
        pending = [it for it, _ in again]
