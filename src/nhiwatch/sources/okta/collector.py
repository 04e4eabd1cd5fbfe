"""Okta System Log collector: ``GET /api/v1/logs`` as bounded requests, one window at a time.

A window is read with ``since`` / ``until`` and ``sortOrder=ASCENDING`` (a *bounded* request: Okta gives a
``Link: rel="next"`` header, with an ``after`` cursor, until the window is read; a *polling* request
without ``until`` would give one forever). The stored cursor is that next link. ``limit`` is at most
1,000. Rate limits: 429 with ``X-Rate-Limit-Reset`` (epoch seconds), and ``X-Rate-Limit-Remaining``
on every answer (the client waits for the reset when it reaches 0).

Credentials: ``NHIWATCH_OKTA_API_TOKEN`` (or ``_FILE``), an API token sent as ``Authorization: SSWS``,
created by a Read-Only Administrator (a token acts with its creator's rights), or
``NHIWATCH_OKTA_ACCESS_TOKEN``, an OAuth access token with the ``okta.logs.read`` scope obtained by a
service app outside nhiwatch (sent as ``Bearer``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from pydantic import Field, field_validator

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect.base import Collector, Page, Window, iso
from nhiwatch.sources.collect.errors import BadResponse
from nhiwatch.sources.collect.http import HttpClient, HttpOptions, next_link
from nhiwatch.sources.collect.registry import Settings as BaseSettings
from nhiwatch.sources.collect.secrets import read_secret

TOKEN_ENV = "NHIWATCH_OKTA_API_TOKEN"
ACCESS_TOKEN_ENV = "NHIWATCH_OKTA_ACCESS_TOKEN"


class Settings(BaseSettings):
    base_url: str = Field(description="The Okta org, e.g. https://acme.okta.com")
    limit: int = Field(1000, ge=1, le=1000)

    @field_validator("base_url")
    @classmethod
    def _https(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be the org's URL, such as https://acme.okta.com")
        return v.rstrip("/")


@dataclass
class SystemLog:
    instance: str
    limit: int
    source: str = "okta.system_log"
    overlap: timedelta = timedelta(minutes=5)
    max_window: timedelta | None = None

    def fetch(self, http: HttpClient, window: Window, cursor: str | None) -> Page:
        if cursor is None:
            params = {
                "since": iso(window.start),
                "until": iso(window.end),
                "sortOrder": "ASCENDING",
                "limit": self.limit,
            }
            data, reply = http.get_json("api/v1/logs", params)
        else:
            data, reply = http.get_json(cursor)
        if not isinstance(data, list):
            raise BadResponse("Okta /api/v1/logs did not answer a JSON array of LogEvents")
        # An empty page ends the window even if a next link came with it (Okta's polling behaviour).
        return Page(data, next_link(reply) if data else None)


def build(settings: Settings, *, env: Mapping[str, str], http: HttpOptions) -> Collector:
    api_token = read_secret(TOKEN_ENV, env, required=False)
    access_token = read_secret(ACCESS_TOKEN_ENV, env, required=False)
    if api_token and access_token:
        raise ConfigError(f"both {TOKEN_ENV} and {ACCESS_TOKEN_ENV} are set; set one")
    secret = api_token or access_token
    if secret is None:
        raise ConfigError(
            f"no Okta credential: set {TOKEN_ENV} (an API token) or {ACCESS_TOKEN_ENV} (an OAuth access "
            "token with okta.logs.read), or the same name with _FILE for a file holding it"
        )
    header = f"SSWS {secret.reveal()}" if api_token else f"Bearer {secret.reveal()}"
    client = http.client(
        settings.base_url,
        auth=lambda refresh: {"Authorization": header},
        secrets=[secret],
        headers={"Accept": "application/json"},
    )
    host = settings.base_url.split("://", 1)[1]
    return Collector("okta", client, [SystemLog(host, settings.limit)])
