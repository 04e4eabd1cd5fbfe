"""``nhiwatch detect --engine spark``: the daily detection over a lake, on Spark, with the library's own kernels.

The data flow (see ``docs/architecture.md``, "Spark engine"):

1. the window and its event count come from the lake's events (partition-pruned by ``event_day``);
2. fleet-wide facts are computed first, on Spark, and broadcast: the peer group of every integration (from
   the store's inventory), the hours with any history, the destinations other groups use;
3. events of the window and all rollups are tagged with their group, packed into one frame (a struct column
   per table) and grouped; each group runs :func:`nhiwatch.spark.group.detect_group` — an in-memory DuckDB
   with the normal baseline and detector code — via ``applyInArrow``;
4. the findings (small) come back to the driver, which raises alerts in the store exactly as the DuckDB
   engine does (:func:`nhiwatch.detection.record_results`) and writes them to the lake.

A lake on S3 is read by Spark itself as ``s3a://`` when hadoop-aws is on its classpath (EMR, Databricks, a
spark-submit with ``--packages org.apache.hadoop:hadoop-aws``). Without it, the driver reads the window's
days and the rollups with pyarrow and hands them to Spark as Arrow (:class:`ArrowLake`): the same results,
but every row passes through the driver, so this is for a single machine, not a cluster (docs/spark.md).
"""

from __future__ import annotations

import os
import pickle
import sys
import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import reduce
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from nhiwatch.alerts.config import AlertConfig, default_config
from nhiwatch.alerts.model import finding_id
from nhiwatch.detection import DetectionResult, _defaults, record_results, utc_naive
from nhiwatch.detectors.base import Finding
from nhiwatch.errors import ConfigError, NhiwatchError
from nhiwatch.inventory.resolve import ensure_tables as ensure_inventory
from nhiwatch.lake.findings import write_findings
from nhiwatch.lake.layout import REFERENCE_TABLES, ROLLUP_TABLES
from nhiwatch.lake.location import LakeLocation, open_lake, s3_errors
from nhiwatch.lake.read import lake_dataset
from nhiwatch.spark.group import (
    REFERENCE,
    RESULT_SCHEMA,
    UNKNOWN_PEER,
    GroupJob,
    bucket,
    detect_group,
    peer_group_sql,
    to_ipc,
)
from nhiwatch.store import Store

DEFAULT_MASTER = "local[2]"
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    # partition values stay text: a source named "123" must not become an integer
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.shuffle.partitions": "8",
    # Batches to the group function are cut by row count (maxRecordsPerBatch) only. Spark 4's default byte
    # cap (64 MB) measures the batch after every row, and for the packed frame — one mostly-null struct per
    # table, list columns inside — each measurement walks every vector and back-fills the offsets of the
    # null lists: quadratic in the batch, most of the JVM's time at 50M events (docs/benchmarks.md).
    # Int.MaxValue is the value Spark reads as "no byte cap".
    "spark.sql.execution.arrow.maxBytesPerBatch": str(2**31 - 1),
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> Any:
    """A Spark session for nhiwatch: UTC, partition values kept as text, Arrow on; ``conf`` adds settings.

    Without ``master``, a session that exists (a notebook's) or the master spark-submit set is used, else
    ``local[2]``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the Spark engine needs pyspark: pip install 'nhiwatch[spark]' (and Java 17 or later)"
        ) from None
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ or SparkSession.getActiveSession() is not None
    master = master or (None if submitted else DEFAULT_MASTER)
    if master and master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
        # local workers are started with PYSPARK_PYTHON (read from the environment only): this venv's
        os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = SparkSession.builder if master is None else SparkSession.builder.master(master)
    for key, value in {**SESSION_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


S3A_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"
S3A_NOTE = (
    "the lake was read through the driver with pyarrow: Spark has no s3a filesystem (hadoop-aws) on its "
    "classpath; on a cluster add it (docs/spark.md)"
)


class SparkLake:
    """The lake as Spark reads it itself: a directory, or ``s3a://`` through hadoop-aws."""

    note: str | None = None

    def __init__(self, spark: Any, loc: LakeLocation) -> None:
        self.spark, self.loc = spark, loc

    def table(self, name: str) -> Any:
        if self.loc.fs.get_file_info(self.loc.path(name)).type != pafs.FileType.Directory:
            raise NhiwatchError(
                f"the lake {self.loc.url} has no {name}: run `nhiwatch export --lake {self.loc.url}` first"
            )
        folder = self.loc.hadoop_url(name)
        return self.spark.read.option("basePath", folder).parquet(folder)

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        from pyspark.sql import functions as F

        first, last = self.table("events").agg(F.min("time"), F.max("time")).first()
        return first, last

    def days(self, start: datetime, end: datetime) -> Any:
        """The events of the event days ``start`` to ``end`` touch (partition-pruned), ``event_day`` kept."""
        from pyspark.sql import functions as F

        events = self.table("events")
        return events.where(
            (F.col("event_day") >= start.date().isoformat()) & (F.col("event_day") <= end.date().isoformat())
        )


