"""The Spark engine: the same baselines, detectors and alerts as the DuckDB engine, over a Parquet lake.

Spark groups the lake's rows by peer group and runs the library's own DuckDB code on each group
(:mod:`nhiwatch.spark.group`); :mod:`nhiwatch.spark.engine` plans the job and raises the alerts. pyspark
is imported only when the engine runs (the ``spark`` extra).
"""
