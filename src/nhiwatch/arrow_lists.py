"""Arrow arrays from Python lists, built from their buffers.

``pyarrow.array`` asks pandas whether its input is one of pandas' arrays, importing pandas to find out the
first time it runs when pandas is installed (it is, with the ``spark`` extra). That import took 0.2-0.3 s in
the middle of an ingest, holding the GIL: the Python of the other ingest threads waited for it. These
builders make the same arrays without asking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import pyarrow as pa


def strings(values: Sequence[str | None]) -> pa.Array:
    """``values`` as an Arrow string array (None: null). Raises UnicodeEncodeError on a lone surrogate, as
    ``pyarrow.array`` raises on it."""
    items = list(values)
    n = len(items)
    nulls = items.count(None)
    texts = cast(list[str], [v or "" for v in items] if nulls else items)
    raw = "".join(texts).encode("utf-8")
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    if len(raw) != int(lengths.sum()):  # not ASCII only: any other character is 2-4 bytes
        lengths = np.fromiter((len(t.encode("utf-8")) for t in texts), dtype=np.int64, count=n)
    small = len(raw) < 2**31  # 32-bit offsets: the ``string`` type pyarrow.array gives
    offsets = np.zeros(n + 1, dtype=np.int32 if small else np.int64)
    np.cumsum(lengths, out=offsets[1:])
    validity = None
    if nulls:
        present = np.fromiter((v is not None for v in items), dtype=bool, count=n)
        validity = pa.py_buffer(np.packbits(present, bitorder="little"))
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(raw)]
    return pa.Array.from_buffers(pa.string() if small else pa.large_string(), n, buffers, null_count=nulls)


def integers(values: Sequence[int]) -> pa.Array:
    """``values`` (no None) as an Arrow int64 array."""
    data = np.fromiter(values, dtype=np.int64, count=len(values))
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(data)])


__all__ = ["integers", "strings"]
