"""Whole-file JSON documents (CloudTrail ``{"Records": [...]}``, API pages, top-level arrays) read by DuckDB.

Many files are read per scan, and each document's records are unnested in SQL into the relation every reader
gives (``file``, ``line`` = the record's 1-based index in its document, ``j`` = the record's JSON text), with
the same records and reject reasons as :func:`nhiwatch.sources.reading.python_records`, which parses in
Python. Only the simple case is read here: an intact file holding exactly one JSON document. Everything
else is handed back to the caller for the Python reader, so salvage and its reasons stay the same: a
damaged gzip, a cut-off or unparseable document, invalid UTF-8, more than one document, a byte-order mark
or other bytes around the document that orjson would refuse, a document larger than DuckDB may buffer, a
record nested about as deep as orjson stops reading.

DuckDB's parser is more lenient than orjson inside a document: NaN and Infinity, trailing commas, and
``\v`` or ``\f`` between tokens are read, as the JSON-lines reader (also DuckDB) reads them, where the
Python reader salvaged what it could around them. Finding them first (a regular expression over every
document) cost as much CPU as the scan itself.

The texts are DuckDB's serialisation, byte for byte orjson's for ordinary records; they differ for
duplicate keys (DuckDB keeps both), integers beyond 64 bits (orjson makes them floats), exponents
(``1.5e300`` / ``1.5e+300``) and escapes (``\\u001F`` / ``\\u001f``). Evidence therefore re-reads with both
readers (:mod:`nhiwatch.evidence`).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import duckdb
import orjson

from nhiwatch.sources import files as F
from nhiwatch.sources.base import Source, sql_str
from nhiwatch.sources.reading import Reject, container_keys, may_nest_too_deep, record_rejects
from nhiwatch.store import Store

OBJECT_SIZE = 16 * 1024 * 1024  # DuckDB's least maximum_object_size; it buffers twice this per thread
MAX_OBJECT_SIZE = 32 * 1024 * 1024  # larger documents are parsed in Python (bounded by files.MAX_DOCUMENT)
ORJSON_DEPTH = 1000  # a record about this deep makes orjson refuse its whole document: read it in Python
_JSON_SPACE = b" \t\r\n"  # what orjson skips around a document (DuckDB skips \v and \f too)


def documents_relation(store: Store, paths: list[Path], src: Source) -> tuple[str, list[Reject], list[Path]]:
    """Records of the JSON documents ``paths`` read by DuckDB: a relation name, record-level rejects (file,
    line, reason, raw) and the files left for the Python reader (none of their records are in the relation).

    Runs outside a transaction: a file DuckDB refuses fails its scan, which would abort one.
    """
    simple, python, object_size = _simple_files(paths)
    store.execute("CREATE OR REPLACE TEMP TABLE nw_lines (file VARCHAR, doc BIGINT, line BIGINT, j VARCHAR)")
    python += _scan(store, simple, object_size, _records_expr(src))
    # More than one document in a file (JSON lines of documents), or none (only whitespace for DuckDB).
    odd = [
        str(r[0])
        for r in store.fetchall("SELECT file FROM nw_lines GROUP BY file HAVING min(doc) <> max(doc)")
    ]
    read = {str(r[0]) for r in store.fetchall("SELECT DISTINCT file FROM nw_lines")}
    handed = {str(p) for p in python}
    odd.extend(str(p) for p in simple if str(p) not in read and str(p) not in handed)
    store.execute(
        "DELETE FROM nw_lines WHERE j IS NULL OR file IN (SELECT unnest(?::VARCHAR[]))",
        [odd],
    )
    rejects, refused = _rejects(store)
    python.extend(Path(f) for f in [*odd, *refused])
    return "nw_lines", rejects, python


def _simple_files(paths: list[Path]) -> tuple[list[Path], list[Path], int]:
    """Files that may hold one strict document (first byte ``{`` or ``[`` after orjson's whitespace, and for
    plain files a last byte ``}`` or ``]``; no larger than ``files.MAX_DOCUMENT`` or MAX_OBJECT_SIZE), those
    that go to the Python reader straight away, and the maximum_object_size to scan the first with."""
    simple: list[Path] = []
    python: list[Path] = []
    largest = 0
    limit = min(F.MAX_DOCUMENT, MAX_OBJECT_SIZE)
    for path in paths:
        try:
            head, tail, size = _look(path)
        except (OSError, zlib.error, EOFError):
            python.append(path)
            continue
        first = head.lstrip(_JSON_SPACE)[:1]
        last = tail.rstrip(_JSON_SPACE)[-1:] if tail is not None else b"}"
        if first in (b"{", b"[") and last in (b"}", b"]") and size <= limit:
            simple.append(path)
            largest = max(largest, size)
        else:
            python.append(path)
    object_size = OBJECT_SIZE
    while object_size < largest + 1 and object_size < MAX_OBJECT_SIZE:
        object_size *= 2
    return simple, python, object_size


def _look(path: Path) -> tuple[bytes, bytes | None, int]:
    """The first bytes of ``path`` (decompressed), its last bytes when it is plain, and its size once
    decompressed. A gzip's size is read from its trailer: that is wrong for a file of several members,
    which DuckDB then refuses if it is larger than the scan allows, and the Python reader reads it. A gzip
    without a ``.gz`` name, or a ``.gz`` that is not one, goes to the Python reader (DuckDB knows
    compression by the name)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        start = fh.read(4096)
        if start[:2] == b"\x1f\x8b":
            if not path.name.endswith(".gz") or size < 18:
                return b"", None, size
            fh.seek(size - 4)
            size = max(size, int.from_bytes(fh.read(4), "little"))
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(start, 256)
            return (head if head.strip(_JSON_SPACE) else F.read_head(path, 1 << 20)), None, size
        if not start.strip(_JSON_SPACE) or path.name.endswith(".gz"):  # whitespace, or not the gzip it says
            return b"", b"", size
        fh.seek(max(0, size - 256))
        return start, fh.read(), size