class ArrowLake(SparkLake):
    """The lake read on the driver with pyarrow and handed to Spark as Arrow: for a Spark without hadoop-aws."""

    note = S3A_NOTE

    def _frame(self, table: pa.Table) -> Any:
        from pyspark.sql import functions as F

        # the types Spark's own Parquet reader gives: unsigned integers widen, naive timestamps stay naive
        widened = pa.schema([pa.field(f.name, _WIDER.get(f.type, f.type), f.nullable) for f in table.schema])
        df = self.spark.createDataFrame(table.cast(widened))
        naive = [f.name for f in table.schema if pa.types.is_timestamp(f.type) and f.type.tz is None]
        return df.withColumns({c: F.col(c).cast("timestamp_ntz") for c in naive}) if naive else df

    def table(self, name: str) -> Any:
        return self._frame(lake_dataset(self.loc, name).to_table())

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        dset = lake_dataset(self.loc, "events")
        days = sorted(
            {
                str(ds.get_partition_keys(f.partition_expression).get("event_day"))
                for f in dset.get_fragments()
            }
        )
        if not days:
            return None, None
        first = pc.min(dset.to_table(columns=["time"], filter=ds.field("event_day") == days[0])["time"])
        last = pc.max(dset.to_table(columns=["time"], filter=ds.field("event_day") == days[-1])["time"])
        return first.as_py(), last.as_py()

    def days(self, start: datetime, end: datetime) -> Any:
        dset = lake_dataset(self.loc, "events")
        keep = (ds.field("event_day") >= start.date().isoformat()) & (
            ds.field("event_day") <= end.date().isoformat()
        )
        return self._frame(dset.to_table(filter=keep))


_WIDER = {
    pa.uint64(): pa.decimal128(20, 0),
    pa.uint32(): pa.int64(),
    pa.uint16(): pa.int32(),
    pa.uint8(): pa.int16(),
}


def _has_s3a(spark: Any) -> bool:
    try:
        loader = spark.sparkContext._jvm.java.lang.Thread.currentThread().getContextClassLoader()
        loader.loadClass(S3A_CLASS)
    except Exception:  # Py4J wraps ClassNotFoundException; any failure means Spark cannot read s3a://
        return False
    return True


def lake_reader(spark: Any, lake: str | Path | LakeLocation) -> SparkLake:
    """How this Spark reads this lake: itself, or (an S3 lake without hadoop-aws) through the driver."""
    loc = open_lake(lake, must_exist=True)
    if loc.is_s3 and not _has_s3a(spark):
        return ArrowLake(spark, loc)
    return SparkLake(spark, loc)


def _window(
    lake: SparkLake, since: datetime | None, until: datetime | None, cfg: AlertConfig
) -> tuple[datetime, datetime, int, Any]:
    """The same window as :func:`nhiwatch.detection.window`, read from the lake, with its events."""
    first, last = lake.bounds()
    if first is None or last is None:
        raise NhiwatchError("the lake has no events: export a store first (`nhiwatch export --lake ...`)")
    end = utc_naive(until) if until else last + timedelta(seconds=1)
    start = utc_naive(since) if since else end - timedelta(hours=cfg.detection.default_window_hours)
    if start >= end:
        raise ConfigError(
            f"the window is empty: --since {start:%Y-%m-%d %H:%M} is not before --until {end:%Y-%m-%d %H:%M}"
        )
    events = _in_window(lake.days(start, end), start, end)
    n = events.count()
    if n == 0:
        raise NhiwatchError(
            f"no events between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC; the lake holds events "
            f"from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
        )
    return start, end, n, events


def _in_window(events: Any, start: datetime, end: datetime) -> Any:
    from pyspark.sql import functions as F

    days = (F.col("event_day") >= start.date().isoformat()) & (F.col("event_day") <= end.date().isoformat())
    return events.where(days & (F.col("time") >= F.lit(start)) & (F.col("time") < F.lit(end)))


def _arrow(store: Store, sql: str) -> pa.Table:
    with warnings.catch_warnings():  # DuckDB warns of a copy: these tables are the small inventory ones
        warnings.simplefilter("ignore", UserWarning)
        return store.execute(sql).to_arrow_table()


def _reference(store: Store) -> dict[str, bytes]:
    ensure_inventory(store)
    return {name: to_ipc(_arrow(store, f"SELECT {REFERENCE_TABLES[name]} FROM {name}")) for name in REFERENCE}


def _tagged(df: Any, keys: Any, unknown: str, column: str = "_g") -> Any:
    """``df`` with the Spark group of its integration in ``column``."""
    from pyspark.sql import functions as F

    return df.join(F.broadcast(keys.withColumnRenamed("_g", column)), "integration_id", "left").fillna(
        unknown, [column]
    )


