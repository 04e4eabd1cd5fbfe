"""Read-only views of the store that the CLI prints too: the quarantine (admin), the inventory's gaps,
and an evaluation against ground truth (admin).

While the server holds the store, ``nhiwatch quarantine``, ``nhiwatch inventory gaps`` and ``nhiwatch
evaluate`` read these routes (see :mod:`nhiwatch.cli.remote`); both sides build their output with the
same library functions, so what they print is the same. Quarantined records may hold anything a sender
pushed: they are redacted, cut, and shown to admins only. An evaluation reads the whole window, so it is
an admin's and runs on a reader cursor (it never holds the writer).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from nhiwatch.errors import NhiwatchError
from nhiwatch.redact import redact
from nhiwatch.server import queries
from nhiwatch.server.auth import Require
from nhiwatch.server.body import read_limited
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal
from nhiwatch.server.values import UtcTime

router = APIRouter(prefix="/api/v1", tags=["store"])
StateDep = Annotated[ServerState, Depends(get_state)]


@router.get("/quarantine")
def quarantine(
    state: StateDep,
    _: Annotated[Principal, Depends(Require("admin"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Quarantined records, most recent first (raw text redacted, first 1,000 characters), and a count
    per reason."""
    with state.reader() as store:
        return queries.quarantine(store, limit)


@router.get("/inventory/gaps")
def inventory_gaps(state: StateDep, _: Annotated[Principal, Depends(Require("viewer"))]) -> dict[str, Any]:
    """Discovered integrations (in no inventory) and declared ones with no owner or purpose."""
    with state.reader() as store:
        return {"gaps": queries.inventory_gaps(store)}


@router.get("/inventory/suggest")
def inventory_suggest(
    state: StateDep,
    _: Annotated[Principal, Depends(Require("viewer"))],
    id: Annotated[list[str] | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Draft inventory YAML for the discovered integrations (or the ``id`` ones), for review."""
    from nhiwatch.inventory.suggest import suggest, to_yaml

    with state.reader() as store:
        return {"yaml": to_yaml(suggest(store, only=id or None))}


@router.post("/evaluate")
async def evaluate(
    request: Request,
    _: Annotated[Principal, Depends(Require("admin"))],
    since: Annotated[UtcTime | None, Query()] = None,
    until: Annotated[UtcTime | None, Query()] = None,
    generic: bool = True,
    min_severity: Annotated[str, Query(max_length=20)] = "low",
) -> dict[str, Any]:
    """Score the stored alerts against ground truth sent as the body (the simulator's ``truth.jsonl``):
    the Markdown report and the list of missed episodes and false alerts."""
    state = get_state(request)
    body = await read_limited(request, state.settings.max_body_bytes)
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as fh:
        fh.write(body)
        path = Path(fh.name)
    try:
        return await run_in_threadpool(_evaluate, state, path, since, until, generic, min_severity)
    finally:
        path.unlink(missing_ok=True)


def _evaluate(
    state: ServerState, path: Path, since: Any, until: Any, generic: bool, min_severity: str
) -> dict[str, Any]:
    from nhiwatch.evaluate.report import failures, markdown
    from nhiwatch.evaluate.run import evaluate as run_evaluation

    try:
        with state.reader() as store:
            ev = run_evaluation(
                store, path, since=since, until=until, generic=generic, min_severity=min_severity
            )
    except NhiwatchError as exc:  # the message names the file: say which one without a server path
        raise type(exc)(str(exc).replace(str(path), "the truth body")) from None
    return {
        "report": redact(markdown(ev)),
        "failures": redact(failures(ev.results["nhiwatch"])),
        "evaluation": ev.as_dict(),
    }
