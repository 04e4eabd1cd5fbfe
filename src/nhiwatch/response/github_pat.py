"""GitHub: revoke a fine-grained personal access token's access to the organization.

``POST /orgs/{org}/personal-access-tokens/{pat_id}`` with ``{"action": "revoke"}`` (204);
https://docs.github.com/en/rest/orgs/personal-access-tokens#update-the-access-a-fine-grained-personal-access-token-has-to-organization-resources

Only a GitHub App can call it: the collector's ``NHIWATCH_GITHUB_TOKEN`` must be an installation token of
an app with the organization permission "Personal access tokens" (write); a classic owner token is
answered 403, which the action reports as such. The token is the ``token_id`` the inventory declares, else
the ``token_id`` the audit log records for the actor. A classic PAT cannot be revoked by the organization
(only by its owner): the guidance says so and no action is offered.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

from nhiwatch.errors import NhiwatchError
from nhiwatch.response.base import Action, ActionFailed, Outcome, failed
from nhiwatch.response.targets import Targets

PAT_ID = r"[0-9]{1,18}"


class RevokePat(Action):
    """Revoke a fine-grained PAT's access to the organization's resources."""

    id: ClassVar[str] = "github.revoke_pat"
    collector: ClassVar[str] = "github"
    title: ClassVar[str] = "Revoke the token's access"
    permission: ClassVar[str] = (
        'a GitHub App installation token with the organization permission "Personal access tokens" (write)'
    )
    doc: ClassVar[str] = (
        "https://docs.github.com/en/rest/orgs/personal-access-tokens#update-the-access-a-fine-grained-"
        "personal-access-token-has-to-organization-resources"
    )

    @classmethod
    def target(cls, targets: Targets) -> str | None:
        return targets.vendor_id("github", PAT_ID, ("token_id",), "actor_user_credential_uid")

    def _org(self) -> str:
        org = getattr(self.connection.settings("github"), "org", None)
        if not org:
            raise ActionFailed("the github collector has no org setting: the token's organization is unknown")
        return str(org)

    def describe(self) -> str:
        return (
            f"Revoke the access of fine-grained personal access token {self.object} (used by "
            f"{self.targets.integration_name}) to the GitHub organization {self._org()}: POST "
            f"/orgs/{self._org()}/personal-access-tokens/{self.object} with action revoke. Its owner is "
            "emailed; SSH keys it created keep working and it can still read public resources."
        )

    def execute(self) -> Outcome:
        pat, org = self.object, self._org()
        try:
            with self.connection.client("github") as http:
                http.request(
                    "POST",
                    f"orgs/{quote(org, safe='')}/personal-access-tokens/{quote(pat, safe='')}",
                    json={"action": "revoke"},
                )
        except NhiwatchError as exc:
            raise failed(exc, f"revoking personal access token {pat}") from None
        return Outcome(f"GitHub revoked the access of personal access token {pat} to {org}.")
