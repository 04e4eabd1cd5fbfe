"""Change awareness: is a new client or network a vendor's change, or somebody else using the credential?

A vendor upgrades its SDK (a new user agent) or moves its workers to new addresses in its own cloud; the
integration keeps doing exactly what it did. A thief replaying a token does something of its own, or does
it from infrastructure the integration never used. Three tests, all set-based SQL over one integration-day:

* **behaviour unchanged** — of the events that carry a new user agent, prefix or ASN, the share whose
  operation and targets (resource type, resource, destination) the integration already used is at least
  ``same_share``; those events fall in local hours the integration is active in (same share); and the
  day's busiest hour stays within ``volume_factor`` x the learned hourly maximum of events and records;
* **network context** — each new address is looked up in the providers' published ranges
  (:mod:`nhiwatch.netranges`) and compared with the providers and regions of the addresses the integration
  used in its history: ``same_provider`` (perhaps a new region), ``new_provider`` (a provider or hosting
  company never seen for it), ``same_asn`` (outside every published range, in an ASN it used), ``unknown``,
  or ``none`` when only the client is new;
* **vendor-wide** — the same new value (user agent, prefix, ASN) reached at least ``fleet_min`` of one
  vendor's integrations within ``spread_days`` and at least half of that vendor's active integrations: a
  change made once at the vendor, not a coincidence of independent integrations.

A *vendor change* needs unchanged behaviour, and new addresses need a provider (or ASN) the integration
already used, or the change to be vendor-wide; a provider never seen for the integration is not excused
by unchanged behaviour alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from nhiwatch.baseline.frames import LOCAL, TZ_JOIN, ts
from nhiwatch.detectors._common import NOT_MANAGEMENT, in_window, records
from nhiwatch.detectors.base import DetectContext
from nhiwatch.dimensions import DIMENSIONS, known_client
from nhiwatch.netranges import ensure, lookup_sql

NETWORK_DIMS = ("ip24", "asn")
NOT_A_VENDOR = ("", "internal", "unknown", "none")
CHANGE = "vendor_change"


@dataclass
class Assessment:
    integration_id: str
    day: date
    vendor: str | None
    novel: int  # events with a new value
    known_share: float  # of those, with a known operation and targets
    hours_share: float  # of those, in local hours the integration is active in
    volume_ok: bool
    new_operations: list[str] = field(default_factory=list)
    new_targets: list[str] = field(default_factory=list)
    network: str = "none"  # none | same_provider | same_asn | new_provider | unknown
    moves: list[str] = field(default_factory=list)  # "AWS us-east-1 → AWS eu-west-1"
    new_providers: list[str] = field(default_factory=list)

    def unchanged(self, same_share: float) -> bool:
        return (
            self.novel > 0
            and self.known_share >= same_share
            and self.hours_share >= same_share
            and self.volume_ok
        )

    def behaviour_words(self) -> str:
        """What differs besides the new client or network, for the finding's text."""
        parts = []
        if self.new_operations:
            parts.append(
                ("new operation " if len(self.new_operations) == 1 else "new operations ")
                + ", ".join(self.new_operations[:3])
            )
        if self.new_targets:
            parts.append(
                ("new target " if len(self.new_targets) == 1 else "new targets ")
                + ", ".join(self.new_targets[:3])
            )
        if not self.volume_ok:
            parts.append("volume above its learned maximum")
        if self.hours_share < 1.0 and not parts:
            parts.append("hours it is not active in")
        return "; ".join(parts) or "the same operations, targets, volume and hours as before"


def _known(dim: str, expr: str) -> str:
    client = f" OR {known_client(expr, 'e.integration_id')}" if dim == "user_agent" else ""
    return f"""(({expr}) IS NULL OR EXISTS (SELECT 1 FROM baseline_values v WHERE v.integration_id = e.integration_id
               AND v.dimension = '{dim}' AND v.value = ({expr})){client})"""


