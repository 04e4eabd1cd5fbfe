"""Okta: revoke every OAuth 2.0 token of a service app, or deactivate the app.

- ``DELETE /api/v1/apps/{appId}/tokens`` revokes all OAuth 2.0 tokens issued to the app (204);
  https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationTokens/
- ``POST /api/v1/apps/{appId}/lifecycle/deactivate`` deactivates the app (200, empty object); an inactive
  app cannot get tokens; https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationLifecycle/

Both need ``okta.apps.manage`` (an OAuth service app granted that scope, asked for with the collector's
private key) or an API token of an admin who may manage apps (Super or App Administrator). An OAuth 2.0
app's id is its client id (``0oa...``): the ``client_id`` / ``app_id`` the inventory declares, else the
client the System Log names as the actor.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

from nhiwatch.errors import NhiwatchError
from nhiwatch.response.base import Action, Outcome, failed
from nhiwatch.response.targets import Targets
from nhiwatch.sources.collect.http import HttpClient
from nhiwatch.sources.okta import collector as okta

SCOPE = "okta.apps.manage"
APP_ID = r"0oa[A-Za-z0-9]{8,40}"
DOC = "https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationTokens/"


class _OktaApp(Action):
    collector: ClassVar[str] = "okta"
    permission: ClassVar[str] = f"{SCOPE} (service app scope), or an API token of an App Administrator"

    @classmethod
    def target(cls, targets: Targets) -> str | None:
        return targets.vendor_id("okta", APP_ID, ("client_id", "app_id"), "actor_app_uid")

    def _org(self) -> str:
        return str(getattr(self.connection.settings("okta"), "base_url", "the Okta org"))

    def _client(self) -> HttpClient:
        settings = self.connection.settings("okta")
        assert isinstance(settings, okta.Settings)
        return okta.client(settings, env=self.connection.environ, http=self.connection.http, scope=SCOPE)


class RevokeAppTokens(_OktaApp):
    """Revoke every OAuth 2.0 token the Okta app holds."""

    id: ClassVar[str] = "okta.revoke_app_tokens"
    title: ClassVar[str] = "Revoke the app's tokens"
    doc: ClassVar[str] = DOC

    def describe(self) -> str:
        return (
            f"Revoke every OAuth 2.0 access and refresh token of the Okta app {self.object} "
            f"({self.targets.integration_name}) in {self._org()}: DELETE /api/v1/apps/{self.object}/tokens. "
            "The app stays active and can ask for new tokens with its own credentials."
        )

    def execute(self) -> Outcome:
        app = self.object
        try:
            with self._client() as http:
                http.request("DELETE", f"api/v1/apps/{quote(app, safe='')}/tokens")
        except NhiwatchError as exc:
            raise failed(exc, f"revoking the tokens of Okta app {app}") from None
        return Outcome(f"Okta revoked every OAuth 2.0 token of app {app}.")


class DeactivateApp(_OktaApp):
    """Deactivate the Okta app: it can no longer sign in or get tokens until reactivated."""

    id: ClassVar[str] = "okta.deactivate_app"
    title: ClassVar[str] = "Deactivate the app"
    doc: ClassVar[str] = (
        "https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationLifecycle/"
    )

    def describe(self) -> str:
        return (
            f"Deactivate the Okta app {self.object} ({self.targets.integration_name}) in {self._org()}: "
            f"POST /api/v1/apps/{self.object}/lifecycle/deactivate. It gets no new tokens until an admin "
            "reactivates it."
        )

    def execute(self) -> Outcome:
        app = self.object
        try:
            with self._client() as http:
                http.request("POST", f"api/v1/apps/{quote(app, safe='')}/lifecycle/deactivate")
        except NhiwatchError as exc:
            raise failed(exc, f"deactivating Okta app {app}") from None
        return Outcome(f"Okta deactivated app {app}.")