def _packed(df: Any, name: str, keys: Any, unknown: str, columns: Sequence[str]) -> Any:
    from pyspark.sql import functions as F

    tagged = _tagged(df, keys, unknown)
    return tagged.select("_g", F.lit(name).alias("_t"), F.struct(*columns).alias(name))


def run_spark_detection(
    store: Store,
    lake: str | Path,
    since: datetime | None = None,
    until: datetime | None = None,
    config: AlertConfig | None = None,
    *,
    only: Sequence[str] | None = None,
    master: str | None = None,
    spark: Any = None,
    buckets: int | None = None,
    write_lake: bool = True,
) -> DetectionResult:
    """Learn, detect and raise alerts for ``[since, until)`` over the lake; alerts go to the store and lake.

    ``buckets`` (default: twice Spark's parallelism) is how many groups the peer groups are hashed into."""
    import time

    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    loc = open_lake(lake, must_exist=True)  # a bad --lake, bucket or credentials before Spark starts
    cfg = config or default_config()
    _, _, metas = _defaults(only, [])  # validates --detector names before Spark starts work
    spark = spark or spark_session(master)
    reader = lake_reader(spark, loc)
    with s3_errors(loc, "read"):
        start, end, n_events, in_window = _window(reader, since, until, cfg)

    # 1. fleet-wide facts, computed first and broadcast
    n_buckets = buckets or 2 * int(spark.sparkContext.defaultParallelism)
    peers = store.fetchall(f"SELECT id, {peer_group_sql()} FROM integrations i")
    keys = spark.createDataFrame(
        [(integ, bucket(peer, n_buckets)) for integ, peer in peers], "integration_id string, _g string"
    )
    unknown = bucket(UNKNOWN_PEER, n_buckets)
    with s3_errors(loc, "read"):
        roll = {t.name: reader.table(t.name).drop("event_day") for t in ROLLUP_TABLES}
    hist_from = start - timedelta(days=max(cfg.detection.history_days, 1.0) + 1)
    fleet_hours = [
        r[0]
        for r in roll["rollup_hourly"]
        .where(
            (F.col("action_class") == "*")
            & (F.col("status") == "*")
            & (F.col("hour") >= F.lit(hist_from))
            & (F.col("hour") < F.lit(end))
        )
        .groupBy("hour")
        .agg(F.sum("events").alias("n"))
        .where(F.col("n") > 0)
        .select("hour")
        .collect()
    ]
    job = GroupJob(start, end, cfg, tuple(only) if only else None, _reference(store), fleet_hours, n_buckets)
    shipped = spark.sparkContext.broadcast(job)

    # 2. the group's own rows, packed one struct column per table
    window_events = in_window.where(F.col("integration_id").isNotNull()).drop("event_day")
    event_cols = window_events.columns
    parts = [_packed(window_events, "events", keys, unknown, event_cols)]
    for name, df in roll.items():
        parts.append(_packed(df, name, keys, unknown, df.columns))
    tagged_hosts = (
        _tagged(window_events, keys, unknown)
        .select("_g", F.lower("dst_endpoint_hostname").alias("value"))
        .where(F.col("value").isNotNull())
        .distinct()
    )
    dest = _tagged(roll["rollup_values"].where(F.col("dimension") == "destination"), keys, unknown, "_owner")
    fleet = dest.join(tagged_hosts, "value").where(F.col("_owner") != F.col("_g"))
    parts.append(
        fleet.select(
            "_g",
            F.lit("fleet_values").alias("_t"),
            F.struct(*roll["rollup_values"].columns).alias("fleet_values"),
        )
    )
    parts.append(keys.select("_g", F.lit("member").alias("_t"), F.struct("integration_id").alias("member")))
    packed = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), parts)

    # 3. every group's learn and detect, on the executors
    def run_group(table: pa.Table) -> pa.Table:
        return detect_group(table, shipped.value)

    rows = packed.groupBy("_g").applyInArrow(run_group, RESULT_SCHEMA).collect()

    # 4. alerts, on the driver, where the alert state lives
    seen: dict[str, Finding] = {}
    notes: list[str] = []
    errors: list[str] = []
    for r in rows:
        if r["kind"] == "finding":
            f = pickle.loads(r["payload"])  # written by detect_group in this same job
            seen.setdefault(finding_id(f), f)
        else:
            text = bytes(r["payload"]).decode()
            into = notes if r["kind"] == "note" else errors
            if text not in into:
                into.append(text)
    findings = sorted(seen.values(), key=lambda f: (f.first_seen, f.integration_id, f.detector))
    if reader.note:
        notes.append(reader.note)
    result = record_results(
        store, start, end, n_events, findings, cfg, metas, notes=sorted(notes), errors=errors, t0=t0
    )
    if write_lake:
        write_findings(loc, result)
    return result
