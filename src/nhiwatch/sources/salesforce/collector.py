"""Salesforce collector: Event Monitoring log files and Real-Time Event Monitoring storage objects.

Streams (each its own checkpoint):

- ``EventLogFile.Hourly`` and ``EventLogFile.Daily`` (feeds, :mod:`nhiwatch.sources.collect.feeds`):
  ``GET /services/data/vXX.X/query?q=SELECT Id, EventType, LogDate, CreatedDate, Interval,
  LogFileLength FROM EventLogFile WHERE Interval = '...' AND CreatedDate >= <floor> ORDER BY CreatedDate,
  Id``, following ``nextRecordsUrl`` until ``done``; each file not yet read is downloaded from its
  ``LogFile`` URL (``/sobjects/EventLogFile/<Id>/LogFile``, the CSV) and ingested as
  ``salesforce.event_log_file`` in its own transaction, its Id recorded with it. The floor is
  ``CreatedDate``, not ``LogDate``: a late hourly file (a higher ``Sequence`` for an old hour) is created
  later and is still found. Hourly and daily files hold the same events; reading both is safe (events are
  de-duplicated by request id and time) but costs downloads: choose with the setting ``streams``.
- ``LoginEvent``, ``ApiEvent`` and ``LoginAsEvent`` (time windows): ``SELECT <fields> FROM <object>
  WHERE EventDate >= S AND EventDate <= E`` with ``nextRecordsUrl`` (the stored cursor), ingested as
  ``salesforce.realtime_events``. These storage objects need Real-Time Event Monitoring (Shield or the
  Event Monitoring add-on).

Limits: every answer carries ``Sforce-Limit-Info: api-usage=used/limit`` (the org's rolling 24-hour API
request allowance, shared with every other integration). A run stops before the next request once usage
reaches ``max_api_usage`` of the limit (default 80 %), and an answer of ``REQUEST_LIMIT_EXCEEDED`` ends it
at once; the next run goes on from the checkpoint. 429 / 5xx are retried by the shared HTTP client.

Credentials: ``NHIWATCH_SALESFORCE_PRIVATE_KEY`` (or ``_FILE``), the PEM private key of a connected app
that uses the JWT bearer flow (:mod:`.jwt_bearer`); settings ``consumer_key`` and ``username``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect.base import Collector, Page, Window
from nhiwatch.sources.collect.errors import AuthError, BadResponse, RateLimited, RejectedRequest
from nhiwatch.sources.collect.feeds import Batch, Item, Known
from nhiwatch.sources.collect.http import HttpClient, HttpOptions, Reply
from nhiwatch.sources.collect.registry import Settings as BaseSettings
from nhiwatch.sources.collect.secrets import read_secret
from nhiwatch.sources.salesforce.jwt_bearer import JwtBearerTokens

log = logging.getLogger("nhiwatch.collect")

KEY_ENV = "NHIWATCH_SALESFORCE_PRIVATE_KEY"
SF_ID = re.compile(r"^[A-Za-z0-9]{15,18}$")
EVENT_TYPE = r"^[A-Za-z0-9]{1,80}$"
LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")

# Fields read from each storage object: the ones the realtime_events parser maps, and the ids it keys on.
RTEM_FIELDS = {
    "LoginEvent": (
        "EventIdentifier, EventDate, UserId, Username, LoginType, Application, Browser, Platform, SourceIp, "
        "Status, LoginUrl, ApiType, ApiVersion, LoginKey, SessionKey, UserType, TlsProtocol, CipherSuite, "
        "CountryIso, PolicyOutcome"
    ),
    "ApiEvent": (
        "EventIdentifier, EventDate, UserId, Username, SourceIp, ConnectedAppId, Application, Client, "
        "ApiType, ApiVersion, Operation, QueriedEntities, Query, RowsProcessed, RowsReturned, ElapsedTime, "
        "UserAgent, LoginKey, SessionKey, SessionLevel, Platform, PolicyOutcome"
    ),
    "LoginAsEvent": (
        "EventIdentifier, EventDate, UserId, Username, DelegatedUsername, DelegatedOrganizationId, SourceIp, "
        "Application, Browser, Platform, LoginType, LoginKey, SessionKey, UserType"
    ),
}
ELF_STREAMS = {"EventLogFile.Hourly": "Hourly", "EventLogFile.Daily": "Daily"}
STREAMS = (*ELF_STREAMS, *RTEM_FIELDS)


class Settings(BaseSettings):
    base_url: str = Field(description="The org's My Domain URL, e.g. https://acme.my.salesforce.com")
    consumer_key: str = Field(
        pattern=r"^[A-Za-z0-9._]{10,256}$", description="the connected app's consumer key"
    )
    username: str = Field(pattern=r"^[^\s@]{1,80}@[^\s@]{1,200}$", description="the integration user")
    audience: str = "https://login.salesforce.com"
    api_version: str = Field("62.0", pattern=r"^[0-9]{2}\.0$")
    streams: tuple[str, ...] = ("EventLogFile.Hourly", "EventLogFile.Daily", "LoginEvent", "ApiEvent")
    event_types: tuple[str, ...] = ()  # EventLogFile EventType values to read (default: all)
    batch_size: int = Field(2000, ge=200, le=2000)
    max_api_usage: float = Field(0.8, gt=0.0, le=1.0)
    max_file_mb: int = Field(512, ge=1, le=4096)

    @field_validator("base_url", "audience")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://acme.my.salesforce.com")
        return v.rstrip("/")

    @field_validator("streams", "event_types", mode="before")
    @classmethod
    def _list(cls, v: Any) -> Any:
        return tuple(s.strip() for s in v.split(",") if s.strip()) if isinstance(v, str) else v

    @field_validator("streams")
    @classmethod
    def _streams(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for s in v:
            if s not in STREAMS:
                raise ValueError(f"unknown stream {s!r}; known: {', '.join(STREAMS)}")
        return v

    @field_validator("event_types")
    @classmethod
    def _types(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for s in v:
            if not re.match(EVENT_TYPE, s):
                raise ValueError(f"{s!r} is not an EventLogFile EventType (letters and digits)")
        return v


class Limits:
    """The org's daily API allowance, as the last answer reported it; a run stops near its end."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.used: int | None = None
        self.limit: int | None = None

    def check(self) -> None:
        if self.used is not None and self.limit and self.used >= self.limit * self.share:
            raise RateLimited(
                f"Salesforce API usage is {self.used:,}/{self.limit:,} requests in 24 hours, at or above the "
                f"{self.share:.0%} this collector may use (setting max_api_usage): the next run goes on"
            )

    def note(self, reply: Reply) -> None:
        m = LIMIT_INFO.search(reply.headers.get("sforce-limit-info", ""))
        if m:
            self.used, self.limit = int(m.group(1)), int(m.group(2))


