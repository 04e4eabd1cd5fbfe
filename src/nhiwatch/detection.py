"""The detection entry point the CLI and the HTTP server share.

:func:`run_detection` scores a time window: step by step (``detection.step_hours``) it learns baselines
from the history before the step and runs every registered detector, then stores the findings and turns
them into alerts (grouped, scored, suppressed, explained). Bad input (an empty store, a window with no
events) raises before anything is written.
"""

from __future__ import annotations

import importlib
import time as _time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from nhiwatch.alerts import tables
from nhiwatch.alerts.build import build_alerts
from nhiwatch.alerts.config import AlertConfig, default_config
from nhiwatch.alerts.model import Alert, finding_id
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding
from nhiwatch.errors import ConfigError, NhiwatchError
from nhiwatch.store import Store

Runner = Callable[[DetectContext], list[Finding]]
Learner = Callable[[Store, datetime, int], object]


@dataclass
class DetectionResult:
    run_id: str
    since: datetime
    until: datetime
    events: int  # events in the window
    findings: list[Finding] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)  # open behaviour alerts
    posture: list[Alert] = field(default_factory=list)  # open posture alerts
    suppressed: list[Alert] = field(default_factory=list)
    allowed: int = 0  # findings a benign verdict covers
    unmatched_rules: list[str] = field(default_factory=list)  # active suppression rules that matched nothing
    notes: list[str] = field(default_factory=list)  # steps skipped (no history to learn from), ...
    errors: list[str] = field(default_factory=list)  # detectors that failed on a step (the others still ran)
    seconds: float = 0.0

    @property
    def all_alerts(self) -> list[Alert]:
        return [*self.alerts, *self.posture, *self.suppressed]


def utc_naive(t: datetime) -> datetime:
    """Store times are naive UTC; an aware time is converted, a naive one taken as UTC."""
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def isolated(detectors: Mapping[str, Detector], errors: list[str]) -> Runner:
    """Run each detector on its own: one detector's bug must not silence the others. A failure is
    recorded in ``errors`` (and shown by the CLI), never hidden."""

    def run(ctx: DetectContext) -> list[Finding]:
        found = _each(detectors, ctx, errors)
        return [f for name in detectors for f in found[name]]

    return run


def _each(
    detectors: Mapping[str, Detector], ctx: DetectContext, errors: list[str]
) -> dict[str, list[Finding]]:
    found: dict[str, list[Finding]] = {}
    for name, det in detectors.items():
        try:
            found[name] = det.run(ctx)
        except Exception as exc:
            found[name] = []
            errors.append(
                f"detector {name} failed on the step from {ctx.since:%Y-%m-%d %H:%M}: {type(exc).__name__}: {exc}"
            )
    return found


# The detectors that read the fleet context (nhiwatch.fleet: vendor outages and silences, found and stored
# in ``fleet_events`` once per step): they run on the step's own connection, which stores them.
FLEET_READERS = frozenset(
    {"cadence_change", "probing", "scope_expansion", "unticketed_burst", "volume_spike"}
)


def beside(detectors: Mapping[str, Detector], errors: list[str], other: Store) -> Runner:
    """Run the step's detectors on two connections of the store at once, as :func:`isolated` would one
    after the other: the fleet readers on the step's own, the others on ``other`` in a second thread.

    A micro-batch's statements are small: planning them costs more than reading their events, and DuckDB
    plans a statement on one thread, so one connection uses one core however many the machine has. Each
    connection prepares its own temp tables (calendar, time zones); both read the same committed data, and
    neither writes what the other reads (findings are stored after both are done). The findings come back
    in the detectors' order, whichever finished first."""
    mine = {k: d for k, d in detectors.items() if k in FLEET_READERS}
    theirs = {k: d for k, d in detectors.items() if k not in FLEET_READERS}

    def run(ctx: DetectContext) -> list[Finding]:
        with ThreadPoolExecutor(1, thread_name_prefix="nhiwatch-detect") as pool:
            later = pool.submit(_each, theirs, replace(ctx, store=other), errors)
            found = _each(mine, ctx, errors)
            found.update(later.result())
        return [f for name in detectors for f in found[name]]

    return run


def _defaults(
    only: Sequence[str] | None, errors: list[str], other: Store | None = None
) -> tuple[Runner, Learner | None, Mapping[str, DetectorMeta]]:
    # imported late: the registry walks every detector module
    registry = importlib.import_module("nhiwatch.detectors.registry")
    detectors: dict[str, Detector] = registry.all_detectors()
    unknown = sorted(set(only or ()) - set(detectors))
    if unknown:
        raise ConfigError(f"unknown detector(s): {', '.join(unknown)} (known: {', '.join(detectors)})")
    chosen = {k: d for k, d in detectors.items() if not only or k in only}
    metas = {d.meta.id: d.meta for d in detectors.values()}
    learner: Learner | None = None
    try:
        from nhiwatch import baseline

        fn = getattr(baseline, "learn", None)
        if fn is not None:
            learner = lambda s, until, days: fn(s, until, history_days=days)  # noqa: E731
    except ImportError:
        learner = None
    return (isolated(chosen, errors) if other is None else beside(chosen, errors, other)), learner, metas


