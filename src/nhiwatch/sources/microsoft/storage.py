"""Entra ID and Microsoft Graph logs archived to Azure Storage by a diagnostic setting (``entra_storage``).

A diagnostic setting ("Archive to a storage account") writes each category to its own container,
``insights-logs-<category>``, one append blob per hour::

    tenantId=<tenant>/y=2026/m=11/d=30/h=23/m=00/PT1H.json
    resourceId=/tenants/<tenant>/providers/microsoft.aadiam/y=2026/m=11/d=30/h=23/m=00/PT1H.json

holding one Azure Monitor resource-log record a line (``time``, ``category``, ``operationName``, ...,
the event under ``properties``): the shape nhiwatch's ``microsoft.*`` file parsers read, so each
container's blobs go through the normal ingest path with that container's source forced
(``serviceprincipalsigninlogs`` and ``managedidentitysigninlogs`` as ``microsoft.entra_signins``,
``auditlogs`` as ``microsoft.entra_audit``, ``microsoftgraphactivitylogs`` as
``microsoft.graph_activity``). User sign-in containers are not read: nhiwatch watches non-human
identities, and their records would only be quarantined as a foreign category.

Each container is a feed (:mod:`nhiwatch.sources.collect.feeds`): its *scopes* (the folders above
``y=``, found by listing with ``/`` as delimiter, optionally narrowed to some tenants) are listed one
day prefix at a time (``<scope>y=YYYY/m=MM/d=DD/``) from the floor day (the checkpoint) through today.

**Append blobs are read by offset, not only once closed.** The hour's blob grows all hour long and
Azure Monitor may append to it for a while after the hour ends (its ingestion latency). Reading only
closed hours would delay every alert by more than an hour and lose what arrives after the blob was
judged closed. Instead, the bytes read of each blob are recorded (``collector_offsets``) in the
transaction that stores the events they held, and a later run asks for ``Range: bytes=<offset>-`` up to
the size the listing reported: only the new tail. A part ends at its last newline, so a record being
written is never cut in two; the rest is read next time. Once the hour is over by
``hour_grace_minutes``, a last line without a newline is taken as complete. A crash between reading and
the commit leaves the offset where it was: the part is read again and its events are de-duplicated by
their ids. A blob smaller than its recorded offset was replaced and is read again from its start.

A blob name under a listed day that is not in the layout (another suffix, a different depth, a name
made to look like a path) is not read: it is quarantined once with the reason. Lines that are not JSON,
or records of another category, are quarantined by ingest with theirs.

Needs azure-storage-blob (``pip install 'nhiwatch[azure]'``); credentials: :mod:`.blob_client`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect.base import Collector
from nhiwatch.sources.collect.errors import BadResponse
from nhiwatch.sources.collect.feeds import Batch, Item, Known, ReadRecord
from nhiwatch.sources.collect.http import HttpOptions
from nhiwatch.sources.collect.registry import Settings as BaseSettings
from nhiwatch.sources.microsoft.blob_client import (
    AzureCalls,
    check_url,
    container_client,
    credential,
    log,
)

CONTAINERS = {
    "insights-logs-serviceprincipalsigninlogs": "microsoft.entra_signins",
    "insights-logs-managedidentitysigninlogs": "microsoft.entra_signins",
    "insights-logs-auditlogs": "microsoft.entra_audit",
    "insights-logs-microsoftgraphactivitylogs": "microsoft.graph_activity",
}
USER_SIGNINS = ("insights-logs-signinlogs", "insights-logs-noninteractiveusersigninlogs")
LAYOUT = re.compile(r"^y=(\d{4})/m=(\d{2})/d=(\d{2})/h=(\d{2})/m=00/PT1H\.json$")
YEAR = re.compile(r"y=\d{4}")
GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
MAX_DEPTH = 8  # resourceId=/tenants/<id>/providers/microsoft.aadiam/ is five folders deep
MAX_SCOPES = 200
MAX_NAME = 1024  # Azure's own limit on a blob name


class Settings(BaseSettings):
    # The Blob service endpoint (``https://<account>.blob.core.windows.net``, a private endpoint, Azurite);
    # ``--base-url`` gives it too, as for every collector. A connection string may give it instead.
    account_url: str | None = Field(None, validation_alias=AliasChoices("account_url", "base_url"))
    account_name: str | None = Field(None, pattern=r"^[a-z0-9]{3,64}$")  # for a key, when the URL hides it
    containers: tuple[str, ...] = tuple(CONTAINERS)
    tenants: tuple[str, ...] = ()  # default: every tenant folder found
    settle_days: int = Field(1, ge=0, le=30)
    hour_grace_minutes: int = Field(60, ge=0, le=24 * 60)
    max_read_mb: int = Field(64, ge=1, le=1024)  # bytes read per request; a larger tail takes several

    @field_validator("containers", "tenants", mode="before")
    @classmethod
    def _list(cls, v: Any) -> Any:
        return tuple(s.strip() for s in v.split(",") if s.strip()) if isinstance(v, str) else v

    @field_validator("containers")
    @classmethod
    def _containers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for c in v:
            if c in USER_SIGNINS:
                raise ValueError(
                    f"{c} holds user sign-ins, which nhiwatch does not read (it watches non-human identities)"
                )
            if c not in CONTAINERS:
                raise ValueError(f"unknown container {c!r}; known: {', '.join(CONTAINERS)}")
        if not v:
            raise ValueError("name at least one container")
        return v

    @field_validator("tenants")
    @classmethod
    def _tenants(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for t in v:
            if not re.fullmatch(GUID, t):
                raise ValueError(f"{t!r} is not a tenant id (a GUID)")
        return tuple(t.lower() for t in v)

    @field_validator("account_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else check_url(v)


def hour_of(rest: str) -> datetime | None:
    """The hour a blob holds, from its name below its scope; None for a name outside the layout.

    >>> hour_of("y=2026/m=11/d=30/h=23/m=00/PT1H.json")
    datetime.datetime(2026, 11, 30, 23, 0)
    >>> hour_of("y=2026/m=02/d=30/h=23/m=00/PT1H.json") is None
    True
    """
    m = LAYOUT.match(rest)
    if not m:
        return None
    try:
        return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)))
    except ValueError:
        return None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"the stored Azure Storage checkpoint {text!r} is not a day") from None


def _shown(name: str) -> str:
    """A blob name fit for a message: control characters escaped, bounded."""
    text = repr(name[:200])[1:-1]
    return text + ("..." if len(name) > 200 else "")


@dataclass
class DiagnosticBlobs:
    """One ``insights-logs-*`` container: its hourly append blobs, read by offset from a floor day."""

    instance: str
    source: str
    container_name: str
    calls: AzureCalls
    container: Any  # azure.storage.blob.ContainerClient
    tenants: tuple[str, ...]
    clock: Callable[[], datetime]  # naive UTC
    max_bytes: int
    settle_days: int = 1
    grace: timedelta = timedelta(hours=1)
    page_size: int = 5000  # names per List Blobs answer (the service's maximum)

    def start(self, since: datetime) -> str:
        return since.date().isoformat()

    def settle(self, floor: str, started: datetime) -> tuple[str, datetime]:
        nxt = max(_day(floor), started.date() - timedelta(days=self.settle_days))
        return nxt.isoformat(), datetime(nxt.year, nxt.month, nxt.day)

    # --- listing ---------------------------------------------------------------------------------------

    def _pages(self, what: str, make: Callable[[], Any]) -> Iterator[list[Any]]:
        """Every page of a listing; each page fetched (and retried) on its own continuation token."""
        token: str | None = None
        seen: set[str] = set()
        while True:

            def call(token: str | None = token) -> tuple[list[Any], str | None]:
                pager = make().by_page(continuation_token=token)
                items = list(next(pager, []))
                return items, pager.continuation_token

            items, token = self.calls(what, call)
            yield items
            if not token:
                return
            if token in seen:
                raise BadResponse(f"{what}: the listing returned a continuation marker it had already given")
            seen.add(token)

    def _walker(self, prefix: str) -> Callable[[], Any]:
        return lambda: self.container.walk_blobs(
            name_starts_with=prefix or None, delimiter="/", results_per_page=self.page_size
        )

    def _lister(self, prefix: str) -> Callable[[], Any]:
        return lambda: self.container.list_blobs(name_starts_with=prefix, results_per_page=self.page_size)

    def scopes(self) -> list[str]:
        """The folders directly above ``y=YYYY/`` (one per tenant, or per resource id)."""
        from azure.storage.blob import BlobPrefix

        found: list[str] = []
        frontier = [""]
        for _ in range(MAX_DEPTH):
            deeper: list[str] = []
            for prefix in frontier:
                what = f"List Blobs {self.container_name}/{_shown(prefix)}"
                for page in self._pages(what, self._walker(prefix)):
                    for p in page:
                        if not isinstance(p, BlobPrefix) or not isinstance(p.name, str):
                            continue
                        part = p.name[len(prefix) :].rstrip("/")
                        if YEAR.fullmatch(part):
                            found.append(prefix)
                        elif p.name.startswith(prefix) and len(p.name) < MAX_NAME:
                            deeper.append(p.name)
            frontier = sorted(set(deeper))[:MAX_SCOPES]
            if not frontier:
                break
        scopes = sorted(set(found))
        if self.tenants:
            scopes = [s for s in scopes if any(t in s.lower() for t in self.tenants)]
        return scopes

    def batches(self, floor: str, known: Known) -> Iterator[Batch]:
        offsets = known.offsets if isinstance(known, ReadRecord) else (lambda keys: {})
        first, today = _day(floor), self.clock().date()
        for scope in self.scopes():
            day = first
            while day <= today:
                prefix = f"{scope}y={day:%Y}/m={day:%m}/d={day:%d}/"
                what = f"List Blobs {self.container_name}/{_shown(prefix)}"
                for page in self._pages(what, self._lister(prefix)):
                    yield from self._page(scope, day, page, known, offsets)
                day += timedelta(days=1)

    def _page(
        self,
        scope: str,
        day: date,
        page: list[Any],
        known: Known,
        offsets: Callable[[list[str]], dict[str, int]],
    ) -> Iterator[Batch]:
        blobs: list[tuple[str, datetime, int]] = []
        odd: list[str] = []
        for b in page:
            name, size = getattr(b, "name", None), getattr(b, "size", None)
            if not isinstance(name, str):
                continue
            hour = hour_of(name[len(scope) :]) if name.startswith(scope) else None
            if hour is None or hour.date() != day or not isinstance(size, int) or size < 0:
                odd.append(name)
            else:
                blobs.append((name, hour, size))
        midnight = datetime(day.year, day.month, day.day)
        refused = known(odd)
        for name in odd:
            if name not in refused:
                why = (
                    f"blob {_shown(name)} in {self.container_name} is not in the diagnostic-settings layout "
                    f"({_shown(scope)}y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json): not read"
                )
                yield Batch(Item(name, midnight, "refused", _nothing, refuse=why))
        done = offsets([n for n, _, _ in blobs])
        for name, hour, size in blobs:
            at = done.get(name, 0)
            if size < at:
                log.warning(
                    "%s: %s is smaller (%d bytes) than what was read of it (%d): reading it again from the start",
                    self.instance,
                    _shown(name),
                    size,
                    at,
                )
                at = 0
            while at < size:
                item, read_to = self._part(name, hour, at, size)
                yield Batch(item, newest=hour)
                if read_to() <= at:
                    break  # no complete line yet: the rest next run
                at = read_to()

    # --- reading ---------------------------------------------------------------------------------------

    def _part(self, name: str, hour: datetime, start: int, size: int) -> tuple[Item, Callable[[], int]]:
        stop = min(size, start + self.max_bytes)
        closed = self.clock() >= hour + timedelta(hours=1) + self.grace
        reached = [start]

        def fetch(path: Path) -> None:
            what = f"Get Blob {self.container_name}/{_shown(name)} bytes {start}-{stop - 1}"
            last_newline = self.calls(what, lambda: self._download(name, start, stop - start, path))
            cut = last_newline + 1
            if stop == size and closed:
                cut = stop - start  # the hour is over: a last line without its newline is whole
            elif cut == 0 and stop - start >= self.max_bytes:
                cut = stop - start  # one line longer than a read: ingest quarantines it
            with path.open("r+b") as fh:
                fh.truncate(cut)
            reached[0] = start + cut

        spool = f"{self.container_name}-{name}".replace("/", "_")
        return Item(name, hour, spool, fetch, end=lambda: reached[0]), lambda: reached[0]

    def _download(self, name: str, offset: int, length: int, path: Path) -> int:
        """``length`` bytes of the blob from ``offset`` into ``path``; the index of the last newline
        (-1 when there is none). A body cut short raises, and the call is retried whole."""
        from azure.core.exceptions import IncompleteReadError

        stream = self.container.download_blob(name, offset=offset, length=length)
        written, last = 0, -1
        with path.open("wb") as fh:
            for chunk in stream.chunks():
                if written + len(chunk) > length:
                    raise BadResponse(f"{_shown(name)}: the service sent more bytes than the range asked")
                i = chunk.rfind(b"\n")
                if i >= 0:
                    last = written + i
                fh.write(chunk)
                written += len(chunk)
        if written != length:
            raise IncompleteReadError(message=f"the body ended after {written} of {length} bytes")
        return last


def _nothing(path: Path) -> None:
    raise AssertionError("a refused blob is never fetched")


def build(settings: Settings, *, env: Mapping[str, str], http: HttpOptions) -> Collector:
    cred = credential(env)
    url = settings.account_url
    if url is None and cred.account_url:
        try:
            url = check_url(cred.account_url)
        except ValueError as exc:
            raise ConfigError(f"the connection string's Blob endpoint: {exc}") from None
    if url is None:
        raise ConfigError(
            "entra_storage needs the storage account's Blob endpoint: --base-url "
            "https://ACCOUNT.blob.core.windows.net (or NHIWATCH_ENTRA_STORAGE_ACCOUNT_URL), or a connection "
            "string that names it"
        )
    if cred.origin.startswith("AZURE_") and not url.startswith("https://"):
        raise ConfigError("a service principal's token is sent only over https: use an https account URL")
    sdk_credential = cred.for_account(url, settings.account_name)
    calls = AzureCalls(http, cred.secrets)

    def clock() -> datetime:
        return datetime.fromtimestamp(http.clock(), UTC).replace(tzinfo=None)

    feeds: list[Any] = []
    clients: list[Any] = []
    for name in settings.containers:
        client = container_client(url, name, sdk_credential, timeout=http.timeout)
        clients.append(client)
        feeds.append(
            DiagnosticBlobs(
                f"{url}/{name}",
                CONTAINERS[name],
                name,
                calls,
                client,
                settings.tenants,
                clock,
                settings.max_read_mb << 20,
                settle_days=settings.settle_days,
                grace=timedelta(minutes=settings.hour_grace_minutes),
            )
        )
    collector = Collector("entra_storage", None, feeds, secrets=cred.secrets)
    collector.lookback = timedelta(days=1)
    collector.on_close += [c.close for c in clients]
    return collector
