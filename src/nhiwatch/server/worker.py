"""The micro-batch worker: ingests accepted pushes and scores the new events, in short cycles.

A cycle (:meth:`Worker.run_once`) takes one batch from the push queue
(:meth:`nhiwatch.server.intake.Intake.drain`: the oldest pushes, many at a time, ingested in order, rollups
advanced) and then scores only the events that arrived since the last cycle (:func:`nhiwatch.pipeline.score_new`: events past the scored ``ingest_batch``
cursor, their hours, one detection run per day they touch). Its cost follows the new events, not the
history. A push wakes the worker at once; with nothing to do it looks again every ``interval`` seconds.
Under load the cycles run back to back and each takes what queued during the last (up to a bounded
batch), so batches grow with the load instead of requests waiting behind one another, and a backlog is
worked off in bounded cycles that each end with scoring.

Baselines are learned once per day scored, from the history before that day's midnight (UTC), and reused
by every micro-batch of the same day: a micro-batch never relearns. A batch on another day (late events, a
new day) learns again, once; the later days of a batch that spans several (a backlog) reuse the baseline
of its first.

A detector that fails on a batch does not stop the others (:func:`nhiwatch.detection.isolated`); its
failure is counted (``worker_detector_errors``), logged, and kept with the batch's outcome and among the
recent errors shown by ``GET /api/v1/status``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from nhiwatch.baseline import learn
from nhiwatch.errors import NhiwatchError
from nhiwatch.pipeline import score_new, start_streaming
from nhiwatch.server.state import ServerState
from nhiwatch.store import Store

log = logging.getLogger("nhiwatch.server.worker")
SWITCH_INTERVAL = 0.001  # seconds


@dataclass
class BatchOutcome:
    since: datetime | None
    until: datetime | None
    alerts: int
    seconds: float
    error: str | None = None
    detector_errors: list[str] = field(default_factory=list)
    pushes: int = 0  # pushes ingested by the cycle
    events: int = 0  # new attributed events scored
    cursor: int = 0  # the ingest_batch scored up to


class Worker:
    def __init__(self, state: ServerState, interval: float) -> None:
        self.state = state
        self.interval = interval
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unscored = True  # events may have been ingested that no cycle scored (a crash, a restart)
        self._scoring = False
        self.last: BatchOutcome | None = None
        self._learned_day: datetime | None = None
        self._learned_in_batch = False
        self._recent_errors: deque[str] = deque(maxlen=20)
        self._beside: tuple[Store, Store] | None = None  # (the store, a second connection to it)
        with state.db() as store:
            start_streaming(store)
        state.intake.on_queued = self._wake.set
        state.intake.on_ingested = self._ingested

    def _ingested(self) -> None:
        self._unscored = True
        self._wake.set()

    def ingested(self) -> None:
        """Events were stored by another writer (a collector): score them on the next cycle, now."""
        self._ingested()

    def recent_errors(self) -> list[str]:
        """The last detector failures (newest last), at most 20."""
        with self._guard:
            return list(self._recent_errors)

    def _learn_daily(self, store: Store, until: datetime, days: int) -> None:
        """The learner handed to the detection: baselines as of the day's start, learned once a day."""
        day = until.replace(hour=0, minute=0, second=0, microsecond=0)
        if day == self._learned_day or self._learned_in_batch:
            return  # one learning per batch at most: later days of a long batch reuse it
        self._learned_day = None
        t0 = time.perf_counter()
        learn(store, day, history_days=days)
        self.state.metrics.inc("worker_learn_seconds", time.perf_counter() - t0)
        self._learned_day = day
        self._learned_in_batch = True
        self.state.metrics.inc("worker_learned")

    def _other(self, store: Store) -> Store:
        """The second connection half the detectors run on (:func:`nhiwatch.detection.beside`), opened once
        per connection of the server's store (again after the store was reopened)."""
        if self._beside is None or self._beside[0] is not store:
            self._close_other()
            self._beside = (store, store.on_cursor())
        return self._beside[1]

    def _close_other(self) -> None:
        if self._beside is not None:
            with suppress(duckdb.Error):
                self._beside[1].close()
            self._beside = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def pending(self) -> bool:
        """Pushes wait to be ingested, or ingested events wait to be scored."""
        return self._unscored or self._scoring or self.state.intake.backlog()[0] > 0

    def run_once(self) -> BatchOutcome | None:
        """One cycle: ingest what is queued, score what is new (called by the loop, and by tests)."""
        oldest = self.state.intake.oldest_wait()
        t_ingest = time.perf_counter()
        pushes = self.state.intake.drain()  # one batch: a backlog is worked off in cycles that each score
        if pushes:
            self.state.metrics.inc("worker_ingest_seconds", time.perf_counter() - t_ingest)
        if self.state.intake.backlog()[0]:
            self._wake.set()  # more waits: the next cycle starts at once
        if not self._unscored or self._stop.is_set():  # a stopping server scores the rest at its next start
            return None
        self._unscored = False
        self._scoring = True
        t0 = time.perf_counter()
        self._learned_in_batch = False
        metrics = self.state.metrics
        try:
            with self.state.db() as store:
                batch = score_new(store, learner=self._learn_daily, other=self._other(store))
            results = batch.results
            errors = [e for r in results for e in r.errors] + batch.errors
            outcome = BatchOutcome(
                batch.spans[0][0] if batch.spans else None,
                batch.spans[-1][1] if batch.spans else None,
                sum(len(r.alerts) + len(r.posture) for r in results),
                0.0,
                detector_errors=errors,
                pushes=pushes,
                events=batch.events,
                cursor=batch.upto,
            )
            if errors:
                metrics.inc("worker_detector_errors", len(errors))
                for e in errors:
                    log.warning("micro-batch: %s", e)
                with self._guard:
                    self._recent_errors.extend(errors)
        except NhiwatchError as exc:
            outcome = BatchOutcome(None, None, 0, 0.0, str(exc), pushes=pushes)
            metrics.inc("worker_errors")
        except Exception as exc:  # keep scoring later batches; the error is logged, not lost
            log.exception("micro-batch failed")
            outcome = BatchOutcome(None, None, 0, 0.0, type(exc).__name__, pushes=pushes)
            metrics.inc("worker_errors")
        self._scoring = False
        outcome.seconds = time.perf_counter() - t0
        metrics.inc("worker_batches")
        metrics.inc("worker_score_seconds", outcome.seconds)
        metrics.set("worker_last_batch_seconds", outcome.seconds)
        if oldest is not None:
            metrics.set("worker_push_to_scored_seconds", time.monotonic() - oldest)
        self.last = outcome
        return outcome

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.run_once()
            except Exception:  # pragma: no cover - run_once already catches; never let the thread die
                log.exception("worker loop")

    def start(self) -> None:
        # The worker's Python steps keep the GIL until another thread has waited the switch interval for
        # it; every push answered meanwhile waits that long at each hand-over (body, journal, reply), so
        # 1 ms instead of the default 5 bounds what a request loses to a cycle in flight.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._loop, name="nhiwatch-worker", daemon=True)
        self._thread.start()
        self._wake.set()  # pushes replayed from the spool at start are ingested at once

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self.state.lock:  # not while a cycle scores on it
            self._close_other()
