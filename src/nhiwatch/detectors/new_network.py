"""new_network: an integration's credentials used from a network prefix, ASN or user agent never seen.

What and why: a stolen token is replayed from the thief's infrastructure (Drift/Salesloft: AWS baseline,
then DigitalOcean 208.68.36.90 and Tor with ``python-requests/2.32.4``, ``aiohttp/3.12.15``; Snowflake:
``rapeflake`` and AS200019; CircleCI: VPN exits). The learned sets of /24 (IPv6 /64) prefixes, ASNs and user
agents are compared with the window's; the number of new values is judged with the Good-Turing rate of
new values in the integration's own history (:mod:`._novelty`), so a SaaS whose calls hop across a cloud's
addresses does not alert on every new IP while a fixed worker does. Exact IPs are reported, not scored.
Management events done to the integration (keys added, grants made, often by a person or the platform)
are left out: their address says nothing about where the integration runs.

Cold start: an integration still learning has no network baseline and is skipped; a provisional one needs
``alpha / 10``. Several dimensions new at once combine (:func:`._novelty.combined_p`). Parameters: ``alpha``, ``dims``. References: OWASP NHI2:2025, NHI3:2025, NHI4:2025,
NHI7:2025; NIST CSF 2.0 DE.CM-06, DE.CM-09, DE.AE-03, DE.AE-07; ATT&CK T1550.001, T1078.004, T1090.003.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from nhiwatch.alerts.units import count, plural
from nhiwatch.baseline.stats import dev_from_p
from nhiwatch.detectors._common import NOT_MANAGEMENT, finding, prepare
from nhiwatch.detectors._novelty import combined_p, new_values
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="new_network",
    title="New network or client for a credential",
    kind="behaviour",
    description="Credentials of an integration used from a new IP prefix, ASN or user agent.",
    owasp_nhi=("NHI2:2025", "NHI3:2025", "NHI4:2025", "NHI7:2025"),
    nist_csf=("DE.CM-06", "DE.CM-09", "DE.AE-03", "DE.AE-07"),
    attack=("T1550.001", "T1078.004", "T1090.003"),
    params={"alpha": 0.02, "dims": "ip24,asn,user_agent"},
    explanation="{observed}, against {expected}",
)
LABEL = {"ip24": "network prefix", "asn": "ASN", "user_agent": "user agent"}


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    alpha = float(ctx.param(META, "alpha"))
    dims = tuple(d.strip() for d in str(ctx.param(META, "dims")).split(",") if d.strip())
    by_integ: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in new_values(ctx, dims, NOT_MANAGEMENT):
        if r["state"] == "learning":
            continue
        by_integ[(r["integration_id"], r["day"])].append(r)
    out = []
    for (integ, _day), rs in by_integ.items():
        rs.sort(key=lambda r: r["p"])
        p = combined_p(rs)
        if p >= (alpha if rs[0]["state"] == "established" else alpha / 10):
            continue
        first, last = min(r["first_seen"] for r in rs), max(r["last_seen"] for r in rs)
        evidence = [u for r in rs for u in r["evidence"]]
        obs = "; ".join(
            f"{plural(r['k'], 'new ' + LABEL.get(r['dimension'], r['dimension']))}: "
            f"{', '.join(map(str, r['new_values'][:3]))}"
            for r in rs
        )
        exp = "; ".join(
            f"{plural(r['hist_distinct'], 'known ' + LABEL.get(r['dimension'], r['dimension']))}, "
            f"{count(r['singletons'])} seen once in {plural(r['hist_n'], 'event')}"
            for r in rs
        )
        out.append(
            finding(
                META,
                {"integration_id": integ, "first_seen": first, "last_seen": last, "evidence": evidence},
                deviation=dev_from_p(p),
                observed=obs,
                expected=exp,
                summary=f"{integ} was used from a network or client it has never used",
                details={
                    r["dimension"]: {
                        "new": r["new_values"],
                        "events": r["events"],
                        "p_value": r["p"],
                        # the history the text compares with
                        "known": r["hist_distinct"],
                        "seen_once": r["singletons"],
                        "history_events": r["hist_n"],
                    }
                    for r in rs
                }
                | {"state": rs[0]["state"]},
            )
        )
    return out


DETECTOR = Detector(META, run)