def assess(
    ctx: DetectContext, pairs: Iterable[tuple[str, date]], dims: tuple[str, ...], volume_factor: float = 1.5
) -> dict[tuple[str, date], Assessment]:
    """One :class:`Assessment` per (integration, UTC day) of the window."""
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    ensure(ctx.store)
    novel = " OR ".join(f"NOT {_known(d, DIMENSIONS[d])}" for d in dims) or "false"
    net_new = " OR ".join(f"NOT {_known(d, DIMENSIONS[d])}" for d in dims if d in NETWORK_DIMS) or "false"
    op_known = _known("operation", DIMENSIONS["operation"])
    target_known = " AND ".join(
        _known(d, DIMENSIONS[d]) for d in ("resource_type", "resource", "destination")
    )
    params = {"integs": [p[0] for p in pairs], "days": [p[1] for p in pairs]}
    rows = records(
        ctx.store,
        f"""
        WITH cand AS (SELECT unnest($integs::VARCHAR[]) AS integration_id, unnest($days::DATE[]) AS day),
        ev AS (
          SELECT e.integration_id, CAST(e.time AS DATE) AS day, e.src_endpoint_ip AS ip,
                 CAST(e.src_endpoint_asn AS VARCHAR) AS asn, e.api_operation AS op,
                 coalesce(e.resource_name, e.resource_type, lower(e.dst_endpoint_hostname)) AS target,
                 hour({LOCAL}) AS lh, ({novel}) AS novel, ({net_new}) AS net_new,
                 {op_known} AS op_known, ({target_known}) AS target_known
          FROM events e JOIN cand c ON c.integration_id = e.integration_id AND c.day = CAST(e.time AS DATE)
          {TZ_JOIN}
          WHERE {in_window(ctx)} AND {NOT_MANAGEMENT}),
        hours AS (SELECT DISTINCT integration_id, how % 24 AS lh FROM baseline_envelope
                  WHERE integration_id IN (SELECT integration_id FROM cand)),
        agg AS (
          SELECT ev.integration_id, ev.day, count(*) FILTER (novel) AS novel,
                 count(*) FILTER (novel AND op_known AND target_known) AS known,
                 count(*) FILTER (novel AND h.lh IS NOT NULL) AS in_hours,
                 list(DISTINCT op ORDER BY op) FILTER (novel AND NOT op_known) AS new_ops,
                 list(DISTINCT target ORDER BY target) FILTER (novel AND NOT target_known) AS new_targets
          FROM ev LEFT JOIN hours h ON h.integration_id = ev.integration_id AND h.lh = ev.lh
          GROUP BY ev.integration_id, ev.day),
        busiest AS (
          SELECT integration_id, CAST(time AS DATE) AS day, max(n) AS events, max(r) AS recs FROM (
            SELECT e.integration_id, date_trunc('hour', e.time) AS time, count(*) AS n,
                   coalesce(sum(e.records), 0) AS r
            FROM events e JOIN cand c ON c.integration_id = e.integration_id AND c.day = CAST(e.time AS DATE)
            WHERE {in_window(ctx)} GROUP BY ALL) GROUP BY ALL),
        bound AS (
          SELECT integration_id, max(max) FILTER (metric = 'events') AS events,
                 max(max) FILTER (metric = 'records') AS recs
          FROM baseline_volume WHERE action_class = '*' AND integration_id IN (SELECT integration_id FROM cand)
          GROUP BY ALL)
        SELECT a.*, b.events AS busiest_events, b.recs AS busiest_records, v.events AS max_events,
               v.recs AS max_records, i.vendor
        FROM agg a LEFT JOIN busiest b USING (integration_id, day) LEFT JOIN bound v USING (integration_id)
        LEFT JOIN integrations i ON i.id = a.integration_id""",
        params,
    )
    out: dict[tuple[str, date], Assessment] = {}
    for r in rows:
        n = int(r["novel"] or 0)
        volume_ok = r["max_events"] is not None and (r["busiest_events"] or 0) <= volume_factor * max(
            float(r["max_events"]), 1.0
        )
        if volume_ok and (r["busiest_records"] or 0) > 0:
            volume_ok = (r["busiest_records"] or 0) <= volume_factor * max(float(r["max_records"] or 0), 1.0)
        out[(r["integration_id"], r["day"])] = Assessment(
            r["integration_id"],
            r["day"],
            r["vendor"],
            n,
            (r["known"] or 0) / n if n else 0.0,
            (r["in_hours"] or 0) / n if n else 0.0,
            volume_ok,
            [str(x) for x in (r["new_ops"] or [])][:10],
            [str(x) for x in (r["new_targets"] or [])][:10],
        )
    _networks(ctx, out, dims, params)
    return out


