"""``POST /api/v1/ingest``: push logs in any supported format (JSON, NDJSON, text, CSV; gzip or not).

A push is *accepted*, not ingested, by the request: the body is streamed to the spool (decompressed, its
shape bounded: :mod:`nhiwatch.server.body`), made durable in the spool's journal together with the pushes
that arrive meanwhile (one flush of the disk per group: :mod:`nhiwatch.server.spool`), and answered ``202``
with an id — without waiting for the store, so a small push answers in milliseconds while the worker
ingests and scores. The worker ingests spooled pushes in order, many at a time, through the same library
ingest as the CLI (:mod:`nhiwatch.server.intake`); ``GET /api/v1/ingest/{id}`` tells a push's status:
``queued`` (with how many pushes are ahead), ``ingested`` (stored, duplicates, quarantined, and the reason per quarantined
record) or ``failed``. ``?wait=SECONDS`` holds the answer until the push is ingested and answers as the
status does (200, or 400 when records were quarantined); a server without a running worker ingests the
push before answering.

Refused before anything is accepted: a body past a bound (413), bad gzip, a body nested too deep or blank
(400), an unknown ``?source=`` (400), more pushes a minute than a token may send (429), and a spool that
holds too much not yet ingested (503 with Retry-After: the server is behind). The spool path never leaves
the server: answers say "the pushed body", and a push's quarantine rows are labelled with the push (time,
token, id).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from nhiwatch.server import intake
from nhiwatch.server.auth import Require
from nhiwatch.server.body import spool_body
from nhiwatch.server.shape import ShapeCheck
from nhiwatch.server.spool import Pending, Ticket
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import VERIFIED, Principal, digest
from nhiwatch.sources import registry

router = APIRouter(prefix="/api/v1", tags=["ingest"])
BODY = intake.BODY
PushId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="the id a push was answered with")]


class RequireOnLoop(Require):
    """:class:`Require` on the event loop for a token verified in the last seconds (a dictionary look-up,
    cheaper than the trip to a thread every push would otherwise make); any other credential is checked
    in the thread pool as before (it reads the store)."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        scheme, _, cred = request.headers.get("authorization", "").partition(" ")
        where = str(get_state(request).settings.db_path)
        if scheme.lower() == "bearer" and cred.strip() and VERIFIED.get(where, digest(cred.strip())):
            return super().__call__(request)
        return await run_in_threadpool(super().__call__, request)


