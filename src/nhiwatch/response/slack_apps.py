"""Slack: uninstall an app from the whole Enterprise organization (its tokens are revoked with it).

``POST https://slack.com/api/admin.apps.uninstall`` with ``app_id`` and ``enterprise_id`` (``{"ok": true}``;
errors come as HTTP 200 with ``{"ok": false, "error": ...}``);
https://docs.slack.dev/reference/methods/admin.apps.uninstall/

Enterprise plans only. The collector's ``NHIWATCH_SLACK_TOKEN`` (a user token installed on the org by its
Owner) needs the ``admin.apps:write`` scope besides ``auditlogs:read``; the enterprise is the setting
``response.slack_enterprise_id``. Uninstalling cannot be undone: users must reinstall the app. Admin apps
(SCIM, app management) cannot be uninstalled through the API: Slack answers ``can_not_uninstall``.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from nhiwatch.errors import NhiwatchError
from nhiwatch.response.base import Action, ActionFailed, Outcome, failed
from nhiwatch.response.targets import Targets
from nhiwatch.sources.collect.http import HttpClient
from nhiwatch.sources.collect.secrets import read_secret
from nhiwatch.sources.slack.collector import TOKEN_ENV

APP_ID = r"A[A-Z0-9]{6,20}"
WEB_API = "https://slack.com/api"


def web_api(audit_base: str) -> str:
    """The Web API beside the collector's Audit Logs API: slack.com/api for Slack's own host; under any
    other base (a proxy, a test server) its ``/api``."""
    host = urlsplit(audit_base).hostname or ""
    return WEB_API if host == "api.slack.com" else audit_base.rstrip("/") + "/api"


class UninstallApp(Action):
    """Uninstall a Slack app from every workspace of the Enterprise organization."""

    id: ClassVar[str] = "slack.uninstall_app"
    collector: ClassVar[str] = "slack"
    title: ClassVar[str] = "Uninstall the app"
    permission: ClassVar[str] = "admin.apps:write (user token of an org Owner or Admin)"
    doc: ClassVar[str] = "https://docs.slack.dev/reference/methods/admin.apps.uninstall/"
    enterprise_id: str | None = None  # set from the response config by the registry

    @classmethod
    def target(cls, targets: Targets) -> str | None:
        return targets.vendor_id("slack", APP_ID, ("app_id", "client_id"), "actor_app_uid")

    def _enterprise(self) -> str:
        if not self.enterprise_id:
            raise ActionFailed("set response.slack_enterprise_id: the organization to uninstall the app from")
        return self.enterprise_id

    def describe(self) -> str:
        return (
            f"Uninstall the Slack app {self.object} ({self.targets.integration_name}) from every workspace of "
            f"the Enterprise organization {self._enterprise()}: POST admin.apps.uninstall. Its tokens are "
            "revoked; this cannot be undone, users must reinstall it."
        )

    def _client(self) -> HttpClient:
        base = str(getattr(self.connection.settings("slack"), "base_url", "https://api.slack.com"))
        token = read_secret(TOKEN_ENV, self.connection.environ)
        assert token is not None
        header = f"Bearer {token.reveal()}"
        return self.connection.http.client(
            web_api(base), auth=lambda refresh: {"Authorization": header}, secrets=[token]
        )

    def execute(self) -> Outcome:
        app, enterprise = self.object, self._enterprise()
        try:
            with self._client() as http:
                reply = http.request(
                    "POST", "admin.apps.uninstall", data={"app_id": app, "enterprise_id": enterprise}
                )
                body: Any = reply.json()
        except NhiwatchError as exc:
            raise failed(exc, f"uninstalling Slack app {app}") from None
        if not isinstance(body, dict) or body.get("ok") is not True:
            error = body.get("error") if isinstance(body, dict) else None
            word = str(error)[:80] if isinstance(error, str) else "no ok in the answer"
            hint = (
                " (the token needs admin.apps:write)"
                if word in ("missing_scope", "not_allowed_token_type")
                else ""
            )
            raise ActionFailed(
                f"uninstalling Slack app {app} failed: Slack answered {word}{hint}", reply.status
            )
        return Outcome(f"Slack uninstalled app {app} from organization {enterprise}.")
