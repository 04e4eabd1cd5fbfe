"""Google Workspace Reports API collector: ``activities.list`` for each application (token, login, admin).

``GET /admin/reports/v1/activity/users/all/applications/{application}`` with ``startTime`` / ``endTime``
(RFC 3339), ``maxResults`` (1,000) and ``pageToken``; activities come newest first and ``nextPageToken``
(the stored cursor) is absent on the last page; ``items`` is absent when there are none. Each
application is its own stream and checkpoint. Google publishes some activities hours late (login and
token events especially), so each window starts an hour before the last one ended; backfills are read a
day at a time. Quota errors: 429, or 403 ``rateLimitExceeded`` / ``userRateLimitExceeded``.

Credentials: a service account with domain-wide delegation of the scope
``https://www.googleapis.com/auth/admin.reports.audit.readonly``, acting as an administrator (setting
``subject``) whose role has the Reports privilege. The key (JSON) is ``NHIWATCH_GWS_SERVICE_ACCOUNT_KEY``
or, better, a file named by ``NHIWATCH_GWS_SERVICE_ACCOUNT_KEY_FILE``. Tokens come from ``google-auth``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect.base import Collector, Page, Window, iso
from nhiwatch.sources.collect.errors import AuthError, BadResponse
from nhiwatch.sources.collect.http import HttpClient, HttpOptions
from nhiwatch.sources.collect.registry import Settings as BaseSettings
from nhiwatch.sources.collect.secrets import Secret, read_secret, scrub

KEY_ENV = "NHIWATCH_GWS_SERVICE_ACCOUNT_KEY"
SCOPE = "https://www.googleapis.com/auth/admin.reports.audit.readonly"
PAGE_KIND = "admin#reports#activities"

TokenSource = Callable[[bool], str]


class Settings(BaseSettings):
    subject: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$", description="the administrator to act as")
    applications: tuple[str, ...] = ("token", "login", "admin")
    base_url: str = "https://admin.googleapis.com"
    customer_id: str | None = Field(None, pattern=r"^[A-Za-z0-9]{1,40}$")
    max_results: int = Field(1000, ge=1, le=1000)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return v.rstrip("/")

    @field_validator("applications", mode="before")
    @classmethod
    def _apps(cls, v: Any) -> Any:
        items = [s.strip() for s in v.split(",")] if isinstance(v, str) else list(v)
        for app in items:
            if not isinstance(app, str) or not app.replace("_", "").isalpha() or not app.islower():
                raise ValueError(f"{app!r} is not an application name such as token, login, admin, drive")
        if not items:
            raise ValueError("name at least one application")
        return tuple(items)


@dataclass
class Activities:
    instance: str  # the application name
    max_results: int
    customer_id: str | None = None
    source: str = "gws.reports"
    overlap: timedelta = timedelta(hours=1)
    max_window: timedelta | None = timedelta(days=1)

    def fetch(self, http: HttpClient, window: Window, cursor: str | None) -> Page:
        params: dict[str, str | int] = {
            "startTime": iso(window.start),
            "endTime": iso(window.end),
            "maxResults": self.max_results,
        }
        if self.customer_id:
            params["customerId"] = self.customer_id
        if cursor is not None:
            params["pageToken"] = cursor
        data, _ = http.get_json(f"admin/reports/v1/activity/users/all/applications/{self.instance}", params)
        if not isinstance(data, dict) or data.get("kind") != PAGE_KIND:
            raise BadResponse(f"Google Reports ({self.instance}) did not answer an {PAGE_KIND} object")
        items = data.get("items", [])
        if not isinstance(items, list):
            raise BadResponse(f"Google Reports ({self.instance}): 'items' is not a list")
        nxt = data.get("nextPageToken")
        return Page(items, nxt if isinstance(nxt, str) and nxt else None)


class GoogleTokens:
    """Access tokens for the service account acting as ``subject`` (domain-wide delegation)."""

    def __init__(self, key: Secret, subject: str) -> None:
        try:
            info = json.loads(key.reveal())
        except ValueError:
            raise ConfigError(f"{key.name} is not a service-account key (JSON)") from None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise ConfigError(f"{key.name} is not a service-account key (its type is not service_account)")
        self._secrets: list[Secret | str | None] = [key, info.get("private_key"), info.get("private_key_id")]
        try:
            from google.auth.transport.requests import Request
            from google.oauth2 import service_account
        except ImportError:
            raise ConfigError(
                "the Google Workspace collector needs google-auth: pip install 'nhiwatch[collect]'"
            ) from None
        try:
            self._creds = service_account.Credentials.from_service_account_info(
                info, scopes=[SCOPE], subject=subject
            )
        except (ValueError, KeyError) as exc:
            raise ConfigError(
                scrub(f"{key.name}: not a usable service-account key ({exc})", self._secrets)
            ) from None
        self._request = Request()

    def __call__(self, refresh: bool) -> str:
        if refresh or not self._creds.valid:
            try:
                self._creds.refresh(self._request)
            except Exception as exc:  # RefreshError (refused), TransportError (network)
                raise AuthError(
                    scrub(f"Google refused the service account's token request: {exc}", self._secrets)
                ) from None
        return str(self._creds.token)


def build(
    settings: Settings, *, env: Mapping[str, str], http: HttpOptions, tokens: TokenSource | None = None
) -> Collector:
    secrets: list[Secret | str | None] = []
    if tokens is None:
        key = read_secret(KEY_ENV, env)
        assert key is not None
        google = GoogleTokens(key, settings.subject)
        secrets.extend(google._secrets)
        tokens = google
    source = tokens
    client = http.client(
        settings.base_url,
        auth=lambda refresh: {"Authorization": f"Bearer {source(refresh)}"},
        secrets=secrets,
    )
    streams = [Activities(app, settings.max_results, settings.customer_id) for app in settings.applications]
    return Collector("gws", client, streams)
