"""``POST /api/v1/ingest``: push logs in any supported format (JSON, NDJSON, text, CSV; gzip or not).

The body is written to a spool file and read by the same library ingest as the CLI
(:func:`nhiwatch.pipeline.ingest_all`: format detection or ``?source=``, quarantine, dedup, attribution).
Good records are always kept; if any record was quarantined the answer is 400 with the reason per record
(line numbers are the body's lines). The stored events' time span is handed to the scoring worker.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from nhiwatch.pipeline import ingest_all
from nhiwatch.redact import redact
from nhiwatch.server.auth import Require
from nhiwatch.server.body import gunzip_limited, read_limited
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal

router = APIRouter(prefix="/api/v1", tags=["ingest"])
MAX_REASONS = 100
_seq = itertools.count(1)
SPOOL = Path(tempfile.gettempdir()) / f"nhiwatch-push-{os.getpid()}"


@router.post(
    "/ingest",
    responses={400: {"description": "some records were quarantined (reasons per record)"}, 413: {}},
)
async def push(
    request: Request,
    who: Annotated[Principal, Depends(Require("analyst"))],
    source: str | None = None,
) -> JSONResponse:
    """Ingest the body; answers with counts, and with reasons for quarantined records."""
    state = get_state(request)
    limit = state.settings.max_body_bytes
    raw = await read_limited(request, limit)
    if not raw.strip():
        raise HTTPException(400, "empty body: send log records (JSON, NDJSON, CSV or text; gzip allowed)")
    data = raw
    if raw[:2] == b"\x1f\x8b":
        data, complete = gunzip_limited(raw, limit)
        if not complete:
            data = raw  # a cut-off gzip: the engine salvages its complete records and says why
    SPOOL.mkdir(mode=0o700, exist_ok=True)
    name = f"push-{time.strftime('%Y%m%dT%H%M%S')}-{who.name}-{next(_seq)}.log"
    path = SPOOL / name
    path.write_bytes(data)
    try:
        body, status = await run_in_threadpool(_ingest, state, path, source)
    finally:
        path.unlink(missing_ok=True)
    return JSONResponse(body, status_code=status)


def _ingest(state: ServerState, path: Path, source: str | None) -> tuple[dict[str, Any], int]:
    with state.db() as store:
        outcome = ingest_all(store, [path], source=source)
        bad = store.fetchall(
            "SELECT ingest_line, reason, left(coalesce(raw_data, ''), 300) FROM quarantine "
            f"WHERE ingest_file = ? ORDER BY ingest_line NULLS FIRST LIMIT {MAX_REASONS}",
            [str(path)],
        )
        span = store.fetchone("SELECT min(time), max(time) FROM events WHERE ingest_file = ?", [str(path)])
    r = outcome.report
    m = state.metrics
    m.inc("ingest_requests")
    m.inc("events_stored", r.stored)
    m.inc("events_duplicate", r.duplicates)
    m.inc("events_quarantined", r.quarantined)
    if state.worker is not None and span is not None:
        state.worker.notify(span[0], span[1])
    body: dict[str, Any] = {
        "read": r.read,
        "stored": r.stored,
        "duplicates": r.duplicates,
        "quarantined": r.quarantined,
        "by_source": dict(r.by_source),
        "resolved": outcome.resolved,
    }
    if r.quarantined or (r.stored == 0 and r.duplicates == 0):
        body["errors"] = [
            {"line": line, "reason": redact(reason), "record": redact(rec)} for line, reason, rec in bad
        ] or [{"line": None, "reason": "no records recognised in the body", "record": ""}]
        body["detail"] = (
            f"{r.quarantined} record(s) quarantined, {r.stored} stored; reasons per record in 'errors'"
        )
        return body, 400
    return body, 200
