"""The web console: server-rendered Jinja2 pages (autoescaped) with htmx for triage, no build step.

Sign-in exchanges an API token for a session cookie (HttpOnly, SameSite=Strict, Secure over https);
every page needs a session, every form that changes state carries the session's CSRF token. Charts are
Vega-Lite specs placed in ``<script type="application/json">`` blocks (``tojson`` escapes ``<`` and
``&``) and drawn by the vendored vega-embed from ``static/console.js``: no inline script, no CDN.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from nhiwatch.alerts import tables
from nhiwatch.alerts.config import load_config
from nhiwatch.alerts.response import guidance
from nhiwatch.alerts.triage import triage, undo
from nhiwatch.outputs import report_html
from nhiwatch.outputs.sinks import spool
from nhiwatch.server import charts, queries
from nhiwatch.server.alert_view import alert_view
from nhiwatch.server.api_alerts import suppress_alert
from nhiwatch.server.auth import SESSION_COOKIE, Require, check_csrf, client_ip
from nhiwatch.server.state import ServerState, get_state
from nhiwatch.server.tokens import Principal, now_utc, verify

router = APIRouter(include_in_schema=False)
TEMPLATES = Path(__file__).parent / "templates"
env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"], default=True))
env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int | float) else n
env.filters["when"] = lambda t: t.strftime("%Y-%m-%d %H:%M") if isinstance(t, datetime) else (t or "–")
StateDep = Annotated[ServerState, Depends(get_state)]
Viewer = Annotated[Principal, Depends(Require("viewer", console=True))]
Analyst = Annotated[Principal, Depends(Require("analyst", console=True))]
AdminP = Annotated[Principal, Depends(Require("admin", console=True))]
Csrf = Depends(check_csrf)


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    ctx.setdefault("principal", getattr(request.state, "principal", None))
    ctx["csrf"] = session.csrf if session is not None else ""
    return HTMLResponse(env.get_template(name).render(request=request, **ctx), status_code=status)


def login_page(request: Request, message: str, status: int = 200) -> HTMLResponse:
    return render(request, "login.html", status=status, message=message, principal=None)


def error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    resp = render(request, "error.html", status=status, status_code=status, message=message)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return login_page(request, "Sign in with an API token (`nhiwatch token create`).")


@router.post("/login")
def login(request: Request, state: StateDep, token: Annotated[str, Form(max_length=200)] = "") -> Response:
    with state.reader() as store:
        who = verify(store, token.strip())
    if who is None:
        state.metrics.inc("auth_failures")
        state.limiter.fail(client_ip(request))  # 429 past the address's limit
        return login_page(request, "That token is not valid (unknown, expired or revoked).", status=401)
    sid, _ = state.sessions.open(token.strip())
    resp = RedirectResponse("/alerts", status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        sid,
        max_age=int(state.sessions.ttl),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return resp


@router.post("/logout")
def logout(request: Request, state: StateDep, _: Viewer, __: None = Csrf) -> Response:
    state.sessions.close(request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/")
def home(_: Viewer) -> Response:
    return RedirectResponse("/alerts", status_code=303)


@router.get("/integrations", response_class=HTMLResponse)
def integrations(request: Request, state: StateDep, _: Viewer) -> HTMLResponse:
    with state.reader() as store:
        items = queries.list_integrations(store)
    return render(request, "integrations.html", items=items)


@router.get("/integrations/{integration_id}", response_class=HTMLResponse)
def integration(integration_id: str, request: Request, state: StateDep, _: Viewer) -> HTMLResponse:
    with state.reader() as store:
        item = queries.get_integration(store, integration_id)
        specs = charts.all_charts(store, integration_id)
        alerts = queries.list_alerts(store, queries.AlertFilter(integration=integration_id, limit=50))[1]
    return render(request, "integration.html", item=item, specs=specs, alerts=alerts)


@router.get("/alerts", response_class=HTMLResponse)
def alert_queue(
    request: Request,
    state: StateDep,
    _: Viewer,
    status: str = "open",
    severity: str | None = None,
    integration: str | None = None,
    detector: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    """Behaviour alerts: what is happening now. Posture findings have their own list (``/posture``)."""
    return _queue(request, state, "behaviour", status, severity, integration, detector, done)


@router.get("/posture", response_class=HTMLResponse)
def posture_queue(
    request: Request,
    state: StateDep,
    _: Viewer,
    status: str = "open",
    integration: str | None = None,
    detector: str | None = None,
) -> HTMLResponse:
    """Posture findings: to-dos for inventory owners (an owner, a purpose, fewer scopes), not incidents."""
    return _queue(request, state, "posture", status, None, integration, detector, None)


def _queue(
    request: Request,
    state: ServerState,
    kind: str,
    status: str,
    severity: str | None,
    integration: str | None,
    detector: str | None,
    done: str | None,
) -> HTMLResponse:
    f = queries.AlertFilter(
        status=status or None,
        severity=severity or None,
        integration=integration or None,
        detector=detector or None,
        kind=kind,
    )
    with state.reader() as store:
        total, items = queries.list_alerts(store, f)
        detectors = [
            r[0]
            for r in store.fetchall(
                "SELECT DISTINCT unnest(detectors) FROM alerts WHERE kind = ? ORDER BY 1", [kind]
            )
        ]
        todo = {}
        if kind == "posture":
            for a in tables.load_alerts(
                store, "alert_id IN (SELECT unnest(?::VARCHAR[]))", [[i["alert_id"] for i in items]]
            ):
                todo[a.alert_id] = guidance(None, a).investigate
        last = queries.last_verdict(store, done) if done else None
    return render(
        request,
        "alerts.html" if kind == "behaviour" else "posture.html",
        items=items,
        total=total,
        f=f,
        detectors=detectors,
        severities=queries.SEVERITIES,
        todo=todo,
        last=last,
    )


@router.get("/report", response_class=HTMLResponse)
def report_page(state: StateDep, _: Viewer) -> HTMLResponse:
    """The HTML report (as ``nhiwatch report --html`` writes it), loading its scripts from ``/static``."""
    with state.reader() as store:
        return HTMLResponse(report_html.render(store, inline=False))


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(alert_id: str, request: Request, state: StateDep, who: Viewer) -> HTMLResponse:
    from nhiwatch.server import respond  # late: it imports this module's render

    with state.reader() as store:
        alert = queries.get_alert(store, alert_id)
        events = queries.evidence_events(store, list(alert["evidence"]))
        alert["deliveries"] = spool.for_alert(store, alert_id)
        view = alert_view(store, alert_id)
        admin = who.can("admin")  # one-click actions are offered to admins only, when response is on
        offers = respond.offers(state, store, alert_id) if admin else {}
    manual = respond.manual_steps() if admin and respond.responder(state) else {}
    return render(request, "alert.html", a=alert, events=events, offers=offers, manual=manual, **view)


@router.post("/alerts/{alert_id}/triage")
def triage_form(
    alert_id: str,
    request: Request,
    state: StateDep,
    who: Analyst,
    _: None = Csrf,
    verdict: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Benign teaches an allowance: it needs a note and a confirmation that says what it will allow and
    until when. Malicious teaches nothing and is one step (the queue's htmx button)."""
    if verdict not in ("benign", "malicious"):
        raise HTTPException(400, "choose benign or malicious")
    if verdict == "benign" and confirm != "yes":
        with state.reader() as store:
            alert = queries.get_alert(store, alert_id)
        days = load_config(None).scoring.allowance_days
        return render(request, "confirm.html", a=alert, note=note, days=days, missing_note=not note.strip())
    if verdict == "benign" and not note.strip():
        raise HTTPException(400, "say why this is benign: the note is kept with the allowance it teaches")
    with state.db() as store:
        triage(store, alert_id, verdict, note=note, analyst=who.name, now=now_utc())
    state.metrics.inc("triage_verdicts")
    if request.headers.get("hx-request"):
        return HTMLResponse("")  # the row leaves the queue
    return RedirectResponse("/alerts?" + urlencode({"done": alert_id}), status_code=303)


@router.post("/alerts/{alert_id}/undo")
def undo_form(alert_id: str, state: StateDep, who: Analyst, _: None = Csrf) -> Response:
    """Take the last verdict back (the alert returns to the queue; a benign verdict's allowance goes)."""
    with state.db() as store:
        queries.get_alert(store, alert_id)
        undo(store, alert_id, analyst=who.name, now=now_utc())
    return RedirectResponse("/alerts/" + quote(alert_id, safe=""), status_code=303)


@router.post("/alerts/{alert_id}/suppress")
def suppress_form(
    alert_id: str,
    state: StateDep,
    who: AdminP,
    _: None = Csrf,
    reason: Annotated[str, Form(max_length=2000)] = "",
    expires: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    if not reason.strip():
        raise HTTPException(400, "a suppression needs a reason")
    try:
        exp = datetime.fromisoformat(expires) if expires.strip() else None
    except ValueError:
        raise HTTPException(400, f"expiry {expires!r} is not a date (YYYY-MM-DD)") from None
    suppress_alert(state, alert_id, reason.strip(), exp, who.name, who.name)
    return RedirectResponse("/alerts", status_code=303)
