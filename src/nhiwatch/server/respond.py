"""One-click response in the server: offer, confirm, execute, audit — shared by the API and the console.

:func:`prepare` answers the exact description and a confirmation nonce (bound to alert, action, object and
user, :mod:`.confirmations`); :func:`execute` runs the action only with that nonce. Both refuse with 403
when ``response`` is off or the action is not in its allow list, and every attempt is written to the audit
log (:mod:`.audit`). The vendor call runs outside the store's writer lock (it may take seconds). A vendor
error is an answer (``state: failed``, its HTTP status, a scrubbed message), never a 500, never a token.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException

from nhiwatch.alerts import tables
from nhiwatch.errors import NhiwatchError, NotFoundError
from nhiwatch.redact import redact
from nhiwatch.response.base import Action, ActionFailed, Connection
from nhiwatch.response.config import ResponseConfig
from nhiwatch.response.manual import MANUAL
from nhiwatch.response.registry import ACTIONS, Offer, build, offered
from nhiwatch.response.targets import Targets, resolve
from nhiwatch.server import audit
from nhiwatch.server.confirmations import Confirmations
from nhiwatch.server.state import ServerState
from nhiwatch.server.tokens import Principal, now_utc
from nhiwatch.store import Store

log = logging.getLogger("nhiwatch.server")
OFF = "one-click response is off: set `response: {enabled: true}` in nhiwatch.yaml (docs/console.md)"


@dataclass
class Responder:
    config: ResponseConfig
    connection: Connection = field(default_factory=Connection)
    confirmations: Confirmations = field(init=False)
    running: set[tuple[str, str]] = field(default_factory=set)  # (action, object) being executed now
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.confirmations = Confirmations(self.config.confirm_seconds)

    def claim(self, action: str, object: str) -> bool:
        """Mark ``action`` on ``object`` as running; False if another request runs it now."""
        with self.lock:
            if (action, object) in self.running:
                return False
            self.running.add((action, object))
            return True

    def release(self, action: str, object: str) -> None:
        with self.lock:
            self.running.discard((action, object))


def responder(state: ServerState) -> Responder | None:
    r = state.responder
    return r if r is not None and r.config.enabled else None


def offers(state: ServerState, store: Store, alert_id: str) -> dict[str, Offer]:
    """The actions the alert's page offers (none when response is off)."""
    r = responder(state)
    if r is None:
        return {}
    found = tables.load_alerts(store, "alert_id = ?", [alert_id])
    return offered(resolve(store, found[0]), r.config) if found else {}


def manual_steps() -> dict[str, str]:
    return {k: m.reason for k, m in MANUAL.items()}


def _audit(state: ServerState, who: Principal, event: str, alert_id: str, action: str, **kw: Any) -> None:
    with state.db() as store:
        audit.record(
            store,
            at=now_utc(),
            actor=who.name,
            role=who.role,
            event=event,
            alert_id=alert_id,
            action=action,
            **kw,
        )


def _refuse(
    state: ServerState, who: Principal, alert_id: str, action: str, status: int, why: str
) -> HTTPException:
    _audit(state, who, "refused", alert_id, action, status=status, detail=why)
    return HTTPException(status, why)


def _action(
    state: ServerState, r: Responder, who: Principal, alert_id: str, action_id: str
) -> tuple[Action, Targets]:
    if action_id in MANUAL:
        raise _refuse(
            state, who, alert_id, action_id, 400, f"{action_id} is a manual step: {MANUAL[action_id].reason}"
        )
    if action_id not in ACTIONS:
        raise HTTPException(404, f"no response action {action_id[:80]!r}; known: {', '.join(ACTIONS)}")
    if not r.config.allows(action_id):
        raise _refuse(
            state, who, alert_id, action_id, 403, f"{action_id} is not in response.actions (the allow list)"
        )
    with state.reader() as store:
        found = tables.load_alerts(store, "alert_id = ?", [alert_id]) if store.table_exists("alerts") else []
        if not found:
            raise NotFoundError(f"no alert {alert_id!r}")
        targets = resolve(store, found[0])
    try:
        return build(
            action_id, targets, r.connection, slack_enterprise_id=r.config.slack_enterprise_id
        ), targets
    except ActionFailed as exc:
        raise _refuse(state, who, alert_id, action_id, 409, str(exc)) from None


