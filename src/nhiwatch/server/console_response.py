"""Console pages for one-click response: the confirmation, the result, and the audit log (admin only).

The alert page's button posts here without a nonce and gets the confirmation page (the exact description,
the permission it uses, Confirm / Cancel); Confirm posts the nonce and gets the result page. Both forms
carry the session's CSRF token. See :mod:`nhiwatch.server.respond` for the checks and the audit rows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from nhiwatch.server import audit, queries, respond
from nhiwatch.server.auth import Require, check_csrf
from nhiwatch.server.console import render
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal

router = APIRouter(include_in_schema=False)
StateDep = Annotated[ServerState, Depends(get_state)]
AdminP = Annotated[Principal, Depends(Require("admin", console=True))]
Csrf = Depends(check_csrf)


@router.post("/alerts/{alert_id}/actions/{action}", response_class=HTMLResponse)
def action_form(
    alert_id: str,
    action: str,
    request: Request,
    state: StateDep,
    who: AdminP,
    _: None = Csrf,
    nonce: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    with state.reader() as store:
        alert = queries.get_alert(store, alert_id)
    if not nonce:
        out = respond.prepare(state, who, alert_id, action)
        if out["state"] == "confirm":
            return render(request, "action_confirm.html", a=alert, act=out)
    else:
        out = respond.execute(state, who, alert_id, action, nonce)
    return render(
        request, "action_result.html", a=alert, result=out, status=502 if out["state"] == "failed" else 200
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, state: StateDep, _: AdminP) -> HTMLResponse:
    with state.reader() as store:
        rows = audit.recent(store, 500)
    return render(request, "audit.html", rows=rows)
