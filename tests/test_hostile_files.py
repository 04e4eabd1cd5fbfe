"""A folder of hostile files: every good record in it is stored, every bad thing has a quarantine row with a
reason, and nothing raises, hangs or reads outside the folder — through the library and the CLI."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nhiwatch.ingest import ingest
from nhiwatch.sources import documents as D
from nhiwatch.sources import files as F
from nhiwatch.sources import reading as R
from nhiwatch.store import Store
from tests.conftest import FIXTURES, quarantine, write

SF_CSV = FIXTURES / "salesforce" / "event_log_file" / "uniquequery.csv"
HEADER = {"action": "git.clone", "actor": "t", "org": "acme", "@timestamp": 1774234800000}
DEEP = 100_000


def gh(doc_id: str, i: int = 0) -> str:
    return json.dumps(
        {
            "@timestamp": 1755429083000 + i * 1000,
            "_document_id": doc_id,
            "action": "git.clone",
            "actor": "release-bot",
            "org": "acme",
            "repo": f"acme/r{i}",
        }
    )


def good_lines(tag: str, n: int = 3) -> list[str]:
    return [gh(f"good-{tag}-{i}", i) for i in range(n)]


def deep_record(doc_id: str) -> str:
    """The issue's poison record: valid JSON nested DEEP levels."""
    return json.dumps({**HEADER, "_document_id": doc_id})[:-1] + ', "x": ' + "[" * DEEP + "]" * DEEP + "}"


def build_corpus(root: Path, outside: Path) -> tuple[Path, int, dict[str, str]]:
    """Writes the hostile folder; returns it, the number of good records in it, and file -> expected reason."""
    folder = root / "logs"
    folder.mkdir()
    expect: dict[str, str] = {}
    good = 0

    def lines_file(name: str, first: bytes | str, reason: str, tag: str) -> None:
        nonlocal good
        body = good_lines(tag)
        head = first if isinstance(first, bytes) else first.encode()
        write(folder, name, head + b"\n" + "\n".join(body).encode() + b"\n")
        good += len(body)
        expect[name] = reason

    # One bad first record must cost that record only, never the file.
    lines_file("deep-first.jsonl", deep_record("poison-line"), "nested deeper than 100 levels", "deep")
    lines_file(
        "huge-first.jsonl", gh("huge", 1)[:-1] + ', "pad": "' + "x" * (5 << 20) + '"}', "larger than", "huge"
    )
    lines_file(
        "nul-first.jsonl", b'{"action": "git.clone", "actor": "a\x00b", \x00\x00}', "not valid JSON", "nul"
    )
    lines_file("utf8-first.jsonl", b'{"action": "git.clone", "actor": "\xff\xfe"}', "UTF-8", "utf8")
    lines_file("scalar-first.jsonl", "42", "expected an object", "scalar")
    lines_file("array-first.jsonl", "[1, 2, 3]", "expected an object", "array")
    lines_file("garbage-first.jsonl", "<<< not a log >>>", "not valid JSON", "garbage")
    lines_file("nul-line.jsonl", b"\x00" * 64, "not valid JSON", "nulline")

    # The poison document: one good record, one too deep to parse.
    poison = "[" + gh("good-poison-0") + ", " + deep_record("poison-doc") + "]"
    write(folder, "poison.json", poison)
    good += 1
    expect["poison.json"] = "nested deeper than 100 levels"

    body = "\n".join(good_lines("gz", 400)) + "\n"
    data = gzip.compress(body.encode())
    write(folder, "truncated.jsonl.gz", data[: len(data) // 2])
    expect["truncated.jsonl.gz"] = "truncated or corrupt gzip"  # its complete records are counted below

    rows = SF_CSV.read_text().splitlines()
    damaged = rows[1].replace('","', ',"', 1)  # one quote lost: the row's quotes never balance
    write(folder, "salesforce.csv", "\n".join([rows[0], damaged, *rows[2:]]) + "\n")
    expect["salesforce.csv"] = "badly quoted value"

    write(folder, "scalars.json", "[1, 2, 3]")
    expect["scalars.json"] = "unrecognised format"
    write(folder, "empty.jsonl", "")
    expect["empty.jsonl"] = "empty file"
    write(folder, "blank.jsonl", " \n\t\n\r\n   ")
    expect["blank.jsonl"] = "only whitespace"

    os.mkfifo(folder / "pipe.jsonl")
    expect["pipe.jsonl"] = "named pipe"
    (outside / "secret.jsonl").write_text(gh("outside-0") + "\n")
    (folder / "outside.jsonl").symlink_to(outside / "secret.jsonl")
    expect["outside.jsonl"] = "outside the folder"
    (folder / "zero.jsonl").symlink_to("/dev/zero")
    expect["zero.jsonl"] = "outside the folder"
    (folder / "loop-a.jsonl").symlink_to(folder / "loop-b.jsonl")
    (folder / "loop-b.jsonl").symlink_to(folder / "loop-a.jsonl")
    expect["loop-a.jsonl"] = "link loop"
    expect["loop-b.jsonl"] = "link loop"
    (folder / "sub").mkdir()
    write(folder / "sub", "nested.jsonl", "\n".join(good_lines("nested")) + "\n")
    good += 3
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)
    expect["up"] = "link to a folder, not followed"
    return folder, good, expect


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, int, dict[str, str]]:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    return build_corpus(tmp_path, outside)


