"""JSON documents read by DuckDB (:mod:`nhiwatch.sources.documents`) give the rows and rejects the Python reader
(:func:`nhiwatch.sources.reading.python_records`) gives; files outside the simple case go to the Python reader;
ingest of vendor pages stores what it stored before, once; evidence verifies records hashed by either reader.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch import ingest as I
from nhiwatch.evidence import VERIFIED, original_records
from nhiwatch.schema import EVENT_COLUMN_NAMES
from nhiwatch.sources import documents as D
from nhiwatch.sources import files as F
from nhiwatch.sources import reading as R
from nhiwatch.sources import registry
from nhiwatch.sources.base import Source
from nhiwatch.store import Store
from tests.conftest import FIXTURES, write

CLOUDTRAIL = registry.get("aws.cloudtrail")[0]
ENTRA = registry.get("microsoft.entra_audit")[0]  # two containers: records, then value


def read_both(paths: list[Path], src: Source) -> tuple[Any, Any, list[Path]]:
    """(rows, rejects) of the DuckDB reader and of the Python reader for the files the former kept, and the
    files it handed over."""
    with Store(":memory:") as scratch:
        relation, rejects, python = D.documents_relation(scratch, paths, src)
        rows = scratch.fetchall(f"SELECT file, line, j FROM {relation} ORDER BY file, line")
    kept = [p for p in paths if p not in python]
    expected_rows: list[tuple[str, int, str]] = []
    expected_rejects: list[tuple[str, int, str, str]] = []
    for path in kept:
        good, bad = R.python_records(path, src)
        expected_rows.extend((str(path), line, text) for line, text in good)
        expected_rejects.extend((str(path), line, reason, raw) for line, reason, raw in bad)
    return (sorted(rows), sorted(rejects)), (sorted(expected_rows), sorted(expected_rejects)), python


# Values whose text orjson and DuckDB write alike: no control characters (``\u001f`` / ``\u001F``), integers
# within 64 bits, floats written without an exponent.
texts = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or 1e-4 <= abs(x) < 1e16)
    | texts
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(texts, values, max_size=5)
records = objects | objects | values  # mostly objects; the others are rejected with their kind
documents = (
    st.builds(lambda rs: {"Records": rs}, st.lists(records, max_size=6))
    | st.builds(lambda rs, extra: {**extra, "Records": rs}, st.lists(records, max_size=6), objects)
    | st.lists(records, max_size=6)  # a top-level array
    | objects  # not a container: one record
    | st.builds(lambda v: {"Records": v}, values)  # Records that is not a list: the document is the record
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(st.tuples(documents, st.booleans(), st.booleans()), min_size=1, max_size=4))
def test_generated_documents_read_as_the_python_reader_reads_them(
    tmp_path_factory: pytest.TempPathFactory, docs: list[tuple[Any, bool, bool]]
) -> None:
    folder = tmp_path_factory.mktemp("docs")
    paths = []
    for i, (doc, pretty, gz) in enumerate(docs):
        text = json.dumps(doc, indent=2, ensure_ascii=False) if pretty else orjson.dumps(doc).decode()
        paths.append(write(folder, f"d{i}.json", text, gz=gz))
    got, expected, python = read_both(paths, CLOUDTRAIL)
    assert python == []
    assert got == expected


def test_the_first_declared_container_that_is_a_list_holds_the_records(tmp_path: Path) -> None:
    both = write(tmp_path, "both.json", json.dumps({"value": [{"v": 1}], "records": [{"r": 1}, {"r": 2}]}))
    not_list = write(tmp_path, "value.json", json.dumps({"records": {"r": 1}, "value": [{"v": 1}]}))
    empty = write(tmp_path, "empty.json", json.dumps({"records": [], "value": [{"v": 1}]}))
    got, expected, python = read_both([both, not_list, empty], ENTRA)
    assert python == [] and got == expected
    assert [(Path(f).name, line) for f, line, _ in got[0]] == [
        ("both.json", 1),
        ("both.json", 2),
        ("value.json", 1),
    ]


def test_record_level_rejects_carry_the_python_readers_reasons(tmp_path: Path) -> None:
    deep = {"a": [[[[[[[[[[1]]]]]]]]]]}
    for _ in range(10):
        deep = {"a": [[[[[[[[[deep]]]]]]]]]}  # about 200 levels: too deep, yet orjson reads the document
    big = {"blob": "x" * (F.MAX_RECORD + 10)}
    doc = {"Records": [{"eventID": "1"}, 7, "text", None, [1, 2], True, deep, big, {"eventID": "2"}]}
    path = write(tmp_path, "rejects.json", orjson.dumps(doc))
    got, expected, python = read_both([path], CLOUDTRAIL)
    assert python == [] and got == expected
    shape = "JSON of the wrong shape: expected an object, got "
    assert [(line, reason) for _, line, reason, _ in got[1]] == [
        (2, shape + "a number"),
        (3, shape + "a string"),
        (4, shape + "null"),
        (5, shape + "array"),
        (6, shape + "boolean"),
        (7, F.nested_reason()),
        (8, F.size_reason()),
    ]
    assert [line for _, line, _ in got[0]] == [1, 9]


def test_files_outside_the_simple_case_go_to_the_python_reader(tmp_path: Path) -> None:
    whole = orjson.dumps({"Records": [{"eventID": str(i)} for i in range(50)]})
    cut = write(tmp_path, "cut.json", whole[:-30])
    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(gzip.compress(whole)[:-40])
    several = write(
        tmp_path, "several.json", b'{"Records":[{"eventID":"a"}]}\n{"Records":[{"eventID":"b"}]}\n'
    )
    empty_then_one = write(tmp_path, "empty-then.json", b'{"Records":[]}\n{"Records":[{"eventID":"b"}]}\n')
    utf8 = write(tmp_path, "utf8.json", b'{"Records":[{"eventID":"\xff"}]}')
    bom = write(tmp_path, "bom.json", b"\xef\xbb\xbf" + whole)
    not_gzip = write(tmp_path, "plain.json.gz", whole)
    unnamed_gzip = write(tmp_path, "zipped.json", gzip.compress(whole))
    good = write(tmp_path, "good.json", whole)
    odd = [cut, truncated, several, empty_then_one, utf8, bom, not_gzip, unnamed_gzip]
    with Store(":memory:") as scratch:
        relation, rejects, python = D.documents_relation(scratch, [*odd, good], CLOUDTRAIL)
        files = {str(r[0]) for r in scratch.fetchall(f"SELECT DISTINCT file FROM {relation}")}
    assert sorted(python) == sorted(odd)
    assert files == {str(good)} and rejects == []


def test_a_document_larger_than_the_scan_allows_goes_to_the_python_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(D, "MAX_OBJECT_SIZE", 1000)
    small = write(tmp_path, "small.json", orjson.dumps({"Records": [{"eventID": "1"}]}))
    large = write(
        tmp_path, "large.json", orjson.dumps({"Records": [{"eventID": str(i)} for i in range(100)]})
    )
    got, expected, python = read_both([small, large], CLOUDTRAIL)
    assert python == [large] and got == expected


# --- ingest end to end ------------------------------------------------------------------------------


def python_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every document to the Python reader, as nhiwatch read them before the DuckDB reader."""
    monkeypatch.setattr(D, "_simple_files", lambda paths: ([], list(paths), 0))


