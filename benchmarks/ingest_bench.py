"""Ingest benchmark: 1M simulated events of mixed sources -> events/s, bytes per event and peak RSS, against
DuckDB's own scan.

Run: ``.venv/bin/python benchmarks/ingest_bench.py [--events 1000000] [--keep DIR]``. It simulates a company
large enough for the requested number of events (once, cached in the work folder), reads every file once
(so both runs read from the page cache), then in fresh child processes measures (1) the floor: DuckDB
counting the records of the same files with its own readers, and (2) ``nhiwatch ingest`` of the same files
into a new store, then the store's size per event after a CHECKPOINT. Figures are printed as a Markdown
table row for ``docs/benchmarks.md``; the ratio to the floor is what to compare across machines. CPU seconds
(user + system, all threads) are printed beside wall seconds: on a shared machine they move less with other
jobs' load. The 1-minute load average before the floor, between the two runs and after the ingest ends the
row: other jobs' load inflates wall seconds most.

``--per-source`` then measures each top folder of the logs (one source each) alone, the floor and
``nhiwatch ingest`` without the inventory, in fresh child processes: the mix's ratio to the floor is a sum of
very different ratios, and this shows which source's reading or mapping the total hides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

FLOOR = r"""
import duckdb, sys, time, json, gzip
from pathlib import Path
root = Path(sys.argv[1])
files = [p for p in sorted(root.rglob('*')) if p.is_file()]
def first_byte(p):
    with (gzip.open(p) if p.name.endswith('.gz') else open(p, 'rb')) as fh:
        return fh.read(1)
kinds = {'json': [], 'csv': [], 'text': []}
for p in files:
    b = first_byte(p)
    kinds['json' if b in (b'{', b'[') else 'csv' if p.name.endswith(('.csv', '.csv.gz')) else 'text'].append(str(p))
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
import resource
c0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
n = 0
if kinds['json']:
    # Records, counted inside the page wrappers the vendors use (CloudTrail, Google, Slack, Azure).
    n += con.execute(
        "SELECT sum(coalesce(json_array_length(json, '$.Records'), json_array_length(json, '$.items'), "
        "json_array_length(json, '$.entries'), json_array_length(json, '$.records'), 1)) "
        "FROM read_json_objects(?, format='auto', maximum_object_size=67108864)", [kinds['json']]).fetchall()[0][0]
for p in kinds['csv']:
    n += con.execute("SELECT count(*) FROM read_csv(?, header=true, all_varchar=true)", [p]).fetchall()[0][0]
if kinds['text']:
    n += con.execute("SELECT count(*) FROM read_csv(?, columns={'j':'VARCHAR'}, header=false, delim='\x01', "
                     "quote='', escape='', auto_detect=false)", [kinds['text']]).fetchall()[0][0]
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rows": int(n), "seconds": time.perf_counter() - t, "cpu_seconds": ru.ru_utime + ru.ru_stime - c0.ru_utime - c0.ru_stime}))
"""

INGEST = r"""
import json, os, sys, time, resource
from nhiwatch.store import Store
from nhiwatch.pipeline import ingest_all
root, db = sys.argv[1], sys.argv[2]
with Store(db) as store:
    c = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    out = ingest_all(store, [root + '/logs'], inventory=root + '/inventory.yaml', tickets=root + '/tickets.csv')
    secs = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - c.ru_utime - c.ru_stime
    store.execute("CHECKPOINT")
    events = store.event_count()
r = out.report
print(json.dumps({"read": r.read, "stored": r.stored, "quarantined": r.quarantined, "seconds": secs,
                  "cpu_seconds": cpu, "ingest_only_seconds": r.seconds,
                  "bytes_per_event": os.path.getsize(db) / max(events, 1),
                  "peak_rss_mb": ru.ru_maxrss / 1024}))
"""

SOURCE_INGEST = r"""
import json, sys, time, resource
from nhiwatch.store import Store
from nhiwatch.ingest import ingest
with Store(sys.argv[2]) as store:
    c = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    r = ingest(store, [sys.argv[1]])
    secs = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"read": r.read, "seconds": secs,
                  "cpu_seconds": ru.ru_utime + ru.ru_stime - c.ru_utime - c.ru_stime}))
