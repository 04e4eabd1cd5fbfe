"""Planning by file shape: one file of each folder layout and shape is sampled, the others are read the same
way, and that never reads a file differently from sampling it on its own."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import QUARANTINE_TEMP, IngestReport, _plan, ingest
from nhiwatch.sources import files as files_mod
from nhiwatch.sources.shape import HEADER, SHAPE_BYTES, header_shape, read_prefix, shape, shape_key
from nhiwatch.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ_", min_size=1, max_size=12)
scalars = st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none(), words)
objects = st.dictionaries(words, scalars, min_size=3, max_size=15)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_shape_of_any_bytes_is_a_string_or_none(data: bytes) -> None:
    found = shape(data)
    assert found is None or isinstance(found, str)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_shape_of_any_text_is_a_string_or_none(text: str) -> None:
    found = shape(text.encode("utf-8", "surrogatepass"))
    assert found is None or isinstance(found, str)


@settings(max_examples=100, deadline=None)
@given(objects, st.integers(0, 10**12), st.integers(0, 10**12))
def test_records_differing_in_ids_and_times_share_a_shape(record: dict, a: int, b: int) -> None:
    first = {**record, "id": f"evt-{a}", "time": f"2026-01-{a % 28 + 1:02d}T00:00:00Z", "n": a}
    second = {**record, "id": f"evt-{b}", "time": f"2026-02-{b % 28 + 1:02d}T10:11:12Z", "n": b}
    assert shape(json.dumps(first).encode() + b"\n") == shape(json.dumps(second).encode() + b"\n")


@settings(max_examples=100, deadline=None)
@given(objects, st.data())
def test_a_renamed_key_or_another_kind_changes_the_shape(record: dict, data: st.DataObject) -> None:
    keys = list(record)
    old = data.draw(st.sampled_from(keys[:10]))
    renamed = {(k + "X" if k == old else k): v for k, v in record.items()}
    line = json.dumps(record).encode() + b"\n"
    assert shape(line) != shape(json.dumps(renamed).encode() + b"\n")
    kinds = {"category": "SignInLogs", **record}, {"category": "AuditLogs", **record}
    assert shape(json.dumps(kinds[0]).encode()) != shape(json.dumps(kinds[1]).encode())


def test_no_shape_for_text_csv_or_a_pretty_printed_start() -> None:
    assert shape(b"version account-id interface-id srcaddr\n2 1 eni 10.0.0.1\n") is None
    assert shape(b"EVENT_TYPE,TIMESTAMP,USER_ID\nAPI,20250817,005\n") is None
    assert shape(b'{\n  "records": [\n    {"time": "x"}]}') is None
    assert shape(b"") is None
    assert shape(b"   \n  ") is None


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=20_000), st.integers(0, 100))
def test_read_prefix_of_gzip_is_the_decompressed_start(tmp_path: Path, data: bytes, cut: int) -> None:
    path = tmp_path / "x.gz"
    packed = gzip.compress(data)
    path.write_bytes(packed)
    assert read_prefix(path) == (data[:SHAPE_BYTES], True)
    path.write_bytes(packed[: max(len(packed) - cut, 2)])  # damaged: what decompresses, never an error
    prefix, gz = read_prefix(path)
    assert gz and data.startswith(prefix)
    plain = tmp_path / "x.json"
    plain.write_bytes(b"{" + data)
    assert read_prefix(plain) == ((b"{" + data)[:SHAPE_BYTES], False)


def _fixture_copies(tmp_path: Path) -> list[Path]:
    """Every fixture file, twice, in one folder per name ending: files of different vendors side by side."""
    out: list[Path] = []
    for i, src in enumerate(sorted(p for p in FIXTURES.rglob("*") if p.is_file())):
        ending = "".join(src.suffixes[-2:]) or ".log"
        for copy in (1, 2):
            dest = tmp_path / "mixed" / f"{i:03d}-{copy}{ending}"
            dest.parent.mkdir(exist_ok=True)
            shutil.copy(src, dest)
            out.append(dest)
    return sorted(out)


def test_planning_by_shape_reads_every_file_as_sampling_it_alone(tmp_path: Path) -> None:
    files = _fixture_copies(tmp_path)
    known: dict[tuple[str, ...], object] = {}
    with Store(":memory:") as store:
        store.execute(QUARANTINE_TEMP)
        shared = [_plan(store, f, None, IngestReport(), known) for f in files]  # type: ignore[arg-type]
        alone = [_plan(store, f, None, IngestReport()) for f in files]
    assert shared == alone
    assert len(known) < len(
        [f for f in files if shape_key(f) is not None]
    )  # the second copies were not sampled


LEADING = (
    "time",
    "resourceId",
    "category",
    "tenantId",
    "operationVersion",
    "resultSignature",
    "durationMs",
    "correlationId",
    "Level",
    "callerIpAddress",
    "operationName",
    "properties",
)


def _leading_keys_first(*paths: Path) -> list[list[dict]]:
    """The fixtures' records with the keys all of them have first, in one order."""
    files = [[json.loads(line) for line in p.read_text().splitlines() if line.strip()] for p in paths]
    common = [k for k in LEADING if all(k in r for records in files for r in records)]
    return [[{**{k: r[k] for k in common}, **r} for r in records] for records in files]


