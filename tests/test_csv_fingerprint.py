"""CSV rows are stored with a fingerprint of their columns, not the hash of their JSON text.

The text is made only for the rows that need it (a uid without a vendor id, a quarantined row); evidence
checks a stored CSV event against either kind of hash, so stores written before the fingerprint still verify.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch import evidence
from nhiwatch.evidence import original_records
from nhiwatch.ingest import ingest
from nhiwatch.sources import reading as R
from nhiwatch.sources import registry
from nhiwatch.sources.base import Source
from nhiwatch.store import Store
from tests.conftest import write

HEADER = ["EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "CLIENT_NAME", "URI"]
ROWS = [
    ["RestApi", "20250817111123.456", "r1", "acme-erp", "/services/data/v58.0/query"],
    ["RestApi", "20250817111124.456", "", "acme-erp", "/services/data/v58.0/sobjects"],  # no vendor id
    ["RestApi", "20250817111125.456", "r3", "", ""],
    ["RestApi", "20250817111126.456", "r4", 'acme, "quoted"', "multi\nline"],
]


def sf_source() -> Source:
    return next(s for s in registry.all_sources() if s.id == "salesforce.event_log_file")


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def statuses(store: Store) -> dict[int, str]:
    uids = [str(u) for (u,) in store.fetchall("SELECT metadata_uid FROM events")]
    return {int(e.line or 0): e.status for e in original_records(store, uids).values()}


def set_hashes(store: Store, path: Path, kind: str) -> None:
    """Rewrite the stored hashes from the rows of ``path`` as DuckDB's CSV reader reads them: the fingerprint
    of the header's names and the row's values (``columns``), or, as versions before it stored them, the hash
    of the row's JSON text (``text``)."""
    names = ", ".join(f'"{c}"' for c in HEADER)
    pairs = ", ".join(f'"{c}" := "{c}"' for c in HEADER)
    if kind == "columns":
        h, params = f"hash(?, {names})", [orjson.dumps(HEADER).decode(), str(path)]
    else:
        h, params = f"hash(to_json(struct_pack({pairs})))", [str(path)]
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE h AS
        SELECT row_number() OVER () + 1 AS line, {h} AS h
        FROM read_csv(?, header=true, all_varchar=true, quote='"', escape='"')""",
        params,
    )
    store.execute("UPDATE events SET raw_hash = h.h FROM h WHERE events.ingest_line = h.line")


def test_csv_events_verify_with_the_fingerprint_and_with_an_older_stores_text_hash(
    store: Store, tmp_path: Path
) -> None:
    path = write(tmp_path, "restapi.csv", csv_text(HEADER, ROWS))
    assert ingest(store, [path]).stored == 4
    stored = store.fetchall("SELECT ingest_line, raw_hash FROM events ORDER BY 1")
    all_verified = {2: evidence.VERIFIED, 3: evidence.VERIFIED, 4: evidence.VERIFIED, 5: evidence.VERIFIED}
    assert statuses(store) == all_verified
    set_hashes(store, path, "columns")
    assert store.fetchall("SELECT ingest_line, raw_hash FROM events ORDER BY 1") == stored
    set_hashes(store, path, "text")  # a store written before the fingerprint
    assert store.fetchall("SELECT ingest_line, raw_hash FROM events ORDER BY 1") != stored
    assert statuses(store) == all_verified
    # a changed row is told from an unchanged one, whichever hash the store holds
    changed = [ROWS[0], [*ROWS[1][:3], "acme-crm", ROWS[1][4]], *ROWS[2:]]
    one_changed = {**all_verified, 3: evidence.CHANGED}
    path.write_text(csv_text(HEADER, changed))
    assert statuses(store) == one_changed
    store.execute(
        "UPDATE events SET raw_hash = s.h FROM (SELECT unnest(?::BIGINT[]) AS l, unnest(?::UBIGINT[]) AS h) s"
        " WHERE ingest_line = s.l",
        [[int(r[0]) for r in stored], [int(r[1]) for r in stored]],
    )
    assert statuses(store) == one_changed


def test_a_renamed_column_or_a_value_moved_to_the_next_column_is_a_change(
    store: Store, tmp_path: Path
) -> None:
    path = write(tmp_path, "restapi.csv", csv_text(HEADER, ROWS))
    ingest(store, [path])
    renamed = [*HEADER[:3], "CLIENT", HEADER[4]]
    path.write_text(csv_text(renamed, ROWS))
    assert set(statuses(store).values()) == {evidence.CHANGED}
    shifted = [ROWS[0], *ROWS[1:3], ["RestApi", "20250817111126.456", 'r4acme, "quoted"', "", "multi\nline"]]
    path.write_text(csv_text(HEADER, shifted))
    assert statuses(store) == {
        2: evidence.VERIFIED,
        3: evidence.VERIFIED,
        4: evidence.VERIFIED,
        5: evidence.CHANGED,
    }


def test_a_damaged_csv_read_in_python_verifies_with_either_hash(store: Store, tmp_path: Path) -> None:
    text = csv_text(HEADER, ROWS[:3]) + '"RestApi","20250817111127.000","r5","never closed\n'
    path = write(tmp_path, "restapi.csv", text + csv_text(HEADER, ROWS[3:]).split("\n", 1)[1])
    report = ingest(store, [path])
    assert (report.stored, report.quarantined) == (4, 1)
    assert set(statuses(store).values()) == {evidence.VERIFIED}
    # an older store: the hash of the text the Python reader wrote (empty values are "" there, not null)
    rows = store.fetchall("SELECT ingest_line FROM events ORDER BY 1")
    by_line = dict(zip([int(r[0]) for r in rows], [*ROWS[:3], ROWS[3]], strict=True))
    texts = {
        line: orjson.dumps(dict(zip(HEADER, row, strict=True))).decode() for line, row in by_line.items()
    }
    for line, t in texts.items():
        store.execute("UPDATE events SET raw_hash = hash(?) WHERE ingest_line = ?", [t, line])
    assert set(statuses(store).values()) == {evidence.VERIFIED}


def test_the_uid_of_a_row_without_vendor_id_and_a_quarantined_rows_text_are_its_json(
    store: Store, tmp_path: Path
) -> None:
    bad = ["RestApi", "not a time", "r9", "acme-erp", "/x"]
    path = write(tmp_path, "restapi.csv", csv_text(HEADER, [*ROWS, bad]))
    ingest(store, [path])
    no_id = '{"EVENT_TYPE":"RestApi","TIMESTAMP":"20250817111124.456","REQUEST_ID":null,"CLIENT_NAME":"acme-erp","URI":"/services/data/v58.0/sobjects"}'
    assert store.fetchall("SELECT metadata_uid FROM events WHERE ingest_line = 3") == [
        ("salesforce:" + str(store.scalar("SELECT md5(?)", [no_id])),)
    ]
    raw = store.fetchall("SELECT raw_data FROM quarantine")
    assert [orjson.loads(r[0]) for r in raw] == [dict(zip(HEADER, bad, strict=True))]


CELL = st.text(
    st.sampled_from(["a", "b", ",", '"', " ", "é", "\n", "\t", "\\", "/", "\x01", "😀"]),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=6))
def test_both_csv_readers_give_a_row_the_same_fingerprint_and_text(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]]
) -> None:
    header = ["EVENT_TYPE", "TIMESTAMP", "X"]
    folder = tmp_path_factory.mktemp("csv")
    path = write(folder, "f.csv", csv_text(header, rows))
    src = sf_source()
    got = []
    with Store(":memory:") as store:
        for read in (
            lambda: R.csv_relation(store, [path], src),
            lambda: R.csv_relation_python(store, path, src),
        ):
            relation, columns, rejects = read()
            assert not rejects and columns == header
            got.append(
                store.fetchall(
                    f"SELECT line, {R.CSV_HASH}, {R.CSV_TEXT} FROM (SELECT *, {R.csv_row(columns)} AS nw_row"
                    f" FROM {relation}) ORDER BY line"
                )
            )
    # (line numbers differ once a value spans lines: the DuckDB reader counts rows, the Python one lines)
    assert [r[1:] for r in got[0]] == [r[1:] for r in got[1]]
    assert [t for *_, t in got[0]] == [orjson.dumps(dict(zip(header, r, strict=True))).decode() for r in rows]


MAYBE = st.one_of(st.none(), st.text(st.sampled_from("ab,"), max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.lists(MAYBE, min_size=2, max_size=4), st.lists(MAYBE, min_size=2, max_size=4))
def test_rows_that_differ_have_different_fingerprints(a: list[str | None], b: list[str | None]) -> None:
    """Values moved between adjacent columns, NULL and empty text, swapped values: each a different row."""
    width = max(len(a), len(b))
    a, b = a + [None] * (width - len(a)), b + [None] * (width - len(b))
    names = [f"c{i}" for i in range(width)]
    with Store(":memory:") as store:
        cols = ", ".join(f"?::VARCHAR AS c{i}" for i in range(width))
        (ha,), (hb,) = (
            store.fetchall(f"SELECT {R.csv_fingerprint(names)} FROM (SELECT {cols})", row) for row in (a, b)
        )
    assert (ha == hb) == (a == b)


def test_a_truncated_gzip_csv_keeps_the_rows_before_the_cut(store: Store, tmp_path: Path) -> None:
    """A CSV whose gzip is cut off is read by the Python CSV reader: the rows before the cut are stored as
    events (they were each quarantined as a line without columns), the damage is one row in quarantine."""
    data = gzip.compress(csv_text(HEADER, ROWS[:3]).encode())
    path = write(tmp_path, "restapi.csv.gz", data[:-12])
    report = ingest(store, [path])
    rows = store.fetchall("SELECT ingest_line, reason FROM quarantine ORDER BY ingest_line NULLS FIRST")
    assert rows[0][0] is None and "truncated or corrupt gzip" in rows[0][1]
    stored = store.fetchall("SELECT ingest_line FROM events ORDER BY ingest_line")
    assert [line for (line,) in stored] == [2, 3, 4][: len(stored)] and len(stored) >= 2
    assert report.read == len(stored) + len(rows) - 1  # the file's own row is no record


def test_columns_named_like_the_readers_own_keep_the_rows_file_line_and_text(
    store: Store, tmp_path: Path
) -> None:
    """A hostile header naming ``file``, ``line``, ``j``, ``k`` or ``nw_...`` columns: its values stay values,
    never the event's provenance (a column ``line`` was once taken for the row's line)."""
    header = [
        "EVENT_TYPE",
        "TIMESTAMP",
        "REQUEST_ID",
        "file",
        "line",
        "j",
        "k",
        "nw_hash",
        "nw_row",
        "nw_c_j",
    ]
    rows = [
        ["RestApi", "20250817111123.456", "", "/etc/passwd", "99", '{"x":1}', "7", "1", "2", "3"],
        ["RestApi", "20250817111124.456", "r2", "/etc/shadow", "98", "", "", "", "", ""],
    ]
    for name, damaged in (("clean.csv", ""), ("damaged.csv", '"RestApi","never closed\n')):
        ids = [[*row[:2], row[2] and name + row[2], *row[3:]] for row in rows]  # no duplicate across files
        path = write(tmp_path, name, csv_text(header, ids) + damaged)
        ingest(store, [path])
        got = store.fetchall(
            "SELECT ingest_file, ingest_line FROM events WHERE ingest_file = ? ORDER BY 2", [str(path)]
        )
        assert got == [(str(path), 2), (str(path), 3)]
    found = original_records(store, [str(u) for (u,) in store.fetchall("SELECT metadata_uid FROM events")])
    assert {e.status for e in found.values()} == {evidence.VERIFIED}
    for e in found.values():
        record = orjson.loads(str(e.record))
        assert list(record) == header and record["line"] in ("99", "98")
