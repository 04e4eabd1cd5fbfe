"""A damaged store through every command: one line on stderr, exit 2, no traceback, no silent "empty", and
the damaged file (and its write-ahead log) byte for byte unchanged. ``nhiwatch doctor`` on healthy and
damaged stores."""

from __future__ import annotations

import hashlib
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from nhiwatch.cli import app, common
from nhiwatch.integrity import FILE_HEADER_BYTES, _wal_version_header_end, inspect_file
from tests.cli.test_detect_cli import WINDOW, _build
from tests.conftest import FIXTURES

runner = CliRunner()
GITHUB = FIXTURES / "github" / "audit_log" / "streaming.jsonl"


def run(*args: str | Path) -> tuple[int, str, str]:
    common.console.width = 200
    result = runner.invoke(app, [str(a) for a in args], env={"NHIWATCH_USER": "ana", "COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store as a team would have it: events, an inventory, a detection run with alerts, a quarantine row."""
    path = tmp_path_factory.mktemp("real") / "real.duckdb"
    _build(path)
    code, _, err = run("detect", *WINDOW, "--db", path)
    assert code == 0, err
    bad = path.parent / "bad.jsonl"
    bad.write_text(GITHUB.read_text() + "{not json\n")
    code, _, err = run("ingest", bad, "--db", path)
    assert code == 0, err
    assert not inspect_file(path).damaged
    return path


def _truncate(fraction: float) -> Callable[[Path], None]:
    def cut(p: Path) -> None:
        with p.open("r+b") as fh:
            fh.truncate(int(p.stat().st_size * fraction))

    return cut


def _flip_middle(p: Path) -> None:
    """Flip four bytes in the middle of the middle used block (a free block's bytes do not matter)."""
    report = inspect_file(p)
    used = [b for b in range(report.block_count) if b not in report.free_blocks]
    block = used[len(used) // 2]
    at = FILE_HEADER_BYTES + block * report.block_size + report.block_size // 2
    with p.open("r+b") as fh:
        fh.seek(at)
        data = fh.read(4)
        fh.seek(at)
        fh.write(bytes(b ^ 0x5A for b in data))


def _garbage(p: Path) -> None:
    p.write_bytes(bytes(range(256)) * 400)


def _empty(p: Path) -> None:
    p.write_bytes(b"")


def _wal_cut_short(p: Path) -> None:
    """Commit rows without a checkpoint (the WAL holds them), then cut the WAL in the middle of an entry."""
    con = duckdb.connect(str(p))
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("SET checkpoint_threshold = '1GB'")
    for i in range(4):
        con.execute(
            "INSERT INTO quarantine (ingest_file, reason, raw_data) "
            f"SELECT 'late{i}.jsonl', 'not valid JSON', repeat('x', 200) FROM range(500)"
        )
    con.close()
    wal = Path(str(p) + ".wal")
    # Inside an entry's payload, never on a boundary: how DuckDB splits the inserts into entries varies with
    # its threads, and a cut that lands between two entries is a different finding (or, after a commit,
    # none at all). The largest entry's middle is after its 16-byte header.
    data = wal.read_bytes()
    pos, entries = _wal_version_header_end(data), []
    assert pos is not None
    while pos + 16 <= len(data):
        size = struct.unpack_from("<Q", data, pos)[0]
        entries.append((size, pos))
        pos += 16 + size
    size, start = max(entries)
    with wal.open("r+b") as fh:
        fh.truncate(start + 16 + size // 2)


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated-25": _truncate(0.25),
    "truncated-50": _truncate(0.50),
    "truncated-75": _truncate(0.75),
    "bytes-flipped": _flip_middle,
    "garbage": _garbage,
    "zero-length": _empty,
    "wal-cut-short": _wal_cut_short,
}

COMMANDS: dict[str, list[str | Path]] = {
    "ingest": ["ingest", GITHUB],
    "detect": ["detect", *WINDOW],
    "alerts": ["alerts"],
    "quarantine": ["quarantine"],
    "inventory list": ["inventory", "list"],
    "doctor": ["doctor"],
}


def _digest(p: Path) -> tuple[str | None, str | None]:
    wal = Path(str(p) + ".wal")
    return (
        hashlib.sha256(p.read_bytes()).hexdigest(),
        hashlib.sha256(wal.read_bytes()).hexdigest() if wal.exists() else None,
    )


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_every_command_refuses_a_damaged_store_and_leaves_it_as_it_was(
    damage: str, real_store: Path, tmp_path: Path
) -> None:
    db = tmp_path / "damaged.duckdb"
    shutil.copy(real_store, db)
    DAMAGE[damage](db)
    before = _digest(db)
    for name, args in COMMANDS.items():
        code, out, err = run(*args, "--db", db)
        lines = err.strip().splitlines()
        assert code == 2, f"{damage}: {name} exited {code}: {out}{err}"
        assert len(lines) == 1 and lines[0].startswith("error:"), f"{damage}: {name}: {err!r}"
        assert "damaged" in lines[0] and str(db) in lines[0], lines[0]
        assert "doctor" in lines[0] or name == "doctor", lines[0]
        assert "Traceback" not in out + err
        assert "quarantine is empty" not in out and "no gaps" not in out
        assert _digest(db) == before, f"{damage}: {name} modified the damaged store"


def test_doctor_reports_a_healthy_store(real_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(real_store, db)
    before = _digest(db)
    code, out, err = run("doctor", "--db", db)
    assert code == 0, out + err
    for expected in ("written by", "DuckDB v", "storage version", "events", "quarantine", "healthy"):
        assert expected in out
    assert "can write" in out and "rolled-back" in out
    assert "how to recover" not in out
    assert _digest(db) == before  # the test write was rolled back


def test_doctor_names_readable_tables_and_recovery_steps(real_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "cut.duckdb"
    shutil.copy(real_store, db)
    _truncate(0.75)(db)
    code, out, _ = run("doctor", "--db", db)
    flat = " ".join(out.split())  # the steps wrap at the console's width, which other tests may change
    assert code == 2
    assert "truncated" in flat and "how to recover" in flat
    assert "backup" in flat and "EXPORT DATABASE" in flat and "nhiwatch ingest" in flat


def test_doctor_on_a_cut_wal_says_the_database_file_is_intact(real_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "wal.duckdb"
    shutil.copy(real_store, db)
    _wal_cut_short(db)
    code, out, _ = run("doctor", "--db", db)
    flat = " ".join(out.split())  # wrapped at the console's width, which other tests may change
    assert code == 2 and "write-ahead log is cut short" in flat and ".wal aside" in flat, flat


def test_doctor_without_a_store(tmp_path: Path) -> None:
    code, _, err = run("doctor", "--db", tmp_path / "nope.duckdb")
    assert code == 2 and err.strip().splitlines() == [
        f"error: no store at {tmp_path / 'nope.duckdb'}: pass --db with the store file"
    ]


def test_a_healthy_wal_is_replayed_not_refused(real_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "walok.duckdb"
    shutil.copy(real_store, db)
    con = duckdb.connect(str(db))
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("INSERT INTO quarantine (ingest_file, reason) VALUES ('late.jsonl', 'kept in the WAL')")
    con.close()
    assert Path(str(db) + ".wal").exists()
    code, out, err = run("quarantine", "--db", db)
    assert code == 0 and "kept in the WAL" in out, err
