"""Reading a lake without Spark: each table as a pyarrow dataset (Hive partitions as text), local or on S3.

DuckDB scans such a dataset as a table (``duckdb.sql("SELECT ... FROM ds")``, filters and projections pushed
down), which is how a lake on S3 is read back where DuckDB's ``httpfs`` extension is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from nhiwatch.errors import NhiwatchError
from nhiwatch.lake.location import LakeLocation, open_lake, s3_errors


def partitioning(table: str) -> ds.Partitioning:
    """Partition columns stay text, as the Spark engine reads them (a source named "123" is not a number)."""
    fields = (
        [("source", pa.string()), ("event_day", pa.string())]
        if table == "events"
        else [("event_day", pa.string())]
    )
    return ds.partitioning(pa.schema(fields), flavor="hive")


def lake_dataset(lake: str | Path | LakeLocation, table: str) -> ds.Dataset:
    """One lake table (``events``, ``rollup_hourly``, ``findings``, ...) as a dataset; a clear message if absent."""
    loc = open_lake(lake)
    path = loc.path(table)
    with s3_errors(loc, "read"):
        if loc.fs.get_file_info(path).type != pafs.FileType.Directory:
            raise NhiwatchError(
                f"the lake {loc.url} has no {table}: run `nhiwatch export --lake {loc.url}` first"
            )
        return ds.dataset(
            path,
            filesystem=loc.fs,
            format="parquet",
            partitioning=partitioning(table),
            exclude_invalid_files=False,
            ignore_prefixes=[".", "_"],
        )
