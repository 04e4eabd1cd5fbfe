"""Helpers shared by detection kernels: the scored window, the bursty calendar, rows to findings.

Kernels are SQL over ``events`` grouped by integration; these helpers only assemble SQL text and turn the
few result rows into :class:`Finding` objects. Learned state is read from the ``baseline_*`` tables; a
store where nothing was learned reads as every integration being in the ``learning`` state.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable, Mapping
from datetime import datetime, timedelta
from typing import Any

from nhiwatch.baseline.calendar import build_calendar
from nhiwatch.baseline.frames import ensure_views, ts
from nhiwatch.baseline.learn import ensure_tables, learned
from nhiwatch.baseline.regimes import LONG_MEMORY_DAYS
from nhiwatch.detectors.base import DetectContext, DetectorMeta, Finding
from nhiwatch.store import Store

# NIST CSF 2.0 Detect subcategories (DE.CM-02 is physical; DE.CM-08 and DE.AE-01 do not exist in 2.0).
CSF_2_DETECT = frozenset(
    {
        "DE.CM-01",
        "DE.CM-02",
        "DE.CM-03",
        "DE.CM-06",
        "DE.CM-09",
        "DE.AE-02",
        "DE.AE-03",
        "DE.AE-04",
        "DE.AE-06",
        "DE.AE-07",
        "DE.AE-08",
    }
)
# Identify / Protect subcategories the posture checks map to.
CSF_2_OTHER = frozenset(
    {
        "ID.AM-01",
        "ID.AM-02",
        "ID.AM-03",
        "ID.AM-04",
        "ID.AM-05",
        "ID.AM-07",
        "ID.AM-08",
        "ID.RA-01",
        "PR.AA-01",
        "PR.AA-02",
        "PR.AA-03",
        "PR.AA-05",
        "GV.SC-04",
        "GV.SC-07",
    }
)
EVIDENCE_CAP = 20
STATE_JOIN = "LEFT JOIN baseline_integrations b ON b.integration_id = e.integration_id"
STATE = "coalesce(b.state, 'learning')"
# Management-plane events (a key added, a grant made) are done *to* an integration, often by a person or the
# platform: their address and client say nothing about where the integration itself runs.
NOT_MANAGEMENT = "e.action_class NOT IN ('credential_issue', 'credential_revoke', 'scope_grant')"
# A credential's own use: an API call or a sign-in (OCSF API, authentication, account and entity activity),
# not a host's network records (OCSF 4001 network, 4002 HTTP activity: proxy, Zeek, flow logs), whose
# addresses are internal hosts and whose clients are whatever runs there (apt, curl, an OCSP check).
CREDENTIAL_USE = "coalesce(e.class_uid, 0) NOT IN (4001, 4002)"
# Planned work: events inside a change ticket of the integration itself. The baselines leave them out (a
# backfill is not normal), and the how-much / when detections (volume, fan-out, hours, cadence) leave them out
# of the scored window for the same reason: a ticket declares that this integration will move unusual volume
# at unusual hours in that span, which no history can bound. What the work touches (new hosts, networks,
# scopes) is still judged. Company-wide events (tickets without integration) only lower a finding.
UNPLANNED = """NOT EXISTS (SELECT 1 FROM tickets t WHERE t.integration_id = e.integration_id
    AND e.time BETWEEN t.start_time AND t.end_time)"""


def prepare(ctx: DetectContext) -> None:
    """Views and temp tables a kernel may join: time zones, baseline tables, the business calendar around
    the window (holidays, catch-up days, the days bursty by design: :mod:`nhiwatch.baseline.calendar`).

    Every detector of a step is handed the same context and calls this first; the work is done once per
    context (rebuilding the calendar in each detector was most of a micro-batch's scoring time). A new context
    (the next step, after the learner ran) prepares again, and so does the same step's context on a second
    connection (:func:`nhiwatch.detection.beside`): temp tables belong to their connection."""
    if shared_done(ctx, "prepare"):
        return
    ensure_views(ctx.store)
    ensure_tables(ctx.store)
    # back over the long memory: a close is compared with the closes before it (months ago)
    build_calendar(
        ctx.store,
        ctx.since - timedelta(days=LONG_MEMORY_DAYS),
        ctx.until,
        "baseline_regimes" if learned(ctx.store) else None,
    )
    shared_made(ctx, "prepare")


# Work the detectors of one step share (temp tables they all read), by the step's context: weakly, so a
# dead context reads as gone (no id reuse) and holding it does not keep a store's connection (and its file
# lock) open after its caller let it go. A few at once: a step scored on two connections has two contexts.
_shared: list[tuple[weakref.ref[DetectContext], set[Hashable]]] = []
_shared_lock = threading.Lock()


def _keys(ctx: DetectContext) -> set[Hashable] | None:
    return next((keys for ref, keys in _shared if ref() is ctx), None)


def shared_done(ctx: DetectContext, key: Hashable) -> bool:
    """Whether the shared work ``key`` was already done for ``ctx``'s step (:func:`shared_made` records it)."""
    with _shared_lock:
        keys = _keys(ctx)
        return keys is not None and key in keys


def shared_made(ctx: DetectContext, key: Hashable) -> None:
    """Record that the shared work ``key`` is done for ``ctx``'s step: call it once the work succeeded, so a
    failure is retried by the next detector instead of leaving it an earlier step's table."""
    with _shared_lock:
        keys = _keys(ctx)
        if keys is None:
            _shared[:] = [e for e in _shared if e[0]() is not None][-3:]
            keys = set()
            _shared.append((weakref.ref(ctx), keys))
        keys.add(key)


def in_window(ctx: DetectContext, alias: str = "e") -> str:
    return (
        f"{alias}.time >= {ts(ctx.since)} AND {alias}.time < {ts(ctx.until)} "
        f"AND {alias}.integration_id IS NOT NULL"
    )


def window_days(ctx: DetectContext) -> float:
    return max((ctx.until - ctx.since).total_seconds() / 86400, 1 / 24)


def ticket_sql(first: str, last: str, integ: str, slack_hours: float) -> str:
    """Correlated subquery: the best matching ticket id (the integration's own first, then company-wide)."""
    return f"""(SELECT t.id FROM tickets t
        WHERE (t.integration_id = {integ} OR t.integration_id IS NULL OR t.integration_id = '')
          AND t.start_time <= {last} + INTERVAL {int(slack_hours * 60)} MINUTE
          AND t.end_time >= {first} - INTERVAL {int(slack_hours * 60)} MINUTE
        ORDER BY (t.integration_id IS NULL OR t.integration_id = ''), t.start_time LIMIT 1)"""


def records(store: Store, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows as dicts; values that come from logs or the config go in ``params`` (``$name`` in the SQL)."""
    return store.records(sql, params)


def finding(
    meta: DetectorMeta,
    row: Mapping[str, Any],
    *,
    deviation: float,
    observed: str,
    expected: str,
    summary: str,
    details: Mapping[str, Any] | None = None,
    first: datetime | None = None,
    last: datetime | None = None,
) -> Finding:
    ev = tuple(dict.fromkeys(x for x in (row.get("evidence") or ()) if x))[:EVIDENCE_CAP]
    return Finding(
        detector=meta.id,
        integration_id=str(row["integration_id"]),
        first_seen=first or row["first_seen"],
        last_seen=last or row["last_seen"],
        deviation=round(max(0.0, min(1.0, deviation)), 3),
        observed=observed,
        expected=expected,
        summary=summary,
        evidence=ev,
        details=dict(details or {}),
        kind=meta.kind,
    )


def find_ticket(
    store: Store, integ: str, first: datetime, last: datetime, slack_hours: float = 1.0
) -> str | None:
    """The change ticket covering ``[first, last]`` (within ``slack_hours``): the integration's own, else a
    company-wide one (no integration), else None."""
    row = store.fetchone(
        f"""SELECT {ticket_sql("$first::TIMESTAMP", "$last::TIMESTAMP", "$integ", slack_hours)}""",
        {"first": first, "last": last, "integ": integ},
    )
    return None if row is None else row[0]


def annotate_tickets(store: Store, findings: list[Finding], slack_hours: float = 1.0) -> list[Finding]:
    """Behaviour findings with ``details.ticket_id`` set to a covering change ticket (or None) when the
    detector did not decide it itself, so the alert stage sees planned work the same way for every detector."""
    from dataclasses import replace

    out = []
    for f in findings:
        if f.kind == "behaviour" and "ticket_id" not in f.details:
            ticket = find_ticket(store, f.integration_id, f.first_seen, f.last_seen, slack_hours)
            f = replace(f, details={**f.details, "ticket_id": ticket})
        out.append(f)
    return out
