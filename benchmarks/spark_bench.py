"""Spark engine benchmark: the same daily run at growing sizes on Spark ``local[N]`` and on DuckDB.

Run: ``.venv/bin/python benchmarks/spark_bench.py [--sizes 1000000 10000000] [--days 7] [--master local[2]]
[--resume] [--append-doc]``.

For each size a store of ``--days`` days holding that many events is built the way ``daily_bench.py`` builds
its store (the same generator: 200 integrations per million events a day, a few planted exfiltration bursts
on the last day), with the integrations spread over 20 vendors, so over about 20 peer groups. Then, each in
its own child process: the store is exported to a lake (``nhiwatch export``, timed); the last day is scored
on DuckDB (``run_detection``) and on Spark (``run_spark_detection`` over the lake, Spark's start-up timed
apart); the two runs' alerts are compared. The figure to read is the Spark / DuckDB ratio of the same run on
the same machine at the same time.

Each stage's result is also saved in the work directory (``<stage>-<events>.json``). With ``--resume`` a
stage already saved there is not run again — the store, the lake and the DuckDB run of a large size are kept
and only the missing stages run (a 50M-event store takes most of an hour to build and as long to export).
The Spark stage also reports the CPU seconds of its process tree (driver, JVM, Python workers) and their
peak RSS, which are less sensitive to a shared machine's load than the wall time.
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
import os, sys, time, json, resource
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
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"duck_seconds": total, "window_events": r.events, "duck_alerts": keys, "duck_errors": r.errors,
                  "duck_rss_mb": use.ru_maxrss / 1024, "duck_cpu_seconds": use.ru_utime + use.ru_stime,
                  "duck_load": os.getloadavg()}))
"""

SPARK = r"""
import os, sys, time, json
from datetime import datetime, timedelta
from pathlib import Path
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
tick = os.sysconf("SC_CLK_TCK")
parent = {}
for d in Path("/proc").iterdir():
    try:
        if d.name.isdigit():
            parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        pass
def tree(pid):
    # this process and its descendants, read before spark.stop() ends the JVM and its Python workers
    return [pid] + [p for k, up in parent.items() if up == pid for p in tree(k)]
use = {}
for pid in tree(os.getpid()):
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    name = Path(f"/proc/{pid}/comm").read_text().strip()
    kind = "driver" if pid == os.getpid() else "jvm" if name == "java" else "workers" if "python" in name else name
    # own user+sys and that of children already waited for (a worker that ended)
    cpu = sum(int(x) for x in stat[11:15]) / tick
    # a zombie (spark-submit's launcher shell) has no memory lines
    hwm = sum(int(ln.split()[1]) for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
              if ln.startswith("VmHWM:")) / 1024
    c, m, n = use.get(kind, (0.0, 0.0, 0))
    use[kind] = (c + cpu, m + hwm, n + 1)
spark.stop()
keys = sorted([a.integration_id, ",".join(a.detectors), str(a.first_seen), str(a.last_seen), a.risk_score]
              for a in r.all_alerts)
print(json.dumps({"spark_seconds": total, "spark_startup_seconds": startup, "spark_alerts": keys,
                  "spark_errors": r.errors, "spark_load": os.getloadavg(),
                  "spark_cpu_seconds": {k: round(v[0], 1) for k, v in use.items()},
                  "spark_peak_rss_mb": {k: round(v[1]) for k, v in use.items()},
                  "spark_processes": {k: v[2] for k, v in use.items()}}))
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


def measure(work: Path, total: int, days: int, master: str, resume: bool = False) -> dict[str, object]:
    db = build(work, total, days)
    lake = work / f"lake-{total}"
    since = (date.fromisoformat(START) + timedelta(days=days - 1)).isoformat()
    row: dict[str, object] = {"events": total, "days": days, "since": since}
    copy = work / "run.duckdb"

    def stage(name: str, code: str, *args: str) -> dict[str, object]:
        saved = work / f"{name}-{total}.json"
        if resume and saved.exists() and (name != "export" or lake.is_dir()):
            print(time.strftime("%H:%M:%S"), f"{name}: kept from {saved}", flush=True)
            return dict(json.loads(saved.read_text(encoding="utf-8")))
        if name == "export":
            shutil.rmtree(lake, ignore_errors=True)
        shutil.copy(db, copy)
        # Each stage is printed and saved as it ends, so a run stopped part-way still says what it reached.
        result = _stage(child(code, str(copy), *args))
        saved.write_text(json.dumps(result), encoding="utf-8")
        return result

    row |= stage("export", EXPORT, str(lake))
    row |= stage("duck", DUCK, since)
    row |= stage("spark", SPARK, str(lake), since, master)
    copy.unlink(missing_ok=True)
    row["same_alerts"] = _same(row["duck_alerts"], row["spark_alerts"])  # type: ignore[arg-type]
    row["alerts"] = len(row.pop("duck_alerts"))  # type: ignore[arg-type]
    row.pop("spark_alerts")
    print(json.dumps(row), flush=True)
    return row


def _stage(result: Mapping[str, object]) -> dict[str, object]:
    shown = {k: (len(v) if isinstance(v, list) and k.endswith("alerts") else v) for k, v in result.items()}
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
    ap.add_argument(
        "--resume",
        action="store_true",
        help="Keep the stages already saved in --work (store, lake, DuckDB run).",
    )
    ap.add_argument("--append-doc", action="store_true", help="Write the figures into docs/benchmarks.md.")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = [measure(args.work, n, args.days, args.master, args.resume) for n in args.sizes]
    table = report(rows, args.master)
    print(table)
    (args.work / "spark-table.md").write_text(table, encoding="utf-8")
    if args.append_doc:
        write_section("Spark", table)


if __name__ == "__main__":
    main()
