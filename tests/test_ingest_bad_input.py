"""Bad input never aborts ingest: each bad record is quarantined with a reason and valid ones are kept."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from nhiwatch.evidence import original_record
from nhiwatch.ingest import ingest
from nhiwatch.store import Store
from tests.conftest import events, ingest_text, quarantine, write


def gh(i: int, **extra: object) -> str:
    rec = {
        "@timestamp": 1755429083000 + i * 1000,
        "_document_id": f"doc-{i}",
        "action": "git.clone",
        "actor": "release-bot",
        "org": "acme",
        "repo": f"acme/r{i}",
        "programmatic_access_type": "Personal access token (classic)",
        "token_id": 7,
    }
    rec.update(extra)
    return json.dumps(rec)


def test_truncated_gzip_keeps_complete_records(store: Store, tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(gh(i) for i in range(2000)) + "\n").encode())
    path = tmp_path / "audit.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    report = ingest(store, [path])
    assert 0 < report.stored < 2000
    reasons = [q["reason"] for q in quarantine(store)]
    assert any("truncated or corrupt gzip" in str(r) for r in reasons)
    # every stored record is complete and in order
    lines = [r["ingest_line"] for r in events(store)]
    assert lines == list(range(1, report.stored + 1))


def test_invalid_utf8_line_is_quarantined_with_its_line(store: Store, tmp_path: Path) -> None:
    body = (
        (gh(1) + "\n").encode() + b'{"action": "git.clone", "actor": "\xff\xfe"}\n' + (gh(3) + "\n").encode()
    )
    report = ingest(store, [write(tmp_path, "a.jsonl", body)])
    assert report.stored == 2
    q = quarantine(store)
    assert [(r["ingest_line"], "UTF-8" in str(r["reason"])) for r in q] == [(2, True)]
    assert [r["ingest_line"] for r in events(store)] == [1, 3]


def test_non_json_and_wrong_shape_lines(store: Store, tmp_path: Path) -> None:
    body = "\n".join([gh(1), "this is not json", "[1, 2, 3]", '"a string"', "", gh(6)]) + "\n"
    report = ingest_text(store, tmp_path, "a.jsonl", body)
    assert report.stored == 2 and report.quarantined == 3
    got = {r["ingest_line"]: str(r["reason"]) for r in quarantine(store)}
    assert got[2] == "not valid JSON"
    assert "expected an object, got array" in got[3]
    assert "expected an object, got a string" in got[4]


def test_missing_and_unparseable_timestamps(store: Store, tmp_path: Path) -> None:
    no_ts = json.loads(gh(2))
    del no_ts["@timestamp"]
    body = "\n".join([gh(1), json.dumps(no_ts), gh(3, **{"@timestamp": "next tuesday"})]) + "\n"
    report = ingest_text(store, tmp_path, "a.jsonl", body)
    assert report.stored == 1
    reasons = {r["ingest_line"]: str(r["reason"]) for r in quarantine(store)}
    assert reasons[2] == "missing or unparseable timestamp: (absent)"
    assert reasons[3] == 'missing or unparseable timestamp: "next tuesday"'


def test_a_secret_in_an_unreadable_timestamp_is_masked_before_the_reason_is_cut(
    store: Store, tmp_path: Path
) -> None:
    token = "ghp_" + "Zq7" * 12  # 40 characters, starting where a 60-character quote used to end
    stamp = "x" * 50 + token + " and then some more text" * 20
    body = gh(1) + "\n" + gh(2, **{"@timestamp": stamp}) + "\n"
    ingest_text(store, tmp_path, "a.jsonl", body)
    reason = str(quarantine(store)[0]["reason"])
    assert reason.startswith('missing or unparseable timestamp: "xxxx') and "ghp_[REDACTED]" in reason
    assert "Zq7" not in reason and len(reason) <= 300
    again = ingest_text(store, tmp_path, "a.jsonl", body)  # the shortened reason still de-duplicates
    assert again.quarantined == 1 and len(quarantine(store)) == 1


def test_timestamps_in_other_formats_and_zones_become_utc(store: Store, tmp_path: Path) -> None:
    shapes = [
        "2025-08-17T13:11:23+02:00",
        "2025-08-17T07:11:23-04:00",
        "1755429083",
        "1755429083000",
        "2025-08-17 11:11:23",
        "Sun, 17 Aug 2025 11:11:23 +0000",
    ]
    body = "\n".join(gh(i, **{"@timestamp": s, "_document_id": f"t{i}"}) for i, s in enumerate(shapes)) + "\n"
    ingest_text(store, tmp_path, "a.jsonl", body)
    times = {str(r["time"]) for r in events(store)}
    assert times == {"2025-08-17 11:11:23"}


def test_enormous_record_is_quarantined_and_long_fields_truncated(store: Store, tmp_path: Path) -> None:
    huge = gh(2, pad="x" * (5 * 1024 * 1024))
    long_ua = gh(3, user_agent="A" * 10_000)
    report = ingest_text(store, tmp_path, "a.jsonl", "\n".join([gh(1), huge, long_ua]) + "\n")
    assert report.stored == 2
    assert str(quarantine(store)[0]["reason"]).startswith("record larger than 4 MiB")
    row = events(store, "metadata_uid = 'github:doc-3'")[0]
    original = original_record(store, "github:doc-3")
    assert original is not None and original.status == "verified"
    assert len(str(row["http_request_user_agent"])) == 2048 and len(str(original.record)) > 10_000


def test_empty_and_unknown_files_are_reported_not_fatal(store: Store, tmp_path: Path) -> None:
    empty = write(tmp_path, "empty.jsonl", "")
    blank = write(tmp_path, "blank.jsonl", "\n\n  \n")
    other = write(tmp_path, "notes.log", "hello world\n")
    good = write(tmp_path, "good.jsonl", gh(1) + "\n")
    report = ingest(store, [empty, blank, other, good])
    assert report.stored == 1 and report.files == 4
    reasons = sorted(str(r["reason"]) for r in quarantine(store))
    assert reasons[0].startswith("empty file") and reasons[1].startswith("empty file")
    assert "unrecognised format" in reasons[2]


def test_duplicates_within_and_across_files_and_late_events(store: Store, tmp_path: Path) -> None:
    first = write(tmp_path, "day2.jsonl", "\n".join([gh(5), gh(5), gh(6)]) + "\n")
    report = ingest(store, [first])
    assert (report.stored, report.duplicates) == (2, 1)
    late = write(tmp_path, "day1-late.jsonl", "\n".join([gh(1), gh(6)]) + "\n")
    report = ingest(store, [late])
    assert (report.stored, report.duplicates) == (1, 1)
    again = ingest(store, [first, late])
    assert again.stored == 0 and again.duplicates == 5
    assert store.event_count() == 3


def test_quarantine_is_not_duplicated_by_reingest(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", gh(1) + "\nnot json\n")
    ingest(store, [path])
    ingest(store, [path])
    assert len(quarantine(store)) == 1


def test_crlf_line_endings(store: Store, tmp_path: Path) -> None:
    report = ingest_text(store, tmp_path, "a.jsonl", gh(1) + "\r\n" + gh(2) + "\r\n")
    assert report.stored == 2 and report.quarantined == 0


def test_quarantined_records_are_redacted_too(store: Store, tmp_path: Path) -> None:
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    ingest_text(store, tmp_path, "a.jsonl", gh(1) + "\n" + f'{{"broken": "{secret}"\n')
    raw = str(quarantine(store)[0]["raw_data"])
    assert secret not in raw and "[REDACTED]" in raw


def test_truncated_gzip_of_a_text_log_with_a_header_keeps_complete_lines(
    store: Store, tmp_path: Path
) -> None:
    """A damaged VPC flow log is salvaged line by line in Python; its header still names the fields."""
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
    rows = [
        f"2 123456789012 eni-0a1b2c3d4e5f67890 10.20.0.{i % 250} 3.5.1.2 51234 443 6 24 {6000 + i} "
        f"{1755429083 + i} {1755429143 + i} ACCEPT OK"
        for i in range(3000)
    ]
    data = gzip.compress(("\n".join([header, *rows]) + "\n").encode())
    path = tmp_path / "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20250817T1115Z_3f2a9c1e.log.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    report = ingest(store, [path])
    assert 0 < report.stored < 3000
    assert report.by_source["vpcflow.flow_log"] == report.stored
    assert [q["reason"] for q in quarantine(store) if "gzip" not in str(q["reason"])] == []
    assert [r["ingest_line"] for r in events(store)] == list(range(2, report.stored + 2))
