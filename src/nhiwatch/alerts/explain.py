"""Turning an alert's findings into words a business owner can act on: a title and an explanation.

The explanation says who owns the integration and what it is for, what each detector observed against
its baseline (with the numbers the detector measured), and what context moved the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nhiwatch.alerts.context import IntegrationInfo
from nhiwatch.detectors.base import DetectorMeta, Finding

TIME = "%Y-%m-%d %H:%M UTC"


def meta_for(metas: Mapping[str, DetectorMeta], detector: str, kind: str = "behaviour") -> DetectorMeta:
    """The detector's metadata, or a bare stand-in for a detector that is no longer registered."""
    if detector in metas:
        return metas[detector]
    return DetectorMeta(detector, detector.replace("_", " "), kind, "", (), (), ())  # type: ignore[arg-type]


def title(info: IntegrationInfo, findings: Sequence[Finding], metas: Mapping[str, DetectorMeta]) -> str:
    names: list[str] = []
    for f in sorted(findings, key=lambda f: -f.deviation):
        t = meta_for(metas, f.detector, f.kind).title
        if t not in names:
            names.append(t)
    more = f" (+{len(names) - 2} more)" if len(names) > 2 else ""
    return f"{info.name}: " + " and ".join(names[:2]) + more


def _line(f: Finding, meta: DetectorMeta) -> str:
    template = meta.explanation or "{observed}, against {expected}"
    try:
        body = template.format(
            observed=f.observed,
            expected=f.expected,
            summary=f.summary,
            integration_id=f.integration_id,
            **{k: v for k, v in f.details.items() if isinstance(k, str)},
        )
    except (KeyError, IndexError, ValueError):
        body = f"{f.observed}, against {f.expected}"
    summary = f"{f.summary.rstrip('. ')}. " if f.summary else ""
    return f"- {meta.title} ({f.first_seen:{TIME}}): {summary}Observed {body.rstrip('. ')}."


def explanation(
    info: IntegrationInfo,
    findings: Sequence[Finding],
    metas: Mapping[str, DetectorMeta],
    factors: Mapping[str, Any],
    tickets: Sequence[Mapping[str, Any]],
) -> str:
    owner = info.owner or "no owner on record"
    purpose = info.purpose or "no declared purpose"
    origin = " It is not in the inventory: it was discovered in the logs." if info.discovered else ""
    start = min(f.first_seen for f in findings)
    end = max(f.last_seen for f in findings)
    n_det = len({f.detector for f in findings})
    same = f"{start:{TIME}}" == f"{end:{TIME}}"
    when = f"At {start:{TIME}}" if same else f"Between {start:{TIME}} and {end:{TIME}}"
    head = (
        f"{info.name} (owner: {owner}; purpose: {purpose}; risk tier {info.risk_tier}, "
        f"{info.data_sensitivity} data).{origin} {when}, "
        f"{n_det} detection(s) found behaviour outside its baseline:"
    )
    lines = [head, *(_line(f, meta_for(metas, f.detector, f.kind)) for f in findings[:8])]
    if len(findings) > 8:
        lines.append(f"- ... and {len(findings) - 8} more finding(s).")
    notes = []
    for t in tickets:
        what = "change ticket" if t.get("integration_id") else "company-wide business event"
        notes.append(f"{what} {t['id']} ({t.get('summary') or 'no summary'}) covers this time: score lowered")
    points = factors.get("context_points", {})
    if "no_owner" in points:
        notes.append("nobody owns this integration: score raised")
    if "discovered" in points:
        notes.append("undeclared integration: score raised")
    if "partner_managed" in points:
        notes.append("managed by a partner, outside our control: score raised")
    if notes:
        lines.append("Context: " + "; ".join(notes) + ".")
    return "\n".join(lines)
