"""``nhiwatch export --lake``: the layout DuckDB reads as is, the incremental cursor, and bad input."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson
import pytest
from typer.testing import CliRunner

from nhiwatch.cli import app
from nhiwatch.errors import ConfigError, NhiwatchError
from nhiwatch.lake import lake_glob
from nhiwatch.lake.export import export_lake, read_cursor
from nhiwatch.pipeline import ingest_all
from nhiwatch.store import Store
from tests.server.data import attack, history, ndjson, write_company

runner = CliRunner()


def _lake(root: Path, table: str, what: str = "*") -> list[tuple[object, ...]]:
    return duckdb.sql(
        f"SELECT {what} FROM read_parquet('{lake_glob(root, table)}', hive_partitioning = true)"
    ).fetchall()


@pytest.fixture
def company(store: Store, tmp_path: Path) -> Store:
    logs, inv = write_company(tmp_path / "co")
    ingest_all(store, [logs], inventory=inv)
    return store


def test_events_are_partitioned_by_source_and_day_and_read_back_whole(company: Store, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    report = export_lake(company, root)
    assert report.events == company.event_count() > 0
    days = {p.name for p in (root / "events" / "source=github").iterdir()}
    assert len(days) == company.scalar("SELECT count(DISTINCT CAST(time AS DATE)) FROM events") > 20
    assert all(d.startswith("event_day=") for d in days)
    cols = "metadata_uid, time, source, integration_id, actor_user_name, src_endpoint_ip, scopes"
    stored = sorted(company.fetchall(f"SELECT {cols} FROM events"))
    assert sorted(_lake(root, "events", cols)) == stored
    for table in ("rollup_hourly", "rollup_values", "rollup_sizes"):
        n = company.scalar(f"SELECT count(*) FROM {table}")
        assert _lake(root, table, "count(*)") == [(n,)]
    # the minute map is written as BIGINT (no reader of the lake has to know DuckDB's UBIGINT)
    assert _lake(root, "rollup_hourly", "sum(minutes)::HUGEINT") == company.fetchall(
        "SELECT sum(minutes)::HUGEINT FROM rollup_hourly"
    )
    assert (root / "reference" / "integrations" / "data.parquet").exists()


def test_a_second_export_writes_only_the_new_events(company: Store, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    first = export_lake(company, root)
    assert export_lake(company, root).events == 0
    extra = tmp_path / "more.jsonl"
    late = [dict(r, _document_id=f"late-{i}") for i, r in enumerate(attack(day_offset=29))]
    extra.write_bytes(ndjson(late))
    ingest_all(company, [extra])
    second = export_lake(company, root)
    assert second.events == len(late)
    assert second.cursor > first.cursor
    uids = _lake(root, "events", "metadata_uid")
    assert len(uids) == len(set(uids)) == company.event_count()


def test_an_export_cut_short_is_finished_without_duplicates(company: Store, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    export_lake(company, root)
    hi = read_cursor(root).done
    # as if the last export died after writing its files but before moving the cursor
    (root / "_nhiwatch" / "export.json").write_bytes(orjson.dumps({"cursor": 0, "pending": hi}))
    export_lake(company, root)
    uids = _lake(root, "events", "metadata_uid")
    assert len(uids) == len(set(uids)) == company.event_count()
    assert read_cursor(root).pending is None


def test_events_carry_the_pointer_to_their_original_record(company: Store, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    export_lake(company, root)
    n = company.event_count()
    assert _lake(root, "events", "count(*), count(ingest_file), count(ingest_line), count(raw_hash)") == [
        (n,) * 4
    ]


def test_bad_input_is_a_clear_message(company: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="abfss:// is not supported"):
        export_lake(company, "abfss://container@account.dfs.core.windows.net/lake")
    root = tmp_path / "lake"
    (root / "_nhiwatch").mkdir(parents=True)
    (root / "_nhiwatch" / "export.json").write_text("{not json")
    with pytest.raises(NhiwatchError, match="--full"):
        export_lake(company, root)
    assert export_lake(company, root, full=True).events == company.event_count()
    with Store(tmp_path / "empty.duckdb") as empty, pytest.raises(NhiwatchError, match="no events"):
        export_lake(empty, tmp_path / "lake2")


def test_cli_export_and_detect_engine_checks(tmp_path: Path) -> None:
    logs, inv = write_company(tmp_path / "co")
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        ingest_all(s, [logs], inventory=inv)
    out = runner.invoke(app, ["export", "--lake", str(tmp_path / "lake"), "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert f"exported {len(history()) + len(attack()):,} new event(s)" in out.output
    bad = runner.invoke(app, ["export", "--lake", "gs://b/x", "--db", str(db)])
    assert bad.exit_code == 2 and "gs:// is not supported" in bad.output
    no_lake = runner.invoke(app, ["detect", "--engine", "spark", "--db", str(db)])
    assert no_lake.exit_code == 2 and "--lake" in no_lake.output
    odd = runner.invoke(app, ["detect", "--engine", "flink", "--db", str(db)])
    assert odd.exit_code == 2 and "duckdb or spark" in odd.output