def _networks(
    ctx: DetectContext, out: dict[tuple[str, date], Assessment], dims: tuple[str, ...], params: dict[str, Any]
) -> None:
    """Fill each assessment's network context from the providers of its new and its known addresses."""
    net_new = " OR ".join(f"NOT {_known(d, DIMENSIONS[d])}" for d in dims if d in NETWORK_DIMS)
    if not net_new:
        return
    rows = records(
        ctx.store,
        f"""
        WITH cand AS (SELECT unnest($integs::VARCHAR[]) AS integration_id, unnest($days::DATE[]) AS day),
        nips AS (
          SELECT DISTINCT e.integration_id, CAST(e.time AS DATE) AS day, e.src_endpoint_ip AS ip,
                 e.src_endpoint_asn IS NOT NULL AND {_known("asn", DIMENSIONS["asn"])} AS asn_known
          FROM events e JOIN cand c ON c.integration_id = e.integration_id AND c.day = CAST(e.time AS DATE)
          WHERE {in_window(ctx)} AND {NOT_MANAGEMENT} AND e.src_endpoint_ip IS NOT NULL AND ({net_new})),
        kips AS (SELECT integration_id, value AS ip FROM baseline_values
                 WHERE dimension = 'ip' AND integration_id IN (SELECT integration_id FROM cand)),
        geo AS {lookup_sql("(SELECT ip FROM nips UNION SELECT ip FROM kips)")},
        known AS (SELECT k.integration_id, list(DISTINCT g.provider) AS providers,
                         list(DISTINCT g.provider || ' ' || coalesce(g.region, '')) AS places
                  FROM kips k JOIN geo g USING (ip) WHERE g.provider IS NOT NULL GROUP BY ALL)
        SELECT n.integration_id, n.day, n.ip, n.asn_known, g.provider, g.region,
               coalesce(k.providers, []) AS known_providers, coalesce(k.places, []) AS known_places
        FROM nips n LEFT JOIN geo g USING (ip) LEFT JOIN known k USING (integration_id)""",
        params,
    )
    by: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by[(r["integration_id"], r["day"])].append(r)
    rank = {"same_provider": 0, "same_asn": 1, "unknown": 2, "new_provider": 3}
    for key, ips in by.items():
        a = out.get(key)
        if a is None:
            continue
        worst, moves, new = "same_provider", set(), set()
        for r in ips:
            if r["provider"] is not None and r["provider"] in r["known_providers"]:
                kind = "same_provider"
                place = f"{r['provider']} {r['region'] or ''}".strip()
                if f"{r['provider']} {r['region'] or ''}" not in r["known_places"]:
                    before = sorted(p.strip() for p in r["known_places"] if p.startswith(r["provider"] + " "))
                    moves.add(f"{' / '.join(before[:2]) or r['provider']} → {place}")
            elif r["provider"] is not None:
                kind = "new_provider"
                new.add(f"{r['provider']} {r['region'] or ''}".strip())
            elif r["asn_known"]:
                kind = "same_asn"
            else:
                kind = "unknown"
            worst = max(worst, kind, key=rank.__getitem__)
        a.network, a.moves, a.new_providers = worst, sorted(moves), sorted(new)


def vendor_wide(
    ctx: DetectContext,
    new_rows: Iterable[dict[str, Any]],
    *,
    fleet_min: int = 3,
    spread_days: float = 7.0,
    share: float = 0.5,
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(integration, dimension, value) -> {vendor, integrations, active} for new values that reached at
    least ``fleet_min`` and ``share`` of one vendor's active integrations within ``spread_days``.

    ``new_rows`` are :func:`._novelty.new_values` rows of the window (every integration with a new value,
    flagged or not); values first seen in the history within ``spread_days`` count too, so a rollout over a
    few days is one change."""
    window: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in new_rows:
        for v in r["new_values"]:
            window[(r["dimension"], str(v))].add(r["integration_id"])
    if not window:
        return {}
    dims = sorted({d for d, _ in window})
    recent = records(
        ctx.store,
        f"""SELECT v.dimension, v.value, list(DISTINCT v.integration_id) AS integs
            FROM baseline_values v JOIN baseline_integrations b USING (integration_id)
            WHERE v.dimension IN (SELECT unnest($dims::VARCHAR[]))
              AND v.first_seen >= {ts(ctx.since - timedelta(days=spread_days))}
              AND v.first_seen > b.first_seen + INTERVAL 1 DAY
            GROUP BY ALL""",
        {"dims": dims},
    )
    for r in recent:
        key = (r["dimension"], r["value"])
        if key in window:
            window[key] |= set(r["integs"])
    vendors = records(
        ctx.store,
        f"""SELECT i.id AS integration_id, trim(i.vendor) AS vendor,
                   (b.state IS NOT NULL AND b.state <> 'learning')
                   OR EXISTS (SELECT 1 FROM events e WHERE e.integration_id = i.id AND {in_window(ctx)}) AS active
            FROM integrations i LEFT JOIN baseline_integrations b ON b.integration_id = i.id
            WHERE i.vendor IS NOT NULL AND lower(trim(i.vendor)) NOT IN (SELECT unnest($skip::VARCHAR[]))""",
        {"skip": list(NOT_A_VENDOR)},
    )
    vendor_of = {r["integration_id"]: r["vendor"].lower() for r in vendors}
    name = {r["vendor"].lower(): r["vendor"] for r in vendors}
    active: dict[str, int] = defaultdict(int)
    for r in vendors:
        active[r["vendor"].lower()] += bool(r["active"])
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for (dim, value), integs in window.items():
        per_vendor: dict[str, set[str]] = defaultdict(set)
        for i in integs:
            if i in vendor_of:
                per_vendor[vendor_of[i]].add(i)
        for vendor, members in per_vendor.items():
            if len(members) >= fleet_min and len(members) >= share * active[vendor]:
                info = {"vendor": name[vendor], "integrations": sorted(members), "active": active[vendor]}
                for i in members:
                    out[(i, dim, value)] = info
    return out
