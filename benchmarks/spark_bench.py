"""Spark engine benchmark: the same daily run at growing sizes on Spark ``local[N]`` and on DuckDB.

Run: ``.venv/bin/python benchmarks/spark_bench.py [--sizes 1000000 10000000] [--days 7] [--master local[2]]
[--append-doc]``.

For each size a store of ``--days`` days holding that many events is built the way ``daily_bench.py`` builds
its store (the same generator: 200 integrations per million events a day, a few planted exfiltration bursts
on the last day), with the integrations spread over 20 vendors, so over about 20 peer groups. Then, each in
its own child process: the store is exported to a lake (``nhiwatch export``, timed); the last day is scored
on DuckDB (``run_detection``) and on Spark (``run_spark_detection`` over the lake, Spark's start-up timed
apart); the two runs' alerts are compared. The figure to read is the Spark / DuckDB ratio of the same run on
the same machine at the same time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from daily_bench import APPEND, START  # noqa: E402
from detect_bench import child, machine, write_section  # noqa: E402

VENDORS = r"""
import sys
from nhiwatch.store import Store
with Store(sys.argv[1]) as s:
    s.execute("UPDATE integrations SET vendor = 'vendor-' || (hash(id) % 20)")
print("{}")
"""

EXPORT = r"""
import sys, time, json
from nhiwatch.store import Store
from nhiwatch.lake.export import export_lake
with Store(sys.argv[1]) as s:
    r = export_lake(s, sys.argv[2], full=True)
print(json.dumps({"export_seconds": r.seconds, "exported": r.events}))
"""

DUCK = r"""
import sys, time, json, resource
from datetime import datetime, timedelta
from nhiwatch.store import Store
from nhiwatch.detection import run_detection
since = datetime.fromisoformat(sys.argv[2]); until = since + timedelta(days=1)
with Store(sys.argv[1]) as s:
    t = time.perf_counter()
    r = run_detection(s, since, until)
    total = time.perf_counter() - t
keys = sorted([a.integration_id, ",".join(a.detectors), str(a.first_seen), str(a.last_seen), a.risk_score]
              for a in r.all_alerts)
print(json.dumps({"duck_seconds": total, "window_events": r.events, "duck_alerts": keys, "duck_errors": r.errors,
                  "duck_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

SPARK = r"""
import sys, time, json
from datetime import datetime, timedelta
from nhiwatch.store import Store
from nhiwatch.spark.engine import run_spark_detection, spark_session
since = datetime.fromisoformat(sys.argv[3]); until = since + timedelta(days=1)
t = time.perf_counter()
spark = spark_session(sys.argv[4], {"spark.driver.memory": "4g"})
startup = time.perf_counter() - t
with Store(sys.argv[1]) as s:
    t = time.perf_counter()
    r = run_spark_detection(s, sys.argv[2], since, until, spark=spark)
    total = time.perf_counter() - t
spark.stop()
keys = sorted([a.integration_id, ",".join(a.detectors), str(a.first_seen), str(a.last_seen), a.risk_score]
              for a in r.all_alerts)
print(json.dumps({"spark_seconds": total, "spark_startup_seconds": startup, "spark_alerts": keys,
                  "spark_errors": r.errors}))
"""


def build(work: Path, total: int, days: int) -> Path:
    db = work / f"store-{total}.duckdb"
    if db.exists():
        return db
    tmp = work / "building.duckdb"
    for p in work.glob("building.duckdb*"):
        p.unlink()
    per_day = total // days
    for day in range(days):
        built = child(APPEND, str(per_day), str(day), str(tmp), "1" if day == days - 1 else "0", START)
        print(time.strftime("%H:%M:%S"), json.dumps(built), flush=True)
    child(VENDORS, str(tmp))
    tmp.rename(db)
    return db


def measure(work: Path, total: int, days: int, master: str) -> dict[str, object]:
    db = build(work, total, days)
    lake = work / f"lake-{total}"
    shutil.rmtree(lake, ignore_errors=True)
    since = (date.fromisoformat(START) + timedelta(days=days - 1)).isoformat()
    row: dict[str, object] = {"events": total, "days": days, "since": since}
    copy = work / "run.duckdb"
    shutil.copy(db, copy)
    # Each stage is printed as it ends, so a run stopped part-way still says what it reached.
    row |= _stage(child(EXPORT, str(copy), str(lake)))
    shutil.copy(db, copy)
    row |= _stage(child(DUCK, str(copy), since))
    shutil.copy(db, copy)
    row |= _stage(child(SPARK, str(copy), str(lake), since, master))
    copy.unlink()
    row["same_alerts"] = _same(row["duck_alerts"], row["spark_alerts"])  # type: ignore[arg-type]
    row["alerts"] = len(row.pop("duck_alerts"))  # type: ignore[arg-type]
    row.pop("spark_alerts")
    print(json.dumps(row), flush=True)
    return row


def _stage(result: Mapping[str, object]) -> dict[str, object]:
    shown = {k: (len(v) if isinstance(v, list) else v) for k, v in result.items()}
    print(time.strftime("%H:%M:%S"), json.dumps(shown), flush=True)
    return dict(result)


def _same(a: list[list[object]], b: list[list[object]]) -> bool:
    return len(a) == len(b) and all(
        x[:4] == y[:4] and abs(float(str(x[4])) - float(str(y[4]))) <= 0.5 for x, y in zip(a, b, strict=True)
    )


def report(rows: list[dict[str, object]], master: str) -> str:
    lines = [
        f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d', time.gmtime())} with "
        f"`.venv/bin/python benchmarks/spark_bench.py --master '{master}' --append-doc`.",
        "",
        "| events in store | day scored (events) | export s | DuckDB daily run s | Spark daily run s "
        "| Spark start-up s | Spark / DuckDB | alerts | same alerts |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio = float(str(r["spark_seconds"])) / float(str(r["duck_seconds"]))
        lines.append(
            f"| {int(str(r['events'])):,} | {int(str(r['window_events'])):,} | {float(str(r['export_seconds'])):.1f} "
            f"| {float(str(r['duck_seconds'])):.1f} | {float(str(r['spark_seconds'])):.1f} "
            f"| {float(str(r['spark_startup_seconds'])):.1f} | {ratio:.1f}× | {r['alerts']} "
            f"| {'yes' if r['same_alerts'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--work", type=Path, default=Path("/tmp/nhiwatch-spark-bench"))
    ap.add_argument("--append-doc", action="store_true", help="Write the figures into docs/benchmarks.md.")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = [measure(args.work, n, args.days, args.master) for n in args.sizes]
    table = report(rows, args.master)
    print(table)
    (args.work / "spark-table.md").write_text(table, encoding="utf-8")
    if args.append_doc:
        write_section("Spark", table)


if __name__ == "__main__":
    main()
