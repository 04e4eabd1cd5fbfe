"""Background jobs of ``nhiwatch run``: collectors on their schedules, alert delivery, retention.

One thread runs the jobs one after another, each when due, each inside the server's writer
(:meth:`ServerState.db`): there is one writer per store, and the scoring worker scores what a collector
stored on its next micro-batch. A job that fails records its error (redacted) and runs again at its next
time; it never stops the others or the server. A collector's run is bounded by its ``max_pages`` so it
holds the writer for a bounded time; pushes are still accepted meanwhile (they queue for the writer).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nhiwatch.monitor.config import CollectorConfig, RunConfig, seconds
from nhiwatch.redact import protect_logs, redact

log = logging.getLogger("nhiwatch.run")
protect_logs(("nhiwatch.run",))


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Job:
    name: str
    every: float
    step: Callable[[], str]  # returns a one-line summary of what it did
    due: float = 0.0
    runs: int = 0
    failures: int = 0
    last_success: float | None = None
    last_error: str | None = None
    last_summary: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.name,
            "every_seconds": self.every,
            "runs": self.runs,
            "failures": self.failures,
            "last_success": self.last_success,
            "last_error": self.last_error,
            "last_summary": self.last_summary,
        }


@dataclass
class Scheduler:
    """Runs ``jobs`` when due on one background thread until :meth:`stop`."""

    jobs: list[Job]
    clock: Callable[[], float] = time.time
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="nhiwatch-run", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_due(self) -> int:
        """Run every job that is due now; returns how many ran."""
        ran = 0
        for job in self.jobs:
            if self._stop.is_set():
                break
            if self.clock() >= job.due:
                self._run(job)
                ran += 1
        return ran

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            wait = min((j.due for j in self.jobs), default=self.clock() + 60) - self.clock()
            self._stop.wait(max(0.5, min(wait, 60.0)))

    def _run(self, job: Job) -> None:
        started = self.clock()
        job.runs += 1
        try:
            job.last_summary = job.step()
            job.last_success = self.clock()
            job.last_error = None
            log.info("%s: %s", job.name, job.last_summary)
        except Exception as exc:  # a failing job is reported and retried at its next time
            job.failures += 1
            job.last_error = redact(f"{type(exc).__name__}: {exc}")[:500]
            log.error("%s failed: %s", job.name, job.last_error)
        job.due = started + job.every


def build_jobs(state: Any, config: RunConfig, *, now: Callable[[], datetime] = utcnow) -> list[Job]:
    """The jobs ``config`` asks for, over the server ``state``'s writer."""
    jobs = [_collector_job(state, c, now) for c in config.collectors]
    if config.sinks:
        jobs.append(Job("deliver", seconds(config.deliver_every), _deliver_step(state, config, now)))
    if config.retention.enabled:
        jobs.append(Job("retention", seconds(config.retention.every), _retention_step(state, config)))
    return jobs


def _collector_job(state: Any, c: CollectorConfig, now: Callable[[], datetime]) -> Job:
    from nhiwatch.sources.collect import registry, runner
    from nhiwatch.sources.collect import state as checkpoints

    def step() -> str:
        collector = registry.build(c.name, c.settings)  # credentials read now: a rotated secret is picked up
        try:
            with state.db() as store:
                checkpoints.ensure(store)
                since = None
                if c.backfill and not store.scalar(
                    "SELECT count(*) FROM collector_state WHERE source = ?", [c.name]
                ):
                    since = now() - timedelta(seconds=seconds(c.backfill))  # the first run only
                report = runner.run(store, collector, since=since, max_pages=c.max_pages)
        finally:
            collector.close()
        if state.worker is not None and report.stored:
            state.worker.ingested()  # the scorer takes the new events (past its cursor) at once
        errors = [f"{s.instance}: {s.error}" for s in report.streams if s.error]
        if errors:
            raise RuntimeError("; ".join(errors))
        return f"{report.stored} events stored from {len(report.streams)} stream(s)"

    return Job(f"collect:{c.name}", seconds(c.every), step)


def _deliver_step(state: Any, config: RunConfig, now: Callable[[], datetime]) -> Callable[[], str]:
    from nhiwatch.outputs.sinks import deliver

    delivery = config.delivery()

    def step() -> str:
        with state.db() as store:
            reports = deliver.run(store, delivery, now=now())
        failed = [f"{r.sink}: {r.error}" for r in reports if getattr(r, "error", None)]
        if failed:
            raise RuntimeError("; ".join(failed))
        return ", ".join(f"{r.sink} {r.delivered} delivered" for r in reports) or "no sink enabled"

    return step


def _retention_step(state: Any, config: RunConfig) -> Callable[[], str]:
    from nhiwatch.retention import prune

    def step() -> str:
        with state.db() as store:
            if not store.event_count():
                return "store empty"
            r = prune(store, raw_days=config.retention.raw_days, rollup_days=config.retention.rollup_days)
        return str(r)

    return step


__all__ = ["Job", "Scheduler", "build_jobs"]
