"""unticketed_burst: an export, sync, webhook or egress burst that no change ticket or business event explains.

What and why: the exfiltration step itself (Drift: a Bulk API 2.0 job of 3 min 22 s; Snowflake ``COPY INTO``
a temporary stage; Shai-Hulud: a webhook.site POST and mirror pushes; CircleCI ``repo.download_zip``).
Data-moving classes (``export``, ``read``, ``write``, ``webhook``, ``egress``) are compared hour by hour with
the integration's learned bound for the class and regime (:mod:`._volume`), with a lower bar than
``volume_spike`` (``max_ratio`` x the largest hour, ``z`` robust sigmas). Bursty-by-design days (declared
windows, learned month end) are compared with earlier bursts, so a month-end export does not alert while
an abnormal month end still can. A ticket for the integration, or a company-wide business event (a ticket
without integration), overlapping the burst within ``ticket_slack_hours`` lowers the deviation by
``ticket_factor`` and is named in ``details.ticket_id``.

Parameters: ``max_ratio``, ``z``, ``burst_allowance``, ``min_hours``, ``alpha`` (Poisson gate on event
counts), ``classes``, ``ticket_slack_hours``, ``ticket_factor``. References: OWASP NHI5:2025, NHI3:2025; NIST CSF 2.0 DE.CM-06, DE.CM-09, DE.AE-02,
DE.AE-08; ATT&CK T1567, T1537, T1213, T1070.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from nhiwatch.alerts.units import amount, article, measure, plural, span
from nhiwatch.baseline.stats import dev_from_ratio
from nhiwatch.detectors._common import find_ticket, finding, prepare
from nhiwatch.detectors._volume import evidence_for, hourly_breaches
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="unticketed_burst",
    title="Unticketed export or sync burst",
    kind="behaviour",
    description="A burst of exports, syncs, webhooks or egress with no matching change ticket.",
    owasp_nhi=("NHI5:2025", "NHI3:2025"),
    nist_csf=("DE.CM-06", "DE.CM-09", "DE.AE-02", "DE.AE-08"),
    attack=("T1567", "T1537", "T1213", "T1070"),
    params={
        "max_ratio": 1.5,
        "z": 4.0,
        "burst_allowance": 10.0,
        "min_hours": 5,
        "alpha": 0.001,
        "ticket_slack_hours": 2.0,
        "ticket_factor": 0.25,
        "classes": "export,read,write,webhook,egress",
    },
    explanation="{observed}, against {expected}",
)


UNITS = {"events": "event", "records": "record", "bytes": "byte"}


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    classes = tuple(c.strip() for c in str(ctx.param(META, "classes")).split(",") if c.strip())
    rows = hourly_breaches(
        ctx,
        classes=classes,
        max_ratio=float(ctx.param(META, "max_ratio")),
        z=float(ctx.param(META, "z")),
        burst_allowance=float(ctx.param(META, "burst_allowance")),
        min_hours=int(ctx.param(META, "min_hours")),
        alpha=float(ctx.param(META, "alpha")),
        metrics=("events", "records", "bytes"),
    )
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["integration_id"], r["hr"].date())].append(r)
    slack, factor = float(ctx.param(META, "ticket_slack_hours")), float(ctx.param(META, "ticket_factor"))
    out = []
    for (integ, _day), rs in groups.items():
        top = max(rs, key=lambda r: r["x"] / r["bound"])
        first, last = min(r["first_seen"] for r in rs), max(r["last_seen"] for r in rs)
        ticket = find_ticket(ctx.store, integ, first, last, slack)
        ratio = top["x"] / top["bound"]
        dev = dev_from_ratio(ratio) * (factor if ticket else 1.0)
        klasses = sorted({r["action_class"] for r in rs})
        hours = {r["hr"] for r in rs}
        what = f"{'/'.join(klasses)} burst"
        out.append(
            finding(
                META,
                {
                    "integration_id": integ,
                    "first_seen": first,
                    "last_seen": last,
                    "evidence": evidence_for(
                        ctx, integ, None, first, last, "coalesce(records, 0) + coalesce(traffic_bytes_out, 0)"
                    ),
                },
                deviation=dev,
                observed=(
                    f"{amount(top['x'], UNITS[top['metric']])} of {top['action_class']} in its largest hour, "
                    f"{span(top['first_seen'], top['last_seen'])}"
                    + (f", one of {plural(len(hours), 'hour')} above the bound" if len(hours) > 1 else "")
                ),
                expected=(
                    f"a bound of {amount(top['bound'], UNITS[top['metric']])} ({top['basis']}, median "
                    f"{amount(top['med'] or 0, UNITS[top['metric']])}, largest "
                    f"{amount(top['hist_max'] or 0, UNITS[top['metric']])})"
                ),
                summary=(
                    f"{integ} ran {article(what)} within {slack:g} h of ticket {ticket}, which may explain it"
                    if ticket
                    else f"{integ} ran {article(what)} with no change ticket"
                ),
                details={
                    "classes": klasses,
                    "metric": top["metric"],
                    "ratio": round(ratio, 2),
                    "regime": top["regime"],
                    "regime_reason": top["why"],
                    "backlog": top["backlog"],
                    "ticket_id": ticket,
                    "ticketed": bool(ticket),
                    "hours": len(hours),
                    # the meta title says "unticketed": a burst near a ticket is headlined for what it is
                    "headline": f"{what.capitalize()} near ticket {ticket}" if ticket else None,
                    "measure": measure(
                        top["x"],
                        top["bound"],
                        UNITS[top["metric"]],
                        usual=top["med"],
                        largest=top["hist_max"],
                    ),
                    "state": top["state"],
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
