"""``POST /api/v1/ingest``: push logs in any supported format (JSON, NDJSON, text, CSV; gzip or not).

The body is streamed to a spool file (decompressed, its shape bounded: :mod:`nhiwatch.server.body`) and read
by the same library ingest as the CLI (:func:`nhiwatch.pipeline.ingest_all`: format detection or
``?source=``, quarantine, dedup, attribution). Good records are always kept; if any record was quarantined
the answer is 400 with the reason per record (line numbers are the body's lines). The spool file's path
never leaves the server: answers say "the pushed body", and its quarantine rows are labelled with the push
(time, token, sequence). Pushes per token are limited per minute. The stored events' time span is handed to
the scoring worker.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from nhiwatch.errors import NhiwatchError
from nhiwatch.pipeline import ingest_all
from nhiwatch.redact import redact
from nhiwatch.server.auth import Require
from nhiwatch.server.body import spool_body
from nhiwatch.server.shape import ShapeCheck
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal

router = APIRouter(prefix="/api/v1", tags=["ingest"])
MAX_REASONS = 100
_seq = itertools.count(1)
_spool: Path | None = None
_spool_lock = threading.Lock()
BODY = "the pushed body"


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
    cfg = state.settings
    if state.push_limiter is not None:
        state.push_limiter.hit(who.name)
    seq = next(_seq)
    path = spool_dir() / f"push-{seq}.log"
    check = ShapeCheck(cfg.max_nesting_depth, cfg.max_record_bytes, cfg.max_push_lines, what=BODY)
    spooled = await spool_body(request, path, check, cfg.max_body_bytes)
    label = f"push {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} by {who.name} #{seq}"
    try:
        if spooled.blank:
            raise HTTPException(400, "empty body: send log records (JSON, NDJSON, CSV or text; gzip allowed)")
        body, status = await run_in_threadpool(_ingest, state, spooled.path, source, label)
    finally:
        spooled.path.unlink(missing_ok=True)
    return JSONResponse(body, status_code=status)


def spool_dir() -> Path:
    """This process's spool: a fresh private directory (``mkdtemp``: mode 0700, a name nobody can predict
    or plant beforehand), so no other local user can read a push or point its file elsewhere."""
    global _spool
    with _spool_lock:
        if _spool is None or not _spool.is_dir():
            _spool = Path(tempfile.mkdtemp(prefix="nhiwatch-push-"))
        return _spool


def hide_path(text: str, path: Path) -> str:
    """``text`` with the spool file's path (and its directory) said as the pushed body."""
    return text.replace(str(path), BODY).replace(str(path.parent), "the server's spool")


def _ingest(state: ServerState, path: Path, source: str | None, label: str) -> tuple[dict[str, Any], int]:
    with state.db() as store:
        try:
            outcome = ingest_all(store, [path], source=source, keep_copy=True)
        except NhiwatchError as exc:
            raise type(exc)(hide_path(str(exc), path)) from None
        bad = store.fetchall(
            "SELECT ingest_line, reason, left(coalesce(raw_data, ''), 300) FROM quarantine "
            "WHERE ingest_file = ? ORDER BY ingest_line NULLS FIRST LIMIT ?",
            [str(path), MAX_REASONS],
        )
        span = (outcome.report.first_time, outcome.report.last_time)
        # the spool path is the server's business: the push's rows name the push instead
        store.execute(
            "UPDATE quarantine SET ingest_file = ?, reason = replace(reason, ?, ?) WHERE ingest_file = ?",
            [label, str(path), BODY, str(path)],
        )
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
            {"line": line, "reason": redact(hide_path(reason, path)), "record": redact(rec)}
            for line, reason, rec in bad
        ] or [{"line": None, "reason": "no records recognised in the body", "record": ""}]
        body["detail"] = (
            f"{r.quarantined} record(s) quarantined, {r.stored} stored; reasons per record in 'errors'"
        )
        return body, 400
    return body, 200
