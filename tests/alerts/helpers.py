"""Building blocks for alert tests: an inventory in the store, events, tickets and hand-made findings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from nhiwatch.alerts.config import AlertConfig, default_config
from nhiwatch.detection import DetectionResult, run_detection
from nhiwatch.detectors.base import DetectContext, DetectorMeta, Finding
from nhiwatch.inventory.model import Integration, Inventory
from nhiwatch.inventory.resolve import apply_inventory
from nhiwatch.store import Store
from nhiwatch.tickets import Ticket, store_tickets

T0 = datetime(2025, 9, 1)

METAS = {
    "volume_spike": DetectorMeta(
        "volume_spike",
        "Volume spike",
        "behaviour",
        "More records than ever.",
        ("NHI5:2025",),
        ("DE.CM-03", "DE.AE-02", "DE.CM-08"),
        ("T1119", "T1213"),
    ),
    "new_destination": DetectorMeta(
        "new_destination",
        "New destination",
        "behaviour",
        "Data sent somewhere new.",
        ("NHI2",),
        ("DE.CM-01", "DE.AE-07"),
        ("T1567",),
    ),
    "ownerless": DetectorMeta(
        "ownerless",
        "No owner",
        "posture",
        "Nobody owns it.",
        ("NHI1:2025",),
        ("ID.AM-08",),
        (),
    ),
}


def integration(id: str, **kw: Any) -> Integration:
    base: dict[str, Any] = {
        "id": id,
        "name": id.upper(),
        "kind": "oauth_app",
        "owner": "team-data",
        "purpose": "nightly CRM sync",
        "risk_tier": "medium",
        "data_sensitivity": "internal",
    }
    base.update(kw)
    return Integration(**base)


def setup_store(store: Store, integrations: Sequence[Integration], days: int = 3) -> None:
    """Inventory plus one event per integration per hour for ``days`` days from T0."""
    apply_inventory(store, Inventory(integrations=list(integrations)))
    rows = []
    for integ in integrations:
        for h in range(days * 24):
            t = T0 + timedelta(hours=h)
            rows.append((t, f"{integ.id}-{h}", "test", integ.id, "read", "Success", "oauth_app"))
    store.insert_rows(
        "events",
        ["time", "metadata_uid", "source", "integration_id", "action_class", "status", "actor_user_type"],
        rows,
    )


def add_ticket(store: Store, tid: str, integration_id: str | None, start: datetime, end: datetime) -> None:
    store_tickets(store, [Ticket(tid, start, end, integration_id, "planned re-sync", "change")], "test")


def finding(
    integ: str = "crm-sync",
    detector: str = "volume_spike",
    at: datetime = T0 + timedelta(days=1, hours=2),
    minutes: int = 20,
    deviation: float = 0.7,
    **details: Any,
) -> Finding:
    kind = "posture" if detector == "ownerless" else "behaviour"
    return Finding(
        detector,
        integ,
        at,
        at + timedelta(minutes=minutes),
        deviation,
        observed="41,200 records in 1 h",
        expected="p99 1,150 records/h, max 1,900",
        summary=f"{integ} read far more than usual.",
        evidence=(f"{integ}-{at:%H%M}-a", f"{integ}-{at:%H%M}-b"),
        details=details,
        kind=kind,  # type: ignore[arg-type]
    )


def runner_of(findings: Sequence[Finding]):  # type: ignore[no-untyped-def]
    """A stand-in for the detector registry: returns the given findings that fall in the step's window."""

    def run(ctx: DetectContext) -> list[Finding]:
        return [f for f in findings if ctx.since <= f.first_seen < ctx.until]

    return run


def detect(
    store: Store,
    findings: Sequence[Finding],
    cfg: AlertConfig | None = None,
    now: datetime | None = None,
    since: datetime = T0 + timedelta(days=1),
    until: datetime = T0 + timedelta(days=3),
) -> DetectionResult:
    return run_detection(
        store,
        since,
        until,
        cfg or default_config(),
        runner=runner_of(findings),
        learner=None,
        metas=METAS,
        now=now or T0 + timedelta(days=3),
    )