"""


def child(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"benchmark step failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {cpu}, Python {platform.python_version()}"


def warm(root: Path) -> None:
    """Read every file under ``root`` once, so the floor and the ingest both read from the page cache: the
    floor runs first, and on a cold cache it paid for the disk alone (25.4 s against 6.5 s warm, in one run)."""
    for p in root.rglob("*"):
        if p.is_file():
            with p.open("rb") as fh:
                while fh.read(1 << 20):
                    pass


def fresh(db: Path) -> None:
    for p in (db, db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(db.with_name(db.name + ".raw"), ignore_errors=True)


def per_source(logs: Path, db: Path) -> None:
    """Each top folder of ``logs`` alone: DuckDB's scan, then nhiwatch's ingest into a fresh store."""
    print(
        "\n| folder | records | DuckDB scan s (CPU s) | nhiwatch ingest s (CPU s) | ratio wall (CPU) |"
        "\n|---|---|---|---|---|"
    )
    totals = [0.0, 0.0, 0.0, 0.0]
    for folder in sorted(p for p in logs.iterdir() if p.is_dir()):
        fresh(db)
        warm(folder)
        floor = child(FLOOR, str(folder))
        got = child(SOURCE_INGEST, str(folder), str(db))
        sums = (floor["seconds"], floor["cpu_seconds"], got["seconds"], got["cpu_seconds"])
        totals = [a + b for a, b in zip(totals, sums, strict=True)]
        print(
            f"| {folder.name} | {int(got['read']):,} | {sums[0]:.2f} ({sums[1]:.2f}) | {sums[2]:.2f} ({sums[3]:.2f}) |"
            f" {sums[2] / max(sums[0], 1e-9):.1f}× ({sums[3] / max(sums[1], 1e-9):.1f}×) |"
        )
    print(
        f"| sum | | {totals[0]:.2f} ({totals[1]:.2f}) | {totals[2]:.2f} ({totals[3]:.2f}) |"
        f" {totals[2] / max(totals[0], 1e-9):.1f}× ({totals[3] / max(totals[1], 1e-9):.1f}×) |"
    )
    fresh(db)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=Path("bench-out/ingest"))
    ap.add_argument("--per-source", action="store_true", help="then each source folder alone (see above)")
    args = ap.parse_args()
    from nhiwatch.simulate import simulate

    data = args.work / f"sim-{args.events}"
    if not (data / "summary.json").exists():
        # The simulator writes roughly 170 events per integration-day at its defaults; size the company to fit.
        days = 60
        integrations = max(20, round(args.events / (days * 170)))
        t = time.perf_counter()
        simulate(data, integrations=integrations, days=days, seed=11)
        print(
            f"simulated {integrations} integrations x {days} days in {time.perf_counter() - t:.1f} s",
            flush=True,
        )
    db = args.work / "bench.duckdb"
    fresh(db)
    warm(data)
    loads = [os.getloadavg()[0]]
    floor = child(FLOOR, str(data / "logs"))
    loads.append(os.getloadavg()[0])
    got = child(INGEST, str(data), str(db))
    loads.append(os.getloadavg()[0])
    eps = got["read"] / got["seconds"]
    ratio = got["seconds"] / floor["seconds"]
    print(json.dumps({"floor": floor, "ingest": got}, indent=2))
    cpu_ratio = got["cpu_seconds"] / floor["cpu_seconds"]
    print(
        "\n| date | machine | events | nhiwatch ingest s (CPU s) | events/s | bytes/event | peak RSS MB |"
        " DuckDB scan s (CPU s) (floor) | ratio wall (CPU) | load average |"
    )
    print(
        f"| {time.strftime('%Y-%m-%d')} | {machine()} | {got['read']:,} | {got['seconds']:.1f} "
        f"({got['cpu_seconds']:.1f}) | {eps:,.0f} | {got['bytes_per_event']:.0f} | {got['peak_rss_mb']:,.0f} | "
        f"{floor['seconds']:.1f} ({floor['cpu_seconds']:.1f}) | {ratio:.1f}× ({cpu_ratio:.1f}×) | "
        f"{' → '.join(f'{x:.1f}' for x in loads)} |"
    )
    print(f"(own RSS of the driver: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    if args.per_source:
        per_source(data / "logs", db)


if __name__ == "__main__":
    main()