def _stored_good(store: Store) -> int:
    return int(store.scalar("SELECT count(*) FROM events WHERE metadata_uid LIKE 'github:good-%'") or 0)


def test_hostile_folder_keeps_every_good_record_and_explains_every_bad_thing(
    store: Store, corpus: tuple[Path, int, dict[str, str]]
) -> None:
    folder, good, expect = corpus
    report = ingest(store, [folder])
    gz_kept = int(
        store.scalar("SELECT count(*) FROM events WHERE ingest_file LIKE '%truncated.jsonl.gz'") or 0
    )
    assert 0 < gz_kept < 400
    assert _stored_good(store) == good + gz_kept
    sf = int(store.scalar("SELECT count(*) FROM events WHERE source = 'salesforce'") or 0)
    assert sf == len(SF_CSV.read_text().splitlines()) - 2  # every row but the damaged one
    assert store.scalar("SELECT count(*) FROM events WHERE metadata_uid LIKE '%outside%'") == 0
    assert store.scalar("SELECT count(*) FROM events WHERE metadata_uid LIKE 'github:poison%'") == 0
    reasons: dict[str, list[str]] = {}
    for q in quarantine(store):
        reasons.setdefault(Path(str(q["ingest_file"])).name, []).append(str(q["reason"]))
    for name, expected in expect.items():
        assert any(expected in r for r in reasons.get(name, [])), (name, reasons.get(name))
    assert report.stored == store.event_count()
    # A hostile line never appears as an event, nor does anything from outside the folder.
    assert not store.fetchall("SELECT 1 FROM events WHERE strlen(http_request_user_agent) > 100000")


def test_hostile_folder_is_idempotent(store: Store, corpus: tuple[Path, int, dict[str, str]]) -> None:
    folder, _good, _expect = corpus
    first = ingest(store, [folder])
    rows = len(quarantine(store))
    again = ingest(store, [folder])
    assert again.stored == 0 and again.duplicates == first.stored
    assert len(quarantine(store)) == rows


