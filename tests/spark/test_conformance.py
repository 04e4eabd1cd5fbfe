"""Conformance: on a simulated company, the Spark engine (local[2]) raises the alerts the DuckDB engine does.

Same integrations, detectors, first and last seen, status, and risk scores within 0.5; the alerts are in the
store and in the lake (OCSF Detection Findings). Slow: it starts a JVM.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from nhiwatch.alerts.model import Alert
from nhiwatch.detection import DetectionResult, run_detection
from nhiwatch.lake.export import export_lake
from nhiwatch.lake.location import open_lake
from nhiwatch.lake.read import lake_dataset
from nhiwatch.pipeline import ingest_all
from nhiwatch.simulate import simulate
from nhiwatch.spark.engine import S3A_NOTE
from nhiwatch.store import Store
from tests.spark.conftest import LocalS3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'nhiwatch[spark]')")
    from nhiwatch.spark.engine import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("company")
    simulate(out, integrations=8, days=18, seed=7)
    with Store(out / "store.duckdb") as s:
        ingest_all(s, [out / "logs"], inventory=out / "inventory.yaml", tickets=out / "tickets.csv")
    return out


def _key(a: Alert) -> tuple[Any, ...]:
    return (a.integration_id, a.kind, tuple(a.detectors), a.first_seen, a.last_seen, a.status)


def _duck(company: Path, tmp_path: Path) -> tuple[datetime, DetectionResult]:
    shutil.copy(company / "store.duckdb", tmp_path / "duck.duckdb")
    with Store(tmp_path / "duck.duckdb") as s:
        since = s.scalar("SELECT max(time) FROM events") - timedelta(days=3)
        return since, run_detection(s, since=since)


def _same_alerts(duck: DetectionResult, sp: DetectionResult) -> None:
    assert duck.errors == [] and sp.errors == []
    assert (sp.since, sp.until, sp.events) == (duck.since, duck.until, duck.events)
    assert duck.alerts and duck.posture
    ours = {_key(a): a.risk_score for a in duck.all_alerts}
    theirs = {_key(a): a.risk_score for a in sp.all_alerts}
    assert sorted(theirs) == sorted(ours)
    assert all(abs(theirs[k] - ours[k]) <= 0.5 for k in ours)


def test_spark_raises_the_alerts_duckdb_raises(spark: Any, company: Path, tmp_path: Path) -> None:
    from nhiwatch.spark.engine import run_spark_detection

    since, duck = _duck(company, tmp_path)
    shutil.copy(company / "store.duckdb", tmp_path / "spark.duckdb")
    with Store(tmp_path / "spark.duckdb") as s:
        export_lake(s, tmp_path / "lake")
        sp = run_spark_detection(s, tmp_path / "lake", since=since, spark=spark)
        stored = s.scalar("SELECT count(*) FROM alerts")
    assert S3A_NOTE not in sp.notes
    assert duck.errors == [] and sp.errors == []
    assert (sp.since, sp.until, sp.events) == (duck.since, duck.until, duck.events)
    # the test can fail: the window holds behaviour and posture alerts
    assert duck.alerts and duck.posture
    ours = {_key(a): a.risk_score for a in duck.all_alerts}
    theirs = {_key(a): a.risk_score for a in sp.all_alerts}
    assert sorted(theirs) == sorted(ours)
    assert all(abs(theirs[k] - ours[k]) <= 0.5 for k in ours)
    assert sorted(f.detector for f in sp.findings) == sorted(f.detector for f in duck.findings)
    assert stored == len(sp.all_alerts)
    found = duckdb.sql(
        f"SELECT resources_uid, finding_info_analytic_uid, class_uid FROM read_parquet("
        f"'{tmp_path / 'lake' / 'findings'}/*/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert sorted(found) == sorted((a.integration_id, ",".join(a.detectors), 2004) for a in sp.all_alerts)


def test_an_s3_lake_without_hadoop_aws_is_read_through_the_driver(
    spark: Any, company: Path, tmp_path: Path, s3: LocalS3
) -> None:
    """Spark here has no s3a filesystem (hadoop-aws cannot be fetched offline): the Arrow path, same alerts."""
    from nhiwatch.spark.engine import S3A_CLASS, _has_s3a, run_spark_detection

    assert not _has_s3a(spark), f"{S3A_CLASS} is on the classpath: this test would not take the Arrow path"
    since, duck = _duck(company, tmp_path)
    shutil.copy(company / "store.duckdb", tmp_path / "spark.duckdb")
    with Store(tmp_path / "spark.duckdb") as s:
        export_lake(s, s3.url("security-lake/nhiwatch"))
        sp = run_spark_detection(s, s3.url("security-lake/nhiwatch"), since=since, spark=spark)
    _same_alerts(duck, sp)
    assert S3A_NOTE in sp.notes
    found = lake_dataset(s3.url("security-lake/nhiwatch"), "findings").to_table().to_pylist()
    assert sorted((f["resources_uid"], f["finding_info_analytic_uid"]) for f in found) == sorted(
        (a.integration_id, ",".join(a.detectors)) for a in sp.all_alerts
    )


def test_the_arrow_path_gives_spark_the_types_its_parquet_reader_gives(
    spark: Any, company: Path, tmp_path: Path
) -> None:
    from nhiwatch.spark.engine import ArrowLake, SparkLake

    shutil.copy(company / "store.duckdb", tmp_path / "s.duckdb")
    with Store(tmp_path / "s.duckdb") as s:
        export_lake(s, tmp_path / "lake")
    loc = open_lake(tmp_path / "lake")
    native, arrow = SparkLake(spark, loc), ArrowLake(spark, loc)
    assert arrow.bounds() == native.bounds()
    start, end = arrow.bounds()
    assert start is not None and end is not None
    a, b = native.days(start, end), arrow.days(start, end)
    assert sorted(a.dtypes) == sorted(b.dtypes)
    assert a.count() == b.count() > 0
    for table in ("rollup_hourly", "rollup_values", "rollup_sizes", "rollup_lifecycle"):
        assert sorted(native.table(table).dtypes) == sorted(arrow.table(table).dtypes), table


def test_the_groups_rows_are_batched_by_row_count_only(spark: Any) -> None:
    # Spark 4's default byte cap (64 MB) measures the batch after every row; on the packed frame (mostly-null
    # structs with list columns) that was quadratic in the batch and most of the JVM's time at 50M events.
    from pyspark.sql import functions as F

    assert int(spark.conf.get("spark.sql.execution.arrow.maxBytesPerBatch")) == 2**31 - 1
    df = spark.range(5).select((F.col("id") % 2).alias("g"), F.array(F.lit("s")).alias("scopes"))
    sizes = df.groupBy("g").applyInArrow(
        lambda t: pa.table({"g": [t["g"][0].as_py()], "n": [t.num_rows]}), "g long, n long"
    )
    assert sorted(tuple(r) for r in sizes.collect()) == [(0, 3), (1, 2)]
