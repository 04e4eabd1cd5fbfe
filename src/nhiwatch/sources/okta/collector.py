"""Okta System Log collector: ``GET /api/v1/logs`` as bounded requests, one window at a time.

A window is read with ``since`` / ``until`` and ``sortOrder=ASCENDING`` (a *bounded* request: Okta gives a
``Link: rel="next"`` header, with an ``after`` cursor, until the window is read; a *polling* request
without ``until`` would give one forever). The stored cursor is that next link. ``limit`` is at most
1,000. Rate limits: 429 with ``X-Rate-Limit-Reset`` (epoch seconds), and ``X-Rate-Limit-Remaining``
on every answer (the client waits for the reset when it reaches 0).

Credentials, one of: ``NHIWATCH_OKTA_PRIVATE_KEY`` (or ``_FILE``), the PEM private key of an OAuth
service app granted only ``okta.logs.read`` (setting ``client_id``, optional ``key_id``; see
:mod:`.oauth`); ``NHIWATCH_OKTA_API_TOKEN``, an API token sent as ``Authorization: SSWS``, created by a
Read-Only Administrator (a token acts with its creator's rights); or ``NHIWATCH_OKTA_ACCESS_TOKEN``, an
access token with ``okta.logs.read`` obtained outside nhiwatch (sent as ``Bearer``).
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
from nhiwatch.sources.okta.oauth import SCOPE, ServiceAppTokens

TOKEN_ENV = "NHIWATCH_OKTA_API_TOKEN"
ACCESS_TOKEN_ENV = "NHIWATCH_OKTA_ACCESS_TOKEN"
PRIVATE_KEY_ENV = "NHIWATCH_OKTA_PRIVATE_KEY"


class Settings(BaseSettings):
    base_url: str = Field(description="The Okta org, e.g. https://acme.okta.com")
    limit: int = Field(1000, ge=1, le=1000)
    client_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,100}$", description="service app client id"
    )
    key_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,200}$", description="kid of its public key")

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
    host = settings.base_url.split("://", 1)[1]
    return Collector("okta", client(settings, env=env, http=http), [SystemLog(host, settings.limit)])


def client(
    settings: Settings, *, env: Mapping[str, str], http: HttpOptions, scope: str = SCOPE
) -> HttpClient:
    """An HTTP client for the org with the one Okta credential set; a service app asks for ``scope``
    (the response actions ask for ``okta.apps.manage`` with the same key)."""
    found = {
        name: read_secret(name, env, required=False)
        for name in (PRIVATE_KEY_ENV, TOKEN_ENV, ACCESS_TOKEN_ENV)
    }
    given = [name for name, secret in found.items() if secret is not None]
    if len(given) != 1:
        raise ConfigError(
            f"set one Okta credential ({'several are set: ' + ', '.join(given) if given else 'none is set'}): "
            f"{PRIVATE_KEY_ENV} (a service app's private key, with the setting client_id), {TOKEN_ENV} (an API "
            f"token) or {ACCESS_TOKEN_ENV} (an access token with okta.logs.read); or the same name with _FILE"
        )
    name = given[0]
    secret = found[name]
    assert secret is not None
    headers = {"Accept": "application/json"}
    if name == PRIVATE_KEY_ENV:
        if not settings.client_id:
            raise ConfigError(f"{PRIVATE_KEY_ENV} needs the setting client_id (NHIWATCH_OKTA_CLIENT_ID)")
        tokens = ServiceAppTokens(
            settings.client_id, secret, key_id=settings.key_id, clock=http.clock, scope=scope
        )
        out = http.client(
            settings.base_url,
            auth=lambda refresh: {"Authorization": f"Bearer {tokens(refresh)}"},
            secrets=[secret],
            headers=headers,
        )
        tokens.http = out
        return out
    header = f"SSWS {secret.reveal()}" if name == TOKEN_ENV else f"Bearer {secret.reveal()}"
    return http.client(
        settings.base_url, auth=lambda refresh: {"Authorization": header}, secrets=[secret], headers=headers
    )
