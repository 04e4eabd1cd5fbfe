"""SQL functions written in Python, registered on every store connection.

``nw_ip_prefix(ip)``: the network an address belongs to, ``a.b.c.0/24`` for IPv4 (and IPv4-mapped IPv6)
and the ``/64`` for IPv6, as :mod:`ipaddress` writes it; NULL for anything that is not an address. Zone ids
(``fe80::1%eth0``) and brackets are ignored. Parsing IPv6 text in SQL (``::`` expansion, embedded dotted
quads, mapped addresses) cost 20-50x the old string slicing, and DuckDB's ``inet`` extension cannot be
installed offline; this is a vectorized Arrow function that parses each *distinct* address of a batch once
(with a cache across batches), so the per-event work stays columnar.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from nhiwatch.arrow_lists import strings

IPV4_PREFIX, IPV6_PREFIX = 24, 64


@lru_cache(maxsize=1 << 16)
def ip_prefix(text: str | None) -> str | None:
    """The network of one address.

    >>> ip_prefix("2001:db8::5"), ip_prefix("2001:0db8:0:0:ffff::1"), ip_prefix("10.1.2.3")
    ('2001:db8::/64', '2001:db8::/64', '10.1.2.0/24')
    >>> ip_prefix("::ffff:10.1.2.3"), ip_prefix("fe80::1%eth0"), ip_prefix("not an ip")
    ('10.1.2.0/24', 'fe80::/64', None)
    """
    if text is None:
        return None
    bare = text.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
    try:
        addr = ipaddress.ip_address(bare)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    length = IPV4_PREFIX if addr.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{addr}/{length}", strict=False))


_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"


def _ip_prefix_batch(ips: pa.Array | pa.ChunkedArray) -> pa.Array:
    # Plain IPv4, most of any log, is done by Arrow kernels; only the distinct other values reach Python.
    # Null (no address) is not IPv4: False AND-ed in Kleene logic (fill_null would import pandas: arrow_lists).
    v4 = pc.and_kleene(pc.match_substring_regex(ips, _IPV4), pc.is_valid(ips))
    v4_prefix = pc.replace_substring_regex(ips, r"^(\d+\.\d+\.\d+)\.\d+$", r"\1.0/24")
    distinct = pc.unique(pc.filter(ips, pc.invert(v4)))
    prefixes = strings([ip_prefix(v) for v in distinct.to_pylist()])
    others = pc.take(prefixes, pc.index_in(ips, value_set=distinct))
    return pc.if_else(v4, v4_prefix, others)


def register_text_function(
    con: duckdb.DuckDBPyConnection, name: str, fn: Callable[[pa.Array | pa.ChunkedArray], pa.Array]
) -> None:
    """Register ``fn`` (a batch of strings to a batch of strings, NULLs handled by ``fn``) as the SQL
    function ``name``, unless the connection has it already."""
    known = con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [name]).fetchall()
    if known[0][0]:
        return
    con.create_function(  # type: ignore[call-overload]  # the stubs know no Arrow-typed callables
        name,
        fn,
        [duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("VARCHAR"),
        type="arrow",
        null_handling="special",
    )


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    register_text_function(con, "nw_ip_prefix", _ip_prefix_batch)