def _scan(store: Store, paths: list[Path], object_size: int, records: str) -> list[Path]:
    """Append the records of ``paths`` to ``nw_lines``; returns the files DuckDB refused. A refused scan
    is split in halves until each refused file is alone, so one damaged file costs few extra scans.

    Each document gets a number (``doc``), and one row even when it holds no record (``j`` NULL), so that
    a file with more than one document is seen.
    """
    if not paths:
        return []
    try:
        store.execute(
            f"""INSERT INTO nw_lines
            SELECT file, doc, unnest(range(1, greatest(len(recs), 1) + 1)),
                   unnest(CASE WHEN len(recs) = 0 THEN [NULL::JSON] ELSE recs END)::VARCHAR
            FROM (SELECT filename AS file, row_number() OVER () AS doc, {records} AS recs
                  FROM read_json_objects(?::VARCHAR[], format='unstructured',
                       maximum_object_size={int(object_size)}, filename=true, compression='auto'))""",
            [[str(p) for p in paths]],
        )
        return []
    except duckdb.Error:
        if len(paths) == 1:
            return list(paths)
    half = len(paths) // 2
    return _scan(store, paths[:half], object_size, records) + _scan(store, paths[half:], object_size, records)


def _records_expr(src: Source) -> str:
    """A document's records as a JSON list: the first of the source's containers that is an array, a
    top-level array's items, else the document itself (as :func:`reading._records_of`).

    A compact document that opens with its first container's array (a CloudTrail object, an API page) is
    taken at once: the general case asks for the types first, which costs two more parses of it.
    """
    keys = container_keys(src)
    branches = " ".join(
        f"WHEN json_type(json, {sql_str(_path(key))}) = 'ARRAY' THEN json_extract(json, {sql_str(_path(key) + '[*]')})"
        for key in keys
    )
    whole = "[json_extract(json, '$')]"  # re-written compact: the scan keeps a document's own spacing
    container = f"CASE {branches} ELSE {whole} END" if branches else whole
    general = (
        f"CASE json_type(json) WHEN 'ARRAY' THEN json_extract(json, '$[*]') "
        f"WHEN 'OBJECT' THEN {container} ELSE {whole} END"
    )
    if not keys:
        return general
    opening = "{" + json.dumps(keys[0]) + ":["
    first = sql_str(_path(keys[0]) + "[*]")
    return (
        f"CASE WHEN starts_with(json, {sql_str(opening)}) THEN json_extract(json, {first}) ELSE {general} END"
    )


def _path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rejects(store: Store) -> tuple[list[Reject], list[str]]:
    """Records that are not objects, too large or too deep: removed from ``nw_lines`` with the reason the
    Python reader gives. Only records that may be one are looked at in Python. Also returns the files whose
    records orjson would refuse (their whole file goes to the Python reader, and out of ``nw_lines``)."""
    rows = store.fetchall(
        f"""SELECT file, line, j FROM nw_lines
        WHERE NOT starts_with(j, '{{') OR strlen(j) > {F.MAX_RECORD} OR {may_nest_too_deep("j")}
        ORDER BY file, line"""
    )
    rejects: list[Reject] = []
    refused: set[str] = set()
    for file, line, text in rows:
        found = _record_reject(str(text))
        if found is None:
            refused.add(str(file))
        elif found:
            rejects.append((str(file), int(line), *found))
    rejects = [r for r in rejects if r[0] not in refused]
    if rejects or refused:
        store.execute("CREATE OR REPLACE TEMP TABLE nw_drop (file VARCHAR, line BIGINT)")
        store.insert_rows("nw_drop", ["file", "line"], [(f, ln) for f, ln, _, _ in rejects])
        store.execute(
            """DELETE FROM nw_lines WHERE (file, line) IN (SELECT (file, line) FROM nw_drop)
               OR file IN (SELECT unnest(?::VARCHAR[]))""",
            [sorted(refused)],
        )
    return rejects, sorted(refused)


def _record_reject(text: str) -> tuple[str, str] | tuple[()] | None:
    """(reason, raw) for a record the Python reader rejects, () for one it keeps, None when orjson would
    refuse the document that holds it (the file is then read in Python)."""
    if F.too_deep(text, ORJSON_DEPTH):
        return None
    try:
        value: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return record_rejects(value) or ()
