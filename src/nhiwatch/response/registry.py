"""Every response action by id, and what an alert offers.

:func:`offered` answers, for one alert, which actions have an exact object to act on and are allowed by the
config; it never touches the network. Action ids are the names used in ``response.yaml`` steps, the config's
allow list, the API's URLs and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from nhiwatch.response.aws_sessions import RevokeRoleSessions
from nhiwatch.response.base import Action, ActionFailed, Connection
from nhiwatch.response.github_pat import RevokePat
from nhiwatch.response.graph_grants import DeleteGrants
from nhiwatch.response.graph_password import RemovePassword
from nhiwatch.response.okta_apps import DeactivateApp, RevokeAppTokens
from nhiwatch.response.salesforce_tokens import RevokeAppTokens as RevokeSalesforceTokens
from nhiwatch.response.slack_apps import UninstallApp
from nhiwatch.response.targets import Targets

ACTIONS: dict[str, type[Action]] = {
    a.id: a
    for a in (
        RevokeAppTokens,
        DeactivateApp,
        RevokePat,
        RemovePassword,
        DeleteGrants,
        RevokeSalesforceTokens,
        UninstallApp,
        RevokeRoleSessions,
    )
}


@dataclass(frozen=True)
class Offer:
    """An action the alert's page may show a button for."""

    id: str
    title: str
    object: str


def offered(targets: Targets, allowed: object) -> dict[str, Offer]:
    """Actions with an exact object in ``targets`` that ``allowed(id)`` permits, by id."""
    check = getattr(allowed, "allows", None)
    out: dict[str, Offer] = {}
    for action_id, cls in ACTIONS.items():
        if check is not None and not check(action_id):
            continue
        found = cls.target(targets)
        if found is not None:
            out[action_id] = Offer(action_id, cls.title, found)
    return out


def build(
    action_id: str, targets: Targets, connection: Connection, *, slack_enterprise_id: str | None = None
) -> Action:
    """The action ``action_id`` for ``targets``; :class:`ActionFailed` if unknown or without an object."""
    cls = ACTIONS.get(action_id)
    if cls is None:
        raise ActionFailed(f"no response action {action_id!r}; known: {', '.join(ACTIONS)}")
    if cls.target(targets) is None:
        raise ActionFailed(f"this alert names no object {action_id} could act on")
    action = cls(targets, connection)
    if isinstance(action, UninstallApp):
        action.enterprise_id = slack_enterprise_id
    return action
