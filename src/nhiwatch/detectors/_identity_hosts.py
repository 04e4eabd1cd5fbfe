"""Token endpoints of the platforms an integration holds a credential on: using a credential means talking to them.

An integration with a Salesforce connected app refreshes its token at ``login.salesforce.com``; a Graph app at
``login.microsoftonline.com``. Those hosts serve tokens and nothing else, so reaching the token endpoint of
a platform the inventory gives the integration an identity on (``identities.source``) is part of using that
identity, not a new place to send data, even when the allow-list names only the API host.

Only dedicated token hosts are listed. Hosts that also take data are left out on purpose: ``github.com``
(Shai-Hulud pushed stolen secrets to new repositories there), ``slack.com`` (its Web API), an Okta org's own
domain (the inventory's allow-list names it when it matters).
"""

from __future__ import annotations

from typing import Final

IDENTITY_HOSTS: Final[dict[str, tuple[str, ...]]] = {
    # https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_endpoints.htm
    "salesforce": ("login.salesforce.com", "test.salesforce.com"),
    # https://learn.microsoft.com/entra/identity-platform/authentication-national-cloud
    "microsoft": (
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
        "login.windows.net",
        "sts.windows.net",
    ),
    # https://developers.google.com/identity/protocols/oauth2/service-account
    "gws": ("oauth2.googleapis.com", "accounts.google.com"),
    # https://docs.aws.amazon.com/general/latest/gr/sts.html
    "aws": ("sts.amazonaws.com", "sts.*.amazonaws.com"),
}


def is_identity_host(host: str, integration: str) -> str:
    """SQL: ``host`` (a lower-case host name expression of our own query) is a token endpoint of a platform
    where the inventory gives ``integration`` (an expression) an identity."""
    pairs = ", ".join(
        f"('{source}', '{pattern}')" for source, patterns in IDENTITY_HOSTS.items() for pattern in patterns
    )
    return f"""EXISTS (SELECT 1 FROM identities nw_i, (VALUES {pairs}) nw_h(source, pat)
        WHERE nw_i.integration_id = {integration} AND nw_i.source = nw_h.source AND {host} GLOB nw_h.pat)"""


__all__ = ["IDENTITY_HOSTS", "is_identity_host"]
