"""Analyst verdicts on alerts, and what a benign verdict teaches the alert stage.

``benign`` stores an *allowance* for every finding of the alert (integration + detector + signature, and
the largest deviation judged benign); later findings with the same signature, no larger than that times
``allowance_tolerance`` and first seen before the allowance expires (``allowance_days`` after the alert),
no longer alert. ``malicious`` confirms the alert and revokes any allowance an earlier benign verdict on it
had created. ``undo`` takes the alert's last verdict back: its status returns and the allowances that
verdict created are removed. Every verdict is appended to ``triage_log`` with its effect, in words an
analyst can check ("… will not alert again until 2026-03-01").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from nhiwatch.alerts import tables
from nhiwatch.alerts.model import signature
from nhiwatch.detectors.base import Finding
from nhiwatch.errors import ConfigError, NotFoundError
from nhiwatch.redact import redact
from nhiwatch.store import Store

VERDICTS = ("benign", "malicious")


@dataclass(frozen=True)
class Allowance:
    integration_id: str
    signature: str
    max_deviation: float
    expires: datetime | None = None  # behaviour first seen from then on alerts again


@dataclass(frozen=True)
class TriageOutcome:
    alert_id: str
    verdict: str
    previous_status: str
    effect: str


def _allowance_id(integration_id: str, sig: str) -> str:
    return "aw-" + hashlib.sha1(f"{integration_id}\x1f{sig}".encode()).hexdigest()[:12]


def triage(
    store: Store,
    alert_id: str,
    verdict: str,
    *,
    note: str = "",
    analyst: str,
    now: datetime,
    allowance_days: int | None = None,
) -> TriageOutcome:
    """Record ``verdict``; ``allowance_days`` defaults to the alert config's ``scoring.allowance_days``."""
    tables.ensure(store)
    note = redact(note)  # free text: a secret pasted into a note is not stored
    if verdict not in VERDICTS:
        raise ConfigError(f"verdict must be benign or malicious, got {verdict!r}")
    row = store.fetchone("SELECT status, finding_ids, last_seen FROM alerts WHERE alert_id = ?", [alert_id])
    if row is None:
        n = store.scalar("SELECT count(*) FROM alerts")
        raise NotFoundError(
            f"no alert {alert_id!r} in the store ({n} alert(s); list them with `nhiwatch alerts`)"
        )
    previous, fids, last_seen = row[0], list(row[1] or []), row[2]
    findings = tables.load_findings(store, fids)
    if allowance_days is None:
        from nhiwatch.alerts.config import load_config

        allowance_days = load_config(None).scoring.allowance_days
    expires = (last_seen or now) + timedelta(days=allowance_days)
    with store.transaction():
        if verdict == "benign":
            effect = _allow(store, alert_id, findings, analyst, note, now, expires)
        else:
            n = store.execute("DELETE FROM allowances WHERE alert_id = ? RETURNING 1", [alert_id]).fetchall()
            effect = "confirmed malicious; no allowance" + (f"; revoked {len(n)} allowance(s)" if n else "")
        store.execute(
            "UPDATE alerts SET status = ?, updated_at = ? WHERE alert_id = ?", [verdict, now, alert_id]
        )
        store.insert_rows(
            "triage_log",
            ["triaged_at", "analyst", "alert_id", "verdict", "previous_status", "note", "effect"],
            [(now, analyst, alert_id, verdict, previous, note, effect)],
        )
    return TriageOutcome(alert_id, verdict, previous, effect)


def undo(store: Store, alert_id: str, *, analyst: str, now: datetime) -> TriageOutcome:
    """Take back the alert's last verdict: its status returns to what it was, and the allowances a benign
    verdict created are removed (allowances a malicious verdict revoked are not restored: say benign again)."""
    tables.ensure(store)
    last = store.fetchall(
        """SELECT verdict, previous_status FROM triage_log
           WHERE alert_id = ? AND verdict IN ('benign', 'malicious', 'undo') ORDER BY triaged_at DESC LIMIT 1""",
        [alert_id],
    )
    if not last or last[0][0] == "undo":
        raise ConfigError(f"alert {alert_id!r} has no verdict to undo")
    verdict, restored = last[0]
    current = store.scalar("SELECT status FROM alerts WHERE alert_id = ?", [alert_id])
    with store.transaction():
        removed = 0
        if verdict == "benign":
            removed = len(
                store.execute("DELETE FROM allowances WHERE alert_id = ? RETURNING 1", [alert_id]).fetchall()
            )
        store.execute(
            "UPDATE alerts SET status = ?, updated_at = ? WHERE alert_id = ?", [restored, now, alert_id]
        )
        effect = f"undid {verdict}: back to {restored}" + (
            f"; removed {removed} allowance(s), the behaviour alerts again" if removed else ""
        )
        store.insert_rows(
            "triage_log",
            ["triaged_at", "analyst", "alert_id", "verdict", "previous_status", "note", "effect"],
            [(now, analyst, alert_id, "undo", current, "", effect)],
        )
    return TriageOutcome(alert_id, "undo", str(current), effect)


def _allow(
    store: Store,
    alert_id: str,
    findings: list[Finding],
    analyst: str,
    note: str,
    now: datetime,
    expires: datetime,
) -> str:
    best: dict[tuple[str, str, str], float] = {}
    for f in findings:
        k = (f.integration_id, f.detector, signature(f))
        best[k] = max(best.get(k, 0.0), float(f.deviation))
    for (integ, detector, sig), dev in best.items():
        aid = _allowance_id(integ, sig)
        old = store.scalar("SELECT max_deviation FROM allowances WHERE allowance_id = ?", [aid])
        store.execute("DELETE FROM allowances WHERE allowance_id = ?", [aid])
        store.insert_rows(
            "allowances",
            [
                "allowance_id",
                "integration_id",
                "detector",
                "signature",
                "max_deviation",
                "alert_id",
                "created_at",
                "created_by",
                "note",
                "expires",
            ],
            [(aid, integ, detector, sig, max(dev, old or 0.0), alert_id, now, analyst, note, expires)],
        )
    detectors = ", ".join(sorted({d for _, d, _ in best})) or "none"
    return (
        f"learned {len(best)} allowance(s): the same behaviour of this integration ({detectors}) will not "
        f"alert again until {expires:%Y-%m-%d}"
    )


def load_allowances(store: Store) -> list[Allowance]:
    tables.ensure(store)
    return [
        Allowance(*r)
        for r in store.fetchall("SELECT integration_id, signature, max_deviation, expires FROM allowances")
    ]


def allowed(findings: Iterable[Finding], allowances: Iterable[Allowance], tolerance: float) -> set[int]:
    """Indexes of findings an allowance covers. Value signatures match exactly; magnitudes up to tolerance."""
    table = {(a.integration_id, a.signature): (a.max_deviation, a.expires) for a in allowances}
    out = set()
    for i, f in enumerate(findings):
        sig = signature(f)
        found = table.get((f.integration_id, sig))
        if found is None:
            continue
        limit, expires = found
        if expires is not None and f.first_seen >= expires:
            continue
        if "|values=" in sig or f.deviation <= min(1.0, limit * tolerance) + 1e-9:
            out.add(i)
    return out