def test_hostile_folder_through_the_cli(tmp_path: Path, corpus: tuple[Path, int, dict[str, str]]) -> None:
    folder, _good, _expect = corpus
    db = tmp_path / "cli.duckdb"
    out = subprocess.run(
        [sys.executable, "-m", "nhiwatch.cli", "ingest", str(folder), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert "quarantined" in out.stdout
    assert "file(s) not read" in out.stdout and "pipe.jsonl: not a regular file (a named pipe)" in out.stdout


def test_a_named_pipe_or_device_named_directly_is_skipped_not_opened(store: Store, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    good = write(tmp_path, "good.jsonl", gh("good-1") + "\n")
    report = ingest(store, [fifo, Path("/dev/zero"), good])
    assert report.stored == 1
    reasons = sorted(str(q["reason"]) for q in quarantine(store))
    assert reasons == [
        "not a regular file (a character device), skipped",
        "not a regular file (a named pipe), skipped",
    ]


def test_unreadable_file_is_reported_and_the_rest_stored(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = write(tmp_path, "locked.jsonl", gh("locked") + "\n")
    write(tmp_path, "good.jsonl", gh("good-1") + "\n")
    if os.geteuid() != 0:
        locked.chmod(0)
    else:  # root reads anything: make reading this one file fail as it would for a user
        real = F.read_head

        def denied(path: Path, limit: int = F.SAMPLE_BYTES) -> bytes:
            if path == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, limit)

        monkeypatch.setattr(F, "read_head", denied)
    report = ingest(store, [tmp_path])
    assert report.stored == 1
    assert [str(q["reason"]) for q in quarantine(store)] == ["cannot read: Permission denied"]


def test_declared_source_wins_even_when_no_first_record_parses(store: Store, tmp_path: Path) -> None:
    body = "\n".join(["garbage"] * 20 + good_lines("declared")) + "\n"
    path = write(tmp_path, "a.log", body)
    assert ingest(store, [path]).stored == 0  # not recognisable from its first lines: the file is reported
    assert "unrecognised format" in str(quarantine(store)[0]["reason"])
    report = ingest(store, [path], source="github")
    assert report.stored == 3 and _stored_good(store) == 3
    lines = [q["ingest_line"] for q in quarantine(store) if q["ingest_line"] is not None]
    assert lines == list(range(1, 21))  # each garbage line quarantined on its own


def test_declared_source_quarantines_records_of_another_shape_one_by_one(
    store: Store, tmp_path: Path
) -> None:
    okta = (FIXTURES / "okta" / "system_log").glob("*.json*")
    first = next(iter(sorted(okta)))
    path = write(tmp_path, "mixed.jsonl", "\n".join(good_lines("mixed")) + "\n")
    report = ingest(store, [first, path], source="github")
    assert _stored_good(store) == 3
    assert report.quarantined >= 1
    assert all(q["ingest_line"] is not None for q in quarantine(store))


def test_most_first_records_decide_not_the_first_alone(store: Store, tmp_path: Path) -> None:
    okta_like = json.dumps(
        {"published": "2025-08-17T11:11:23Z", "eventType": "user.session.start", "uuid": "u"}
    )
    path = write(tmp_path, "gh.jsonl", okta_like + "\n" + "\n".join(good_lines("vote", 5)) + "\n")
    report = ingest(store, [path])
    assert report.by_source == {"github.audit_log": 5}


def test_any_failure_inside_the_transaction_rolls_back_and_costs_one_file(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = write(tmp_path, "a-bad.json", "[" + gh("good-a") + "]")
    good = write(tmp_path, "b-good.json", "[" + gh("good-b") + "]")
    real = R.python_records

    def boom(path: Path, src: object) -> object:
        if path == bad:
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, src)  # type: ignore[arg-type]

    monkeypatch.setattr(R, "python_records", boom)
    monkeypatch.setattr(
        D, "_simple_files", lambda paths: ([], list(paths), 0)
    )  # both go to the Python reader
    report = ingest(store, [bad, good])
    assert report.stored == 1 and _stored_good(store) == 1
    assert [str(q["reason"]) for q in quarantine(store)] == [
        "could not be read as GitHub audit log: nested deeper than 100 levels"
    ]
    store.execute("BEGIN TRANSACTION")  # no transaction was left open
    store.execute("COMMIT")


def test_an_interrupt_rolls_back_and_is_raised(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "a.json", "[" + gh("good-a") + "]")

    def interrupted(path: Path, src: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(R, "python_records", interrupted)
    monkeypatch.setattr(D, "_simple_files", lambda paths: ([], list(paths), 0))
    with pytest.raises(KeyboardInterrupt):
        ingest(store, [path])
    assert store.event_count() == 0
    store.execute("BEGIN TRANSACTION")
    store.execute("COMMIT")


def test_deep_nesting_is_bounded_without_recursion() -> None:
    text = "[" * DEEP + "]" * DEEP
    assert F.too_deep(text) and not F.too_deep("[" * 100 + "]" * 100)
    assert not F.too_deep('{"a": "' + "[" * 500 + '"}')  # brackets inside strings do not count
    found = F.salvage_document(("[" + gh("a") + ", " + text + ", " + gh("b") + "]").encode(), [])
    assert found is not None
    records, dropped = found
    assert dropped == 0 and [type(r).__name__ for r in records] == ["dict", "Unreadable", "dict"]


def test_every_deep_line_is_accounted_for_even_as_a_declared_source(store: Store, tmp_path: Path) -> None:
    deep = "[" * DEEP + "]" * DEEP
    path = write(tmp_path, "deep.jsonl", "\n".join([deep, gh("good-1"), deep, deep]) + "\n")
    report = ingest(store, [path], source="github")
    assert (report.read, report.stored, report.quarantined) == (4, 1, 3)
    assert sorted(int(str(q["ingest_line"])) for q in quarantine(store)) == [1, 3, 4]
    assert F.salvage_document(f"{deep}\n{deep}\n".encode(), []) is None  # lines, not one document


def test_a_document_too_large_to_read_whole_is_reported_and_the_rest_stored(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(F, "MAX_DOCUMENT", 4000)
    big = "[" + ", ".join(gh(f"big-{i}", i) for i in range(40)) + "]"
    write(tmp_path, "big.json", big)
    write(tmp_path, "bomb.json", big, gz=True)  # small on disk, large once decompressed
    write(tmp_path, "small.json", "[" + gh("good-1") + "]")
    report = ingest(store, [tmp_path])
    assert report.stored == 1 and _stored_good(store) == 1
    reasons = {Path(str(q["ingest_file"])).name: str(q["reason"]) for q in quarantine(store)}
    assert set(reasons) == {"big.json", "bomb.json.gz"}
    assert all("to read as one document; split it" in r for r in reasons.values())


def test_file_names_that_look_like_patterns_are_read_as_themselves(store: Store, tmp_path: Path) -> None:
    squid = (FIXTURES / "squid" / "access_log" / "access.log").read_text()
    write(tmp_path, "*.log", squid)
    write(tmp_path, "other.log", squid.replace("10.20.0.", "10.30.0."))  # other events, same shape
    write(tmp_path, "[ab].jsonl", "\n".join(good_lines("glob")) + "\n")
    write(tmp_path, "?.csv", SF_CSV.read_text())
    report = ingest(store, [tmp_path])
    rows = len(squid.splitlines())
    sf_rows = len(SF_CSV.read_text().splitlines()) - 1
    assert report.read == 2 * rows + 3 + sf_rows  # each file once: no name expanded to other files
    counts = dict(store.fetchall("SELECT ingest_file, count(*) FROM events GROUP BY ALL"))
    assert counts[str(tmp_path / "*.log")] == rows and counts[str(tmp_path / "[ab].jsonl")] == 3
    assert counts[str(tmp_path / "?.csv")] == sf_rows
