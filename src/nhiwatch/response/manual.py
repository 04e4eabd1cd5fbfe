"""Steps no API can take with the collectors' credentials: shown as manual, with the reason, never faked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Manual:
    id: str
    reason: str
    doc: str


MANUAL = {
    m.id: m
    for m in (
        Manual(
            "github.suspend_installation",
            "suspending an installation (PUT /app/installations/{id}/suspended) needs a JWT signed with the "
            "GitHub App's own private key; the collector holds an organization token, so do it in the "
            "organization's settings",
            "https://docs.github.com/en/rest/apps/apps#suspend-an-app-installation",
        ),
    )
}
