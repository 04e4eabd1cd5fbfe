"""Fuzzing every registered source's parser with mutated records of its own fixture shapes.

For each source, records (JSON), rows (CSV) or lines (text) are taken from the fixtures it recognises, then
mutated by hypothesis: keys dropped, values of the wrong type, huge, unicode or NUL-bearing strings, deep
nesting, lost quotes and cut lines. Whatever comes out, ingest must not raise, must account for every record
(stored, duplicate or quarantined, with a reason) and must be idempotent.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.sources import files as F
from nhiwatch.sources import reading as R
from nhiwatch.sources import registry
from nhiwatch.sources.base import Source
from nhiwatch.store import Store
from tests.conftest import FIXTURES

SOURCES = {s.id: s for s in registry.all_sources()}
FUZZ = settings(
    max_examples=5,
    deadline=None,
    derandomize=True,  # the same examples every run: CI stays reproducible and fast
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache
def _fixture_sources() -> dict[str, list[Path]]:
    """Fixture files by the source that recognises them."""
    found: dict[str, list[Path]] = {}
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        hit = registry.recognise(F.sample(path))
        if hit is not None:
            found.setdefault(hit[0].id, []).append(path)
    return found


def _files_for(src: Source) -> list[Path]:
    """The fixtures of a source; a source without its own falls back to its vendor's (same field shapes)."""
    own = _fixture_sources().get(src.id)
    if own:
        return own
    return [p for sid, paths in _fixture_sources().items() if sid.split(".")[0] == src.name for p in paths]


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@cache
def json_shapes(source_id: str) -> list[dict[str, Any]]:
    src = SOURCES[source_id]
    out: list[dict[str, Any]] = []
    for path in _files_for(src):
        data = _read(path)
        try:
            docs = [orjson.loads(data)]
        except orjson.JSONDecodeError:
            docs = [orjson.loads(line) for line in data.splitlines() if line.strip()]
        for doc in docs:
            out.extend(r for r in R._records_of(doc, src) if isinstance(r, dict))
    return out


@cache
def csv_shapes(source_id: str) -> tuple[list[str], list[list[str]]]:
    path = _files_for(SOURCES[source_id])[0]
    rows = list(csv.reader(io.StringIO(_read(path).decode("utf-8-sig"))))
    return rows[0], rows[1:]


@cache
def text_shapes(source_id: str) -> tuple[str, list[str]]:
    """A header line ('' if none) and the data lines of a text source's fixtures."""
    src = SOURCES[source_id]
    assert src.text is not None
    header = ""
    lines: list[str] = []
    for path in _files_for(src):
        body = _read(path).decode().splitlines()
        if body and src.text.header_names and src.text.header_names(body[0]):
            header = header or body[0]
            body = body[1:]
        lines.extend(line for line in body if line.strip() and not line.startswith("#"))
    return header, lines


# --- mutations -------------------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=30),  # any unicode, NUL and surrogates included
    st.sampled_from(
        ["", " ", "\x00", "\x00" * 10, "null", "[", "{", '"', "\\", "\ud800", "é" * 50, "\u202e"]
    ),
    st.integers(1000, 70_000).map(lambda n: "x" * n),  # long values (fields are cut at 2048)
)


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


wrong_value = st.one_of(
    odd_text,
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.sampled_from([5, 60, 99, 100, 101, 200, 253, 254, 255, 300]).map(nested),
)


@st.composite
def mutated_record(draw: st.DrawFn, shapes: list[dict[str, Any]]) -> dict[str, Any]:
    record = dict(draw(st.sampled_from(shapes)))
    for _ in range(draw(st.integers(0, 4))):
        keys = sorted(record)
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        action = draw(st.sampled_from(["drop", "replace", "replace_nested"]))
        if action == "drop":
            del record[key]
        elif action == "replace" or not isinstance(record[key], dict) or not record[key]:
            record[key] = draw(wrong_value)
        else:
            inner = dict(record[key])
            inner[draw(st.sampled_from(sorted(inner)))] = draw(wrong_value)
            record[key] = inner
    return record


def json_line(record: dict[str, Any]) -> bytes:
    # json (not orjson) so lone surrogates go out as \ud800 escapes; it recurses, so very deep values are
    # written by hand below.
    try:
        return json.dumps(record).encode()
    except (RecursionError, ValueError):
        return orjson.dumps(record)


@st.composite
def line_damage(draw: st.DrawFn, line: bytes) -> bytes:
    """Raw damage to a serialised line: cut it, splice NULs or invalid UTF-8 into it, or leave it alone."""
    kind = draw(st.sampled_from(["none", "none", "none", "cut", "nul", "utf8"]))
    if kind == "none" or not line:
        return line
    at = draw(st.integers(0, len(line)))
    if kind == "cut":
        return line[:at]
    return line[:at] + (b"\x00" if kind == "nul" else b"\xff\xfe") + line[at:]


@st.composite
def json_file(draw: st.DrawFn, src: Source) -> tuple[bytes, int]:
    """A JSON-lines body (or a document of the source's container), and how many records it holds."""
    shapes = json_shapes(src.id)
    records = draw(st.lists(mutated_record(shapes), min_size=1, max_size=12))
    if src.record_paths and draw(st.booleans()):
        container = R.container_keys(src)[0]
        return json.dumps({container: records}).encode(), len(records)
    lines = [draw(line_damage(json_line(r))) for r in records]
    lines = [line for line in lines if line.strip()]
    return b"\n".join(lines) + b"\n", len(lines)