def test_files_alike_but_for_their_category_are_recognised_apart(store: Store, tmp_path: Path) -> None:
    """Azure diagnostic logs of sign-ins and of audit share their leading keys; only the category differs."""
    folder = tmp_path / "insights"
    folder.mkdir()
    audit, signins = _leading_keys_first(
        FIXTURES / "microsoft/entra_audit/audit.jsonl",
        FIXTURES / "microsoft/entra_signins/service_principal.jsonl",
    )
    for name, records in (("PT1H-01.json", audit), ("PT1H-02.json", signins)):
        lines = sorted(
            (json.dumps(r, separators=(",", ":")) for r in records), key=len
        )  # first within the prefix
        (folder / name).write_text("\n".join(lines) + "\n")
    shapes = [shape(read_prefix(folder / name)[0]) or "" for name in ("PT1H-01.json", "PT1H-02.json")]
    keys = [[t for t in s.split("\x1f") if not t.startswith("=")] for s in shapes]
    assert keys[0] == keys[1]  # the same keys in the same order: only the values tell them apart
    assert shapes[0] != shapes[1]
    report = ingest(store, [folder])
    assert report.quarantined == 0
    assert report.by_source["microsoft.entra_audit"] == len(audit)
    assert report.by_source["microsoft.entra_signins"] == len(signins)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_header_shape_of_any_bytes_is_a_string_or_none(data: bytes) -> None:
    found = header_shape(data)
    assert found is None or (found.startswith(HEADER) and "\n" not in found)


def test_a_text_or_csv_files_shape_is_its_whole_first_line() -> None:
    header = (
        b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end"
    )
    assert header_shape(header + b"\n2 123456789012 eni-0a1b 10.0.0.1\n") == HEADER + header.decode()
    assert header_shape(b'{"eventVersion": "1.08"}\n') is None and header_shape(b"[{}]\n") is None
    assert header_shape(b"a first line longer than the prefix, with no end") is None
    assert header_shape(b"\n2 123456789012 eni-0a1b 10.0.0.1\n") is None


VPC_HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


def _vpc_line(i: int) -> str:
    return f"2 123456789012 eni-0a1b2c3d4e5f6789{i % 10} 10.20.0.{i % 250} 3.5.1.2 51234 443 6 24 6683 {1755429083 + i} {1755429143 + i} ACCEPT OK"


def test_files_with_one_header_are_sampled_once_and_read_as_each_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VPC flow logs and Salesforce event log files name their columns in their first line: a folder of them is
    sampled once per header. Files whose first line is data (VPC flow logs exported without a header) are each
    sampled, even when their first lines are the same."""
    vpc, elf, bare = tmp_path / "vpc" / "2025" / "08", tmp_path / "elf" / "Login", tmp_path / "bare"
    for d in (vpc, elf, bare):
        d.mkdir(parents=True)
    login = (FIXTURES / "salesforce/event_log_file/login.csv").read_text()
    for i in range(12):
        (vpc / f"fl-{i:02d}.log").write_text(
            VPC_HEADER + "\n" + "\n".join(_vpc_line(i * 7 + k) for k in range(5)) + "\n"
        )
        (elf / f"2025-08-{i + 1:02d}.csv").write_text(login)
    for i in range(3):
        (bare / f"export-{i}.txt").write_text("\n".join(_vpc_line(k + i * (k > 0)) for k in range(4)) + "\n")
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    sampled: list[Path] = []
    original = files_mod.sample
    monkeypatch.setattr(files_mod, "sample", lambda path: sampled.append(path) or original(path))
    known: dict[tuple[str, ...], object] = {}
    with Store(":memory:") as store:
        store.execute(QUARANTINE_TEMP)
        shared = [_plan(store, f, None, IngestReport(), known) for f in files]  # type: ignore[arg-type]
        assert sorted(p.parent.name for p in sampled) == ["08", "Login", "bare", "bare", "bare"]
        alone = [_plan(store, f, None, IngestReport()) for f in files]
    assert shared == alone
    assert {p.source.id for p in shared if p is not None} == {
        "vpcflow.flow_log",
        "salesforce.event_log_file",
    }
