"""One evaluation run: nhiwatch's behaviour alerts, River HalfSpaceTrees and IsolationForest, side by side.

The window is the latest detection run's (or the one given). Episodes are those overlapping it; the
generic detectors learn from the same history length nhiwatch's baselines do and get the same number
of alerts nhiwatch raised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from nhiwatch.alerts import tables
from nhiwatch.alerts.config import AlertConfig, default_config
from nhiwatch.errors import ConfigError, NhiwatchError
from nhiwatch.evaluate.causes import alert_cause, by_cause
from nhiwatch.evaluate.metrics import Metrics, Span, score_spans
from nhiwatch.evaluate.truth import BenignLabel, Episode, load_benign, load_truth
from nhiwatch.store import Store

SLACK = timedelta(minutes=30)


@dataclass
class Evaluation:
    since: datetime
    until: datetime
    integrations: int
    integration_days: float
    episodes: list[Episode]
    results: dict[str, Metrics] = field(default_factory=dict)  # detector name -> metrics
    benign: list[BenignLabel] = field(default_factory=list)  # the truth's benign irregularities in the window
    seconds: dict[str, float] = field(default_factory=dict)

    def as_text(self) -> str:
        """The Markdown report (see :mod:`nhiwatch.evaluate.report`)."""
        from nhiwatch.evaluate.report import markdown

        return markdown(self)

    def as_dict(self) -> dict[str, Any]:
        """The evaluation as JSON-ready data (see :mod:`nhiwatch.evaluate.report`)."""
        from nhiwatch.evaluate.report import as_json

        return as_json(self)


def _window(
    store: Store, since: datetime | None, until: datetime | None
) -> tuple[datetime, datetime, str | None]:
    """The window, and the run whose alerts to score when the window is that of the latest run (so alerts
    left in the store by earlier runs over the same days, with other detector versions, are not mixed in)."""
    if since is not None and until is not None:
        return since, until, None
    tables.ensure(store)
    row = store.fetchone('SELECT since, "until", run_id FROM detection_runs ORDER BY started_at DESC LIMIT 1')
    if row is None:
        raise NhiwatchError(
            "no detection run in the store: run `nhiwatch detect` first, or pass --since and --until"
        )
    return since or row[0], until or row[1], row[2] if since is None and until is None else None


SEVERITIES = ("low", "medium", "high", "critical")


def _spans_from_file(path: Path, min_severity: str) -> list[Span]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the alerts file ({exc})") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            r = orjson.loads(line)
            if r.get("kind", "behaviour") != "behaviour" or r.get("status") == "suppressed":
                continue
            if SEVERITIES.index(r.get("severity", "low")) < SEVERITIES.index(min_severity):
                continue
            first = datetime.fromisoformat(r["first_seen"].replace("Z", ""))
            last = datetime.fromisoformat(r["last_seen"].replace("Z", ""))
            out.append(
                Span(
                    r["integration_id"],
                    first,
                    last,
                    r.get("alert_id", ""),
                    tuple(r.get("detectors", ())),
                    alert_cause(r),
                )
            )
        except (orjson.JSONDecodeError, KeyError, ValueError, AttributeError):
            raise ConfigError(
                f"{path}:{n}: not an nhiwatch alert (jsonl from `nhiwatch detect --format jsonl`)"
            ) from None
    return out


def _spans_from_store(
    store: Store, since: datetime, until: datetime, min_severity: str, run_id: str | None
) -> list[Span]:
    wanted = list(SEVERITIES[SEVERITIES.index(min_severity) :])
    run = "AND run_id = ?" if run_id else ""
    params: list[object] = [since, until, wanted] + ([run_id] if run_id else [])
    return [
        Span(
            a.integration_id, a.first_seen, a.last_seen, a.alert_id, tuple(a.detectors), alert_cause(vars(a))
        )
        for a in tables.load_alerts(
            store,
            "kind = 'behaviour' AND status <> 'suppressed' AND last_seen >= ? AND first_seen < ? "
            f"AND severity IN (SELECT unnest(?::VARCHAR[])) {run}",
            params,
        )
    ]


def evaluate(
    store: Store,
    truth: str | Path,
    *,
    alerts: str | Path | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    config: AlertConfig | None = None,
    generic: bool = True,
    slack: timedelta = SLACK,
    min_severity: str = "low",
) -> Evaluation:
    """Score the behaviour alerts of ``[since, until)`` (at or above ``min_severity``) against ``truth``."""
    if min_severity not in SEVERITIES:
        raise ConfigError(f"severity must be one of {', '.join(SEVERITIES)}, got {min_severity!r}")
    cfg = config or default_config()
    episodes_all = load_truth(truth)
    start, end, run_id = _window(store, since, until)
    episodes = [e for e in episodes_all if e.end >= start and e.start < end]
    labels = [b for b in load_benign(truth) if b.end >= start and b.start < end]
    n_integ = int(
        store.scalar(
            "SELECT count(DISTINCT integration_id) FROM events "
            "WHERE time >= ? AND time < ? AND integration_id IS NOT NULL",
            [start, end],
        )
        or 0
    )
    days = (end - start).total_seconds() / 86400
    ev = Evaluation(start, end, n_integ, n_integ * days, episodes, benign=labels)
    spans = (
        _spans_from_file(Path(alerts), min_severity)
        if alerts
        else _spans_from_store(store, start, end, min_severity, run_id)
    )
    ev.results["nhiwatch"] = score_spans(episodes, spans, integration_days=ev.integration_days, slack=slack)
    if generic:
        from nhiwatch.evaluate import generic as G
        from nhiwatch.evaluate.features import hourly

        t0 = time.perf_counter()
        history, window = hourly(store, start, end, cfg.detection.history_days)
        gap = timedelta(hours=cfg.grouping.gap_hours)
        feat_s = time.perf_counter() - t0
        for name, fn in (
            ("River HalfSpaceTrees", G.half_space_trees_scores),
            ("IsolationForest", G.isolation_forest_scores),
        ):
            t0 = time.perf_counter()
            g_spans = G.budget_spans(window, fn(history, window), len(spans), gap)
            ev.results[name] = score_spans(
                episodes, g_spans, integration_days=ev.integration_days, slack=slack
            )
            ev.seconds[name] = time.perf_counter() - t0 + feat_s
    for m in ev.results.values():
        causes, details = by_cause(m.false_alerts, labels, slack)
        m.false_by_cause, m.false_by_detail = dict(causes), dict(details)
    return ev


def evaluate_store(store: Store, truth: str | Path, *, generic: bool = True) -> Evaluation:
    """Evaluate the store's latest detection run against ``truth`` (the simulator's truth.jsonl)."""
    return evaluate(store, truth, generic=generic)
