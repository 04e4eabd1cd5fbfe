"""From findings to alerts: drop what a benign verdict allowed, set aside what a rule suppresses,
group into episodes, then score, grade and explain each episode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nhiwatch.alerts import budget, context, explain, references, suppress, triage
from nhiwatch.alerts.config import AlertConfig
from nhiwatch.alerts.group import group_findings
from nhiwatch.alerts.model import Alert, alert_id, finding_id, new_values
from nhiwatch.alerts.score import ScoreContext, grade, score
from nhiwatch.detectors.base import DetectorMeta, Finding
from nhiwatch.redact import redact
from nhiwatch.store import Store

MAX_EVIDENCE = 50


@dataclass
class Built:
    alerts: list[Alert] = field(default_factory=list)  # open and suppressed, behaviour and posture
    allowed: int = 0  # findings a benign verdict covers
    rule_hits: dict[str, int] = field(default_factory=dict)  # active suppression rule -> findings matched


def build_alerts(
    store: Store,
    findings: Sequence[Finding],
    metas: Mapping[str, DetectorMeta],
    cfg: AlertConfig,
    *,
    run_id: str,
    now: datetime,
) -> Built:
    covered = triage.allowed(findings, triage.load_allowances(store), cfg.scoring.allowance_tolerance)
    remaining = [f for i, f in enumerate(findings) if i not in covered]
    suppressed, hits = suppress.apply(suppress.load_rules(store), remaining, now)
    live = [f for f in remaining if finding_id(f) not in suppressed]
    quiet = [f for f in remaining if finding_id(f) in suppressed]
    infos = context.integrations(store, {f.integration_id for f in findings})
    tickets = context.Tickets(store)
    gap = timedelta(hours=cfg.grouping.gap_hours)
    out = Built(allowed=len(covered), rule_hits=hits)
    for group_of, status in ((live, "open"), (quiet, "suppressed")):
        for group in group_findings(group_of, gap):
            alert = _alert(group, infos[group[0].integration_id], tickets, metas, cfg, run_id, status)
            if status == "suppressed":
                alert.suppressed_by = ",".join(sorted({suppressed[finding_id(f)] for f in group}))
            out.alerts.append(alert)
    sizes = dict(
        store.fetchall("SELECT coalesce(risk_tier, 'medium'), count(*) FROM integrations GROUP BY ALL")
    )
    budget.apply(out.alerts, cfg.budget, sizes)
    return out


def _alert(
    group: list[Finding],
    info: context.IntegrationInfo,
    tickets: context.Tickets,
    metas: Mapping[str, DetectorMeta],
    cfg: AlertConfig,
    run_id: str,
    status: str,
) -> Alert:
    kind = "posture" if group[0].kind == "posture" else "behaviour"
    start, end = min(f.first_seen for f in group), max(f.last_seen for f in group)
    own, company = tickets.covering(info.id, start, end) if kind == "behaviour" else ([], [])
    if any(new_values(f.details) for f in group):
        company = []  # a quarter close explains more volume, not a new network, host or scope
    ctx = ScoreContext(
        info.risk_tier, info.data_sensitivity, info.owner, info.discovered, info.partner_managed, own, company
    )
    value, factors = score(group, ctx, cfg)
    level, why = grade(group, value, ctx, cfg)
    if why:
        factors["severity"] = why
    detectors = sorted({f.detector for f in group})
    strongest = sorted(group, key=lambda f: -f.deviation)
    evidence: list[str] = []
    for f in strongest:
        evidence += [e for e in f.evidence if e not in evidence]
    used = [explain.meta_for(metas, d, kind) for d in detectors]
    return Alert(
        alert_id=alert_id(kind, info.id, start, tuple(detectors), suppressed=status == "suppressed"),
        status=status,
        kind=kind,
        integration_id=info.id,
        integration_name=redact(info.name),
        owner=redact(info.owner) if info.owner else info.owner,
        purpose=redact(info.purpose) if info.purpose else info.purpose,
        risk_tier=info.risk_tier,
        data_sensitivity=info.data_sensitivity,
        detectors=detectors,
        first_seen=start,
        last_seen=end,
        risk_score=value,
        severity=level,
        # findings quote values from logs (hosts, resources, user agents): masked before the alert is stored
        title=redact(explain.title(info, group, metas)),
        explanation=redact(explain.explanation(info, group, metas, factors, own or company)),
        evidence=evidence[:MAX_EVIDENCE],
        references=references.merge(used),
        finding_ids=[finding_id(f) for f in group],
        score_factors=factors,
        run_id=run_id,
    )
