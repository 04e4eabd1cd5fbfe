"""The ranges as a DuckDB table, and the SQL that names the provider and region of an address.

Published prefixes nest (AWS lists ``AMAZON`` supernets and the service prefixes inside them), so the load
flattens them once into disjoint ``[lo, hi]`` intervals, each labelled by the most specific prefix that
covers it. An address is then matched with an ``ASOF`` join (the interval with the greatest ``lo`` at or
below it) and one comparison with ``hi``: a sort-merge over the distinct addresses of a window, not a
Python loop per event. Addresses and bounds are 32-digit hex strings of the 128-bit IPv6 value (IPv4 as
``::ffff:a.b.c.d``), which sort as the numbers do; ``nw_ip_hex`` makes them from text.

The table is a temp table of the connection, loaded from the override copy next to the store when there
is one (``nhiwatch netranges refresh``), else from the snapshot shipped with the package.
"""

from __future__ import annotations

import gzip
import ipaddress
import weakref
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from nhiwatch.errors import DataFormatError, NhiwatchError
from nhiwatch.functions import register_text_function
from nhiwatch.netranges.parse import Range, read_table
from nhiwatch.store import Store

SHIPPED = "cloud_ranges.csv.gz"
OVERRIDE_SUFFIX = ".netranges.csv.gz"
TABLE = "nw_netranges"
_MAPPED = 0xFFFF << 32


def override_path(db: str | Path) -> Path | None:
    """Where ``refresh`` writes the ranges for the store ``db`` (None for an in-memory store)."""
    if str(db) in ("", ":memory:"):
        return None
    p = Path(db)
    return p.with_name(p.name + OVERRIDE_SUFFIX)


def shipped_bytes() -> bytes:
    return resources.files("nhiwatch.netranges").joinpath(SHIPPED).read_bytes()


def load_ranges(db: str | Path | None = None) -> tuple[list[Range], str]:
    """The ranges in force for the store ``db`` and where they came from. A damaged override is ignored
    (the shipped snapshot is used, and the returned origin says so) rather than stopping detection."""
    path = override_path(db) if db is not None else None
    if path is not None and path.is_file():
        try:
            return read_table(gzip.decompress(path.read_bytes()), str(path)), str(path)
        except (OSError, EOFError, gzip.BadGzipFile, DataFormatError) as exc:
            origin = f"shipped snapshot (override {path} ignored: {exc})"
            return read_table(gzip.decompress(shipped_bytes()), "shipped ranges"), origin
    return read_table(gzip.decompress(shipped_bytes()), "shipped ranges"), "shipped snapshot"


@lru_cache(maxsize=1 << 16)
def ip_hex(text: str | None) -> str | None:
    """The 32-hex-digit sort key of an address, IPv4 mapped into IPv6; None for anything else.

    >>> ip_hex("3.5.140.1"), ip_hex("::ffff:3.5.140.1") == ip_hex("3.5.140.1"), ip_hex("nope")
    ('00000000000000000000ffff03058c01', True, None)
    """
    if not text:
        return None
    bare = text.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
    try:
        addr = ipaddress.ip_address(bare)
    except ValueError:
        return None
    n = int(addr) | _MAPPED if addr.version == 4 else int(addr)
    return f"{n:032x}"


def _bounds(prefix: str) -> tuple[int, int, int]:
    net = ipaddress.ip_network(prefix)
    lo = int(net.network_address) | (_MAPPED if net.version == 4 else 0)
    return lo, lo + net.num_addresses - 1, net.prefixlen + (96 if net.version == 4 else 0)


