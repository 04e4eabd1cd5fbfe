"""volume_spike: an hour with far more events, records or bytes than the integration has ever moved.

What and why: a connector that normally reads a few hundred records an hour suddenly exporting whole
datasets (Drift/Salesloft: ``LIMIT 10000`` Case pulls and a Bulk API job after days of ``COUNT()`` and
``LIMIT 20``; Snowflake: top ``ROWS_PRODUCED``; mass repository clones). Each (integration, action class,
hour) is compared with the bound learned for the same class in the same regime, so a month-end export is
judged against earlier month ends, and the first business day after public holidays may bring what the
holidays held back (see :mod:`nhiwatch.detectors._volume` for the backlog model and the fallbacks used in
cold start). The largest single operation is checked too (one query returning 10,000 rows where 20 was normal).

Parameters: ``max_ratio`` (x the largest hour seen), ``z`` (robust sigmas above the median),
``burst_allowance`` (tolerance in a declared burst window never observed before), ``min_hours`` (active
hours needed before an own bound is trusted), ``alpha`` (an event count must also be this improbable as a
Poisson draw around the largest hour). Deviation grows with log10(observed / bound).

References: OWASP NHI5:2025; NIST CSF 2.0 DE.CM-03, DE.AE-02, DE.AE-04; ATT&CK T1119, T1213, T1530.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from nhiwatch.alerts.units import amount, measure, plural, span, times
from nhiwatch.baseline.stats import dev_from_ratio
from nhiwatch.detectors._common import find_ticket, finding, prepare
from nhiwatch.detectors._volume import evidence_for, hourly_breaches
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="volume_spike",
    title="Volume spike",
    kind="behaviour",
    description="An hour with far more events, records or bytes than the integration has moved before.",
    owasp_nhi=("NHI5:2025",),
    nist_csf=("DE.CM-03", "DE.AE-02", "DE.AE-04"),
    attack=("T1119", "T1213", "T1530"),
    params={"max_ratio": 2.0, "z": 6.0, "burst_allowance": 10.0, "min_hours": 5, "alpha": 0.001},
    explanation="{observed}, against {expected}",
)
UNITS = {"events": "event", "records": "record", "bytes": "byte", "records_op": "record", "bytes_op": "byte"}


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    rows = hourly_breaches(
        ctx,
        classes=None,
        max_ratio=float(ctx.param(META, "max_ratio")),
        z=float(ctx.param(META, "z")),
        burst_allowance=float(ctx.param(META, "burst_allowance")),
        min_hours=int(ctx.param(META, "min_hours")),
        alpha=float(ctx.param(META, "alpha")),
    )
    rows = [
        r for r in rows if r["action_class"] not in ("credential_issue", "credential_revoke", "scope_grant")
    ]
    groups: dict[tuple[str, str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["integration_id"], r["action_class"], r["hr"].date())].append(r)
    out = []
    for (integ, klass, _day), rs in groups.items():
        top = max(rs, key=lambda r: r["x"] / r["bound"])
        first, last = min(r["first_seen"] for r in rs), max(r["last_seen"] for r in rs)
        ticket = find_ticket(ctx.store, integ, first, last)
        ratio = top["x"] / top["bound"]
        unit = UNITS[top["metric"]]
        one_op = " in one operation" if top["metric"] in ("records_op", "bytes_op") else ""
        out.append(
            finding(
                META,
                {
                    "integration_id": integ,
                    "first_seen": first,
                    "last_seen": last,
                    "evidence": evidence_for(
                        ctx,
                        integ,
                        klass,
                        first,
                        last,
                        "coalesce(records, 0) + coalesce(traffic_bytes_out, 0)",
                    ),
                },
                deviation=dev_from_ratio(ratio),
                observed=(
                    f"{amount(top['x'], unit)}{one_op} ({klass}) in its largest hour, "
                    f"{span(top['first_seen'], top['last_seen'])}"
                    + (f", one of {plural(len(rs), 'hour')} above the bound" if len(rs) > 1 else "")
                ),
                expected=(
                    f"a bound of {amount(top['bound'], unit)}{one_op} ({top['basis']}: median "
                    f"{amount(top['med'] or 0, unit)}, largest {amount(top['hist_max'] or 0, unit)} over "
                    f"{plural(top['hist_n'] or 0, 'observed hour')})"
                ),
                summary=f"{integ} moved {times(ratio)} its {top['regime'].replace('_', '-')} bound of {unit}s{one_op} in {klass}",
                details={
                    "action_class": klass,
                    "metric": top["metric"],
                    "hours": len(rs),
                    "ratio": round(ratio, 2),
                    "bound": top["bound"],
                    "regime": top["regime"],
                    "regime_reason": top["why"],
                    "backlog": top["backlog"],
                    "basis": top["basis"],
                    "state": top["state"],
                    "ticket_id": ticket,
                    "measure": measure(
                        top["x"], top["bound"], unit, usual=top["med"], largest=top["hist_max"]
                    ),
                    "history_hours": top["hist_n"],
                },
            )
        )
    return out


DETECTOR = Detector(META, run)
