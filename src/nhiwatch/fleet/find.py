"""Finding fleet events: failures or silences that hit most of a peer group's active integrations at once.

Peer groups, for this purpose, are the integrations that depend on the same platform: the events' ``source``
(every integration calling Salesforce is hit when Salesforce answers 5xx, whatever its own kind or publisher)
and, for silences, also the integrations' declared ``vendor`` (a vendor's own outage silences its connectors
wherever they call). The behavioural peer groups of :mod:`nhiwatch.baseline.profile` (kind and vendor) say
what is normal for an integration; these say what it shares a failure with.

**Outage.** Per group and UTC hour, an integration active in the hour is *hit* when its failures are
improbable for its own learned failure ratio ``p`` (smoothed as in probing; ``prior_failure_ratio`` while
learning): at least two failures and a Chernoff bound on the binomial tail,
``exp(-n * KL(f/n || p)) < alpha``, which is never smaller than the exact tail, so a hit is at least that
improbable. An hour is an outage hour when the hit integrations are at least ``min_affected`` and at least
``share`` of the group's integrations active in that hour. Consecutive outage hours form one event, from its
first failure to its last; its *reasons* are the failure reasons (``status_detail``) shared by two or more
hit integrations, so an explanation can tell the outage's failures from others.

**Silence.** Integrations that are active nearly every hour (learned duty cycle at least ``silence_duty``,
past learning) are expected in every hour between their first hour in the look-back and the group's latest
hour; an hour where at least ``min_affected`` and ``share`` of them sent nothing is a silence hour, if that
is improbable: the product of the silent ones' chances of a quiet hour (``1 - duty cycle``, at least 0.001)
is under ``silence_alpha`` — small, because some thousand group-hours are tested a month (three jobs at a
90 % duty cycle are quiet together in one hour of a thousand by chance alone; it takes six of them, or three
that are never quiet). Hours after the group's latest event are not judged (they may not have arrived yet).

Failures of one integration alone, or of several in different hours, are no fleet event: they stay for the
detections to judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nhiwatch.store import Store

MANAGEMENT = ("credential_issue", "credential_revoke", "scope_grant")


@dataclass(frozen=True)
class FleetParams:
    min_affected: int = 3  # integrations hit in the same hour, at least
    share: float = 0.5  # ... and at least this share of the group's active integrations
    alpha: float = 1e-3  # an integration's hour is hit when its failures are this improbable for it
    prior_failure_ratio: float = 0.05  # failure ratio assumed while an integration is learning
    silence_duty: float = 0.9  # duty cycle of the integrations whose silence is judged
    silence_alpha: float = 1e-6  # joint chance of the silent ones' quiet hour, each at its own duty cycle
    lookback_hours: int = 24  # events before the scored window searched for an event that reaches into it
    catchup_hours: int = 12  # after an event, the hours its catch-up may take
    backlog_slack: float = 1.5  # a catch-up up to backlog x slack is repayment
    margin_minutes: int = 60  # failures this close to an event's window belong to it
    expect_days: int = 14  # days of rollups the expected hourly volume (the backlog) is learned from


PARAMS = FleetParams()


def find_events(store: Store, lo: datetime, hi: datetime, p: FleetParams = PARAMS) -> list[dict[str, Any]]:
    """Outages and silences among the events of ``[lo, hi)``: dicts with kind, group_kind, group_name,
    start_time, end_time, integrations (affected), total, reasons, failures."""
    return _outages(store, lo, hi, p) + _dedupe(_silences(store, lo, hi, p))


def _outages(store: Store, lo: datetime, hi: datetime, p: FleetParams) -> list[dict[str, Any]]:
    # q ln(q/p) + (1-q) ln((1-q)/(1-p)), with the q = 1 limit; only evaluated where f >= 2 and q > p
    kl = "CASE WHEN q >= 1 THEN ln(1 / p0) ELSE q * ln(q / p0) + (1 - q) * ln((1 - q) / (1 - p0)) END"
    return store.records(
        f"""
        WITH ev AS (
          SELECT e.source AS grp, e.integration_id, e.time, e.status, coalesce(e.status_detail, '?') AS reason
          FROM events e
          WHERE e.time >= $lo AND e.time < $hi AND e.integration_id IS NOT NULL AND e.source IS NOT NULL
            AND e.status IN ('Success', 'Failure')
            AND NOT list_contains($management::VARCHAR[], coalesce(e.action_class, '?'))),
        h AS (
          SELECT grp, integration_id, date_trunc('hour', time) AS hr, count(*)::DOUBLE AS n,
                 count(*) FILTER (status = 'Failure') AS f,
                 min(time) FILTER (status = 'Failure') AS f_first, max(time) FILTER (status = 'Failure') AS f_last,
                 list(DISTINCT reason) FILTER (status = 'Failure') AS reasons
          FROM ev GROUP BY ALL),
        pr AS (
          SELECT h.*, f / n AS q,
                 CASE WHEN b.state IS NULL OR b.state = 'learning' OR coalesce(b.events, 0) = 0 THEN $prior
                      ELSE (coalesce(b.failure_ratio, 0) * b.events + 1) / (b.events + 2) END AS p0
          FROM h LEFT JOIN baseline_integrations b USING (integration_id)),
        t AS (
          SELECT *, CASE WHEN f < 2 OR q <= p0 THEN false ELSE n * ({kl}) >= $nlog END AS hit FROM pr),
        g AS (SELECT grp, hr, count(*) AS active, count(*) FILTER (hit) AS hits FROM t GROUP BY ALL),
        flag AS (SELECT grp, hr FROM g WHERE hits >= $min_affected AND hits >= $share * active),
        isl AS (
          SELECT grp, hr,
                 hr - to_hours(CAST(row_number() OVER (PARTITION BY grp ORDER BY hr) AS BIGINT)) AS island
          FROM flag),
        rows AS (SELECT t.*, i.island FROM t JOIN isl i USING (grp, hr)),
        rs AS (
          SELECT grp, island, list(reason ORDER BY k DESC, reason) AS reasons FROM (
            SELECT grp, island, reason, count(DISTINCT integration_id) AS k
            FROM (SELECT grp, island, integration_id, unnest(reasons) AS reason FROM rows WHERE hit)
            GROUP BY ALL) WHERE k >= 2 GROUP BY ALL)
        SELECT 'outage' AS kind, 'source' AS group_kind, r.grp AS group_name,
               min(r.f_first) FILTER (r.hit) AS start_time, max(r.f_last) FILTER (r.hit) AS end_time,
               list(DISTINCT r.integration_id ORDER BY r.integration_id) FILTER (r.hit) AS integrations,
               count(DISTINCT r.integration_id) AS total, sum(r.f) FILTER (r.hit)::BIGINT AS failures,
               coalesce(any_value(rs.reasons), []) AS reasons
        FROM rows r LEFT JOIN rs USING (grp, island)
        GROUP BY r.grp, r.island ORDER BY start_time""",
        {
            "lo": lo,
            "hi": hi,
            "management": list(MANAGEMENT),
            "prior": p.prior_failure_ratio,
            "nlog": math.log(1 / p.alpha),
            "min_affected": p.min_affected,
            "share": p.share,
        },
    )


def _silences(store: Store, lo: datetime, hi: datetime, p: FleetParams) -> list[dict[str, Any]]:
    return store.records(
        """
        WITH ev AS (
          SELECT e.source AS grp, 'source' AS gk, e.integration_id, date_trunc('hour', e.time) AS hr
          FROM events e
          WHERE e.time >= $lo AND e.time < $hi AND e.integration_id IS NOT NULL AND e.source IS NOT NULL),
        pres AS (
          SELECT gk, grp, integration_id, hr FROM ev GROUP BY ALL
          UNION
          SELECT 'vendor', lower(i.vendor), ev.integration_id, ev.hr FROM ev JOIN integrations i ON i.id = ev.integration_id
          WHERE i.vendor IS NOT NULL AND i.vendor <> ''),
        last AS (SELECT gk, grp, max(hr) AS last_hr FROM pres GROUP BY ALL),
        mem AS (
          SELECT p.gk, p.grp, p.integration_id, min(p.hr) AS first_hr,
                 ln(1 - least(any_value(b.duty_cycle), 0.999)) AS log_quiet FROM pres p
          JOIN baseline_integrations b USING (integration_id)
          WHERE b.state <> 'learning' AND b.duty_cycle >= $duty GROUP BY p.gk, p.grp, p.integration_id),
        grid AS (
          SELECT m.gk, m.grp, m.integration_id, m.log_quiet,
                 unnest(range(m.first_hr, l.last_hr, INTERVAL 1 HOUR)) AS hr
          FROM mem m JOIN last l USING (gk, grp)),
        gs AS (
          SELECT g.gk, g.grp, g.hr, count(*) AS members,
                 list(g.integration_id ORDER BY g.integration_id) FILTER (p.integration_id IS NULL) AS quiet,
                 sum(g.log_quiet) FILTER (p.integration_id IS NULL) AS log_p
          FROM grid g LEFT JOIN pres p USING (gk, grp, integration_id, hr) GROUP BY ALL),
        flag AS (SELECT * FROM gs WHERE len(quiet) >= $min_affected AND len(quiet) >= $share * members
                   AND log_p < $silence_log),
        isl AS (
          SELECT *, hr - to_hours(CAST(row_number() OVER (PARTITION BY gk, grp ORDER BY hr) AS BIGINT)) AS island
          FROM flag)
        SELECT 'silence' AS kind, gk AS group_kind, grp AS group_name, min(hr) AS start_time,
               max(hr) + INTERVAL 1 HOUR AS end_time,
               list_sort(list_distinct(flatten(list(quiet)))) AS integrations, max(members) AS total,
               0::BIGINT AS failures, []::VARCHAR[] AS reasons
        FROM isl GROUP BY gk, grp, island ORDER BY start_time""",
        {
            "lo": lo,
            "hi": hi,
            "duty": p.silence_duty,
            "min_affected": p.min_affected,
            "share": p.share,
            "silence_log": math.log(p.silence_alpha),
        },
    )


def _dedupe(silences: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A vendor group's silence that a source group's silence already covers (same hours, its integrations
    among them) is the same event seen twice: keep the source's."""
    by_source = [s for s in silences if s["group_kind"] == "source"]
    out = list(by_source)
    for s in silences:
        if s["group_kind"] == "source":
            continue
        if not any(
            o["start_time"] <= s["start_time"]
            and o["end_time"] >= s["end_time"]
            and set(s["integrations"]) <= set(o["integrations"])
            for o in by_source
        ):
            out.append(s)
    return out
