"""Evidence: every stored event's original record can be fetched again, checked against its hash, redacted.

Events keep file, line and a hash instead of the record (:mod:`nhiwatch.evidence`); pushed bodies are kept as
compressed copies next to the store (:mod:`nhiwatch.raw_copies`).
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch import evidence
from nhiwatch.evidence import original_record, original_records
from nhiwatch.ingest import ingest
from nhiwatch.raw_copies import raw_dir
from nhiwatch.redact import MASK, redact
from nhiwatch.retention import prune
from nhiwatch.schema import EVENT_COLUMNS
from nhiwatch.store import Store
from tests.conftest import FIXTURES, write

GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def gh(i: int, **extra: object) -> dict[str, object]:
    rec: dict[str, object] = {
        "@timestamp": 1755429083000 + i * 1000,
        "_document_id": f"doc-{i}",
        "action": "git.clone",
        "actor": "release-bot",
        "org": "acme",
        "repo": f"acme/r{i}",
        "programmatic_access_type": "Personal access token (classic)",
    }
    rec.update(extra)
    return rec


def lines(*recs: dict[str, object]) -> str:
    return "".join(json.dumps(r) + "\n" for r in recs)


def all_evidence(store: Store) -> dict[str, evidence.Evidence]:
    return original_records(store, [str(u) for (u,) in store.fetchall("SELECT metadata_uid FROM events")])


def test_json_lines_gzip_and_crlf_records_are_re_read_verbatim(store: Store, tmp_path: Path) -> None:
    plain = write(tmp_path, "a.jsonl", lines(gh(1), gh(2)))
    zipped = write(tmp_path, "b.jsonl", lines(gh(3), gh(4)), gz=True)
    crlf = write(tmp_path, "c.jsonl", lines(gh(5), gh(6)).replace("\n", "\r\n"))
    assert ingest(store, [plain, zipped, crlf]).stored == 6
    found = all_evidence(store)
    assert {e.status for e in found.values()} == {evidence.VERIFIED}
    assert orjson.loads(str(found["github:doc-3"].record)) == gh(3)
    assert found["github:doc-3"].line == 1 and found["github:doc-6"].line == 2
    assert json.loads(str(found["github:doc-1"].record)) == gh(1)
    # the stored row itself is lean: no copy of the record in it
    columns = {
        r[0]
        for r in store.fetchall(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'events'"
        )
    }
    assert "raw_data" not in columns and "raw_hash" in columns


def test_csv_and_json_document_records_are_verified(store: Store, tmp_path: Path) -> None:
    report = ingest(store, [FIXTURES / "salesforce" / "event_log_file", FIXTURES / "aws" / "cloudtrail"])
    assert report.stored > 20
    found = all_evidence(store)
    assert len(found) == store.event_count()
    assert {e.status for e in found.values()} == {evidence.VERIFIED}
    csv_one = next(e for e in found.values() if str(e.file).endswith("api.csv") and e.line == 2)
    assert json.loads(str(csv_one.record))["REQUEST_ID"] == "4uV5iL9Sk1Pn6-l1cJIQk-"
    doc = next(e for e in found.values() if str(e.file).endswith(".json.gz"))
    record = json.loads(str(doc.record))
    assert "eventTime" in record and f"aws:{record['eventID']}" == doc.metadata_uid


def test_a_moved_or_changed_file_is_said_plainly(store: Store, tmp_path: Path) -> None:
    a = write(tmp_path, "a.jsonl", lines(gh(1), gh(2)))
    b = write(tmp_path, "b.jsonl", lines(gh(3), gh(4)))
    ingest(store, [a, b])
    a.rename(tmp_path / "elsewhere.jsonl")
    b.write_text(lines(gh(3), gh(4, repo="acme/other")))
    found = all_evidence(store)
    assert found["github:doc-1"].status == evidence.MISSING and found["github:doc-1"].record is None
    assert "moved or deleted" in found["github:doc-1"].note and str(a) in found["github:doc-1"].note
    assert found["github:doc-3"].status == evidence.VERIFIED  # line 1 of b is as it was
    changed = found["github:doc-4"]
    assert changed.status == evidence.CHANGED and changed.record is None
    assert "changed since it was ingested" in changed.note and "line 2" in changed.note


def test_re_ingest_is_idempotent_and_evidence_still_verified(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", lines(*(gh(i) for i in range(5))))
    first = ingest(store, [path])
    again = ingest(store, [path])
    assert (first.stored, again.stored, again.duplicates) == (5, 0, 5)
    assert store.event_count() == 5
    assert {e.status for e in all_evidence(store).values()} == {evidence.VERIFIED}


def test_pushed_body_is_kept_compressed_and_its_records_come_back_redacted(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    body = spool / "push-1.log"
    body.write_text(lines(gh(1, repo=f"acme/api?access_token={GHP}"), gh(2)))
    with Store(tmp_path / "s.duckdb") as store:
        report = ingest(store, [body], keep_copy=True)
        assert report.stored == 2 and report.first_time == datetime(2025, 8, 17, 11, 11, 24)
        body.unlink()  # the server deletes its spool file after ingest
        copies = list(raw_dir(store).iterdir())
        assert len(copies) == 1 and copies[0].suffix == ".gz"
        assert gzip.decompress(copies[0].read_bytes()).count(b"\n") == 2
        files = {r[0] for r in store.fetchall("SELECT DISTINCT ingest_file FROM events")}
        assert files == {str(copies[0])}
        one = original_record(store, "github:doc-1")
        assert one is not None and one.status == evidence.VERIFIED
        assert GHP not in str(one.record) and MASK in str(one.record)
        assert json.loads(str(one.record))["actor"] == "release-bot"
        # the same body pushed again: duplicates, and the copy is not made twice
        body.write_text(lines(gh(1, repo=f"acme/api?access_token={GHP}"), gh(2)))
        again = ingest(store, [body], keep_copy=True)
        assert (again.stored, again.duplicates) == (0, 2) and again.first_time is None
        assert len(list(raw_dir(store).iterdir())) == 1


def test_the_copies_follow_a_moved_store(tmp_path: Path) -> None:
    body = write(tmp_path, "push-1.log", lines(gh(1)))
    with Store(tmp_path / "s.duckdb") as store:
        ingest(store, [body], keep_copy=True)
    body.unlink()
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.move(tmp_path / "s.duckdb", moved / "s.duckdb")
    shutil.move(tmp_path / "s.duckdb.raw", moved / "s.duckdb.raw")
    with Store(moved / "s.duckdb") as store:
        found = original_record(store, "github:doc-1")
    assert found is not None and found.status == evidence.VERIFIED


def test_prune_deletes_a_copy_once_none_of_its_events_is_left(tmp_path: Path) -> None:
    old = write(tmp_path, "push-1.log", lines(gh(1), gh(2)))
    recent = write(tmp_path, "push-2.log", lines(gh(3, **{"@timestamp": 1755429083000 + 90 * 86_400_000})))
    with Store(tmp_path / "s.duckdb") as store:
        ingest(store, [old], keep_copy=True)
        ingest(store, [recent], keep_copy=True)
        assert len(list(raw_dir(store).iterdir())) == 2
        report = prune(store, raw_days=35)
        assert report.events_deleted == 2 and report.copies_deleted == 1
        left = list(raw_dir(store).iterdir())
        assert [str(p) for p in left] == [
            r[0] for r in store.fetchall("SELECT DISTINCT ingest_file FROM events")
        ]
        found = original_record(store, "github:doc-3")
        assert found is not None and found.status == evidence.VERIFIED


def test_a_store_written_with_raw_data_keeps_working(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))  # the events table as nhiwatch wrote it before the lean store
    old_columns = [f"{c.name} {c.sql_type}" for c in EVENT_COLUMNS if c.name != "raw_hash"]
    con.execute(f"CREATE TABLE events ({', '.join(old_columns)}, raw_data VARCHAR)")
    con.execute(
        "INSERT INTO events (time, metadata_uid, source, raw_data, ingest_file, ingest_line, ingest_batch) "
        "VALUES ('2025-08-17 11:00:00', 'github:old-1', 'github', ?, '/gone/a.jsonl', 1, 1)",
        [json.dumps(gh(0, repo=f"acme/x?access_token={GHP}"))],
    )
    con.close()
    with Store(db) as store:  # opened by this nhiwatch: the table gains the hash column
        ingest(store, [write(tmp_path, "new.jsonl", lines(gh(1)))])
        found = all_evidence(store)
        assert found["github:old-1"].status == evidence.STORED
        assert GHP not in str(found["github:old-1"].record) and MASK in str(found["github:old-1"].record)
        assert found["github:doc-1"].status == evidence.VERIFIED
        assert store.scalar("SELECT raw_hash FROM events WHERE metadata_uid = 'github:old-1'") is None


def test_unknown_uid_gives_nothing(store: Store) -> None:
    assert original_record(store, "github:nope") is None
    assert original_records(store, []) == {}


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(_text, _text), min_size=1, max_size=8),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_any_json_lines_file_is_re_read_exactly(
    tmp_path_factory: pytest.TempPathFactory, values: list[tuple[str, str]], newline: str, gz: bool
) -> None:
    folder = tmp_path_factory.mktemp("ev")
    recs = [gh(i, actor=a, repo=r) for i, (a, r) in enumerate(values)]
    body = newline.join(json.dumps(r, ensure_ascii=False) for r in recs) + newline
    path = write(folder, "a.jsonl", body, gz=gz)
    with Store(folder / "s.duckdb") as store:
        report = ingest(store, [path])
        found = all_evidence(store)
    assert report.stored == len(recs) and len(found) == len(recs)
    for i, rec in enumerate(recs):
        got = found[f"github:doc-{i}"]
        assert got.status == evidence.VERIFIED and got.line == i + 1
        assert str(got.record).rstrip("\r") == redact(json.dumps(rec, ensure_ascii=False))
