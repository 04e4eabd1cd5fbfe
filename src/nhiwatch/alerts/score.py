"""The 0–100 risk score of an alert and its severity.

``strength = 1 - prod(1 - d)`` over the strongest deviation of each distinct detector, so each extra
detector that agrees raises the score and no single one can exceed its own deviation. The integration's
risk tier and data sensitivity scale it; context moves it: a change ticket covering the alert lowers it,
no owner, a discovered (undeclared) integration or a partner-managed one raise it.

Severity starts from the score (thresholds per risk tier), then says what the evidence *means*
(``docs/architecture.md``, "Severity"): each detector tells one kind of story (:data:`STORY`); a finding
that someone else may hold the identity (``access``) or that it reaches what it never reached (``reach``),
as strong as a p-value of 0.001 (deviation 0.25) and not inside the integration's own change ticket, makes
the alert at least ``high`` whatever the tier; and ``critical`` needs two different stories to agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nhiwatch.alerts.config import AlertConfig
from nhiwatch.detectors.base import Finding


@dataclass
class ScoreContext:
    """What is known about the integration and the time of the alert, beyond the findings."""

    risk_tier: str | None = "medium"
    data_sensitivity: str | None = "internal"
    owner: str | None = None
    discovered: bool = False
    partner_managed: bool = False
    tickets: Sequence[Mapping[str, Any]] = field(default_factory=list)  # this integration, covering the alert
    company_events: Sequence[Mapping[str, Any]] = field(default_factory=list)  # company-wide, covering it


def strength(findings: Sequence[Finding]) -> float:
    """Combined deviation in 0..1.

    >>> from datetime import datetime
    >>> t = datetime(2025, 1, 1)
    >>> one = Finding("a", "i", t, t, 0.5, "", "", "")
    >>> two = Finding("b", "i", t, t, 0.5, "", "", "")
    >>> strength([one]), strength([one, two]), strength([one, one])
    (0.5, 0.75, 0.5)
    """
    best: dict[str, float] = {}
    for f in findings:
        d = min(max(float(f.deviation), 0.0), 1.0)
        best[f.detector] = max(best.get(f.detector, 0.0), d)
    keep = 1.0
    for d in best.values():
        keep *= 1.0 - d
    return 1.0 - keep


def score(findings: Sequence[Finding], ctx: ScoreContext, cfg: AlertConfig) -> tuple[int, dict[str, Any]]:
    """The risk score and the factors that made it (kept on the alert so the number explains itself)."""
    s = cfg.scoring
    st = strength(findings)
    tier_w = s.risk_tier.get(ctx.risk_tier or "medium", s.risk_tier["medium"])
    sens_w = s.data_sensitivity.get(ctx.data_sensitivity or "internal", s.data_sensitivity["internal"])
    raw = 100.0 * st * tier_w * sens_w
    points: dict[str, float] = {}
    if not ctx.owner:
        points["no_owner"] = s.no_owner_points
    if ctx.discovered:
        points["discovered"] = s.discovered_points
    if ctx.partner_managed:
        points["partner_managed"] = s.partner_managed_points
    raw += sum(points.values())
    factor = 1.0
    if ctx.tickets:
        factor = s.ticket_factor
    elif ctx.company_events:
        factor = s.company_event_factor
    value = round(min(max(raw * factor, 0.0), 100.0))
    factors = {
        "strength": round(st, 3),
        "risk_tier_weight": tier_w,
        "sensitivity_weight": sens_w,
        "context_points": points,
        "ticket_factor": factor,
        "tickets": [str(t.get("id")) for t in [*ctx.tickets, *ctx.company_events]],
    }
    return value, factors


# What kind of story each behaviour detector tells (a detector not listed tells its own).
STORY = {
    "new_credential_then_anomaly": "access",
    "consent_chain": "access",
    "probing": "access",
    "new_network": "access",
    "dormant_reactivation": "access",
    "scope_expansion": "reach",
    "new_destination": "reach",
    "fan_out": "reach",
    "unticketed_burst": "volume",
    "volume_spike": "volume",
    "cadence_change": "timing",
    "off_hours": "timing",
}
LEVELS = ("low", "medium", "high", "critical")


def grade(
    findings: Sequence[Finding], value: float, ctx: ScoreContext, cfg: AlertConfig
) -> tuple[str, list[str]]:
    """The alert's severity and why it differs from the score's (empty when it does not).

    >>> from datetime import datetime
    >>> from nhiwatch.alerts.config import default_config
    >>> t, cfg = datetime(2026, 1, 1), default_config()
    >>> net = Finding("new_network", "i", t, t, 0.3, "", "", "")
    >>> grade([net], 25, ScoreContext("low"), cfg)
    ('high', ['access evidence (new_network, deviation 0.3): at least high'])
    >>> big = Finding("new_destination", "i", t, t, 1.0, "", "", "")
    >>> grade([big], 100, ScoreContext("critical"), cfg)
    ('high', ['one kind of evidence (reach): critical needs 2 kinds to agree'])
    """
    sev = severity(value, ctx.risk_tier, cfg)
    if not findings or any(f.kind != "behaviour" for f in findings):
        return sev, []
    rules = cfg.severity
    why: list[str] = []
    if not ctx.tickets:  # planned work of this integration is lowered by its ticket, not raised again here
        for f in sorted(findings, key=lambda f: -f.deviation):
            story = STORY.get(f.detector, f.detector)
            floor = rules.floors.get(story)
            if floor and f.deviation >= rules.floor_min_deviation and LEVELS.index(sev) < LEVELS.index(floor):
                sev = floor
                why.append(f"{story} evidence ({f.detector}, deviation {f.deviation:g}): at least {floor}")
    stories = sorted({STORY.get(f.detector, f.detector) for f in findings})
    if sev == "critical" and len(stories) < rules.critical_min_stories:
        sev = "high"
        why.append(
            f"one kind of evidence ({', '.join(stories)}): critical needs {rules.critical_min_stories} kinds to agree"
        )
    return sev, why


def severity(value: float, risk_tier: str | None, cfg: AlertConfig) -> str:
    th = cfg.severity.for_tier(risk_tier)
    if value >= th.critical:
        return "critical"
    if value >= th.high:
        return "high"
    if value >= th.medium:
        return "medium"
    return "low"