def stored(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    cols = ", ".join(c for c in EVENT_COLUMN_NAMES if c != "ingest_batch")
    events = store.fetchall(f"SELECT {cols} FROM events ORDER BY ALL")
    quarantined = store.fetchall(
        "SELECT ingest_file, ingest_line, source, reason, raw_data FROM quarantine ORDER BY ALL"
    )
    return events, quarantined


def vendor_pages(tmp_path: Path) -> Path:
    """Vendor pages as collectors and exports write them: CloudTrail's S3 object, a Slack audit page, Entra
    Event Hub records, a GWS Reports page (expanded in Python), a damaged gzip and a cut-off page."""
    folder = tmp_path / "logs"
    folder.mkdir()
    for src in [
        FIXTURES
        / "aws"
        / "cloudtrail"
        / "111122223333_CloudTrail_us-east-1_20250817T1125Z_Mu0KsOhtH1ar15ZZ.json.gz",
        FIXTURES / "slack" / "audit_logs" / "logs_page_001.json",
        FIXTURES / "microsoft" / "entra_audit" / "eventhub_records.json",
        FIXTURES / "gws" / "reports" / "001.json",
    ]:
        shutil.copy(src, folder / src.name)
    trail = gzip.decompress(next(iter(sorted(folder.glob("*.json.gz")))).read_bytes())
    (folder / "111122223333_CloudTrail_us-east-1_20250817T1130Z_cut.json.gz").write_bytes(
        gzip.compress(trail)[:-60]
    )
    page = (folder / "logs_page_001.json").read_bytes()
    (folder / "logs_page_002.json").write_bytes(page[: len(page) * 2 // 3])
    return folder


def test_vendor_pages_are_stored_as_the_python_reader_stored_them_and_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = vendor_pages(tmp_path)
    with Store(tmp_path / "new.duckdb") as new:
        report = I.ingest(new, [logs])
        assert report.stored > 0 and report.quarantined > 0
        assert set(report.by_source) >= {
            "aws.cloudtrail",
            "slack.audit_logs",
            "microsoft.entra_audit",
            "gws.reports",
        }
        again = I.ingest(new, [logs])
        assert (again.stored, again.duplicates) == (0, report.stored + report.duplicates)
        new_rows = stored(new)
    with monkeypatch.context() as m:
        python_only(m)
        with Store(tmp_path / "old.duckdb") as old:
            I.ingest(old, [logs])
            old_rows = stored(old)
    assert new_rows == old_rows


def test_documents_are_planned_for_duckdb_and_expanded_pages_for_python(tmp_path: Path) -> None:
    logs = vendor_pages(tmp_path)
    with Store(":memory:") as scratch:
        modes = {p.name: getattr(I.plan_file(scratch, p), "mode", None) for p in logs.iterdir()}
    assert modes["logs_page_001.json"] == "documents"
    assert modes["eventhub_records.json"] == "documents"
    assert modes["001.json"] == "python"  # GWS: each activity is expanded into its events in Python


EDGE_PAGE = (
    b'{"Records":[{"eventVersion":"1.08","eventTime":"2025-08-17T11:20:00Z","eventSource":"iam.amazonaws.com",'
    b'"eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","eventID":"e-1",'
    b'"userIdentity":{"type":"IAMUser","userName":"ci-bot","userName":"ci-deployer","accountId":"111122223333"},'
    b'"requestParameters":{"maxItems":123456789012345678901234567890},"recipientAccountId":"111122223333"},'
    b'{"eventVersion":"1.08","eventTime":"2025-08-17T11:21:00Z","eventSource":"iam.amazonaws.com",'
    b'"eventName":"ListRoles","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","eventID":"e-2",'
    b'"userIdentity":{"type":"IAMUser","userName":"ci-bot","accountId":"111122223333"},'
    b'"requestParameters":{"ratio":1.5e300,"note":"tab\\u001fhere"},"recipientAccountId":"111122223333"}]}'
)


@pytest.mark.parametrize("reader", ["duckdb", "python"])
def test_evidence_verifies_edge_case_records_hashed_by_either_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """A duplicate key, an integer beyond 64 bits, an exponent and a control character: the two readers
    write these records differently, and evidence finds the text whichever reader stored its hash."""
    path = write(tmp_path, "111122223333_CloudTrail_us-east-1_20250817T1120Z_edge.json", EDGE_PAGE)
    with Store(tmp_path / "s.duckdb") as store, monkeypatch.context() as m:
        if reader == "python":  # a store written before the DuckDB reader
            python_only(m)
        assert I.ingest(store, [path]).stored == 2
        m.undo()
        uids = [str(u) for (u,) in store.fetchall("SELECT metadata_uid FROM events")]
        found = original_records(store, uids)
        assert [found[u].status for u in uids] == [VERIFIED, VERIFIED]
        texts = {found[u].line: found[u].record or "" for u in uids}
    big = "123456789012345678901234567890" if reader == "duckdb" else "1.2345678901234568e+29"
    assert big in texts[1]
