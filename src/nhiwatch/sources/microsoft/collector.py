"""Microsoft Graph collector: workload sign-ins and directory audits of an Entra ID tenant.

Streams (each its own checkpoint):

- ``signIns.servicePrincipal`` and ``signIns.managedIdentity``: ``GET /beta/auditLogs/signIns`` with
  ``$filter=createdDateTime ge S and createdDateTime le E and signInEventTypes/any(t: t eq '<kind>')``
  (v1.0 lists only interactive user sign-ins; workload sign-ins are in beta), ingested as
  ``microsoft.entra_signins``;
- ``directoryAudits``: ``GET /v1.0/auditLogs/directoryAudits`` with ``activityDateTime`` bounds, ingested
  as ``microsoft.entra_audit``.

Pages come newest first, up to ``$top`` (1,000) items, with ``@odata.nextLink`` (an absolute URL on the
Graph host, the stored cursor) until the last. Throttling: 429 (or 503) with ``Retry-After`` seconds.
Sign-in logs need Entra ID P1 or P2 and arrive minutes (sometimes hours) late: the overlap is an hour.

Credentials: an app registration with the application permission ``AuditLog.Read.All`` (admin consent),
client credentials through ``msal``: ``NHIWATCH_MICROSOFT_CLIENT_SECRET`` (or ``_FILE``), or a
certificate, ``NHIWATCH_MICROSOFT_CLIENT_CERTIFICATE`` (PEM private key, or ``_FILE``) with the setting
``certificate_thumbprint``. ``tenant_id`` and ``client_id`` are settings; ``base_url`` and ``authority``
select the cloud (``https://graph.microsoft.us`` / ``https://login.microsoftonline.us`` for US Government).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect.base import Collector, Page, Window, iso
from nhiwatch.sources.collect.errors import AuthError, BadResponse
from nhiwatch.sources.collect.http import HttpClient, HttpOptions
from nhiwatch.sources.collect.registry import Settings as BaseSettings
from nhiwatch.sources.collect.secrets import Secret, read_secret, scrub

SECRET_ENV = "NHIWATCH_MICROSOFT_CLIENT_SECRET"
CERT_ENV = "NHIWATCH_MICROSOFT_CLIENT_CERTIFICATE"
GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
TENANT = r"^([0-9a-fA-F-]{36}|[A-Za-z0-9.-]{1,200})$"  # a GUID or a verified domain

TokenSource = Callable[[bool], str]  # refresh -> access token


class Settings(BaseSettings):
    tenant_id: str = Field(pattern=TENANT)
    client_id: str = Field(pattern=GUID)
    base_url: str = "https://graph.microsoft.com"
    authority: str = "https://login.microsoftonline.com"
    certificate_thumbprint: str | None = Field(None, pattern=r"^[0-9A-Fa-f]{40}$")
    streams: tuple[str, ...] = ("signIns.servicePrincipal", "signIns.managedIdentity", "directoryAudits")
    top: int = Field(1000, ge=1, le=1000)

    @field_validator("base_url", "authority")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return v.rstrip("/")

    @field_validator("streams", mode="before")
    @classmethod
    def _streams(cls, v: Any) -> Any:
        items = [s.strip() for s in v.split(",")] if isinstance(v, str) else v
        for s in items:
            if s not in STREAMS:
                raise ValueError(f"unknown stream {s!r}; known: {', '.join(STREAMS)}")
        return tuple(items)


@dataclass
class GraphList:
    instance: str
    path: str
    time_field: str
    source: str
    top: int
    kind: str | None = None
    overlap: timedelta = timedelta(hours=1)
    max_window: timedelta | None = timedelta(days=1)

    def fetch(self, http: HttpClient, window: Window, cursor: str | None) -> Page:
        if cursor is None:
            flt = f"{self.time_field} ge {_graph_time(window.start)} and {self.time_field} le {_graph_time(window.end)}"
            if self.kind:
                flt += f" and signInEventTypes/any(t: t eq '{self.kind}')"
            data, _ = http.get_json(self.path, {"$filter": flt, "$top": self.top})
        else:
            data, _ = http.get_json(cursor)  # @odata.nextLink: checked to be on the Graph host
        if not isinstance(data, dict) or not isinstance(data.get("value"), list):
            raise BadResponse(f"Graph {self.path} did not answer an object with a 'value' list")
        nxt = data.get("@odata.nextLink")
        return Page(data["value"], nxt if isinstance(nxt, str) and nxt else None)


def _graph_time(t: datetime) -> str:
    return iso(t.replace(microsecond=0))


STREAMS = {
    "signIns.servicePrincipal": lambda top: GraphList(
        "signIns.servicePrincipal",
        "beta/auditLogs/signIns",
        "createdDateTime",
        "microsoft.entra_signins",
        top,
        "servicePrincipal",
    ),
    "signIns.managedIdentity": lambda top: GraphList(
        "signIns.managedIdentity",
        "beta/auditLogs/signIns",
        "createdDateTime",
        "microsoft.entra_signins",
        top,
        "managedIdentity",
    ),
    "directoryAudits": lambda top: GraphList(
        "directoryAudits", "v1.0/auditLogs/directoryAudits", "activityDateTime", "microsoft.entra_audit", top
    ),
}


class MsalTokens:
    """Client-credentials tokens from msal (cached by msal until shortly before they expire)."""

    def __init__(
        self, settings: Settings, credential: Secret, *, app: Any = None, http_client: Any = None
    ) -> None:
        self._secrets = [credential]
        self._scope = [f"{settings.base_url}/.default"]
        if app is None:
            try:
                import msal
            except ImportError:
                raise ConfigError(
                    "the Microsoft Graph collector needs msal: pip install 'nhiwatch[collect]'"
                ) from None
            client_credential: Any = credential.reveal()
            if settings.certificate_thumbprint:
                client_credential = {
                    "private_key": credential.reveal(),
                    "thumbprint": settings.certificate_thumbprint,
                }
            extra = {"http_client": http_client} if http_client is not None else {}
            try:
                app = msal.ConfidentialClientApplication(
                    settings.client_id,
                    authority=f"{settings.authority}/{settings.tenant_id}",
                    client_credential=client_credential,
                    **extra,
                )
            except Exception as exc:  # msal checks the authority (a request) and the key when built
                raise AuthError(
                    scrub(f"could not set up Entra ID sign-in: {type(exc).__name__}: {exc}", [credential])
                ) from None
        self._app = app

    def __call__(self, refresh: bool) -> str:
        if refresh and hasattr(self._app, "remove_tokens_for_client"):
            self._app.remove_tokens_for_client()
        try:
            result = self._app.acquire_token_for_client(scopes=self._scope)
        except Exception as exc:  # msal raises ValueError and requests errors for a bad key or network
            raise AuthError(
                scrub(f"could not get a Graph token: {type(exc).__name__}: {exc}", self._secrets)
            ) from None
        if not isinstance(result, dict) or "access_token" not in result:
            err = result.get("error", "unknown") if isinstance(result, dict) else "unknown"
            desc = result.get("error_description", "") if isinstance(result, dict) else ""
            first = str(desc).splitlines()[0] if desc else ""
            raise AuthError(scrub(f"Entra ID refused the client credentials ({err}): {first}", self._secrets))
        return str(result["access_token"])


def build(
    settings: Settings, *, env: Mapping[str, str], http: HttpOptions, tokens: TokenSource | None = None
) -> Collector:
    secrets: list[Secret | str | None] = []
    if tokens is None:
        secret = read_secret(SECRET_ENV, env, required=False)
        cert = read_secret(CERT_ENV, env, required=False)
        if bool(secret) == bool(cert):
            raise ConfigError(
                f"set one Microsoft credential: {SECRET_ENV} or {CERT_ENV} (or either with _FILE)"
            )
        if cert and not settings.certificate_thumbprint:
            raise ConfigError(
                f"{CERT_ENV} needs the setting certificate_thumbprint (NHIWATCH_MICROSOFT_CERTIFICATE_THUMBPRINT)"
            )
        credential = secret or cert
        assert credential is not None
        secrets.append(credential)
        tokens = MsalTokens(settings, credential)
    source = tokens
    client = http.client(
        settings.base_url,
        auth=lambda refresh: {"Authorization": f"Bearer {source(refresh)}"},
        secrets=secrets,
    )
    streams = [STREAMS[name](settings.top) for name in settings.streams]
    return Collector("microsoft", client, streams, lookback=timedelta(days=1))
