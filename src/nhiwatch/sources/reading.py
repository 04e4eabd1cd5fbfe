"""Reading input files into a relation of raw records (``file``, ``line``, ``j``) for the mapping stage.

JSON lines and text are scanned by DuckDB (many files per scan); CSV files by DuckDB with their header; JSON
documents (API pages, CloudTrail ``Records``) and damaged files are parsed in Python. Every reader returns
the records it could read and, separately, the ones it could not, with line and reason, so that nothing valid
in a file is lost because of a bad record beside it.

A CSV row's record text is the JSON object of its columns, but writing it for every row cost a quarter of
reading the file, and it is read only for a few rows (a uid without a vendor id, a quarantined row): CSV
readers give the row's columns and a fingerprint of them (:func:`csv_fingerprint`), and the text is made
where it is read (:data:`CSV_TEXT`).
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from nhiwatch.sources import files as F
from nhiwatch.sources.base import Source, sql_str
from nhiwatch.store import Store

Reject = tuple[str, int, str, str]  # file, line (0 = the whole file), reason, raw text

MAX_LINE = F.MAX_RECORD
REJECT_REASONS = {
    "INVALID ENCODING": "invalid UTF-8",
    "INVALID UNICODE": "invalid UTF-8",
    "LINE SIZE OVER MAXIMUM": F.size_reason(),
    "TOO MANY COLUMNS": "more columns than the header",
    "MISSING COLUMNS": "fewer columns than the header",
    "UNQUOTED VALUE": "badly quoted value",
}


def lines_relation(
    store: Store, paths: list[Path], *, json: bool = False
) -> tuple[str, list[tuple[str, int, str, str]]]:
    """Read lines of ``paths`` with DuckDB; returns a relation name and rejects (file, line, reason, raw).

    For JSON, lines nested deeper than MAX_DEPTH are rejected too (DuckDB parses them, but nothing
    downstream should have to).
    """
    file_list = "[" + ", ".join(sql_str(str(p)) for p in paths) + "]"
    store.execute("DROP TABLE IF EXISTS nw_rej; DROP TABLE IF EXISTS nw_rejscan")
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_lines AS
        SELECT filename AS file, row_number() OVER () AS k, j FROM read_csv({file_list},
            columns={{'j': 'VARCHAR'}}, header=false, delim='\\x01', quote='', escape='',
            auto_detect=false, filename=true, store_rejects=true, rejects_table='nw_rej',
            rejects_scan='nw_rejscan', max_line_size={MAX_LINE}, compression='auto')"""
    )
    rejects = _rejects(store, header_lines=0)
    _fix_line_numbers(store, rejects, header_lines=0)
    if json:
        rejects.extend(_reject_deep(store))
    return "nw_lines", rejects


def may_nest_too_deep(text: str) -> str:
    """SQL: the JSON ``text`` holds more opening brackets than MAX_DEPTH, so it may nest deeper (the few that
    do are told apart in Python by :func:`files.too_deep`). Short texts are not counted: a CASE, since DuckDB
    reorders an AND's terms by their measured cost."""
    limit = F.MAX_DEPTH
    return (
        f"CASE WHEN strlen({text}) > {2 * limit} "
        f"THEN strlen({text}) - strlen(replace(replace({text}, '{{', ''), '[', '')) > {limit} ELSE false END"
    )


def _reject_deep(store: Store) -> list[tuple[str, int, str, str]]:
    """Lines nested deeper than MAX_DEPTH, removed from ``nw_lines``; only lines with more brackets than
    that are looked at in Python, so the cost is one string pass in DuckDB for ordinary logs (``replace``
    costs a ninth of the CPU of ``translate`` here)."""
    rows = store.fetchall(f"SELECT file, line, j FROM nw_lines WHERE {may_nest_too_deep('j')}")
    deep = [(str(f), int(ln), F.nested_reason(), str(j)[:1000]) for f, ln, j in rows if F.too_deep(str(j))]
    if deep:
        store.execute("CREATE OR REPLACE TEMP TABLE nw_deep (file VARCHAR, line BIGINT)")
        store.insert_rows("nw_deep", ["file", "line"], [(f, ln) for f, ln, _, _ in deep])
        store.execute("DELETE FROM nw_lines WHERE (file, line) IN (SELECT (file, line) FROM nw_deep)")
    return deep


