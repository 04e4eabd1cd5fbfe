"""``/api/v1/alerts/{id}/actions``: one-click response (admin only), and ``/api/v1/audit``.

``POST /api/v1/alerts/{id}/actions/{action}`` without a nonce answers the exact description and a
confirmation nonce; the same call with ``{"nonce": ...}`` runs the action. A vendor's refusal is answered
502 with ``state: failed``, its HTTP status and a scrubbed message. See :mod:`nhiwatch.server.respond`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from nhiwatch.redact import redact_value
from nhiwatch.response.registry import ACTIONS
from nhiwatch.server import audit, queries, respond
from nhiwatch.server.auth import Require
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal

router = APIRouter(prefix="/api/v1", tags=["response"])
StateDep = Annotated[ServerState, Depends(get_state)]
Admin = Annotated[Principal, Depends(Require("admin"))]


class ActionIn(BaseModel):
    nonce: str | None = Field(None, max_length=200)


@router.get("/alerts/{alert_id}/actions")
def alert_actions(alert_id: str, state: StateDep, _: Admin) -> dict[str, Any]:
    """Whether response is on, and the actions this alert offers (with the object each would change)."""
    with state.reader() as store:
        queries.get_alert(store, alert_id)  # 404 for an unknown alert
        found = respond.offers(state, store, alert_id)
    return {
        "enabled": respond.responder(state) is not None,
        "actions": [redact_value(vars(o)) for o in found.values()],
        "known": list(ACTIONS),
        "manual": respond.manual_steps(),
    }


@router.post("/alerts/{alert_id}/actions/{action}", response_model=None)
def alert_action(
    alert_id: str, action: str, state: StateDep, who: Admin, body: ActionIn | None = None
) -> dict[str, Any] | JSONResponse:
    """Without a nonce: the description and a confirmation nonce. With it: run the action once."""
    if body is None or not body.nonce:
        return respond.prepare(state, who, alert_id, action)
    out = respond.execute(state, who, alert_id, action, body.nonce)
    if out["state"] == "failed":
        return JSONResponse(out, 502)
    return out


@router.get("/audit")
def audit_log(
    state: StateDep,
    _: Admin,
    alert: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """The audit log, newest first: response actions requested, confirmed, succeeded, failed, refused."""
    with state.reader() as store:
        return {"entries": audit.recent(store, limit, alert)}
