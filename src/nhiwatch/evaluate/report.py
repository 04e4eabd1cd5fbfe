"""Printing an evaluation: one table per measure, the three detectors side by side, as Markdown or JSON;
false alerts by cause (:mod:`nhiwatch.evaluate.causes`) beside the overall rate."""

from __future__ import annotations

from collections import Counter
from typing import Any

from nhiwatch.evaluate.causes import CAUSES
from nhiwatch.evaluate.metrics import FamilyScore, Metrics
from nhiwatch.evaluate.run import Evaluation


def _delay(fs: FamilyScore) -> str:
    d = fs.median_delay_s
    if d is None:
        return "–"
    return f"{d / 60:.0f} min" if d < 3600 else f"{d / 3600:.1f} h"


def _recall(fs: FamilyScore) -> str:
    return f"{fs.detected}/{fs.episodes} ({100 * fs.recall:.0f} %)"


def markdown(ev: Evaluation) -> str:
    names = list(ev.results)
    lines = [
        f"Window {ev.since:%Y-%m-%d %H:%M} – {ev.until:%Y-%m-%d %H:%M} UTC; "
        f"{ev.integrations} integrations, "
        f"{ev.integration_days:,.0f} integration-days; {len(ev.episodes)} attack episodes.",
        "",
        "| family | " + " | ".join(f"{n} detected | {n} median time to first evidence" for n in names) + " |",
        "|---|" + "---|---|" * len(names),
    ]
    families = sorted({f for m in ev.results.values() for f in m.families})
    for fam in [*families, "overall"]:
        cells = []
        for n in names:
            m = ev.results[n]
            fs = m.overall if fam == "overall" else m.families.get(fam, FamilyScore(fam))
            cells += [_recall(fs), _delay(fs)]
        label = f"**{fam}**" if fam == "overall" else fam
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| measure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows = (
        ("behaviour alerts", lambda m: str(m.alerts)),
        ("alerts matching an episode", lambda m: str(m.true_alerts)),
        ("precision", lambda m: f"{100 * m.precision:.1f} %"),
        ("false alerts per 100 integration-days", lambda m: f"{m.false_per_100_days:.2f}"),
        ("episodes detected", lambda m: f"{100 * m.overall.recall:.1f} %"),
    )
    for label, fn in rows:
        lines.append(f"| {label} | " + " | ".join(fn(ev.results[n]) for n in names) + " |")
    return "\n".join([*lines, "", *by_cause_lines(ev)]) + "\n"


def _cause_source(ev: Evaluation) -> str:
    if ev.benign:
        return f"from the truth's {len(ev.benign)} benign labels in the window"
    return "from each alert's own context (the truth file has no benign labels)"


def by_cause_lines(ev: Evaluation) -> list[str]:
    """False alerts per 100 integration-days by cause (count in brackets), with nhiwatch's details."""
    names = list(ev.results)
    lines = [
        f"False alerts by cause ({_cause_source(ev)}): per 100 integration-days (alerts).",
        "",
        "| cause | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for cause in CAUSES:
        cells = [
            f"{ev.results[n].cause_per_100_days(cause):.2f} ({ev.results[n].false_by_cause.get(cause, 0)})"
            for n in names
        ]
        lines.append(f"| {cause.replace('_', ' ')} | " + " | ".join(cells) + " |")
    m = ev.results.get("nhiwatch")
    details = sorted(((c, d), k) for (c, d), k in (m.false_by_detail if m else {}).items() if d)
    if details:
        lines += ["", "nhiwatch's by detail: " + ", ".join(f"{c}/{d} {k}" for (c, d), k in details)]
    return lines


def _family(fs: FamilyScore) -> dict[str, Any]:
    return {
        "episodes": fs.episodes,
        "detected": fs.detected,
        "recall": round(fs.recall, 4),
        "median_delay_s": fs.median_delay_s,
    }


def _metrics(m: Metrics) -> dict[str, Any]:
    details: dict[str, dict[str, int]] = {}
    for (cause, detail), k in sorted(m.false_by_detail.items()):
        if detail:
            details.setdefault(cause, {})[detail] = k
    return {
        **_family(m.overall),
        "alerts": m.alerts,
        "true_alerts": m.true_alerts,
        "precision": round(m.precision, 4),
        "false_alerts": m.alerts - m.true_alerts,
        "false_per_100_integration_days": round(m.false_per_100_days, 4),
        "false_by_cause": {
            c: {
                "alerts": m.false_by_cause.get(c, 0),
                "per_100_integration_days": round(m.cause_per_100_days(c), 4),
                "details": details.get(c, {}),
            }
            for c in CAUSES
        },
        "families": {f: _family(fs) for f, fs in sorted(m.families.items())},
        "missed": [e.episode_id for e in m.missed],
    }


def as_json(ev: Evaluation) -> dict[str, Any]:
    """The evaluation as JSON-ready data: window, size, and per detector the measures and causes."""
    return {
        "since": ev.since.isoformat(),
        "until": ev.until.isoformat(),
        "integrations": ev.integrations,
        "integration_days": round(ev.integration_days, 2),
        "episodes": len(ev.episodes),
        "benign_labels": len(ev.benign),
        "cause_source": "truth" if ev.benign else "alerts",
        "detectors": {n: _metrics(m) for n, m in ev.results.items()},
    }


def failures(m: Metrics, limit: int = 20) -> str:
    """Missed episodes and false alerts (with the detectors that raised them), for whoever tunes detectors."""
    out = [f"missed episodes ({len(m.missed)}):"]
    out += [
        f"  {e.episode_id} {e.family} {e.integration_id} {e.start:%Y-%m-%d %H:%M}" for e in m.missed[:limit]
    ]
    by_detector = Counter(d for s in m.false_alerts for d in s.detectors)
    detectors = ", ".join(f"{d} {n}" for d, n in by_detector.most_common()) or "-"
    out.append(f"false alerts ({len(m.false_alerts)}); detectors in them: {detectors}")
    by_integ = Counter(s.integration_id for s in m.false_alerts)
    out.append("  most false alerts: " + ", ".join(f"{i} {n}" for i, n in by_integ.most_common(10)))
    out += [
        f"  {s.alert_id} {s.integration_id} {s.first:%Y-%m-%d %H:%M} {'+'.join(s.detectors)}"
        for s in m.false_alerts[:limit]
    ]
    return "\n".join(out)
