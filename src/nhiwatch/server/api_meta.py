"""Health (the one unauthenticated route), the scorer's status, Prometheus metrics, and the OpenAPI document.

``/healthz`` is 200 only if the store takes a write (a one-row probe committed under the writer lock;
a long ingest holding the lock counts as writing) and 503 otherwise, so a balancer or an orchestrator
sees a store that cannot write. Probes are cached for a few seconds: an unauthenticated caller cannot
turn health checks into a write load.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from nhiwatch.alerts import tables
from nhiwatch.redact import redact, redact_value
from nhiwatch.server.auth import Require
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal

router = APIRouter(tags=["meta"])
StateDep = Annotated[ServerState, Depends(get_state)]

HELP = {
    "pushes_accepted": ("counter", "Pushes accepted into the spool (answered 202)."),
    "pushes_refused_busy": ("counter", "Pushes refused with 503 while the spool held too much."),
    "ingest_requests": ("counter", "Pushes ingested from the spool."),
    "intake_errors": ("counter", "Ingests of spooled pushes that failed (retried, then set aside)."),
    "worker_learned": ("counter", "Baselines learned by the worker (once per day scored)."),
    "events_stored": ("counter", "Events stored from pushes."),
    "events_duplicate": ("counter", "Pushed events skipped as duplicates."),
    "events_quarantined": ("counter", "Pushed records quarantined."),
    "auth_failures": ("counter", "Requests refused for an invalid, expired or revoked token or session."),
    "triage_verdicts": ("counter", "Verdicts recorded through the server."),
    "worker_batches": ("counter", "Micro-batches scored by the background worker."),
    "worker_errors": ("counter", "Micro-batches that failed."),
    "worker_detector_errors": ("counter", "Detector failures within scored micro-batches (the others ran)."),
    "health_store_failures": ("counter", "Health probes that found the store unable to write."),
    "worker_ingest_seconds": ("counter", "Seconds the worker spent ingesting pushes."),
    "worker_score_seconds": (
        "counter",
        "Seconds the worker spent scoring micro-batches (learning included).",
    ),
    "worker_learn_seconds": ("counter", "Seconds the worker spent learning baselines."),
    "worker_last_batch_seconds": ("gauge", "Duration of the last scoring micro-batch."),
    "worker_push_to_scored_seconds": ("gauge", "From the oldest push of the last batch to its scoring."),
}


PROBE_SECONDS = 5.0
_probe_lock = threading.Lock()


def _store_health(state: ServerState) -> tuple[bool, str]:
    cached = state.health_probe
    if cached is not None and time.monotonic() - cached[0] < PROBE_SECONDS:
        return cached[1], cached[2]
    with _probe_lock:
        writable, what = state.write_probe()
        state.health_probe = (time.monotonic(), writable, what)
    if not writable:
        state.metrics.inc("health_store_failures")
    return writable, what


@router.get("/healthz", responses={503: {"description": "the store cannot write"}})
def health(state: StateDep) -> JSONResponse:
    """Liveness and the store's ability to write: no token needed, no data disclosed."""
    running = state.worker is not None and state.worker.running
    writable, what = _store_health(state)
    body = {"status": "ok" if writable else "failing", "store": what}
    body["worker"] = "running" if running else "off"
    return JSONResponse(body, 200 if writable else 503)


@router.get("/api/v1/status")
def status(state: StateDep, _: Annotated[Principal, Depends(Require("viewer"))]) -> dict[str, Any]:
    """The scoring worker: running, pending work, and its last batch with any detector failures."""
    w = state.worker
    if w is None:
        return {"worker": "off"}
    last = w.last
    queued, queued_bytes = state.intake.backlog()
    out: dict[str, Any] = {
        "worker": "running" if w.running else "stopped",
        "pending": w.pending,
        "queued_pushes": queued,
        "queued_bytes": queued_bytes,
    }
    if last is not None:
        out["last_batch"] = {
            "since": last.since,
            "until": last.until,
            "alerts": last.alerts,
            "seconds": round(last.seconds, 3),
            "error": redact(last.error) if last.error else None,
            "detector_errors": [redact(e) for e in last.detector_errors],
        }
    out["recent_detector_errors"] = [redact(e) for e in w.recent_errors()]
    return out


