"""Salesforce: revoke every OAuth token users granted a connected app.

``GET /services/data/vXX.X/query?q=SELECT DeleteToken FROM OauthToken WHERE AppName = '<app>'`` lists the
app's tokens (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_oauthtoken.htm),
and each is revoked with ``POST /services/oauth2/revoke`` and ``token=<DeleteToken>`` (200;
https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_revoke_token.htm&type=5).

The collector's JWT bearer credential (``NHIWATCH_SALESFORCE_PRIVATE_KEY``, settings ``consumer_key`` and
``username``) is used; its integration user needs "Customize Application" to see every user's tokens
(otherwise only its own are listed, and the action says it found none). A DeleteToken is a credential: it
is masked in every message and never stored.
"""

from __future__ import annotations

from typing import Any, ClassVar

from nhiwatch.errors import NhiwatchError
from nhiwatch.response.base import Action, ActionFailed, Outcome, failed
from nhiwatch.response.targets import Targets

APP_NAME = r"[^\x00-\x1f\x7f]{1,255}"
MAX_PAGES = 5  # the object returns at most 2,500 rows, 500 a page


def soql_text(value: str) -> str:
    """``value`` as a SOQL string literal (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class RevokeAppTokens(Action):
    """Revoke every OAuth token of a connected app, for every user who authorized it."""

    id: ClassVar[str] = "salesforce.revoke_app_tokens"
    collector: ClassVar[str] = "salesforce"
    title: ClassVar[str] = "Revoke the app's OAuth tokens"
    permission: ClassVar[str] = (
        'the integration user\'s "Customize Application" permission (to see every token)'
    )
    doc: ClassVar[str] = (
        "https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_revoke_token.htm&type=5"
    )

    @classmethod
    def target(cls, targets: Targets) -> str | None:
        return targets.vendor_id("salesforce", APP_NAME, ("app_name",), "actor_app_name")

    def _org(self) -> str:
        return str(getattr(self.connection.settings("salesforce"), "base_url", "the org"))

    def describe(self) -> str:
        return (
            f"Revoke every OAuth token of the Salesforce connected app {self.object!r} "
            f"({self.targets.integration_name}) in {self._org()}, for every user who authorized it: list its "
            "OauthToken rows, then POST /services/oauth2/revoke for each. Its users must authorize it again."
        )

    def execute(self) -> Outcome:
        app = self.object
        version = str(getattr(self.connection.settings("salesforce"), "api_version", "62.0"))
        revoked = 0
        try:
            with self.connection.client("salesforce") as http:
                query = f"SELECT DeleteToken FROM OauthToken WHERE AppName = {soql_text(app)}"
                body: Any = http.get_json(f"services/data/v{version}/query", {"q": query})[0]
                tokens: list[str] = []
                for _ in range(MAX_PAGES):
                    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
                        raise ActionFailed("Salesforce's OauthToken query answered no records list")
                    tokens += [
                        str(r["DeleteToken"])
                        for r in body["records"]
                        if isinstance(r, dict) and r.get("DeleteToken")
                    ]
                    nxt = body.get("nextRecordsUrl")
                    if body.get("done", True) or not isinstance(nxt, str):
                        break
                    body = http.get_json(nxt)[0]
                http.secrets.extend(tokens)  # masked in any message from here on
                for token in tokens:
                    http.request("POST", "services/oauth2/revoke", data={"token": token}, authorize=False)
                    revoked += 1
        except ActionFailed:
            raise
        except NhiwatchError as exc:
            raise failed(exc, f"revoking the tokens of connected app {app!r} ({revoked} revoked)") from None
        if not revoked:
            return Outcome(f"Salesforce listed no OAuth tokens of connected app {app!r}.", 0)
        return Outcome(f"Salesforce revoked {revoked} OAuth token(s) of connected app {app!r}.", revoked)
