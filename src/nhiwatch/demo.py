"""The demo: simulate a company, ingest its logs, detect, and write a readable report.

Used by ``nhiwatch demo``. It writes into a store that is marked as a demo store, and refuses to overwrite a
store that is not, so a demo never clobbers real data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from nhiwatch.errors import ConfigError
from nhiwatch.pipeline import IngestOutcome, ingest_all
from nhiwatch.store import Store

MARKER = "nhiwatch_demo"
WARM_UP_DAYS = 14  # history before the first scored day


@dataclass
class DemoResult:
    out: Path
    db: Path
    ingest: IngestOutcome
    alerts: list[dict[str, Any]] = field(default_factory=list)
    posture: list[dict[str, Any]] = field(default_factory=list)
    evaluation: str | None = None
    errors: list[str] = field(default_factory=list)  # detectors that failed on a step (the others still ran)
    timings: dict[str, float] = field(default_factory=dict)
    report: Path | None = None
    html_report: Path | None = None  # the same, as a page with the charts (report.html)


def prepare_store(db: Path, *, fresh: bool = False) -> None:
    """Remove a previous demo store; refuse to touch a store that is not a demo's, or one a person has used
    since (tokens, verdicts, pushed or ingested data) unless ``fresh``."""
    if not db.exists():
        return
    with Store(db) as store:
        is_demo = store.table_exists(MARKER)
        used = _used_since(store) if is_demo else []
    if not is_demo:
        raise ConfigError(
            f"{db} exists and is not a demo store; pass --db with another path or remove it yourself"
        )
    if used and not fresh:
        raise ConfigError(
            f"{db} is an earlier demo store that has been used since: it holds {', '.join(used)}. "
            "Re-running the demo would delete them: pass --db with another path, or --fresh to start over"
        )
    db.unlink()
    wal = db.with_name(db.name + ".wal")
    if wal.exists():
        wal.unlink()


def _used_since(store: Store) -> list[str]:
    """What a person added to a demo store after the demo wrote it."""
    checks = (
        ("api_tokens", "SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL", "API token(s)"),
        ("triage_log", "SELECT count(*) FROM triage_log", "triage verdict(s)"),
        ("suppressions", "SELECT count(*) FROM suppressions", "suppression rule(s)"),
        ("ingest_runs", "SELECT count(*) - 1 FROM ingest_runs", "later ingest(s) or push(es)"),
    )
    found = []
    for table, sql, what in checks:
        n = int(store.scalar(sql) or 0) if store.table_exists(table) else 0
        if n > 0:
            found.append(f"{n} {what}")
    return found


def run_demo(
    out: Path,
    db: Path,
    *,
    integrations: int,
    days: int,
    seed: int,
    say: Callable[[str], None] = lambda _: None,
    fresh: bool = False,
    hard: bool = False,
) -> DemoResult:
    from nhiwatch.simulate import simulate

    timings: dict[str, float] = {}
    prepare_store(db, fresh=fresh)
    t = time.perf_counter()
    summary = simulate(out, integrations=integrations, days=days, seed=seed, hard=hard)
    timings["simulate"] = time.perf_counter() - t
    say(f"simulated {integrations} integrations over {days} days: {summary}")
    with Store(db) as store:
        store.execute(f"CREATE TABLE {MARKER} (created TIMESTAMP DEFAULT current_timestamp)")
        t = time.perf_counter()
        outcome = ingest_all(
            store, [out / "logs"], inventory=out / "inventory.yaml", tickets=out / "tickets.csv"
        )
        timings["ingest"] = time.perf_counter() - t
        r = outcome.report
        say(
            f"ingested {r.stored:,} events ({r.read / max(r.seconds, 1e-9):,.0f} events/s), {r.quarantined} quarantined"
        )
        result = DemoResult(out=out, db=db, ingest=outcome, timings=timings)
        _detect(store, out, result, say)
        try:
            from nhiwatch.outputs import report_html
        except ImportError:  # its charts and template come with the server extra (altair, jinja2)
            say("the HTML report needs altair and jinja2 (the server extra): wrote report.md only")
        else:
            result.html_report = report_html.write(store, out / "report.html", evaluation=result.evaluation)
    result.report = write_report(result)
    return result


def _detect(store: Store, out: Path, result: DemoResult, say: Callable[[str], None]) -> None:
    from nhiwatch import detection

    t = time.perf_counter()
    first = store.scalar("SELECT min(time) FROM events")
    # Score everything after a warm-up, day by day, as a team would have seen it live.
    found = detection.run_detection(store, since=first + timedelta(days=WARM_UP_DAYS))
    result.timings["detect"] = time.perf_counter() - t
    result.alerts = [a.as_dict() for a in found.alerts]
    result.posture = [a.as_dict() for a in found.posture]
    result.errors = list(found.errors)
    say(f"detected {len(result.alerts)} behaviour alerts and {len(result.posture)} posture findings")
    for err in result.errors:  # a failed detector makes the figures below incomplete: never hide it
        say(f"error: {err}")
    from nhiwatch.evaluate import evaluate_store

    t = time.perf_counter()
    result.evaluation = evaluate_store(store, out / "truth.jsonl", generic=False).as_text()
    result.timings["evaluate"] = time.perf_counter() - t


def write_report(result: DemoResult) -> Path:
    """A Markdown report: what was read, the alerts with their explanations, and quality against the truth."""
    r = result.ingest.report
    lines = [
        "# nhiwatch demo report",
        "",
        f"Store: `{result.db}`  ·  simulated data: `{result.out}`",
        "",
        "## Telemetry",
        f"- files {r.files:,}; records read {r.read:,}; stored {r.stored:,}; duplicates {r.duplicates:,}; "
        f"quarantined {r.quarantined:,}",
        *[f"- {src}: {n:,} events" for src, n in sorted(r.by_source.items())],
        "",
    ]
    if result.errors:
        lines += [
            f"## Detector failures ({len(result.errors)})",
            "",
            "These detectors failed on a step, so the alerts and the quality figures below are incomplete:",
            "",
            *[f"- {err}" for err in result.errors],
            "",
        ]
    lines += [f"## Behaviour alerts ({len(result.alerts)})"]
    for a in sorted(result.alerts, key=lambda a: -float(a.get("risk_score", 0))):
        lines += [
            "",
            f"### [{a.get('severity', '?')} · {a.get('risk_score', '?')}] {a.get('title', '')}",
            f"`{a.get('alert_id')}` · integration `{a.get('integration_id')}` · owner {a.get('owner') or '(none)'}"
            f" · {a.get('first_seen')} → {a.get('last_seen')}",
            "",
            str(a.get("explanation", "")),
        ]
    lines += ["", f"## Posture ({len(result.posture)})", ""]
    lines += [f"- **{a.get('title', '')}** (`{a.get('integration_id')}`)" for a in result.posture]
    if result.evaluation:
        lines += ["", "## Quality against the simulator's truth file", "", "```", result.evaluation, "```"]
    lines += ["", "## Timings", "", *[f"- {k}: {v:.1f} s" for k, v in result.timings.items()], ""]
    path = result.out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