@st.composite
def csv_file(draw: st.DrawFn, src: Source) -> tuple[bytes, int]:
    header, rows = csv_shapes(src.id)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    chosen = draw(st.lists(st.sampled_from(rows), min_size=1, max_size=12))
    lines: list[bytes] = []
    for row in chosen:
        row = list(row)
        for _ in range(draw(st.integers(0, 3))):
            what = draw(st.sampled_from(["value", "drop_column", "extra_column"]))
            if what == "value" and row:
                # One row a line, so that a damaged row is one record (NUL bytes are spliced in raw below).
                value = draw(odd_text).replace("\x00", "").replace("\n", " ").replace("\r", " ")
                row[draw(st.integers(0, len(row) - 1))] = value.encode("utf-8", "replace").decode()
            elif what == "drop_column" and row:
                row.pop()
            else:
                row.append("extra")
        one = io.StringIO()
        csv.writer(one, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(row)
        raw = one.getvalue().rstrip("\n").encode("utf-8", "surrogatepass")
        if draw(st.booleans()):  # lose one quote: the row can no longer be parsed
            cut = draw(st.sampled_from([i for i, c in enumerate(raw) if c == ord('"')]))
            raw = raw[:cut] + raw[cut + 1 :]
        lines.append(draw(line_damage(raw)))
    lines = [line for line in lines if line.strip()]
    return out.getvalue().encode() + b"\n".join(lines) + b"\n", len(lines)


@st.composite
def text_file(draw: st.DrawFn, src: Source) -> tuple[bytes, int]:
    header, shapes = text_shapes(src.id)
    chosen = draw(st.lists(st.sampled_from(shapes), min_size=1, max_size=12))
    lines: list[bytes] = []
    for line in chosen:
        parts = line.split(" ") if " " in line else line.split("\t")
        for _ in range(draw(st.integers(0, 3))):
            i = draw(st.integers(0, len(parts) - 1))
            parts[i] = draw(odd_text).replace("\n", " ").replace("\r", " ")
        sep = " " if " " in line else "\t"
        lines.append(draw(line_damage(sep.join(parts).encode("utf-8", "surrogatepass"))))
    lines = [line for line in lines if line.strip()]
    head = (header + "\n").encode() if header else b""
    return head + b"\n".join(lines) + b"\n", len(lines)


# --- the property -----------------------------------------------------------------------------------------


def check(src: Source, body: bytes, records: int, name: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(body)
        with Store(Path(d) / "s.duckdb") as store:
            first = ingest(store, [path], source=src.id)
            lines = int(store.scalar("SELECT count(*) FROM quarantine WHERE ingest_line IS NOT NULL") or 0)
            whole = int(store.scalar("SELECT count(*) FROM quarantine WHERE ingest_line IS NULL") or 0)
            assert first.read == first.stored + first.duplicates + lines, first.as_dict()
            assert first.quarantined == lines + whole
            if src.expand is None and not whole:
                assert first.read == records, (first.as_dict(), records)  # every record accounted for
            assert store.event_count() == first.stored
            assert not store.fetchall("SELECT 1 FROM quarantine WHERE coalesce(reason, '') = ''")
            assert not store.fetchall("SELECT 1 FROM events WHERE time IS NULL")
            again = ingest(store, [path], source=src.id)
            assert again.stored == 0 and again.duplicates == first.stored + first.duplicates
            assert int(store.scalar("SELECT count(*) FROM quarantine") or 0) == lines + whole
            assert store.event_count() == first.stored


JSON_SOURCES = sorted(s for s, src in SOURCES.items() if src.layout == "json")
CSV_SOURCES = sorted(s for s, src in SOURCES.items() if src.layout == "csv")
TEXT_SOURCES = sorted(s for s, src in SOURCES.items() if src.layout == "text")


def test_every_source_has_fixture_shapes_to_fuzz() -> None:
    assert JSON_SOURCES and CSV_SOURCES and TEXT_SOURCES
    for sid in JSON_SOURCES:
        assert json_shapes(sid), sid
    for sid in CSV_SOURCES:
        assert csv_shapes(sid)[1], sid
    for sid in TEXT_SOURCES:
        assert text_shapes(sid)[1], sid


@pytest.mark.parametrize("source_id", JSON_SOURCES)
def test_json_parsers_never_raise_and_account_for_every_record(source_id: str) -> None:
    src = SOURCES[source_id]

    @FUZZ
    @given(json_file(src))
    def run(case: tuple[bytes, int]) -> None:
        check(src, case[0], case[1], "fuzz.json")

    run()


@pytest.mark.parametrize("source_id", CSV_SOURCES)
def test_csv_parsers_never_raise_and_account_for_every_row(source_id: str) -> None:
    src = SOURCES[source_id]

    @FUZZ
    @given(csv_file(src))
    def run(case: tuple[bytes, int]) -> None:
        check(src, case[0], case[1], "fuzz.csv")

    run()


@pytest.mark.parametrize("source_id", TEXT_SOURCES)
def test_text_parsers_never_raise_and_account_for_every_line(source_id: str) -> None:
    src = SOURCES[source_id]

    @FUZZ
    @given(text_file(src))
    def run(case: tuple[bytes, int]) -> None:
        check(src, case[0], case[1], "fuzz.log")

    run()
