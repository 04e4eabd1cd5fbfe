"""Microsoft Graph: remove the client secret a service principal signed in with.

``POST /v1.0/servicePrincipals/{id}/removePassword`` with ``{"keyId": "<guid>"}`` (204);
https://learn.microsoft.com/en-us/graph/api/serviceprincipal-removepassword

Application permission: ``Application.ReadWrite.OwnedBy`` (least privileged, for principals the
collector's app owns) or ``Application.ReadWrite.All``, granted to the collector's app registration
(``NHIWATCH_MICROSOFT_CLIENT_SECRET`` / ``_CERTIFICATE`` through msal, as the collector signs in). The
service principal is the ``servicePrincipalId`` of its sign-ins; the secret is the
``servicePrincipalCredentialKeyId`` they record (or the key an audit event added). A certificate
(``keyCredential``) cannot be removed this way without a proof signed by the principal's own key: that
stays a manual step.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

from nhiwatch.errors import NhiwatchError
from nhiwatch.response.base import Action, Outcome, failed
from nhiwatch.response.targets import Targets, shaped

GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def principal(targets: Targets) -> str | None:
    """The service principal's object id (a GUID), from its sign-ins or audit events."""
    return targets.vendor_id("microsoft", GUID, column="actor_user_uid")


class RemovePassword(Action):
    """Remove one client secret (passwordCredential) from a service principal."""

    id: ClassVar[str] = "microsoft.remove_password"
    collector: ClassVar[str] = "microsoft"
    title: ClassVar[str] = "Remove the client secret"
    permission: ClassVar[str] = "Application.ReadWrite.OwnedBy or Application.ReadWrite.All (application)"
    doc: ClassVar[str] = "https://learn.microsoft.com/en-us/graph/api/serviceprincipal-removepassword"

    @classmethod
    def target(cls, targets: Targets) -> str | None:
        sp = principal(targets)
        key = shaped(targets.first(("token_id",), "actor_user_credential_uid"), GUID)
        return f"{sp}/{key}" if sp and key else None

    def describe(self) -> str:
        sp, key = self.object.split("/")
        return (
            f"Remove the client secret {key} from the Entra service principal {sp} "
            f"({self.targets.integration_name}): POST /v1.0/servicePrincipals/{sp}/removePassword with "
            f"keyId {key}. Tokens it already obtained stay valid until they expire (about an hour)."
        )

    def execute(self) -> Outcome:
        sp, key = self.object.split("/")
        try:
            with self.connection.client("microsoft") as http:
                http.request(
                    "POST", f"v1.0/servicePrincipals/{quote(sp, safe='')}/removePassword", json={"keyId": key}
                )
        except NhiwatchError as exc:
            raise failed(exc, f"removing secret {key} of service principal {sp}") from None
        return Outcome(f"Entra removed client secret {key} from service principal {sp}.")
