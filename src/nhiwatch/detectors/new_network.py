"""new_network: an integration's credentials used from a network prefix, ASN or user agent never seen.

What and why: a stolen token is replayed from the thief's infrastructure (Drift/Salesloft: AWS baseline,
then DigitalOcean 208.68.36.90 and Tor with ``python-requests/2.32.4``, ``aiohttp/3.12.15``; Snowflake:
``rapeflake`` and AS200019; CircleCI: VPN exits). The learned sets of /24 (IPv6 /64) prefixes, ASNs and user
agents are compared with the window's; the number of new values is judged with the Good-Turing rate of
new values in the integration's own history (:mod:`._novelty`), so a SaaS whose calls hop across a cloud's
addresses does not alert on every new IP while a fixed worker does. Exact IPs are reported, not scored.
Management events done to the integration (keys added, grants made, often by a person or the platform)
are left out: their address says nothing about where the integration runs. So are network records of its
hosts (proxy, Zeek, flow logs): they show internal addresses and whatever client runs on the host (apt, an
OCSP check), not where the credential is used; where they go is :mod:`.new_destination`'s question.

A new version of a client the integration already runs (``terraform/1.8.6`` after ``terraform/1.8.5``:
:func:`nhiwatch.dimensions.known_client`) is that client upgraded, not a new user agent; another library,
product or platform string is new.

Change awareness (:mod:`._change`): a new client or network that comes with unchanged behaviour (the same
operations, targets, volume and hours, ``same_share`` of the new events) from a provider the integration
already used ("same provider (AWS us-east-1 → AWS eu-west-1), new region"), or that reached most of one
vendor's integrations at once, is a *vendor change*: reported with the low ``change_deviation`` and
``details.change = "vendor_change"``, so the alert stage groups it once per vendor. New operations, targets
or volume, or a provider never seen for the integration, raise the deviation to at least ``replay_deviation``: that is what a replayed token looks like.

Cold start: an integration still learning has no network baseline and is skipped; a provisional one needs
``alpha / 10``. Several dimensions new at once combine (:func:`._novelty.combined_p`). Parameters: ``alpha``,
``dims``, ``same_share``, ``volume_factor``, ``fleet_min``, ``spread_days``, ``vendor_share``,
``change_deviation``, ``replay_deviation``. References: OWASP NHI2:2025, NHI3:2025, NHI4:2025,
NHI7:2025; NIST CSF 2.0 DE.CM-06, DE.CM-09, DE.AE-03, DE.AE-07; ATT&CK T1550.001, T1078.004, T1090.003.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from nhiwatch.alerts.units import count, plural
from nhiwatch.baseline.stats import dev_from_p
from nhiwatch.detectors._change import CHANGE, NETWORK_DIMS, Assessment, assess, vendor_wide
from nhiwatch.detectors._common import CREDENTIAL_USE, NOT_MANAGEMENT, finding, prepare
from nhiwatch.detectors._novelty import combined_p, new_values, novelty_details
from nhiwatch.detectors.base import DetectContext, Detector, DetectorMeta, Finding

META = DetectorMeta(
    id="new_network",
    title="New network or client for a credential",
    kind="behaviour",
    description="Credentials of an integration used from a new IP prefix, ASN or user agent.",
    owasp_nhi=("NHI2:2025", "NHI3:2025", "NHI4:2025", "NHI7:2025"),
    nist_csf=("DE.CM-06", "DE.CM-09", "DE.AE-03", "DE.AE-07"),
    attack=("T1550.001", "T1078.004", "T1090.003"),
    params={
        "alpha": 0.02,
        "dims": "ip24,asn,user_agent",
        "same_share": 0.95,
        "volume_factor": 1.5,
        "fleet_min": 3,
        "spread_days": 7,
        "vendor_share": 0.5,
        "change_deviation": 0.2,
        "replay_deviation": 0.9,
    },
    explanation="{observed}, against {expected}",
)
LABEL = {"ip24": "network prefix", "asn": "ASN", "user_agent": "user agent"}


def run(ctx: DetectContext) -> list[Finding]:
    prepare(ctx)
    alpha = float(ctx.param(META, "alpha"))
    dims = tuple(d.strip() for d in str(ctx.param(META, "dims")).split(",") if d.strip())
    rows = new_values(ctx, dims, f"{NOT_MANAGEMENT} AND {CREDENTIAL_USE}")
    by_integ: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["state"] == "learning":
            continue
        by_integ[(r["integration_id"], r["day"])].append(r)
    flagged = {}
    for key, rs in by_integ.items():
        rs.sort(key=lambda r: r["p"])
        p = combined_p(rs)
        if p < (alpha if rs[0]["state"] == "established" else alpha / 10):
            flagged[key] = (rs, p)
    if not flagged:
        return []
    assessed = assess(ctx, flagged, dims, float(ctx.param(META, "volume_factor")))
    wide = vendor_wide(
        ctx,
        rows,
        fleet_min=int(ctx.param(META, "fleet_min")),
        spread_days=float(ctx.param(META, "spread_days")),
        share=float(ctx.param(META, "vendor_share")),
    )
    return [
        _finding(ctx, integ, rs, p, assessed.get((integ, day)), wide)
        for (integ, day), (rs, p) in flagged.items()
    ]


def _finding(
    ctx: DetectContext,
    integ: str,
    rs: list[dict[str, Any]],
    p: float,
    a: Assessment | None,
    wide: dict[tuple[str, str, str], dict[str, Any]],
) -> Finding:
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
    details: dict[str, Any] = novelty_details(rs) | {"state": rs[0]["state"]}
    summary = f"{integ} was used from a network or client it has never used"
    deviation = dev_from_p(p)
    if a is not None:
        fleet = next(
            (wide[k] for r in rs for v in r["new_values"] if (k := (integ, r["dimension"], str(v))) in wide),
            None,
        )
        unchanged = a.unchanged(float(ctx.param(META, "same_share")))
        network = a.network if any(r["dimension"] in NETWORK_DIMS for r in rs) else "none"
        details["context"] = {
            "behaviour": "unchanged" if unchanged else a.behaviour_words(),
            "known_share": round(a.known_share, 3),
            "network": network,
            "moves": a.moves,
            "new_providers": a.new_providers,
            "vendor_wide": fleet,
        }
        where = _where(network, a)
        if where:
            obs += f" ({where})"
        if unchanged and (network in ("none", "same_provider", "same_asn") or fleet is not None):
            deviation = float(ctx.param(META, "change_deviation"))
            vendor = (fleet or {}).get("vendor") or a.vendor
            details["change"] = CHANGE
            details["vendor"] = vendor
            reach = (
                f", as {len(fleet['integrations'])} of its {fleet['active']} integrations did"
                if fleet
                else ""
            )
            summary = (
                f"{integ}: a vendor change at {vendor or 'its vendor'} ({where or 'a new client'}{reach}), "
                "with the same operations, targets, volume and hours as before"
            )
        else:
            if network == "new_provider":
                summary = (
                    f"{integ} was used from a provider never seen for it ({', '.join(a.new_providers[:3])})"
                )
            if not unchanged:
                summary += f", with {a.behaviour_words()}"
            if network == "new_provider" or a.new_operations or a.new_targets or not a.volume_ok:
                # somebody else's infrastructure, or a new client doing new things: what a replayed token looks like
                deviation = max(deviation, float(ctx.param(META, "replay_deviation")))
    return finding(
        META,
        {"integration_id": integ, "first_seen": first, "last_seen": last, "evidence": evidence},
        deviation=deviation,
        observed=obs,
        expected=exp,
        summary=summary,
        details=details,
    )


def _where(network: str, a: Assessment) -> str:
    if network == "same_provider":
        return (
            f"same provider ({'; '.join(a.moves[:2])}), new region" if a.moves else "same provider and region"
        )
    if network == "same_asn":
        return "a new prefix of an ASN it already used"
    if network == "new_provider":
        return (
            f"a hosting provider or network never seen for this integration: {', '.join(a.new_providers[:3])}"
        )
    if network == "unknown":
        return "addresses outside every published cloud range and its known ASNs"
    return ""


DETECTOR = Detector(META, run)
