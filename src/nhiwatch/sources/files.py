"""Finding input files and sampling them: folders, plain or gzip, with damage detected early.

Sampling reads at most the first 64 KiB (decompressed) so that format detection is cheap on large
inputs. ``gzip_intact`` tells whether a ``.gz`` file decompresses to its end, so a truncated archive
can be salvaged rather than failing a whole batch.
"""

from __future__ import annotations

import errno
import gzip
import itertools
import json
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from nhiwatch.errors import SourceError
from nhiwatch.sources.base import Sample

SAMPLE_BYTES = 64 * 1024
IGNORED_SUFFIXES = {".md", ".yaml", ".yml", ".duckdb", ".wal", ".py", ".txt.md"}


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and files under folders named (recursively, hidden ones skipped), in a stable order."""
    return scan(paths)[0]


Skipped = tuple[Path, str]  # a path that is not read, and why


def scan(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """The regular files to read under ``paths``, and what was skipped with a reason.

    Pipes, devices and sockets are skipped (opening a FIFO would block forever, ``/dev/zero`` never ends);
    inside a folder, links are followed only to regular files in the same folder, and linked folders are
    not walked (no loops). A path named on the command line is followed wherever it points.
    """
    files: list[Path] = []
    skipped: list[Skipped] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists() and not p.is_symlink():
            raise SourceError(f"{p}: no such file or folder")
        if p.is_dir():
            _walk(p, files, skipped)
            continue
        why = _not_a_file(p)
        if why:
            skipped.append((p, why))
        else:
            files.append(p)
    return files, skipped


def _walk(root: Path, files: list[Path], skipped: list[Skipped]) -> None:
    """Files under ``root`` in path order (what os.walk found, from each directory entry's type: a regular file
    needs no stat of its own, ~14 -> ~5 µs a file over the bench's 5,600)."""
    found: list[tuple[list[str], str, bool]] = []  # sort key, path, whether it needs a closer look
    base = root.resolve()
    folders = [str(root)]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            skipped.append((Path(err.filename or folder), f"cannot read folder: {err.strerror or err}"))
            continue
        below: list[str] = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if _is_dir(entry):
                if entry.is_symlink():  # not walked; say so instead of staying silent
                    skipped.append((Path(entry.path), "link to a folder, not followed (it could loop)"))
                else:
                    below.append(entry.path)
                continue
            if os.path.splitext(name)[1] in IGNORED_SUFFIXES:
                continue
            plain = not entry.is_symlink() and _is_file(entry)
            found.append((entry.path.split(os.sep), entry.path, not plain))
        folders.extend(reversed(below))
    found.sort(key=lambda f: f[0])  # Path's order: part by part
    for _, name, look in found:
        path = Path(name)
        why = _not_a_file(path, inside=base) if look else ""
        if why:
            skipped.append((path, why))
        else:
            files.append(path)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def _not_a_file(path: Path, inside: Path | None = None) -> str:
    """Why ``path`` is not read as a log file ("" when it is a regular file)."""
    try:
        if path.is_symlink():
            try:
                target = path.resolve(strict=True)
            except RuntimeError:
                return "link loop"
            except OSError as exc:
                return "link loop" if exc.errno == errno.ELOOP else "broken link"
            if inside is not None and not target.is_relative_to(inside):
                return "link to a file outside the folder, not followed"
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return ""
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return f"not a regular file ({kind}), skipped"


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


def gunzip_prefix(path: Path) -> bytes:
    """Everything a (possibly damaged) gzip file decompresses to, the cut-off end included (bounded)."""
    return _gunzip_prefix(path, MAX_DOCUMENT)


MAX_DOCUMENT = 1 << 30  # largest file read whole in Python (documents, damaged files), after decompression


class TooLarge(ValueError):
    """A file to be read whole is larger than MAX_DOCUMENT."""

    def __init__(self) -> None:
        super().__init__(
            f"larger than {MAX_DOCUMENT >> 20} MiB to read as one document; split it, or write it as JSON lines"
        )


def read_all(path: Path) -> tuple[bytes, str]:
    """A whole file, decompressed, at most MAX_DOCUMENT bytes (else TooLarge); a damaged gzip yields its
    complete lines and a reason."""
    if not is_gzip(path):
        if path.stat().st_size > MAX_DOCUMENT:
            raise TooLarge()
        return path.read_bytes(), ""
    if gzip_intact(path):
        with gzip.open(path, "rb") as fh:  # several gzip members (concatenated logs) are read as one
            data = fh.read(MAX_DOCUMENT + 1)
        if len(data) > MAX_DOCUMENT:
            raise TooLarge()
        return data, ""
    data = _gunzip_prefix(path, MAX_DOCUMENT + 1)
    if len(data) > MAX_DOCUMENT:
        raise TooLarge()
    cut = data.rfind(b"\n") + 1
    return data[
        :cut
    ], f"truncated or corrupt gzip: {len(data)} bytes decompressed, the incomplete last line dropped"


MAX_DEPTH = 100  # deepest nesting of a record that is read; deeper is quarantined (no parser recursion)
MAX_RECORD = 4 * 1024 * 1024  # largest record (or line) read; larger is quarantined
SAMPLE_LINES = 16  # lines looked at to recognise a format: the first that parse decide
SAMPLE_SCAN = 16 * 1024 * 1024  # bytes read at most to find them (a huge first line is skipped over)

_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NON_BRACKETS = re.compile(r"[^\[\]{}]+")
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"')
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON text nests deeper than ``limit`` (computed without recursion, in C loops)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NON_BRACKETS.sub("", _STRINGS.sub("", text))
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def nested_reason(limit: int = MAX_DEPTH) -> str:
    return f"nested deeper than {limit} levels"


def size_reason(limit: int = MAX_RECORD) -> str:
    return f"record larger than {limit // (1024 * 1024)} MiB ({limit} bytes)"


class TooDeep(ValueError):
    """A JSON value nests deeper than MAX_DEPTH; ``end`` is where it ends, so reading can go on after it."""

    def __init__(self, end: int) -> None:
        super().__init__(nested_reason())
        self.end = end


@dataclass(frozen=True)
class Unreadable:
    """A record of a document that is not parsed (too deep or too large), kept in order with a reason."""

    reason: str
    raw: str


def _value_end(text: str, pos: int) -> tuple[int, int]:
    """End of the array or object starting at ``pos`` and its depth, by scanning tokens (no recursion)."""
    depth = deepest = 0
    for m in _TOKENS.finditer(text, pos):
        tok = m.group()
        if tok[0] == '"':
            if len(tok) == 1:
                break  # an unterminated string: the value is cut off
            continue
        depth += _STEP[tok]
        deepest = max(deepest, depth)
        if depth == 0:
            return m.end(), deepest
    raise ValueError("cut-off JSON value")


def decode_value(text: str, pos: int, decoder: json.JSONDecoder) -> tuple[Any, int]:
    """Like ``raw_decode``, but an array or object deeper than MAX_DEPTH raises TooDeep instead of recursing."""
    if text[pos : pos + 1] not in ("[", "{"):
        return decoder.raw_decode(text, pos)  # scalars do not recurse
    end, depth = _value_end(text, pos)
    if depth > MAX_DEPTH:
        raise TooDeep(end)
    if end - pos > MAX_RECORD:
        return Unreadable(size_reason(), text[pos : pos + 65536]), end
    # The json module, not orjson: orjson reads an integer beyond 64 bits as a float (depth is bounded above).
    return decoder.raw_decode(text, pos)


def salvage_document(data: bytes, containers: Iterable[str]) -> tuple[list[Any], int] | None:
    """The records of a JSON array (``[{...}, {...``) or record document (``{"ok": true, "entries": [...``)
    that could not be parsed whole (cut off, or holding a record too deep to parse), and how many characters
    at the end were dropped. A record too deep or too large is kept as :class:`Unreadable`.

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
            record, pos = decode_value(text, pos, decoder)
        except TooDeep as exc:
            records.append(Unreadable(str(exc), text[pos : pos + 1000]))
            pos = exc.end
            continue
        except ValueError:
            break
        records.append(record)
    if pos < len(text) and text[pos] == "]":
        if not _ends_after(text, pos + 1, 0 if text.startswith("[") else 1):
            return None  # more values follow the array: JSON lines that start with one, not a document
        return records, 0
    return records, len(text) - pos


def _ends_after(text: str, pos: int, depth: int) -> bool:
    """True when the document closes (``depth`` brackets) at or after ``pos`` and nothing but blanks follows."""
    if depth:
        for m in _TOKENS.finditer(text, pos):
            tok = m.group()
            if tok[0] != '"':
                depth += _STEP[tok]
            if depth == 0:
                pos = m.end()
                break
        else:
            return False
    return not text[pos:].strip()


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
            _, pos = decode_value(text, pos, decoder)
    except ValueError:
        return None


def sample(path: Path) -> Sample:
    """What recognition sees of a file: its head, its first record, and the first lines that parse.

    Reads at most SAMPLE_BYTES for the head and SAMPLE_SCAN bytes for the lines, so a huge or damaged first
    record does not decide the format alone (nor stop it being recognised).
    """
    head = read_head(path)
    text = head.decode("utf-8", errors="replace")
    stripped = text.lstrip("\ufeff \t\r\n")
    first_line = stripped.split("\n", 1)[0].strip()
    first: object = None
    parsed: dict[str, Any] = {}  # each text is parsed once: a 64 KiB head costs ~1 ms in orjson
    # A head that is one line is the first line: parsing it twice would only fail twice.
    for candidate in (first_line, stripped) if "\n" in stripped.strip() else (first_line,):
        try:
            first = orjson.loads(candidate)
            parsed[candidate] = first
            break
        except orjson.JSONDecodeError:
            parsed[candidate] = None
            continue
    if first is None and stripped.startswith(("[", "{")):
        first = _first_json_value(stripped)
    lines = head.split(b"\n", SAMPLE_LINES + 1)
    if len(lines) > SAMPLE_LINES + 1 or len(head) < SAMPLE_BYTES:
        # the head holds them (the last may be cut)
        found = list(_first_lines(lines[: SAMPLE_LINES + 1], parsed))
    else:
        found = list(_first_lines(_bounded_lines(path), parsed))
    return Sample(name=path.name, head=text, first_record=first, first_line=first_line, lines=tuple(found))


def _first_lines(raws: Iterable[bytes], parsed: dict[str, Any] | None = None) -> Iterator[tuple[str, Any]]:
    """Up to SAMPLE_LINES non-blank lines (each at most 64 KiB) and their JSON value, or None (``parsed``:
    values already known, by text)."""
    n = 0
    for raw in raws:
        line = raw.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
        if not line:
            continue
        value: Any = None
        if parsed and line in parsed:
            value = parsed[line]
        elif line[:1] in ("{", "["):
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                value = None
        yield line[:SAMPLE_BYTES], value
        n += 1
        if n >= SAMPLE_LINES:
            return


def _bounded_lines(path: Path) -> Iterator[bytes]:
    """Complete lines from the start of a (possibly gzip) file, within SAMPLE_SCAN bytes; over-long lines
    (more than MAX_RECORD) are skipped without being held in memory."""
    dec = zlib.decompressobj(16 + zlib.MAX_WBITS) if is_gzip(path) else None
    seen = 0
    buf = b""
    skipping = False
    with path.open("rb") as fh:
        while seen < SAMPLE_SCAN and (chunk := fh.read(1 << 16)):
            if dec is not None:
                try:
                    chunk = dec.decompress(chunk, SAMPLE_SCAN)
                except zlib.error:
                    break
            seen += len(chunk)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if not skipping:
                    yield line
                skipping = False
            if len(buf) > MAX_RECORD:
                buf, skipping = b"", True
    if buf and not skipping:
        yield buf


def _first_json_value(text: str) -> object:
    """The first object of a (possibly cut-off) pretty-printed JSON array or document, best effort."""
    start = text.find("{", 1 if text.startswith("[") else 0)
    if start < 0 or not _may_close(text, start):
        return None
    try:
        value = decode_value(text, start, json.JSONDecoder())[0]
    except ValueError:
        return None  # the first object is cut off by the sample, or nested too deep
    return None if isinstance(value, Unreadable) else value


def _may_close(text: str, start: int) -> bool:
    """False when the value at ``start`` surely does not end within ``text`` (a document cut by the sample):
    its brackets, strings removed, never return to depth 0. Regex passes in C, so the token-by-token scan
    of :func:`_value_end` (~5 ms per 64 KiB head in Python) is only paid when the value may be complete."""
    brackets = _NON_BRACKETS.sub("", _STRINGS.sub("", text[start:]))
    return 0 in itertools.accumulate(map(_STEP.__getitem__, brackets))


def iter_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Lines of ``data`` with their 1-based numbers."""
    yield from enumerate(data.split(b"\n"), start=1)