def _rejects(store: Store, header_lines: int) -> list[tuple[str, int, str, str]]:
    if not store.table_exists("nw_rej"):
        return []
    rows = store.fetchall(
        # DuckDB logs a short CSV row once per missing column: one reject per line is kept.
        """SELECT DISTINCT ON (s.file_path, e.line) s.file_path, e.line, e.error_type, e.error_message, e.csv_line
           FROM nw_rej e JOIN nw_rejscan s USING (scan_id, file_id) ORDER BY s.file_path, e.line, e.column_idx"""
    )
    out = []
    for file, line, etype, message, raw in rows:
        reason = REJECT_REASONS.get(str(etype), str(etype).lower())
        detail = str(message).split("\n", 1)[0][:200]
        out.append((str(file), int(line), f"{reason} ({detail})", raw))
    return out


def _fix_line_numbers(store: Store, rejects: list[tuple[str, int, str, str]], header_lines: int) -> None:
    """Turn the k-th row read (counted over the whole scan, files in order) into its line number in its file,
    counting the lines DuckDB rejected before it.

    The count restarts per file by subtracting each file's first row: a window partitioned by file carried
    every record's text through a sort (~0.5-1 µs per record)."""
    store.execute(
        f"""UPDATE nw_lines SET k = k - f.first + 1 + {0 if rejects else header_lines}
        FROM (SELECT file, min(k) AS first FROM nw_lines GROUP BY file) f WHERE nw_lines.file = f.file"""
    )
    if not rejects:
        store.execute("ALTER TABLE nw_lines RENAME COLUMN k TO line")
        return
    thresholds: list[tuple[str, int]] = []
    for file, group in itertools.groupby(rejects, key=lambda r: r[0]):
        lines = sorted(r[1] - header_lines for r in group)
        thresholds.extend((file, ln - i) for i, ln in enumerate(lines, start=1))
    store.execute("CREATE OR REPLACE TEMP TABLE nw_thr (file VARCHAR, t BIGINT)")
    store.insert_rows("nw_thr", ["file", "t"], thresholds)
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_lines AS
        SELECT * EXCLUDE (k),
               k + {header_lines} + (SELECT count(*) FROM nw_thr t WHERE t.file = l.file AND t.t < l.k) AS line
        FROM nw_lines l"""
    )


def csv_relation(
    store: Store, paths: list[Path], src: Source
) -> tuple[str, list[str], list[tuple[str, int, str, str]]]:
    """Rows of CSV files with one header, read by DuckDB: ``file``, ``line``, ``j`` (NULL: see :data:`CSV_TEXT`),
    the row's fingerprint and its columns, in one pass (the columns are learnt first from the header DuckDB
    reads)."""
    file_list = "[" + ", ".join(sql_str(str(p)) for p in paths) + "]"
    options = (
        f"header=true, all_varchar=true, delim={sql_str(src.csv_delimiter)}, quote='\"', escape='\"', "
        f"strict_mode=true, null_padding=false, max_line_size={MAX_LINE}, compression='auto'"
    )
    store.execute("DROP TABLE IF EXISTS nw_rej; DROP TABLE IF EXISTS nw_rejscan")
    # Learnt with the same options as the scan (rejecting bad rows changes what the sniffer accepts).
    header = [
        str(r[0])
        for r in store.fetchall(
            f"""DESCRIBE SELECT * FROM read_csv({file_list}, {options},
            store_rejects=true, rejects_table='nw_rej', rejects_scan='nw_rejscan', filename='nw_file')"""
        )
        if r[0] != "nw_file"
    ]
    store.execute("DROP TABLE IF EXISTS nw_rej; DROP TABLE IF EXISTS nw_rejscan")
    columns = [column_name(h) for h in header]
    renamed = ", ".join(f"{_ident(h)} AS {_ident(c)}" for h, c in zip(header, columns, strict=True))
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE nw_lines AS
        SELECT file, row_number() OVER () AS k, NULL::VARCHAR AS j,
               {csv_fingerprint(columns)} AS {CSV_HASH}, {", ".join(map(_ident, columns))}
        FROM (SELECT nw_file AS file, {renamed} FROM read_csv({file_list}, {options},
              store_rejects=true, rejects_table='nw_rej', rejects_scan='nw_rejscan', filename='nw_file'))"""
    )
    rejects = _rejects(store, header_lines=1)
    _fix_line_numbers(store, rejects, header_lines=1)
    return "nw_lines", columns, rejects


