"""Reading the cloud providers' published address ranges into ``(prefix, provider, region, service)`` rows.

Four formats are recognised from their content, never from a file name:

* AWS ``ip-ranges.json``: ``{"prefixes": [{"ip_prefix", "region", "service"}], "ipv6_prefixes": [...]}``;
* Google Cloud ``cloud.json``: ``{"prefixes": [{"ipv4Prefix" | "ipv6Prefix", "scope", "service"}]}``;
* Azure Service Tags (``ServiceTags_Public_YYYYMMDD.json``): ``{"values": [{"name", "properties":
  {"region", "addressPrefixes"}}]}`` — only the regional ``AzureCloud.<region>`` tags are kept: they cover
  every public Azure address with its region, and the service tags inside them would only repeat it;
* a geofeed CSV (RFC 8805, ``prefix,country,subdivision,city,zip``) as DigitalOcean publishes it, read as
  a hosting provider named by the caller.

Every input is hostile until checked: each prefix is parsed with :mod:`ipaddress`; prefixes broader than
``/8`` (IPv4) or ``/16`` (IPv6), and private, loopback, link-local, multicast or reserved ones, are refused
(a file that claims ``10.0.0.0/8`` or ``0.0.0.0/0`` for a provider would make every address "known");
labels are cut to a short, printable alphabet. A file where no prefix survives, or more than one in a
hundred is invalid, is refused as a whole with a message that names the first bad entries.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from nhiwatch.errors import DataFormatError

MIN_PREFIX = {4: 8, 6: 16}
MAX_ROWS = 500_000  # the four official files together hold ~70,000
MAX_BAD_SHARE = 0.01
_LABEL_BAD = re.compile(r"[^A-Za-z0-9 ._()/+-]")


@dataclass(frozen=True)
class Range:
    prefix: str  # normalised by ipaddress
    provider: str
    region: str
    service: str


def label(value: Any, limit: int = 48) -> str:
    """A provider, region or service name cut to a safe alphabet and length.

    >>> label("eu-west-1"), label("US-NJ North Bergen"), label("<script>x</script>" * 9)[:20]
    ('eu-west-1', 'US-NJ North Bergen', 'scriptx/scriptscrip')
    """
    return _LABEL_BAD.sub("", str(value or ""))[:limit].strip()


def network(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A published prefix, or :class:`ValueError` saying why it is refused.

    >>> str(network("3.5.140.0/22")), str(network("2600:1f14::/35"))
    ('3.5.140.0/22', '2600:1f14::/35')
    >>> network("10.0.0.0/8")
    Traceback (most recent call last):
    ...
    ValueError: 10.0.0.0/8 is not a public address range
    """
    if not isinstance(text, str) or len(text) > 64:
        raise ValueError(f"{str(text)[:64]!r} is not a prefix")
    net = ipaddress.ip_network(text.strip(), strict=True)
    if net.prefixlen < MIN_PREFIX[net.version]:
        raise ValueError(f"{net} is broader than /{MIN_PREFIX[net.version]}")
    addr = net.network_address
    if (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    ):
        raise ValueError(f"{net} is not a public address range")
    return net


def _checked(raw: Iterable[tuple[Any, str, Any, Any]], what: str) -> list[Range]:
    """Validate ``(prefix, provider, region, service)`` tuples; refuse the file if too many are bad."""
    out: dict[str, Range] = {}
    bad: list[str] = []
    total = 0
    for prefix, provider, region, service in raw:
        total += 1
        if total > MAX_ROWS:
            raise DataFormatError(f"{what}: more than {MAX_ROWS:,} prefixes; not a provider's range file")
        try:
            net = network(prefix)
        except ValueError as exc:
            bad.append(str(exc))
            continue
        r = Range(str(net), label(provider), label(region), label(service))
        prev = out.get(r.prefix)
        # AWS lists a prefix under AMAZON and again under the service using it: keep the specific one
        if prev is None or (
            prev.service.upper() in ("AMAZON", "") and r.service.upper() not in ("AMAZON", "")
        ):
            out[r.prefix] = r
    if not out:
        raise DataFormatError(
            f"{what}: no valid prefix found" + (f" (first problems: {'; '.join(bad[:3])})" if bad else "")
        )
    if len(bad) > MAX_BAD_SHARE * total:
        raise DataFormatError(
            f"{what}: {len(bad):,} of {total:,} prefixes are invalid (first: {'; '.join(bad[:3])}); refused"
        )
    return list(out.values())