def flatten(ranges: Sequence[Range]) -> list[tuple[int, int, Range]]:
    """Disjoint intervals, each labelled by the most specific prefix covering it (CIDR prefixes either
    nest or are disjoint, so a stack of open prefixes is enough).

    >>> r = [Range("3.0.0.0/8", "AWS", "", "AMAZON"), Range("3.5.0.0/16", "AWS", "us-east-1", "EC2")]
    >>> [(f"{lo:x}"[-8:], f"{hi:x}"[-8:], x.region) for lo, hi, x in flatten(r)]
    [('03000000', '0304ffff', ''), ('03050000', '0305ffff', 'us-east-1'), ('03060000', '03ffffff', '')]
    """
    items = sorted(((_bounds(r.prefix), r) for r in ranges), key=lambda x: (x[0][0], -x[0][1]))
    out: list[tuple[int, int, Range]] = []
    stack: list[tuple[int, Range]] = []  # (hi, label) of the open prefixes, innermost last
    cursor = 0

    def emit(lo: int, hi: int, r: Range) -> None:
        if lo <= hi:
            out.append((lo, hi, r))

    for (lo, hi, _), r in items:
        while stack and stack[-1][0] < lo:
            top_hi, top = stack.pop()
            emit(cursor, top_hi, top)
            cursor = top_hi + 1
        if stack:
            emit(cursor, lo - 1, stack[-1][1])
        stack.append((hi, r))
        cursor = lo
    while stack:
        top_hi, top = stack.pop()
        emit(cursor, top_hi, top)
        cursor = top_hi + 1
    return out


def _ip_hex_batch(ips: pa.Array | pa.ChunkedArray) -> pa.Array:
    distinct = pc.unique(ips)
    keys = pa.array([ip_hex(v) for v in distinct.to_pylist()], pa.string())
    return pc.take(keys, pc.index_in(ips, value_set=distinct))


def _register(con: duckdb.DuckDBPyConnection) -> None:
    register_text_function(con, "nw_ip_hex", _ip_hex_batch)


_LOADED: weakref.WeakKeyDictionary[Store, str] = weakref.WeakKeyDictionary()


def ensure(store: Store) -> str:
    """Load the ranges into the connection's ``nw_netranges`` temp table (once) and register ``nw_ip_hex``;
    returns where the ranges came from."""
    if store in _LOADED:
        return _LOADED[store]
    _register(store.con)
    # fetchall, not fetchone: an unfinished result would block registering the Arrow table below
    have = store.fetchall("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [TABLE])
    if have[0][0]:
        _LOADED[store] = str(store.fetchall("SELECT origin FROM nw_netranges_origin")[0][0])
        return _LOADED[store]
    try:
        ranges, origin = load_ranges(getattr(store, "path", None))
    except (OSError, DataFormatError) as exc:
        raise NhiwatchError(f"cloud address ranges could not be read: {exc}") from exc
    rows = flatten(ranges)
    tbl = pa.table(
        {
            "lo": [f"{lo:032x}" for lo, _, _ in rows],
            "hi": [f"{hi:032x}" for _, hi, _ in rows],
            "provider": [r.provider for _, _, r in rows],
            "region": [r.region for _, _, r in rows],
            "service": [r.service for _, _, r in rows],
        }
    )
    store.con.register("nw_netranges_rows", tbl)
    try:
        store.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT * FROM nw_netranges_rows ORDER BY lo")
    finally:
        store.con.unregister("nw_netranges_rows")
    store.execute("CREATE OR REPLACE TEMP TABLE nw_netranges_origin AS SELECT ?::VARCHAR AS origin", [origin])
    _LOADED[store] = origin
    return origin


def lookup_sql(addresses: str) -> str:
    """SQL: ``(ip, provider, region, service)`` for each distinct ``ip`` of the relation ``addresses`` (a
    subquery or table of our own with an ``ip`` column); addresses outside every range get NULLs."""
    return f"""(SELECT a.ip, CASE WHEN a.k <= r.hi THEN r.provider END AS provider,
                   CASE WHEN a.k <= r.hi THEN r.region END AS region,
                   CASE WHEN a.k <= r.hi THEN r.service END AS service
            FROM (SELECT DISTINCT ip, nw_ip_hex(ip) AS k FROM {addresses} WHERE ip IS NOT NULL) a
            ASOF LEFT JOIN {TABLE} r ON a.k >= r.lo)"""
