"""The per-group function Spark runs, exercised without Spark: one group holding a whole company must find
what :func:`run_detection` finds, and a group with nothing but a member must not fail."""

from __future__ import annotations

import pickle
import warnings
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from nhiwatch.alerts.config import default_config
from nhiwatch.detection import run_detection
from nhiwatch.lake.layout import REFERENCE_TABLES, ROLLUP_TABLES
from nhiwatch.pipeline import ingest_all
from nhiwatch.spark.group import REFERENCE, GroupJob, bucket, detect_group, to_ipc
from nhiwatch.store import Store
from tests.server.data import write_company


def _arrow(store: Store, sql: str) -> pa.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # DuckDB's note that this makes a copy
        return store.execute(sql).to_arrow_table()


def _pack(parts: dict[str, pa.Table], group: str) -> pa.Table:
    """What Spark hands the group function: one struct column per table, ``_t`` naming the table."""
    names = list(parts)
    columns: dict[str, list[pa.Array]] = {"_g": [], "_t": [], **{n: [] for n in names}}
    for name, table in parts.items():
        n = table.num_rows
        struct = pa.StructArray.from_arrays(
            [c.combine_chunks() for c in table.columns], names=table.column_names
        )
        columns["_g"].append(pa.array([group] * n))
        columns["_t"].append(pa.array([name] * n))
        for other in names:
            columns[other].append(struct if other == name else pa.nulls(n, type=_type(parts[other])))
    return pa.table({k: pa.concat_arrays(v) for k, v in columns.items()})


def _type(table: pa.Table) -> pa.DataType:
    return pa.struct([(f.name, f.type) for f in table.schema])


@pytest.fixture
def company(store: Store, tmp_path: Path) -> Store:
    logs, inv = write_company(tmp_path / "co")
    ingest_all(store, [logs], inventory=inv)
    return store


def _job(store: Store, since: object, until: object) -> GroupJob:
    hours = [
        r[0]
        for r in store.fetchall(
            "SELECT hour FROM rollup_hourly WHERE action_class = '*' AND status = '*' GROUP BY hour "
            "HAVING sum(events) > 0"
        )
    ]
    ref = {n: to_ipc(_arrow(store, f"SELECT {REFERENCE_TABLES[n]} FROM {n}")) for n in REFERENCE}
    return GroupJob(since, until, default_config(), None, ref, hours, buckets=1)  # type: ignore[arg-type]


def test_one_group_holding_everything_finds_what_duckdb_finds(company: Store) -> None:
    end = company.scalar("SELECT max(time) FROM events") + timedelta(seconds=1)
    since = end - timedelta(days=2)
    parts = {
        "events": _arrow(
            company,
            f"SELECT * EXCLUDE (ingest_batch), ingest_batch FROM events WHERE time >= TIMESTAMP '{since}' "
            "AND integration_id IS NOT NULL",
        )
    }
    for t in ROLLUP_TABLES:
        parts[t.name] = _arrow(company, f"SELECT * FROM {t.name}")
    group = bucket("?|?", 1)
    out = detect_group(
        _pack({k: v for k, v in parts.items() if v.num_rows}, group), _job(company, since, end)
    )
    spark_found = sorted(
        (f.detector, f.integration_id, f.first_seen)
        for f in (
            pickle.loads(p)
            for k, p in zip(out["kind"].to_pylist(), out["payload"].to_pylist(), strict=True)
            if k == "finding"
        )
    )
    duck = run_detection(company, since, end)
    assert spark_found == sorted((f.detector, f.integration_id, f.first_seen) for f in duck.findings)
    assert len(spark_found) >= 3  # behaviour and posture findings: the comparison is not of two empty lists


def test_a_group_without_history_of_its_own_is_scored_when_the_fleet_has_some(company: Store) -> None:
    """DuckDB skips a step only when no integration has history; a group holding just a member (no events,
    no rollups) must learn and run every detector on the steps the fleet scores, not skip them."""
    end = company.scalar("SELECT max(time) FROM events") + timedelta(seconds=1)
    member = pa.table({"integration_id": ["sync-bot"]})
    out = detect_group(
        _pack({"member": member}, bucket("?|?", 1)), _job(company, end - timedelta(days=1), end)
    )
    rows = list(zip(out["kind"].to_pylist(), out["payload"].to_pylist(), strict=True))
    assert [r for r in rows if r[0] != "finding"] == []
