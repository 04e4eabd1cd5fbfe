"""Printing an evaluation: one table per measure, the three detectors side by side, as Markdown."""

from __future__ import annotations

from collections import Counter

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
    return "\n".join(lines) + "\n"


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
