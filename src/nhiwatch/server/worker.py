"""The micro-batch scorer: pushed events are scored every few seconds, so alerts appear without a restart.

Each push tells the worker the time span of the events it stored (:meth:`Worker.notify`). Every
``interval`` seconds the worker takes the accumulated span, widens it to whole hours (hourly detections
need their hour) and calls :func:`nhiwatch.detection.run_detection` over it, holding the store lock like
any request. Alert ids are stable, so re-scoring an hour updates its alerts instead of duplicating them,
and analysts' verdicts are kept by the alert stage.

A detector that fails on a batch does not stop the others (:func:`nhiwatch.detection.isolated`); its
failure is counted (``worker_detector_errors``), logged, and kept with the batch's outcome and among the
recent errors shown by ``GET /api/v1/status``.

Baselines are learned once per day scored, from the history before that day's midnight (UTC), and reused
by every micro-batch of the same day: learning four weeks of history on every batch would hold the store
lock for seconds and starve pushes. A batch on another day (late events, a new day) learns again, once:
the later days of a batch that spans several (a backlog) reuse the baseline of its first day.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nhiwatch.baseline import learn
from nhiwatch.detection import run_detection
from nhiwatch.errors import NhiwatchError
from nhiwatch.server.state import ServerState
from nhiwatch.store import Store

log = logging.getLogger("nhiwatch.server.worker")


@dataclass
class BatchOutcome:
    since: datetime
    until: datetime
    alerts: int
    seconds: float
    error: str | None = None
    detector_errors: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, state: ServerState, interval: float) -> None:
        self.state = state
        self.interval = interval
        self._span: tuple[datetime, datetime] | None = None
        self._oldest_push: float | None = None  # monotonic time of the oldest unscored push
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: BatchOutcome | None = None
        self._learned_day: datetime | None = None
        self._learned_in_batch = False
        self._recent_errors: deque[str] = deque(maxlen=20)

    def recent_errors(self) -> list[str]:
        """The last detector failures (newest last), at most 20."""
        with self._guard:
            return list(self._recent_errors)

    def _learn_daily(self, store: Store, until: datetime, days: int) -> None:
        """The learner handed to ``run_detection``: baselines as of the day's start, learned once a day."""
        day = until.replace(hour=0, minute=0, second=0, microsecond=0)
        if day == self._learned_day or self._learned_in_batch:
            return  # one learning per batch at most: later days of a long batch reuse it
        self._learned_day = None
        learn(store, day, history_days=days)
        self._learned_day = day
        self._learned_in_batch = True

    def notify(self, lo: datetime | None, hi: datetime | None) -> None:
        """Events between ``lo`` and ``hi`` (inclusive) were stored and await scoring."""
        if lo is None or hi is None:
            return
        with self._guard:
            if self._span is None:
                self._span = (lo, hi)
                self._oldest_push = time.monotonic()
            else:
                self._span = (min(self._span[0], lo), max(self._span[1], hi))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def pending(self) -> bool:
        with self._guard:
            return self._span is not None

    def run_once(self) -> BatchOutcome | None:
        """Score what is pending now (called by the loop, and by tests to avoid waiting)."""
        with self._guard:
            span, pushed = self._span, self._oldest_push
            self._span, self._oldest_push = None, None
        if span is None:
            return None
        since = span[0].replace(minute=0, second=0, microsecond=0)
        until = span[1] + timedelta(microseconds=1)
        t0 = time.perf_counter()
        self._learned_in_batch = False
        metrics = self.state.metrics
        try:
            with self.state.db() as store:
                result = run_detection(store, since, until, learner=self._learn_daily)
            outcome = BatchOutcome(
                since,
                until,
                len(result.alerts) + len(result.posture),
                0.0,
                detector_errors=list(result.errors),
            )
            if result.errors:
                metrics.inc("worker_detector_errors", len(result.errors))
                for e in result.errors:
                    log.warning("micro-batch %s - %s: %s", since, until, e)
                with self._guard:
                    self._recent_errors.extend(result.errors)
        except NhiwatchError as exc:
            outcome = BatchOutcome(since, until, 0, 0.0, str(exc))
            metrics.inc("worker_errors")
        except Exception as exc:  # keep scoring later batches; the error is logged, not lost
            log.exception("micro-batch %s - %s failed", since, until)
            outcome = BatchOutcome(since, until, 0, 0.0, type(exc).__name__)
            metrics.inc("worker_errors")
        outcome.seconds = time.perf_counter() - t0
        metrics.inc("worker_batches")
        metrics.set("worker_last_batch_seconds", outcome.seconds)
        if pushed is not None:
            metrics.set("worker_push_to_scored_seconds", time.monotonic() - pushed)
        self.last = outcome
        return outcome

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # pragma: no cover - run_once already catches; never let the thread die
                log.exception("worker loop")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="nhiwatch-scorer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