CSV_HASH = "nw_hash"  # a CSV relation's column holding each row's fingerprint
# SQL: a CSV row's record text, the JSON object of its columns (``nw_row``, :func:`csv_row`), unless the reader
# wrote it in ``j``. Made only where it is read.
CSV_TEXT = "coalesce(j, to_json(nw_row))"


OWN_COLUMNS = ("file", "line", "j", "k")  # a CSV relation's own columns beside the row's (and any nw_...)
RENAMED = "nw_c_"


def column_name(header: str) -> str:
    """The name of a CSV column in its relation: its header's, unless that is one of the relation's own
    (a column ``line`` would be taken for the row's line); :func:`header_name` undoes it."""
    return RENAMED + header if header in OWN_COLUMNS or header.startswith("nw_") else header


def header_name(column: str) -> str:
    """The header's name of a CSV relation's column (:func:`column_name` undone)."""
    return column.removeprefix(RENAMED)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def csv_row(columns: list[str]) -> str:
    """SQL: a CSV row as a struct of its relation's ``columns``, keyed by the header's names; its ``to_json``
    is the row's record text."""
    if not columns:  # a damaged file without a header, read in Python (which wrote its rows' text)
        return "NULL"
    return f"struct_pack({', '.join(f'{_ident(header_name(c))} := {_ident(c)}' for c in columns)})"


def csv_fingerprint(columns: list[str]) -> str:
    """SQL: a CSV row's 64-bit fingerprint, stored as its ``raw_hash`` for evidence to check it by.

    DuckDB hashes each value on its own and combines them in order (NULL apart from empty text), so a value
    moved to the next column changes it; the header's names take part, so a renamed column does too. It
    costs ~0.4 µs a row, against ~1.5 µs to write the row as JSON and hash that (the fingerprint of older
    versions; Salesforce RestApi rows, one thread)."""
    names = orjson.dumps([header_name(c) for c in columns]).decode()
    return f"hash({', '.join([sql_str(names), *map(_ident, columns)])})"


CSV_JOIN_LINES = 64  # physical lines one quoted CSV value may span before its quote is taken as damaged