@dataclass
class Api:
    """The REST calls the streams make, with the org's API limits watched around each."""

    http: HttpClient
    version: str
    limits: Limits
    batch_size: int

    @property
    def root(self) -> str:
        return f"services/data/v{self.version}"

    def get(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> Reply:
        self.limits.check()
        try:
            reply = self.http.get(path_or_url, params)
        except AuthError as exc:
            if "REQUEST_LIMIT_EXCEEDED" in str(exc):
                raise RateLimited(
                    "Salesforce answered REQUEST_LIMIT_EXCEEDED: the org's 24-hour API allowance is spent; "
                    "the next run goes on from the checkpoint"
                ) from None
            raise
        self.limits.note(reply)
        return reply

    def query(self, soql: str | None, next_url: str | None = None) -> tuple[list[Any], str | None]:
        """One batch of a SOQL query (``soql``) or of its continuation (``next_url``)."""
        reply = self.get(next_url) if next_url is not None else self.get(f"{self.root}/query", {"q": soql})
        data = reply.json()
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise BadResponse("Salesforce /query did not answer an object with a 'records' list")
        nxt = data.get("nextRecordsUrl")
        more = data.get("done") is False and isinstance(nxt, str) and bool(nxt)
        return data["records"], nxt if more else None


def soql_time(t: datetime) -> str:
    """A SOQL dateTime literal (no quotes, whole seconds, UTC)."""
    return t.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_sf_time(text: Any) -> datetime | None:
    """``2026-11-30T10:00:00.000+0000`` (Salesforce's own form) as naive UTC, or None."""
    if not isinstance(text, str):
        return None
    try:
        t = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if t.tzinfo is None:
        return t
    return t.astimezone(UTC).replace(tzinfo=None)


@dataclass
class EventLogFiles:
    """Log files of one interval, newest-created last: a feed with ``CreatedDate`` as its floor."""

    instance: str
    interval: str
    api: Api
    event_types: tuple[str, ...] = ()
    max_bytes: int = 512 << 20
    source: str = "salesforce.event_log_file"
    # The next pass lists again from this long before the last one began: a file whose creation was
    # committed late is still found (files already read are skipped, not downloaded again).
    overlap: timedelta = timedelta(hours=2)

    def start(self, since: datetime) -> str:
        return soql_time(since)

    def settle(self, floor: str, started: datetime) -> tuple[str, datetime]:
        old = _floor_time(floor)
        nxt = _floor_time(soql_time(max(old, started - self.overlap)))  # whole seconds, as the query has it
        return soql_time(nxt), nxt

    def soql(self, floor: str) -> str:
        where = f"Interval = '{self.interval}' AND CreatedDate >= {soql_time(_floor_time(floor))}"
        if self.event_types:
            where += " AND EventType IN (" + ", ".join(f"'{t}'" for t in self.event_types) + ")"
        return (
            "SELECT Id, EventType, LogDate, CreatedDate, Interval, LogFileLength FROM EventLogFile "
            f"WHERE {where} ORDER BY CreatedDate, Id"
        )

    def batches(self, floor: str, known: Known) -> Iterator[Batch]:
        soql = self.soql(floor)
        records, nxt = self.api.query(soql)
        restarted = False
        while True:
            files = [r for r in records if isinstance(r, dict)]
            ids = [r.get("Id") for r in files]
            if any(not isinstance(i, str) or not SF_ID.match(i) for i in ids):
                raise BadResponse("an EventLogFile record without a valid Id")
            seen = known([str(i) for i in ids])
            for r in files:
                if r["Id"] not in seen:
                    yield self._batch(r)
            if nxt is None:
                return
            try:
                records, nxt = self.api.query(None, nxt)
            except RejectedRequest:
                if restarted:
                    raise
                # The query locator expired (15 minutes unused): list again; files read are skipped.
                restarted = True
                records, nxt = self.api.query(soql)

    def _batch(self, r: dict[str, Any]) -> Batch:
        file_id = r["Id"]
        created = parse_sf_time(r.get("CreatedDate"))
        if created is None:
            raise BadResponse(f"EventLogFile {file_id} has no readable CreatedDate")
        etype = r.get("EventType") if isinstance(r.get("EventType"), str) else "unknown"
        log_date = parse_sf_time(r.get("LogDate")) or created
        length = r.get("LogFileLength")
        expected = int(length) if isinstance(length, int | float) and length >= 0 else None
        url = f"{self.api.root}/sobjects/EventLogFile/{file_id}/LogFile"

        def fetch(path: Path) -> None:
            if expected is not None and expected > self.max_bytes:
                raise BadResponse(
                    f"EventLogFile {file_id} ({etype}) is {expected >> 20} MiB, more than max_file_mb "
                    f"({self.max_bytes >> 20}): raise the setting to read it"
                )
            body = self.api.get(url).body
            if expected is not None and len(body) < expected:
                raise BadResponse(
                    f"EventLogFile {file_id} ({etype}) arrived with {len(body)} of {expected} bytes; "
                    "not stored, the next run reads it again"
                )
            path.write_bytes(body)

        name = f"{etype}-{log_date:%Y%m%dT%H}-{file_id}.csv"
        return Batch(Item(file_id, created, name, fetch), newest=log_date)


def _floor_time(floor: str) -> datetime:
    t = parse_sf_time(floor)
    if t is None:
        raise ConfigError(f"the stored Salesforce checkpoint {floor!r} is not a time")
    return t


@dataclass
class StorageEvents:
    """One Real-Time Event Monitoring storage object, read by ``EventDate`` windows."""

    instance: str
    api: Api
    source: str = "salesforce.realtime_events"
    overlap: timedelta = timedelta(minutes=15)
    max_window: timedelta | None = timedelta(days=1)

    def fetch(self, http: HttpClient, window: Window, cursor: str | None) -> Page:
        if cursor is not None:
            records, nxt = self.api.query(None, cursor)
        else:
            end = window.end.replace(microsecond=0) + timedelta(seconds=1 if window.end.microsecond else 0)
            soql = (
                f"SELECT {RTEM_FIELDS[self.instance]} FROM {self.instance} "
                f"WHERE EventDate >= {soql_time(window.start)} AND EventDate <= {soql_time(end)}"
            )
            records, nxt = self.api.query(soql)
        return Page(records, nxt)


def build(
    settings: Settings,
    *,
    env: Mapping[str, str],
    http: HttpOptions,
    tokens: Any = None,
) -> Collector:
    key = None
    if tokens is None:
        key = read_secret(KEY_ENV, env)
        assert key is not None
        tokens = JwtBearerTokens(
            settings.consumer_key, settings.username, settings.audience, key, clock=http.clock
        )
    options = replace(http, max_body=max(http.max_body, settings.max_file_mb << 20))
    source = tokens
    client = options.client(
        settings.base_url,
        auth=lambda refresh: {"Authorization": f"Bearer {_checked(source, settings, refresh)}"},
        secrets=[key],
        headers={"Accept": "application/json", "Sforce-Query-Options": f"batchSize={settings.batch_size}"},
    )
    if isinstance(tokens, JwtBearerTokens):
        tokens.http = client
    api = Api(client, settings.api_version, Limits(settings.max_api_usage), settings.batch_size)
    streams: list[Any] = []
    for name in settings.streams:
        if name in ELF_STREAMS:
            streams.append(
                EventLogFiles(name, ELF_STREAMS[name], api, settings.event_types, settings.max_file_mb << 20)
            )
        else:
            streams.append(StorageEvents(name, api))
    return Collector("salesforce", client, streams)


def _checked(tokens: Any, settings: Settings, refresh: bool) -> str:
    token = str(tokens(refresh))
    instance = getattr(tokens, "instance_url", None)
    if instance and urlsplit(instance).hostname != urlsplit(settings.base_url).hostname:
        raise ConfigError(
            f"Salesforce says this org's API is at {instance}, not {settings.base_url}: set base_url to the "
            "org's My Domain URL"
        )
    return token