def _check(state: ServerState, who: Principal, alert_id: str, action_id: str) -> Responder:
    r = responder(state)
    if r is None:
        raise _refuse(state, who, alert_id, action_id[:200], 403, OFF)
    if not who.can("admin"):  # the routes require admin already; this guards any other caller
        raise _refuse(state, who, alert_id, action_id, 403, "response actions need the admin role")
    return r


def _already(state: ServerState, who: Principal, alert_id: str, action: Action) -> dict[str, Any] | None:
    with state.reader() as store:
        done = audit.succeeded(store, action.id, action.object) if store.table_exists("audit_log") else None
    if done is None:
        return None
    when = f"{done['happened_at']:%Y-%m-%d %H:%M} UTC"
    message = f"Already done: {action.id} on {action.object} succeeded at {when} (by {done['actor']})."
    _audit(state, who, "already_done", alert_id, action.id, object=action.object, detail=message)
    return {"state": "already_done", "action": action.id, "object": action.object, "message": message}


def prepare(state: ServerState, who: Principal, alert_id: str, action_id: str) -> dict[str, Any]:
    """Step one: the exact description and a confirmation nonce (or ``already_done``)."""
    r = _check(state, who, alert_id, action_id)
    action, _ = _action(state, r, who, alert_id, action_id)
    done = _already(state, who, alert_id, action)
    if done is not None:
        return done
    try:
        description = redact(action.describe())  # it names the integration as the inventory spells it
    except NhiwatchError as exc:  # the collector's settings are missing or wrong
        raise _refuse(state, who, alert_id, action_id, 409, redact(str(exc))) from None
    nonce = r.confirmations.issue(alert_id, action_id, who.name, action.object, description)
    _audit(state, who, "requested", alert_id, action_id, object=action.object, detail=description)
    return {
        "state": "confirm",
        "action": action_id,
        "title": action.title,
        "object": action.object,
        "description": description,
        "permission": action.permission,
        "doc": action.doc,
        "nonce": nonce,
        "expires_in": r.config.confirm_seconds,
    }


def execute(state: ServerState, who: Principal, alert_id: str, action_id: str, nonce: str) -> dict[str, Any]:
    """Step two: run the confirmed action once; ``state`` is succeeded, failed or already_done."""
    r = _check(state, who, alert_id, action_id)
    pending = r.confirmations.consume(nonce, alert_id, action_id, who.name)
    if pending is None:
        raise _refuse(
            state, who, alert_id, action_id, 403,
            "no valid confirmation: it is missing, expired, already used, or for another alert, action or "
            "user; ask for the action again",
        )  # fmt: skip
    action, _ = _action(state, r, who, alert_id, action_id)
    if action.object != pending.object:
        raise _refuse(
            state,
            who,
            alert_id,
            action_id,
            409,
            "the alert's object changed since it was confirmed; ask again",
        )
    if not r.claim(action_id, action.object):  # two admins confirming at once: one runs, one is told
        raise _refuse(
            state, who, alert_id, action_id, 409, f"{action_id} on {action.object} is running now; wait"
        )
    try:
        return _run(state, who, alert_id, action, pending.description)
    finally:
        r.release(action_id, action.object)


def _run(
    state: ServerState, who: Principal, alert_id: str, action: Action, description: str
) -> dict[str, Any]:
    action_id = action.id
    done = _already(state, who, alert_id, action)
    if done is not None:
        return done
    _audit(state, who, "confirmed", alert_id, action_id, object=action.object, detail=description)
    try:
        outcome = action.execute()
    except ActionFailed as exc:
        message = redact(str(exc))
        _audit(
            state, who, "failed", alert_id, action_id, object=action.object, status=exc.status, detail=message
        )
        return {
            "state": "failed",
            "action": action_id,
            "object": action.object,
            "vendor_status": exc.status,
            "message": message,
        }
    except Exception as exc:  # a vendor SDK's surprise is an answer, not a 500
        log.error("response action %s failed: %s", action_id, type(exc).__name__)
        message = f"{action_id} failed: {type(exc).__name__} (details in the server log)"
        _audit(state, who, "failed", alert_id, action_id, object=action.object, detail=message)
        return {
            "state": "failed",
            "action": action_id,
            "object": action.object,
            "vendor_status": None,
            "message": message,
        }
    message = redact(outcome.message)
    _audit(state, who, "succeeded", alert_id, action_id, object=action.object, detail=message)
    return {
        "state": "succeeded",
        "action": action_id,
        "object": action.object,
        "message": message,
        "count": outcome.count,
    }
