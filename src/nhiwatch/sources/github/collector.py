"""GitHub audit log collector: organization and enterprise audit log REST API, GitHub.com or Enterprise Server.

``GET /orgs/{org}/audit-log`` and ``GET /enterprises/{enterprise}/audit-log`` with
``phrase=created:>=<window start>``, ``include=all`` (web and Git events), ``order=asc`` and
``per_page=100``; the next page is the ``Link: rel="next"`` URL (an ``after`` cursor), which is the stored
cursor. The last page has no next link. Timestamps in the records are epoch milliseconds (``@timestamp``).
Enterprise Server: set ``base_url`` to ``https://HOST/api/v3``.

Rate limits: 1,750 audit-log queries an hour per user and IP; 429 or 403 with ``Retry-After`` or
``X-RateLimit-Remaining: 0`` and ``X-RateLimit-Reset`` (epoch seconds).

Credentials: ``NHIWATCH_GITHUB_TOKEN`` (or ``_FILE``): an organization owner's token with
``read:audit_log`` (classic), or a GitHub App installation token with "Administration" organization
permission (read); for an enterprise, an enterprise owner's classic token with ``read:audit_log``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from pydantic import Field, field_validator, model_validator

from nhiwatch.sources.collect.base import Collector, Page, Window
from nhiwatch.sources.collect.errors import BadResponse
from nhiwatch.sources.collect.http import HttpClient, HttpOptions, next_link
from nhiwatch.sources.collect.registry import Settings as BaseSettings
from nhiwatch.sources.collect.secrets import read_secret

TOKEN_ENV = "NHIWATCH_GITHUB_TOKEN"
SLUG = r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$"  # GitHub logins and enterprise slugs: no path separators


class Settings(BaseSettings):
    base_url: str = "https://api.github.com"
    org: str | None = Field(None, pattern=SLUG)
    enterprise: str | None = Field(None, pattern=SLUG)
    per_page: int = Field(100, ge=1, le=100)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be https://api.github.com or https://HOST/api/v3 (Enterprise Server)")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _one(self) -> Settings:
        if not self.org and not self.enterprise:
            raise ValueError("set org (NHIWATCH_GITHUB_ORG) or enterprise (NHIWATCH_GITHUB_ENTERPRISE)")
        return self


@dataclass
class AuditLog:
    instance: str
    path: str
    per_page: int
    source: str = "github.audit_log"
    overlap: timedelta = timedelta(minutes=10)
    max_window: timedelta | None = None

    def fetch(self, http: HttpClient, window: Window, cursor: str | None) -> Page:
        if cursor is None:
            start = window.start.strftime("%Y-%m-%dT%H:%M:%S+00:00")
            params = {
                "phrase": f"created:>={start}",
                "include": "all",
                "order": "asc",
                "per_page": self.per_page,
            }
            data, reply = http.get_json(self.path, params)
        else:
            data, reply = http.get_json(cursor)
        if not isinstance(data, list):
            raise BadResponse(f"GitHub {self.path} did not answer a JSON array of audit events")
        return Page(data, next_link(reply) if data else None)


def build(settings: Settings, *, env: Mapping[str, str], http: HttpOptions) -> Collector:
    token = read_secret(TOKEN_ENV, env)
    assert token is not None
    header = f"Bearer {token.reveal()}"
    client = http.client(
        settings.base_url,
        auth=lambda refresh: {"Authorization": header},
        secrets=[token],
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
    )
    streams = []
    if settings.org:
        streams.append(AuditLog(f"org:{settings.org}", f"orgs/{settings.org}/audit-log", settings.per_page))
    if settings.enterprise:
        streams.append(
            AuditLog(
                f"enterprise:{settings.enterprise}",
                f"enterprises/{settings.enterprise}/audit-log",
                settings.per_page,
            )
        )
    return Collector("github", client, streams)
