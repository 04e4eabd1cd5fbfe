"""Microsoft Graph: delete the delegated consent grants of an app's service principal.

``GET /v1.0/oauth2PermissionGrants?$filter=clientId eq '{id}'`` lists them
(https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-list), and each is deleted with
``DELETE /v1.0/oauth2PermissionGrants/{grant-id}`` (204;
https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-delete). Existing access tokens stay
valid for their lifetime; no new ones are issued for the deleted scopes.

Application permission: ``DelegatedPermissionGrant.ReadWrite.All`` on the collector's app registration.
The client is the consenting app's service principal (``clientId`` is its object id, not its appId).
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from nhiwatch.errors import NhiwatchError
from nhiwatch.response.base import Action, ActionFailed, Outcome, failed
from nhiwatch.response.graph_password import principal
from nhiwatch.response.targets import Targets, shaped

MAX_GRANTS = 200  # a service principal with more consent grants than this is not one app's consent


class DeleteGrants(Action):
    """Delete every oAuth2PermissionGrant whose client is the service principal."""

    id: ClassVar[str] = "microsoft.delete_grants"
    collector: ClassVar[str] = "microsoft"
    title: ClassVar[str] = "Delete its consent grants"
    permission: ClassVar[str] = "DelegatedPermissionGrant.ReadWrite.All (application)"
    doc: ClassVar[str] = "https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-delete"

    @classmethod
    def target(cls, targets: Targets) -> str | None:
        return principal(targets)

    def describe(self) -> str:
        return (
            f"Delete every delegated permission grant (oAuth2PermissionGrant) whose client is the Entra "
            f"service principal {self.object} ({self.targets.integration_name}): users' and admins' consent "
            "to it is withdrawn; GET /v1.0/oauth2PermissionGrants?$filter=clientId eq "
            f"'{self.object}', then DELETE each. Access tokens already issued stay valid until they expire."
        )

    def execute(self) -> Outcome:
        sp = self.object
        deleted = 0
        try:
            with self.connection.client("microsoft") as http:
                body: Any = http.get_json("v1.0/oauth2PermissionGrants", {"$filter": f"clientId eq '{sp}'"})[
                    0
                ]
                grants = body.get("value") if isinstance(body, dict) else None
                if not isinstance(grants, list):
                    raise ActionFailed("Graph's list of consent grants is not a list")
                ids = [shaped(str(g.get("id", "")), r"[A-Za-z0-9_-]{1,200}") for g in grants[:MAX_GRANTS]]
                for grant in ids:
                    if grant is None:
                        continue
                    http.request("DELETE", f"v1.0/oauth2PermissionGrants/{quote(grant, safe='')}")
                    deleted += 1
        except ActionFailed:
            raise
        except NhiwatchError as exc:
            raise failed(
                exc, f"deleting the consent grants of service principal {sp} ({deleted} deleted)"
            ) from None
        if not deleted:
            return Outcome(f"Service principal {sp} had no delegated consent grants left.", 0)
        return Outcome(
            f"Entra deleted {deleted} delegated consent grant(s) of service principal {sp}.", deleted
        )
