"""The lake: the store's events and rollups as Hive-partitioned Parquet that DuckDB, Spark and Trino read as is.

Layout under the lake root — a directory or ``s3://bucket/prefix`` (:mod:`nhiwatch.lake.location`); see
``docs/spark.md`` for how it maps to Amazon Security Lake::

    events/source=<source>/event_day=<YYYY-MM-DD>/events-b<lo>-<hi>_<n>.parquet
    rollup_hourly/event_day=<YYYY-MM-DD>/…      rollup_sizes/…   rollup_values/…   rollup_lifecycle/…
    reference/<integrations|identities|tickets>/data.parquet
    findings/event_day=<YYYY-MM-DD>/<run_id>.parquet          (written by ``detect --engine spark``)
    _nhiwatch/export.json                                      (the export cursor)

Event columns keep their OCSF-derived names (:mod:`nhiwatch.schema`); ``source`` and ``event_day`` live in
the directory names, as Hive partitioning puts them.
"""

from nhiwatch.lake.layout import LAKE_TABLES, ROLLUP_TABLES, LakeTable, lake_glob

__all__ = ["LAKE_TABLES", "ROLLUP_TABLES", "LakeTable", "lake_glob"]