def window(
    store: Store, since: datetime | None, until: datetime | None, cfg: AlertConfig
) -> tuple[datetime, datetime, int]:
    """The window to score and its event count; raises :class:`NhiwatchError` if there is nothing to score.

    With both ends given (the server's micro-batches) only the window's events are counted; the store's
    first and last event times, a scan of the whole history, are read only to default an end or to say
    why a window is empty."""
    if since and until:
        start, end = utc_naive(since), utc_naive(until)
        _check_order(start, end)
        n = int(store.scalar("SELECT count(*) FROM events WHERE time >= ? AND time < ?", [start, end]) or 0)
        if n:
            return start, end, n
    first, last = store.fetchone("SELECT min(time), max(time) FROM events") or (None, None)
    if first is None:
        raise NhiwatchError("the store has no events: ingest logs first (`nhiwatch ingest ...`)")
    end = utc_naive(until) if until else last + timedelta(seconds=1)
    start = utc_naive(since) if since else end - timedelta(hours=cfg.detection.default_window_hours)
    _check_order(start, end)
    n = int(store.scalar("SELECT count(*) FROM events WHERE time >= ? AND time < ?", [start, end]) or 0)
    if n == 0:
        raise NhiwatchError(
            f"no events between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC; the store holds events "
            f"from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
        )
    return start, end, n


def _check_order(start: datetime, end: datetime) -> None:
    if start >= end:
        raise ConfigError(
            f"the window is empty: --since {start:%Y-%m-%d %H:%M} is not before --until {end:%Y-%m-%d %H:%M}"
        )


def run_detection(
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    config: AlertConfig | None = None,
    *,
    only: Sequence[str] | None = None,
    runner: Runner | None = None,
    learner: Learner | None = None,
    metas: Mapping[str, DetectorMeta] | None = None,
    now: datetime | None = None,
    other: Store | None = None,
) -> DetectionResult:
    """Learn, detect, store findings and alerts for ``[since, until)``; returns what was raised.

    ``other``: a second connection to the same store (:meth:`Store.on_cursor`), used only by this call:
    the detectors then run on both at once (:func:`beside`)."""
    t0 = _time.perf_counter()
    cfg = config or default_config()
    start, end, n_events = window(store, since, until, cfg)
    errors: list[str] = []
    if runner is None:
        runner, default_learner, default_metas = _defaults(only, errors, other)
        learner = learner or default_learner
        metas = metas if metas is not None else default_metas
    notes: list[str] = []
    findings = _detect(store, start, end, cfg, runner, learner, notes)
    return record_results(
        store, start, end, n_events, findings, cfg, metas or {}, notes=notes, errors=errors, now=now, t0=t0
    )


def record_results(
    store: Store,
    start: datetime,
    end: datetime,
    n_events: int,
    findings: list[Finding],
    cfg: AlertConfig,
    metas: Mapping[str, DetectorMeta],
    *,
    notes: list[str],
    errors: list[str],
    now: datetime | None = None,
    t0: float | None = None,
) -> DetectionResult:
    """Turn the window's findings into alerts and store both with the run: the alert stage of
    :func:`run_detection`, shared by the engines that find elsewhere (Spark)."""
    t0 = _time.perf_counter() if t0 is None else t0
    now = utc_naive(now or datetime.now(UTC))
    run_id = "run-" + uuid.uuid4().hex[:12]
    tables.ensure(store)
    built = build_alerts(store, findings, metas, cfg, run_id=run_id, now=now)
    result = DetectionResult(
        run_id, start, end, n_events, findings=findings, allowed=built.allowed, notes=notes, errors=errors
    )
    for a in built.alerts:
        (
            result.suppressed
            if a.status == "suppressed"
            else result.posture
            if a.kind == "posture"
            else result.alerts
        ).append(a)
    result.unmatched_rules = sorted(r for r, n in built.rule_hits.items() if n == 0)
    with store.transaction():
        tables.save_findings(store, findings, run_id)
        tables.save_alerts(store, built.alerts, now)
        result.seconds = _time.perf_counter() - t0
        store.insert_rows(
            "detection_runs",
            [
                "run_id",
                "started_at",
                "since",
                '"until"',
                "findings",
                "alerts",
                "posture_alerts",
                "suppressed",
                "allowed",
                "seconds",
            ],
            [
                (
                    run_id,
                    now,
                    start,
                    end,
                    len(findings),
                    len(result.alerts),
                    len(result.posture),
                    len(result.suppressed),
                    built.allowed,
                    result.seconds,
                )
            ],
        )
    return result


def _detect(
    store: Store,
    start: datetime,
    end: datetime,
    cfg: AlertConfig,
    runner: Runner,
    learner: Learner | None,
    notes: list[str],
) -> list[Finding]:
    step = timedelta(hours=cfg.detection.step_hours)
    seen: dict[str, Finding] = {}
    t = start
    while t < end:
        t_end = min(t + step, end)
        if learner is not None:
            try:
                learner(store, t, cfg.detection.history_days)
            except NhiwatchError as exc:  # no history before this step: nothing to compare with yet
                notes.append(f"{t:%Y-%m-%d %H:%M}: not scored, no baseline ({exc})")
                t = t_end
                continue
        for f in runner(DetectContext(store, t, t_end, cfg.params)):
            seen.setdefault(finding_id(f), f)
        t = t_end
    return sorted(seen.values(), key=lambda f: (f.first_seen, f.integration_id, f.detector))
