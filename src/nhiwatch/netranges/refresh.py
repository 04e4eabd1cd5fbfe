"""``nhiwatch netranges refresh``: fetch the providers' official range files and write the store's copy.

Without sources it downloads the official files (AWS, Google Cloud, Azure's Service Tags, whose dated file
name is read off Microsoft's download page, and DigitalOcean's geofeed); with ``--from`` it reads the given files or URLs.
Each input is recognised by its content (:mod:`.parse`) and replaces that provider's rows; providers not
given keep the rows in force, so refreshing Azure alone does not drop AWS. Downloads are bounded in size
and time, only ``http``/``https`` is fetched, and any problem is reported as one sentence.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from nhiwatch.errors import DataFormatError, SourceError
from nhiwatch.netranges.parse import Range, parse, write_table
from nhiwatch.netranges.table import load_ranges, override_path

MAX_BYTES = 32 * 1024 * 1024  # the Azure file, the largest, is ~4 MB
TIMEOUT_S = 30.0
OFFICIAL = (
    "https://ip-ranges.amazonaws.com/ip-ranges.json",
    "https://www.gstatic.com/ipranges/cloud.json",
    "https://www.microsoft.com/en-us/download/details.aspx?id=56519",  # the page naming the dated JSON
    "https://digitalocean.com/geo/google.csv",  # a geofeed: DigitalOcean, the hosting provider
)
_AZURE_LINK = re.compile(
    rb"https://download\.microsoft\.com/download/[A-Za-z0-9/_.-]+/ServiceTags_Public_\d{8}\.json"
)
PROVIDER_OF = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}


@dataclass
class Refreshed:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)  # provider -> prefixes now in force
    sources: dict[str, str] = field(default_factory=dict)  # provider -> where its rows came from


def fetch(source: str, client: httpx.Client | None = None) -> bytes:
    """The bytes of a file path or an http(s) URL, at most :data:`MAX_BYTES`."""
    if "://" not in source:
        p = Path(source)
        try:
            size = p.stat().st_size
            if size > MAX_BYTES:
                raise SourceError(
                    f"{source}: {size:,} bytes, more than the {MAX_BYTES:,} a range file may have"
                )
            return p.read_bytes()
        except OSError as exc:
            raise SourceError(f"{source}: cannot read it ({exc.strerror or exc})") from None
    if not source.startswith(("http://", "https://")):
        raise SourceError(f"{source}: only http(s) URLs and files can be read")
    own = client is None
    c = client or httpx.Client(timeout=TIMEOUT_S, follow_redirects=True, max_redirects=3)
    try:
        with c.stream("GET", source) as resp:
            if resp.status_code != 200:
                raise SourceError(f"{source}: the server answered HTTP {resp.status_code}")
            buf = bytearray()
            for chunk in resp.iter_bytes():
                buf += chunk
                if len(buf) > MAX_BYTES:
                    raise SourceError(f"{source}: more than {MAX_BYTES:,} bytes; not a range file")
            return bytes(buf)
    except httpx.HTTPError as exc:
        raise SourceError(f"{source}: download failed ({type(exc).__name__}: {exc})") from None
    finally:
        if own:
            c.close()


def _azure_json(page: bytes, source: str, client: httpx.Client | None) -> bytes:
    """Microsoft's download page names the week's ``ServiceTags_Public_YYYYMMDD.json``: follow that link."""
    m = _AZURE_LINK.search(page)
    if m is None:
        raise SourceError(f"{source}: no ServiceTags_Public_YYYYMMDD.json link on the page")
    return fetch(m.group(0).decode(), client)


def refresh(
    db: str | Path,
    sources: Sequence[str] = (),
    *,
    out: Path | None = None,
    client: httpx.Client | None = None,
    geofeed_provider: str = "DigitalOcean",
) -> Refreshed:
    """Read ``sources`` (default: the official files), validate them, merge them over the ranges in force
    and write the store's override copy (or ``out``). Nothing is written unless every source is valid."""
    target = out or override_path(db)
    if target is None:
        raise SourceError("an in-memory store has no place for a ranges file: pass --out")
    current, origin = load_ranges(db)
    by_provider: dict[str, list[Range]] = {}
    sources_of: dict[str, str] = {}
    for source in sources or OFFICIAL:
        data = fetch(source, client)
        if (
            source.startswith(("http://", "https://"))
            and b"ServiceTags_Public_" in data[:1_000_000]
            and (data.lstrip()[:1] == b"<")
        ):
            data = _azure_json(data, source, client)
        try:
            fmt, ranges = parse(data, source, provider=geofeed_provider)
        except DataFormatError as exc:
            raise DataFormatError(str(exc) if str(exc).startswith(source) else f"{source}: {exc}") from None
        provider = PROVIDER_OF.get(fmt, geofeed_provider)
        by_provider.setdefault(provider, []).extend(ranges)
        sources_of[provider] = source
    merged = [r for r in current if r.provider not in by_provider]
    for ranges in by_provider.values():
        merged += ranges
    for r in current:
        if r.provider not in by_provider:
            sources_of.setdefault(r.provider, origin)
    counts: dict[str, int] = {}
    for r in merged:
        counts[r.provider] = counts.get(r.provider, 0) + 1
    _write_atomic(target, gzip.compress(write_table(merged), mtime=0))
    return Refreshed(target, dict(sorted(counts.items())), dict(sorted(sources_of.items())))


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
