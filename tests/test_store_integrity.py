"""The store's open checks without the CLI: no false alarm on stores DuckDB wrote in the ordinary way (grown,
shrunk, with free blocks cut off the end, with a WAL), a refusal for each kind of damage, and the doctests."""

from __future__ import annotations

import doctest
import random
import shutil
from pathlib import Path

import duckdb
import pytest

from nhiwatch import functions, integrity
from nhiwatch.errors import ConfigError
from nhiwatch.integrity import StoreDamagedError, inspect_file
from nhiwatch.store import Store


@pytest.mark.parametrize("module", [integrity, functions])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


def test_stores_written_the_ordinary_way_are_never_called_damaged(tmp_path: Path) -> None:
    """Tables created, filled, emptied and dropped, checkpoints and WALs left behind: DuckDB cuts free blocks
    off the end of the file, so the size check must follow the free list, not the header's block count."""
    rng = random.Random(3)
    path = tmp_path / "churn.duckdb"
    trimmed = False
    for step in range(25):
        con = duckdb.connect(str(path))
        if rng.random() < 0.4:  # leave the last transactions in the WAL, as a killed process would
            con.execute("PRAGMA disable_checkpoint_on_shutdown")
            con.execute("SET checkpoint_threshold = '1GB'")
        table = f"t{rng.randint(0, 4)}"
        action = rng.random()
        if action < 0.5:
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} (x BIGINT, s VARCHAR)")
            con.execute(
                f"INSERT INTO {table} SELECT range, repeat('x', 200) FROM range({rng.randint(1, 60_000)})"
            )
        elif action < 0.8:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        else:
            con.execute("CHECKPOINT")
        con.close()
        report = inspect_file(path)
        assert not report.damaged, (step, report)
        trimmed |= report.size < integrity.FILE_HEADER_BYTES + report.block_count * report.block_size
        with Store(path):  # and the store opens
            pass
    assert trimmed  # the case that needs the free list did occur


@pytest.fixture
def healthy(tmp_path: Path) -> Path:
    path = tmp_path / "ok.duckdb"
    with Store(path) as s:
        s.execute("INSERT INTO quarantine (ingest_file, reason) SELECT 'f' || range, 'r' FROM range(50000)")
    return path


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "truncated"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"SQLite format 3\0" + bytes(20000)), "not a DuckDB database"),
        (lambda p: p.write_bytes(p.read_bytes()[:4200] + b"\xff" + p.read_bytes()[4201:]), "header"),
    ],
)
def test_store_refuses_damage_before_duckdb_sees_it(healthy: Path, damage: object, message: str) -> None:
    damage(healthy)  # type: ignore[operator]
    before = healthy.read_bytes()
    with pytest.raises(StoreDamagedError, match=message) as err:
        Store(healthy)
    assert "\n" not in str(err.value) and f"nhiwatch doctor --db {healthy}" in str(err.value)
    assert healthy.read_bytes() == before


def test_a_flipped_byte_in_a_used_block_is_found(healthy: Path, tmp_path: Path) -> None:
    report = inspect_file(healthy)
    used = [b for b in range(report.block_count) if b not in report.free_blocks]
    copy = tmp_path / "flip.duckdb"
    shutil.copy(healthy, copy)
    at = integrity.FILE_HEADER_BYTES + used[-1] * report.block_size + 1000
    data = bytearray(copy.read_bytes())
    data[at] ^= 0x01
    copy.write_bytes(bytes(data))
    found = inspect_file(copy)
    assert found.bad_blocks == [used[-1]] and "fail their checksum" in str(found.problem)


def test_a_bad_memory_limit_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NHIWATCH_MEMORY_LIMIT", "1GB'; DROP TABLE events; --")
    with pytest.raises(ConfigError, match="NHIWATCH_MEMORY_LIMIT"):
        Store(tmp_path / "m.duckdb")
    monkeypatch.setenv("NHIWATCH_MEMORY_LIMIT", "512MiB")
    with Store(tmp_path / "m.duckdb") as s:
        assert s.scalar("SELECT current_setting('memory_limit')")
