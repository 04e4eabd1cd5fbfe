"""Slack Audit Logs API collector (Enterprise Grid): ``GET /audit/v1/logs``.

A window is read with ``oldest`` / ``latest`` (epoch seconds) and ``limit``; entries come newest first
and the next page is ``response_metadata.next_cursor`` (empty on the last page), which is the stored
cursor. Because entries come newest first, the checkpoint moves only when a window is read to its end;
backfills are read a day at a time. Rate limits: Tier 3 (about 50 requests a minute), 429 with
``Retry-After``. Errors may come as HTTP 200 with ``{"ok": false, "error": ...}``.

Credentials: ``NHIWATCH_SLACK_TOKEN`` (or ``_FILE``): a user token (``xoxp-``) with the ``auditlogs:read``
scope, from an app installed on the Enterprise Grid organization by its Owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta

from pydantic import Field, field_validator

from nhiwatch.sources.collect.base import Collector, Page, Window
from nhiwatch.sources.collect.errors import AuthError, BadResponse, CollectError, RejectedRequest
from nhiwatch.sources.collect.http import HttpClient, HttpOptions
from nhiwatch.sources.collect.registry import Settings as BaseSettings
from nhiwatch.sources.collect.secrets import read_secret

TOKEN_ENV = "NHIWATCH_SLACK_TOKEN"
AUTH_ERRORS = {
    "not_authed",
    "invalid_auth",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "invalid_authentication",
}
RIGHTS_ERRORS = {"missing_scope", "not_allowed", "not_an_enterprise", "feature_not_enabled", "no_permission"}


class Settings(BaseSettings):
    base_url: str = "https://api.slack.com"
    limit: int = Field(1000, ge=1, le=9999)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://api.slack.com")
        return v.rstrip("/")


@dataclass
class AuditLogs:
    limit: int
    instance: str = "audit_logs"
    source: str = "slack.audit_logs"
    overlap: timedelta = timedelta(minutes=10)
    max_window: timedelta | None = timedelta(days=1)

    def fetch(self, http: HttpClient, window: Window, cursor: str | None) -> Page:
        params: dict[str, str | int] = {
            "oldest": int(window.start.replace(tzinfo=UTC).timestamp()),
            "latest": int(window.end.replace(tzinfo=UTC).timestamp()) + 1,  # whole seconds: keep the last one
            "limit": self.limit,
        }
        if cursor is not None:
            params["cursor"] = cursor
        data, _ = http.get_json("audit/v1/logs", params)
        if not isinstance(data, dict):
            raise BadResponse("Slack audit/v1/logs did not answer a JSON object")
        if data.get("ok") is False:
            error = str(data.get("error", "unknown"))[:100]
            if error in AUTH_ERRORS:
                raise AuthError(f"Slack refused the token ({error}): check {TOKEN_ENV}")
            if error in RIGHTS_ERRORS:
                raise AuthError(
                    f"Slack refused the request ({error}): the token needs auditlogs:read on an Enterprise Grid org"
                )
            if error == "invalid_cursor":
                raise RejectedRequest("Slack audit/v1/logs: invalid_cursor (the cursor expired)")
            raise CollectError(f"Slack audit/v1/logs answered an error: {error}")
        entries = data.get("entries", [])
        if not isinstance(entries, list):
            raise BadResponse("Slack audit/v1/logs: 'entries' is not a list")
        meta = data.get("response_metadata")
        nxt = meta.get("next_cursor") if isinstance(meta, dict) else None
        return Page(entries, nxt if isinstance(nxt, str) and nxt else None)


def build(settings: Settings, *, env: Mapping[str, str], http: HttpOptions) -> Collector:
    token = read_secret(TOKEN_ENV, env)
    assert token is not None
    header = f"Bearer {token.reveal()}"
    client = http.client(settings.base_url, auth=lambda refresh: {"Authorization": header}, secrets=[token])
    return Collector("slack", client, [AuditLogs(settings.limit)])