def csv_relation_python(
    store: Store, path: Path, src: Source
) -> tuple[str, list[str], list[tuple[str, int, str, str]]]:
    """A CSV file DuckDB refused as a whole (typically a damaged quote), read row by row in Python.

    A row whose quote is never closed within CSV_JOIN_LINES lines costs that line only; rows with too
    many or too few columns, or invalid UTF-8, are rejected one by one. The relation is shaped as
    :func:`csv_relation`'s, with the fingerprint made the same way, but ``j`` holds the row's text as
    written here (it was so before the fingerprint, and stored uids of rows without a vendor id hash it).
    """
    data, reason = F.read_all(path)
    name = str(path)
    rejects: list[tuple[str, int, str, str]] = [(name, 0, reason, "")] if reason else []
    lines = data.split(b"\n")
    header = next(
        csv.reader(
            [lines[0].decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r")], delimiter=src.csv_delimiter
        ),
        [],
    )
    rows: list[tuple[int, list[str]]] = []
    i = 1
    while i < len(lines):
        line_no = i + 1
        row, why, used = _csv_row(lines, i, len(header), src.csv_delimiter)
        if why:
            rejects.append((name, line_no, why, lines[i][:65536].decode("utf-8", "replace")))
            i += 1  # only this line is lost; the next ones are read again
        else:
            if row is not None:
                rows.append((line_no, row))
            i += used
    columns = {"file": [name] * len(rows), "line": [n for n, _ in rows]}
    columns["j"] = [orjson.dumps(dict(zip(header, row, strict=True))).decode() for _, row in rows]
    table = pa.table(
        {
            "file": pa.array(columns["file"], pa.string()),
            "line": pa.array(columns["line"], pa.int64()),
            "j": pa.array(columns["j"], pa.string()),
            **{
                column_name(h): pa.array([row[k] for _, row in rows], pa.string())
                for k, h in enumerate(header)
            },
        }
    )
    store.con.register("nw_pycsv", table)
    try:
        # The columns as DuckDB names them (an empty header name gets one).
        names = [str(d[0]) for d in store.con.execute("SELECT * FROM nw_pycsv LIMIT 0").description][3:]
        store.execute(
            f"""CREATE OR REPLACE TEMP TABLE nw_lines AS
            SELECT file, line, j, {csv_fingerprint(names)} AS {CSV_HASH}, * EXCLUDE (file, line, j)
            FROM nw_pycsv"""
        )
    finally:
        store.con.unregister("nw_pycsv")
    return "nw_lines", names, rejects


def _csv_row(lines: list[bytes], i: int, width: int, delimiter: str) -> tuple[list[str] | None, str, int]:
    """The row starting at line ``i`` (None for a blank line), a reason it is bad, and how many lines it
    spans. A value may span lines only if the joined row then has exactly the header's columns."""
    chunk = lines[i]
    if not chunk.strip():
        return None, "", 1
    used = 1
    while chunk.count(b'"') % 2:
        if i + used >= len(lines) or used > CSV_JOIN_LINES:
            return None, "badly quoted value (a quote is never closed)", 1
        chunk += b"\n" + lines[i + used]
        used += 1
    try:
        row = next(csv.reader([chunk.decode("utf-8").rstrip("\r")], delimiter=delimiter, strict=True))
    except UnicodeDecodeError:
        return None, "invalid UTF-8", 1
    except csv.Error as exc:
        return None, f"badly quoted value ({exc})", 1
    if len(row) != width:
        if used > 1:
            return None, "badly quoted value (a quote is never closed)", 1
        return None, f"{len(row)} columns where the header has {width}", 1
    return row, "", used


def python_records(path: Path, src: Source) -> tuple[list[tuple[int, str]], list[tuple[int, str, str]]]:
    """Records of a JSON document or a damaged file, parsed in Python: (line, json) and (line, reason, raw)."""
    bad: list[tuple[int, str, str]] = []
    data, reason = F.read_all(path)
    if reason:
        bad.append((0, reason, ""))
    good: list[tuple[int, str]] = []
    try:
        doc = orjson.loads(data)
        docs: list[tuple[int, Any]] = [(1, doc)]
    except orjson.JSONDecodeError:
        docs = []
        partial = _partial_document(F.gunzip_prefix(path) if reason else data, src)
        if partial is not None:
            records, why = partial
            if reason:  # one reason for one damage
                bad.pop()
                why = "truncated or corrupt gzip, " + (why or "the document kept whole")
            if why:
                bad.append((0, why, ""))
            docs.append((1, records))
            data = b""
        for n, raw in F.iter_lines(data):
            if not raw.strip():
                continue
            if len(raw) > F.MAX_RECORD:
                bad.append((n, F.size_reason(), raw[:65536].decode("utf-8", "replace")))
                continue
            try:
                docs.append((n, orjson.loads(raw)))
            except orjson.JSONDecodeError as exc:
                bad.append((n, _json_error(raw, exc), raw[:65536].decode("utf-8", "replace")))
    index = 0
    for n, doc in docs:
        for rec in _records_of(doc, src):
            index += 1
            line = n if len(docs) > 1 or n > 1 else index
            if isinstance(rec, F.Unreadable):
                bad.append((line, rec.reason, rec.raw))
                continue
            if not isinstance(rec, dict):
                bad.append((line, *_wrong_shape(rec)))
                continue
            for item in src.expand(rec) if src.expand else [rec]:
                text, why = _record_text(item)
                if why:
                    bad.append((line, why, text[:1000]))
                else:
                    good.append((line, text))
    return good, bad


def record_rejects(rec: Any) -> tuple[str, str] | None:
    """Why a record of a document (not expanded) is not kept, as (reason, raw), or None when it is."""
    if not isinstance(rec, dict):
        return _wrong_shape(rec)
    text, why = _record_text(rec)
    return (why, text[:1000]) if why else None


def _wrong_shape(rec: Any) -> tuple[str, str]:
    return f"JSON of the wrong shape: expected an object, got {_kind(rec)}", str(rec)[:1000]


def _kind(value: Any) -> str:
    """The JSON kind of a parsed value, named as the SQL reader names it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "array" if isinstance(value, list) else "null" if value is None else "object"


def _json_error(raw: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid UTF-8"
    if F.too_deep(text):
        return F.nested_reason()
    return f"not valid JSON ({exc.msg} at column {exc.colno})"


def _record_text(item: Any) -> tuple[str, str]:
    """A record as JSON text, or a reason it is not kept (too deep, too large)."""
    try:
        text = orjson.dumps(item).decode()
    except orjson.JSONEncodeError:  # orjson stops at 254 levels
        return "", F.nested_reason()
    if len(text) > F.MAX_RECORD:
        return text[:1000], F.size_reason()
    if F.too_deep(text):
        return text[:1000], F.nested_reason()
    return text, ""


def _partial_document(data: bytes, src: Source) -> tuple[list[Any], str] | None:
    """A cut-off JSON document (one long line, or pretty-printed) keeps its complete records."""
    first = data.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        orjson.loads(first)
        return None  # JSON lines: read line by line
    except orjson.JSONDecodeError:
        pass
    found = F.salvage_document(data, containers(src))
    if found is None:
        return None
    records, dropped = found
    if not dropped:
        return records, ""  # complete, but with a record too deep for the fast parser
    return (
        records,
        f"cut-off JSON document: {len(records)} complete records kept, {dropped} characters dropped",
    )


def container_keys(src: Source) -> list[str]:
    """Top-level keys that hold a document's records (``Records`` for ``$.Records[*]``), in declared order."""
    return [p.split(".")[1].split("[")[0].strip('"') for p in src.record_paths]


def containers(src: Source) -> set[str]:
    return set(container_keys(src))


def _records_of(doc: Any, src: Source) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in container_keys(src):
            if isinstance(doc.get(key), list):
                return list(doc[key])
    return [doc]


# --- mapping and storing ---------------------------------------------------------------------------


def text_lines(data: bytes) -> tuple[list[tuple[int, str]], list[tuple[int, str, str]]]:
    good: list[tuple[int, str]] = []
    bad: list[tuple[int, str, str]] = []
    for n, raw in F.iter_lines(data):
        try:
            good.append((n, raw.decode("utf-8").rstrip("\r")))
        except UnicodeDecodeError:
            bad.append((n, "invalid UTF-8", raw[:65536].decode("utf-8", "replace")))
    return good, bad
