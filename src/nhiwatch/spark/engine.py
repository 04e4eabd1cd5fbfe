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

from nhiwatch.alerts.config import AlertConfig, default_config
from nhiwatch.alerts.model import finding_id
from nhiwatch.detection import DetectionResult, _defaults, record_results, utc_naive
from nhiwatch.detectors.base import Finding
from nhiwatch.errors import ConfigError, NhiwatchError
from nhiwatch.inventory.resolve import ensure_tables as ensure_inventory
from nhiwatch.lake.export import lake_path
from nhiwatch.lake.findings import write_findings
from nhiwatch.lake.layout import REFERENCE_TABLES, ROLLUP_TABLES
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


def _read(spark: Any, root: Path, table: str) -> Any:
    folder = root / table
    if not folder.is_dir():
        raise NhiwatchError(f"the lake {root} has no {table}: run `nhiwatch export --lake {root}` first")
    return spark.read.option("basePath", str(folder)).parquet(str(folder))


def _window(
    events: Any, since: datetime | None, until: datetime | None, cfg: AlertConfig
) -> tuple[datetime, datetime, int]:
    """The same window as :func:`nhiwatch.detection.window`, read from the lake."""
    from pyspark.sql import functions as F

    first, last = events.agg(F.min("time"), F.max("time")).first()
    if first is None:
        raise NhiwatchError("the lake has no events: export a store first (`nhiwatch export --lake ...`)")
    end = utc_naive(until) if until else last + timedelta(seconds=1)
    start = utc_naive(since) if since else end - timedelta(hours=cfg.detection.default_window_hours)
    if start >= end:
        raise ConfigError(
            f"the window is empty: --since {start:%Y-%m-%d %H:%M} is not before --until {end:%Y-%m-%d %H:%M}"
        )
    n = _in_window(events, start, end).count()
    if n == 0:
        raise NhiwatchError(
            f"no events between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC; the lake holds events "
            f"from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
        )
    return start, end, n


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
    root = lake_path(lake)
    cfg = config or default_config()
    _, _, metas = _defaults(only, [])  # validates --detector names before Spark starts work
    spark = spark or spark_session(master)
    events = _read(spark, root, "events")
    start, end, n_events = _window(events, since, until, cfg)

    # 1. fleet-wide facts, computed first and broadcast
    n_buckets = buckets or 2 * int(spark.sparkContext.defaultParallelism)
    peers = store.fetchall(f"SELECT id, {peer_group_sql()} FROM integrations i")
    keys = spark.createDataFrame(
        [(integ, bucket(peer, n_buckets)) for integ, peer in peers], "integration_id string, _g string"
    )
    unknown = bucket(UNKNOWN_PEER, n_buckets)
    roll = {t.name: _read(spark, root, t.name).drop("event_day") for t in ROLLUP_TABLES}
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
    window_events = (
        _in_window(events, start, end).where(F.col("integration_id").isNotNull()).drop("event_day")
    )
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
    result = record_results(
        store, start, end, n_events, findings, cfg, metas, notes=sorted(notes), errors=errors, t0=t0
    )
    if write_lake:
        write_findings(root, result)
    return result
