"""A file's shape: a cheap fingerprint of how a JSON log file starts, so that ingest samples and recognises
one file per folder layout and shape instead of every file.

Sampling a file (:func:`nhiwatch.sources.files.sample`) reads and parses its first 64 KiB; for thousands of
small JSON documents (CloudTrail ``Records`` files, Google Reports pages) that was most of the planning
time. Files under folders of the same layout (digits masked: ``2026/02/16`` is ``#/#/#``), with the same
name ending and compression, whose first ~2 KiB hold the same keys in the same order and the same
word-like values (``"kind": "admin#reports#activities"``, ``"category": "SignInLogs"``, but not ids, times
or addresses: those hold digits or vary per record) are read the way the first of them was recognised.
A file whose start differs in any of these is sampled on its own; one that starts alike and still holds
another format has its records that do not fit quarantined with their reasons, as any file whose first
records mislead the sniffers.

A text or CSV file's shape is its whole first line (:func:`header_shape`): a file is read as an earlier one
with the same first line only when that file's source was recognised by its header (a CSV header, or a text
format whose first line names its columns, such as VPC flow logs): those sniffers read no more than that line.
Thousands of small VPC flow log files were otherwise each sampled and recognised (~0.3 s of the bench's
serial planning). A first line that is data (a timestamp, a counter) rarely repeats and shares nothing.
"""

from __future__ import annotations

import os
import re
import zlib
from functools import lru_cache
from pathlib import Path

SHAPE_BYTES = 2048  # decompressed bytes compared between files
SHAPE_KEYS = 12  # keys (with the word-like values between them) that make a shape
MIN_KEYS = 3  # fewer keys in the prefix (a pretty-printed file's "{" line): no shape, sample the file

_STRING = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"(\s*:)?')  # unrolled: ~40 % faster than (?:[^"\\]|\\.)*
_WORD = re.compile(r"[A-Za-z_#./ -]{1,64}")  # no digits: a value that names a kind, not an instance
_DIGITS = re.compile(r"\d+")


def read_prefix(path: Path, limit: int = SHAPE_BYTES) -> tuple[bytes, bool]:
    """The first ``limit`` decompressed bytes of ``path`` and whether it is gzip (a damaged gzip yields
    what decompresses before the damage)."""
    fd = os.open(path, os.O_RDONLY)  # no file object: a third of the cost for thousands of small files
    try:
        first = os.read(fd, limit)
        if first[:2] != b"\x1f\x8b":
            return first, False
        dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = b""
        chunk = first
        while chunk and len(out) < limit:
            try:
                out += dec.decompress(chunk, limit - len(out))
            except zlib.error:
                break
            chunk = dec.unconsumed_tail or os.read(fd, 4096)
        return out[:limit], True
    finally:
        os.close(fd)


def shape(prefix: bytes) -> str | None:
    """The shape of a JSON file's first bytes, or None when they are not JSON or say too little.

    The shape is the first character, whether the first line ends within the prefix, then up to
    SHAPE_KEYS keys in order with the word-like string values among them."""
    text = prefix.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text or text[0] not in "{[":
        return None
    line, newline, _ = text.partition("\n")
    tokens = [text[0], "1" if newline else "0"]
    keys = 0
    for m in _STRING.finditer(line):
        value, colon = m.group(1), m.group(2)
        if colon:
            tokens.append(value + ":")
            keys += 1
            if keys >= SHAPE_KEYS:
                break
        elif _WORD.fullmatch(value):
            tokens.append("=" + value)
    if keys < MIN_KEYS:
        return None
    return "\x1f".join(tokens)


HEADER = "header\x1f"  # what starts a text or CSV file's shape (a JSON shape starts with "{" or "[")


def header_shape(prefix: bytes) -> str | None:
    """The shape of a text or CSV file: its first line, whole within the prefix (None: JSON, blank, or a first
    line longer than the prefix)."""
    line, newline, _ = prefix.decode("utf-8", errors="replace").partition("\n")
    if not newline or not line.strip() or line.lstrip("\ufeff \t\r")[:1] in ("{", "["):
        return None
    return HEADER + line


def is_header_shape(key: tuple[str, ...]) -> bool:
    """Whether a :func:`shape_key` is a text or CSV file's first line (shared only by header-recognised files)."""
    return key[-1].startswith(HEADER)


def shape_key(path: Path) -> tuple[str, str, str, str] | None:
    """What files recognised alike share: folder layout, name ending, compression and shape (None: the file
    has no shape and is sampled on its own)."""
    prefix, gz = read_prefix(path)
    found = shape(prefix)
    if found is None:
        found = header_shape(prefix)
    if found is None:
        return None
    ending = _DIGITS.sub("#", "".join(path.suffixes[-2:]))
    return _layout(os.path.dirname(path) or "."), ending, "gz" if gz else "", found


@lru_cache(maxsize=4096)
def _layout(folder: str) -> str:
    """A folder with its digits masked (``2026/02/16`` is ``#/#/#``); many files share one."""
    return _DIGITS.sub("#", folder)


__all__ = ["header_shape", "is_header_shape", "read_prefix", "shape", "shape_key"]