@router.get("/api/v1/jobs")
def jobs(state: StateDep, _: Annotated[Principal, Depends(Require("viewer"))]) -> dict[str, Any]:
    """``nhiwatch run``'s background jobs (collectors, delivery, retention): runs, failures, last result."""
    scheduler = getattr(state, "scheduler", None)
    return {"jobs": [redact_value(j.as_dict()) for j in scheduler.jobs] if scheduler else []}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: StateDep, _: Annotated[Principal, Depends(Require("viewer"))]) -> str:
    """Prometheus text format (scrape with a viewer token)."""
    lines: list[str] = []
    snap = state.metrics.snapshot()
    for name, (kind, text) in HELP.items():
        full = f"nhiwatch_{name}" + ("_total" if kind == "counter" else "")
        lines += [f"# HELP {full} {text}", f"# TYPE {full} {kind}", f"{full} {snap.get(name, 0.0):g}"]
    with state.reader() as store:
        tables.ensure(store)
        events = store.event_count()
        quarantined = store.scalar("SELECT count(*) FROM quarantine") or 0
        by = store.fetchall("SELECT status, severity, count(*) FROM alerts GROUP BY ALL ORDER BY ALL")
    queued, queued_bytes = state.intake.backlog()
    lines += [
        "# HELP nhiwatch_push_queue Pushes accepted and not yet ingested.",
        "# TYPE nhiwatch_push_queue gauge",
        f"nhiwatch_push_queue {queued}",
        "# HELP nhiwatch_push_queue_bytes Spooled bytes of pushes not yet ingested.",
        "# TYPE nhiwatch_push_queue_bytes gauge",
        f"nhiwatch_push_queue_bytes {queued_bytes}",
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
    with state.reader() as store:
        lines += collector_and_sink_metrics(store)
    lines += job_metrics(getattr(state, "scheduler", None))
    return "\n".join(lines) + "\n"


def _label(value: object) -> str:
    """A Prometheus label value: backslash, quote and newline escaped (names come from config and data)."""
    text = redact(str(value))
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def collector_and_sink_metrics(store: Any) -> list[str]:
    """Per collector stream: lag, pages, records, last success, failing; per sink: deliveries by status."""
    lines: list[str] = []
    if store.table_exists("collector_state"):
        rows = store.fetchall(
            """SELECT source, instance, coalesce(lag_seconds, -1), pages, records,
                      coalesce(epoch(last_success), 0),
                      (last_error_at IS NOT NULL AND (last_success IS NULL OR last_error_at > last_success))
               FROM collector_state ORDER BY ALL"""
        )
        for name, kind, help_ in (
            (
                "collector_lag_seconds",
                "gauge",
                "Seconds between now and the newest event a collector read (-1: none yet).",
            ),
            ("collector_pages_total", "counter", "Pages a collector stream has read."),
            ("collector_records_total", "counter", "Records a collector stream has read."),
            (
                "collector_last_success_timestamp_seconds",
                "gauge",
                "When a collector stream last finished a run.",
            ),
            ("collector_failing", "gauge", "1 when a collector stream's last run ended in an error."),
        ):
            lines += [f"# HELP nhiwatch_{name} {help_}", f"# TYPE nhiwatch_{name} {kind}"]
            col = {"collector_lag_seconds": 2, "collector_pages_total": 3, "collector_records_total": 4,
                   "collector_last_success_timestamp_seconds": 5, "collector_failing": 6}[name]  # fmt: skip
            for r in rows:
                value = float(r[col] or 0)
                lines.append(
                    f'nhiwatch_{name}{{collector="{_label(r[0])}",stream="{_label(r[1])}"}} {value:g}'
                )
    if store.table_exists("deliveries"):
        lines += [
            "# HELP nhiwatch_deliveries Alert deliveries by sink and status.",
            "# TYPE nhiwatch_deliveries gauge",
        ]
        for sink, status, n in store.fetchall(
            "SELECT sink, status, count(*) FROM deliveries GROUP BY ALL ORDER BY ALL"
        ):
            lines.append(f'nhiwatch_deliveries{{sink="{_label(sink)}",status="{_label(status)}"}} {n}')
    return lines


def job_metrics(scheduler: Any) -> list[str]:
    """``nhiwatch run``'s jobs: runs, failures and last success."""
    if scheduler is None:
        return []
    lines = [
        "# HELP nhiwatch_job_runs_total Runs of a background job of nhiwatch run.",
        "# TYPE nhiwatch_job_runs_total counter",
        "# HELP nhiwatch_job_failures_total Failed runs of a background job.",
        "# TYPE nhiwatch_job_failures_total counter",
        "# HELP nhiwatch_job_last_success_timestamp_seconds When a job last succeeded (0: never).",
        "# TYPE nhiwatch_job_last_success_timestamp_seconds gauge",
    ]
    for job in scheduler.jobs:
        label = f'{{job="{_label(job.name)}"}}'
        lines += [
            f"nhiwatch_job_runs_total{label} {job.runs}",
            f"nhiwatch_job_failures_total{label} {job.failures}",
            f"nhiwatch_job_last_success_timestamp_seconds{label} {job.last_success or 0:g}",
        ]
    return lines


@router.get("/api/v1/openapi.json")
def openapi(request: Request, _: Annotated[Principal, Depends(Require("viewer"))]) -> dict[str, Any]:
    """This API's OpenAPI 3 document."""
    spec: dict[str, Any] = request.app.openapi()
    return spec
