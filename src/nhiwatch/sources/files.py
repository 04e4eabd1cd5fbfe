"""Finding input files and sampling them: folders, plain or gzip, with damage detected early.

Sampling reads at most the first 64 KiB (decompressed) so that format detection is cheap on large
inputs. ``gzip_intact`` tells whether a ``.gz`` file decompresses to its end, so a truncated archive
can be salvaged rather than failing a whole batch.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from nhiwatch.errors import SourceError
from nhiwatch.sources.base import Sample

SAMPLE_BYTES = 64 * 1024
IGNORED_SUFFIXES = {".md", ".yaml", ".yml", ".duckdb", ".wal", ".py", ".txt.md"}


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and files under folders named (recursively, hidden ones skipped), in a stable order."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise SourceError(f"{p}: no such file or folder")
        if p.is_dir():
            out.extend(
                f
                for f in sorted(p.rglob("*"))
                if f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and f.suffix not in IGNORED_SUFFIXES
            )
        else:
            out.append(p)
    return out


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def read_head(path: Path, limit: int = SAMPLE_BYTES) -> bytes:
    """First ``limit`` decompressed bytes; a damaged gzip yields what could be decompressed."""
    if not is_gzip(path):
        with path.open("rb") as fh:
            return fh.read(limit)
    return _gunzip_prefix(path, limit)


def _gunzip_prefix(path: Path, limit: int | None) -> bytes:
    out = bytearray()
    dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                out += dec.decompress(chunk)
            except zlib.error:
                break
            if limit is not None and len(out) >= limit:
                return bytes(out[:limit])
    return bytes(out)


def gzip_intact(path: Path) -> bool:
    """True when a gzip file decompresses to its end (checked by streaming, not in memory)."""
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 22):
                pass
        return True
    except (OSError, EOFError, zlib.error):
        return False


def salvage_gzip(path: Path) -> tuple[bytes, str]:
    """What a damaged gzip still yields, up to its last complete line, and a reason for quarantine."""
    data = _gunzip_prefix(path, None)
    cut = data.rfind(b"\n") + 1
    return data[
        :cut
    ], f"truncated or corrupt gzip: {len(data)} bytes decompressed, the incomplete last line dropped"


def gunzip_prefix(path: Path) -> bytes:
    """Everything a (possibly damaged) gzip file decompresses to, the cut-off end included."""
    return _gunzip_prefix(path, None)


def salvage_document(data: bytes, containers: Iterable[str]) -> tuple[list[Any], int] | None:
    """The complete records at the start of a cut-off JSON array (``[{...}, {...``) or record document
    (``{"ok": true, "entries": [{...}, {...``), and how many characters after them were dropped.

    None when ``data`` does not start like such a document (JSON lines, or no container key).
    """
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    decoder = json.JSONDecoder()
    pos = _array_start(text, decoder, set(containers))
    if pos is None:
        return None
    records: list[Any] = []
    while True:
        pos = _skip(text, pos, " \t\r\n,")
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            record, pos = decoder.raw_decode(text, pos)
        except ValueError:
            break
        records.append(record)
    return records, len(text) - pos


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _array_start(text: str, decoder: json.JSONDecoder, containers: set[str]) -> int | None:
    """Position after the ``[`` of a top-level array, or of the array under a container key."""
    if text.startswith("["):
        return 1
    if not text.startswith("{"):
        return None
    pos = 1
    try:
        while True:  # walk the top-level keys until the container; values before it are skipped whole
            key, pos = decoder.raw_decode(text, _skip(text, pos, " \t\r\n,"))
            pos = _skip(text, pos, " \t\r\n")
            if not isinstance(key, str) or text[pos : pos + 1] != ":":
                return None
            pos = _skip(text, pos + 1, " \t\r\n")
            if key in containers and text[pos : pos + 1] == "[":
                return pos + 1
            _, pos = decoder.raw_decode(text, pos)
    except ValueError:
        return None


def sample(path: Path) -> Sample:
    head = read_head(path)
    text = head.decode("utf-8", errors="replace")
    stripped = text.lstrip("\ufeff \t\r\n")
    first_line = stripped.split("\n", 1)[0].strip()
    first: object = None
    for candidate in (first_line, stripped):
        try:
            first = orjson.loads(candidate)
            break
        except orjson.JSONDecodeError:
            continue
    if first is None and stripped.startswith(("[", "{")):
        first = _first_json_value(stripped)
    return Sample(name=path.name, head=text, first_record=first, first_line=first_line)


def _first_json_value(text: str) -> object:
    """The first object of a (possibly cut-off) pretty-printed JSON array or document, best effort."""
    start = text.find("{", 1 if text.startswith("[") else 0)
    if start < 0:
        return None
    try:
        return json.JSONDecoder().raw_decode(text, start)[0]
    except json.JSONDecodeError:
        return None  # the first object is cut off by the sample


def iter_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Lines of ``data`` with their 1-based numbers."""
    yield from enumerate(data.split(b"\n"), start=1)
