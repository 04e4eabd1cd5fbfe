"""Health (the one unauthenticated route), Prometheus metrics, and the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from nhiwatch.alerts import tables
from nhiwatch.server.auth import Require
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal

router = APIRouter(tags=["meta"])
StateDep = Annotated[ServerState, Depends(get_state)]

HELP = {
    "ingest_requests": ("counter", "Push requests ingested."),
    "events_stored": ("counter", "Events stored from pushes."),
    "events_duplicate": ("counter", "Pushed events skipped as duplicates."),
    "events_quarantined": ("counter", "Pushed records quarantined."),
    "auth_failures": ("counter", "Requests refused for an invalid, expired or revoked token or session."),
    "triage_verdicts": ("counter", "Verdicts recorded through the server."),
    "worker_batches": ("counter", "Micro-batches scored by the background worker."),
    "worker_errors": ("counter", "Micro-batches that failed."),
    "worker_last_batch_seconds": ("gauge", "Duration of the last scoring micro-batch."),
    "worker_push_to_scored_seconds": ("gauge", "From the oldest push of the last batch to its scoring."),
}


@router.get("/healthz")
def health(state: StateDep) -> dict[str, Any]:
    """Liveness: no token needed, no data disclosed."""
    running = state.worker is not None and state.worker.running
    return {"status": "ok", "worker": "running" if running else "off"}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: StateDep, _: Annotated[Principal, Depends(Require("viewer"))]) -> str:
    """Prometheus text format (scrape with a viewer token)."""
    lines: list[str] = []
    snap = state.metrics.snapshot()
    for name, (kind, text) in HELP.items():
        full = f"nhiwatch_{name}" + ("_total" if kind == "counter" else "")
        lines += [f"# HELP {full} {text}", f"# TYPE {full} {kind}", f"{full} {snap.get(name, 0.0):g}"]
    with state.db() as store:
        tables.ensure(store)
        events = store.event_count()
        quarantined = store.scalar("SELECT count(*) FROM quarantine") or 0
        by = store.fetchall("SELECT status, severity, count(*) FROM alerts GROUP BY ALL ORDER BY ALL")
    lines += [
        "# HELP nhiwatch_store_events Events in the store.",
        "# TYPE nhiwatch_store_events gauge",
        f"nhiwatch_store_events {events}",
        "# HELP nhiwatch_store_quarantined Records in quarantine.",
        "# TYPE nhiwatch_store_quarantined gauge",
        f"nhiwatch_store_quarantined {quarantined}",
        "# HELP nhiwatch_alerts Alerts by status and severity.",
        "# TYPE nhiwatch_alerts gauge",
    ]
    lines += [f'nhiwatch_alerts{{status="{s}",severity="{v}"}} {n}' for s, v, n in by]
    return "\n".join(lines) + "\n"


@router.get("/api/v1/openapi.json")
def openapi(request: Request, _: Annotated[Principal, Depends(Require("viewer"))]) -> dict[str, Any]:
    """This API's OpenAPI 3 document."""
    spec: dict[str, Any] = request.app.openapi()
    return spec