def _aws(doc: dict[str, Any]) -> Iterator[tuple[Any, str, Any, Any]]:
    for key, field in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
        for p in _list(doc.get(key)):
            if isinstance(p, dict):
                yield p.get(field), "AWS", p.get("region"), p.get("service")
            else:
                yield p, "AWS", "", ""


def _gcp(doc: dict[str, Any]) -> Iterator[tuple[Any, str, Any, Any]]:
    for p in _list(doc.get("prefixes")):
        if isinstance(p, dict):
            yield p.get("ipv4Prefix") or p.get("ipv6Prefix"), "GCP", p.get("scope"), p.get("service")
        else:
            yield p, "GCP", "", ""


def _azure(doc: dict[str, Any]) -> Iterator[tuple[Any, str, Any, Any]]:
    for tag in _list(doc.get("values")):
        if not isinstance(tag, dict) or not str(tag.get("name", "")).startswith("AzureCloud."):
            continue
        props: dict[str, Any] = tag["properties"] if isinstance(tag.get("properties"), dict) else {}
        region = props.get("region") or str(tag["name"]).split(".", 1)[1]
        for p in _list(props.get("addressPrefixes")):
            yield p, "Azure", region, "AzureCloud"


def _list(v: Any) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise DataFormatError("expected a list of prefixes")
    return v


def detect_format(data: bytes) -> str:
    """``aws``, ``gcp``, ``azure`` or ``geofeed`` from the content; :class:`DataFormatError` otherwise."""
    head = data.lstrip()[:1]
    if head == b"{":
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise DataFormatError(f"not valid JSON ({exc})") from None
        if isinstance(doc, dict):
            if isinstance(doc.get("values"), list):
                return "azure"
            prefixes = doc.get("prefixes")
            if isinstance(prefixes, list):
                first = next((p for p in prefixes if isinstance(p, dict)), {})
                if "ip_prefix" in first or "ipv6_prefixes" in doc:
                    return "aws"
                if "ipv4Prefix" in first or "ipv6Prefix" in first or "scope" in first:
                    return "gcp"
        raise DataFormatError(
            "a JSON file that is none of AWS ip-ranges.json, Google cloud.json or Azure ServiceTags_Public"
        )
    first_line = data[:256].split(b"\n", 1)[0].decode("utf-8", "replace")
    if "," in first_line and "/" in first_line.split(",", 1)[0]:
        return "geofeed"
    raise DataFormatError(
        "neither a provider's JSON range file nor a geofeed CSV (prefix,country,region,...)"
    )


def parse(data: bytes, what: str = "input", *, provider: str = "hosting") -> tuple[str, list[Range]]:
    """The format recognised and the validated ranges of one published file (``provider`` names a geofeed)."""
    fmt = detect_format(data)
    if fmt == "geofeed":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise DataFormatError(f"{what}: a CSV that is not UTF-8") from None
        rows = (
            (r[0], provider, " ".join(x for x in r[2:4] if x) if len(r) > 2 else "", "hosting")
            for r in csv.reader(io.StringIO(text))
            if r and not r[0].startswith("#")
        )
        return fmt, _checked(rows, what)
    doc = orjson.loads(data)
    reader = {"aws": _aws, "gcp": _gcp, "azure": _azure}[fmt]
    try:
        return fmt, _checked(reader(doc), what)
    except DataFormatError as exc:
        raise DataFormatError(f"{what}: {exc}" if not str(exc).startswith(what) else str(exc)) from None


def read_table(data: bytes, what: str = "ranges file") -> list[Range]:
    """Our own ``prefix,provider,region,service`` CSV (the shipped data and the override), validated."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataFormatError(f"{what}: not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != ["prefix", "provider", "region", "service"]:
        raise DataFormatError(f"{what}: expected the header prefix,provider,region,service")
    rows = ([*r, "", "", ""][:4] for r in reader if r)
    return _checked(((p, pr, rg, sv) for p, pr, rg, sv in rows), what)


def write_table(ranges: Iterable[Range]) -> bytes:
    """The CSV text of :func:`read_table`, sorted by provider and address."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["prefix", "provider", "region", "service"])
    for r in sorted(ranges, key=lambda r: (r.provider, _sort_key(r.prefix))):
        w.writerow([r.prefix, r.provider, r.region, r.service])
    return buf.getvalue().encode()


def _sort_key(prefix: str) -> tuple[int, int, int]:
    n = ipaddress.ip_network(prefix)
    return n.version, int(n.network_address), n.prefixlen