@router.post(
    "/ingest",
    status_code=202,
    responses={
        200: {"description": "ingested (with ?wait=, or on a server without a worker)"},
        400: {"description": "a bad body, or (with ?wait=) records quarantined: reasons per record"},
        413: {},
        503: {"description": "the server is behind: retry after the given seconds"},
    },
)
async def push(
    request: Request,
    who: Annotated[Principal, Depends(RequireOnLoop("analyst"))],
    source: str | None = None,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the ingest")] = 0,
) -> JSONResponse:
    """Accept the body for ingest; answers 202 with the push's id (see ``GET /api/v1/ingest/{id}``)."""
    started = time.perf_counter()
    state = get_state(request)
    cfg = state.settings
    if state.push_limiter is not None:
        state.push_limiter.hit(who.name)
    if source is not None:
        registry.get(source)  # an unknown source is refused before anything is accepted
    waiting, size = state.intake.backlog()
    if size >= cfg.max_spool_bytes or waiting >= cfg.max_queued_pushes:
        state.metrics.inc("pushes_refused_busy")
        raise HTTPException(
            503,
            f"the server is behind ({waiting:,} pushes wait to be ingested); retry in a few seconds",
            headers={"Retry-After": "5"},
        )
    spool = state.intake.spool
    push_id = spool.new_id()
    check = ShapeCheck(cfg.max_nesting_depth, cfg.max_record_bytes, cfg.max_push_lines, what=BODY)
    spooled = await spool_body(request, spool.upload_path(push_id), check, cfg.max_body_bytes)
    received_at = time.perf_counter()
    if spooled.blank:
        spooled.path.unlink(missing_ok=True)
        raise HTTPException(400, "empty body: send log records (JSON, NDJSON, CSV or text; gzip allowed)")
    received = datetime.now(UTC).replace(tzinfo=None)
    label = f"push {received:%Y-%m-%dT%H:%M:%SZ} by {who.name} #{push_id}"
    ticket = Ticket(
        push_id, label, who.name, received.isoformat(), source, spooled.path.name, spooled.lines, 0
    )
    try:  # journaled with the pushes that arrive meanwhile: one flush of the disk for the whole group
        pending = spool.submit(ticket, spooled.path, spooled.data)
        # queued by the journal's writer the moment it is durable, even if this request is gone by then
        pending.future.add_done_callback(partial(_queue_durable, state))
        ticket = await asyncio.wrap_future(pending.future)
    except OSError:
        spooled.path.unlink(missing_ok=True)
        raise HTTPException(
            503, "the server could not keep the push (its disk); retry later", headers={"Retry-After": "30"}
        ) from None
    durable_at = time.perf_counter()
    timing = _server_timing(request, started, received_at, pending, durable_at)
    inline = state.worker is None or not state.worker.running
    if inline or wait > 0:
        done = await run_in_threadpool(_settle, state, push_id, inline, wait)
        if done is not None:
            return JSONResponse(done, intake.http_status(done))
    where = f"/api/v1/ingest/{push_id}"
    body = {"id": push_id, "status": "queued", "lines": spooled.lines, "status_url": where}
    return JSONResponse(body, 202, headers={"Location": where, "Server-Timing": timing})


def _queue_durable(state: ServerState, accepted: Future[Ticket]) -> None:
    if accepted.cancelled() or accepted.exception() is not None:
        return  # never journaled, or refused by the disk: the request answers 503 (or is gone)
    state.intake.queue(accepted.result())
    state.metrics.inc("pushes_accepted")


def _server_timing(request: Request, started: float, received: float, pending: Pending, done: float) -> str:
    """Where an accepted push's time went (``Server-Timing``, milliseconds): signing in, receiving and
    checking the body, making it durable (waiting for the journal's writer, its group's write and flush,
    and the handler's resumption after it), and the whole handler. Nothing here depends on the data."""
    auth = float(getattr(request.state, "auth_seconds", 0.0))
    parts = {
        "auth": auth,
        "body": received - started,
        "durable": done - received,
        "queue": pending.began - pending.queued,
        "flush": pending.flushed - pending.began,
        "resume": done - pending.flushed,
        "total": done - started,
    }
    return ", ".join(f"{k};dur={max(v, 0.0) * 1000:.1f}" for k, v in parts.items())


def _settle(state: ServerState, push_id: str, inline: bool, wait: float) -> dict[str, Any] | None:
    """The push's outcome once ingested: drained here when no worker runs, else waited for."""
    if inline:
        misses = 0  # a push the ingest keeps failing on is set aside after its last attempt
        while state.intake.position(push_id) is not None and misses < intake.ATTEMPTS:
            if not state.intake.drain():
                misses += 1
    elif not state.intake.wait(push_id, wait):
        return None
    with state.reader() as store:
        return intake.outcome(store, push_id)


@router.get("/ingest/{push_id}", responses={404: {"description": "no such push"}})
def push_status(
    push_id: PushId, request: Request, _: Annotated[Principal, Depends(Require("analyst"))]
) -> dict[str, Any]:
    """A push's status: queued (and how many pushes are ahead), ingested (with counts and reasons), failed."""
    state = get_state(request)
    ahead = state.intake.position(push_id)
    if ahead is not None:
        return {"id": push_id, "status": "queued", "ahead": ahead}
    with state.reader() as store:
        found = intake.outcome(store, push_id)
    if found is None:
        raise HTTPException(404, f"no push {push_id} (statuses are kept {intake.KEEP_LOG_DAYS} days)")
    return found
