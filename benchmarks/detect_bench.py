"""Detection benchmark: baselines + detection over 1M and 10M simulated events, against a plain DuckDB scan.

Run: ``.venv/bin/python benchmarks/detect_bench.py [--sizes 1000000 10000000] [--work DIR] [--append-doc]``.
For each size a child process builds a store of normalized, already resolved events (30 days; one
integration per 5,000 events, so 200 at 1M and 2,000 at 10M; business-hours, round-the-clock, egress and
exporting integrations; a few planted bursts to new destinations on the last day) straight in DuckDB SQL.
A second, fresh child then measures on that store: a plain DuckDB aggregate scan of ``events`` (the
reference), then ``run_detection`` over the last day (baselines learned from the 28 days before it, every
detector, alerts). Peak RSS is the measuring child's ``ru_maxrss``. The ratio to the scan is the figure to
compare across machines; the growth column says how cost scales from one size to the next.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILD = r"""
import sys, time, json
from nhiwatch.store import Store
from nhiwatch.inventory.model import Inventory, Integration
from nhiwatch.inventory.resolve import apply_inventory
n, db = int(sys.argv[1]), sys.argv[2]
k = max(50, n // 5000)
tiers, sens = ["low", "medium", "high", "critical"], ["public", "internal", "confidential", "restricted"]
inv = Inventory(integrations=[Integration(id=f"int-{g}", name=f"Integration {g}", kind="oauth_app",
    owner=None if g % 17 == 0 else f"team-{g % 9}", purpose="benchmark", risk_tier=tiers[g % 4],
    data_sensitivity=sens[g % 4]) for g in range(k)])
t = time.perf_counter()
with Store(db) as s:
    apply_inventory(s, inv)
    s.execute(f'''
    INSERT INTO events (time, metadata_uid, source, class_uid, actor_app_uid, actor_app_name, actor_user_type,
        integration_id, api_operation, action_class, status, resource_name, src_endpoint_ip, http_request_user_agent,
        traffic_bytes_out, records, dst_endpoint_hostname)
    WITH base AS (
      SELECT i, i % {k} AS g, i // {k} AS seq, hash(i) % 1000 AS h FROM range({n}) t(i)),
    timed AS (
      SELECT *, CAST(seq * (30 * 86400.0 * {k} / {n}) AS BIGINT) + h % 300 AS sec FROM base),
    shaped AS (
      SELECT *, (sec // 86400) * 86400 + CASE WHEN g % 3 = 0 THEN 28800 + (sec % 86400) * 10 // 24
                                              ELSE sec % 86400 END AS s2 FROM timed)
    SELECT TIMESTAMP '2025-08-01' + to_seconds(s2), 'b-' || i, ['salesforce', 'github', 'okta'][g % 3 + 1], 6003,
           'app-' || g, 'Integration ' || g, 'oauth_app', 'int-' || g,
           CASE WHEN h % 10 < 6 THEN 'query' WHEN h % 10 < 8 THEN 'update' WHEN h % 10 = 8 THEN 'token'
                WHEN g % 5 = 0 THEN 'bulk_export' ELSE 'query' END,
           CASE WHEN h % 10 < 6 THEN 'read' WHEN h % 10 < 8 THEN 'write' WHEN h % 10 = 8 THEN 'auth'
                WHEN g % 5 = 0 THEN 'export' ELSE 'read' END,
           CASE WHEN h % 100 = 0 THEN 'Failure' ELSE 'Success' END,
           'obj-' || g || '-' || (h % (3 + g % 10)),
           '10.' || (g // 250) || '.' || (g % 250) || '.' || (h % 3), 'client/1.' || (g % 5),
           (1 + h % 50) * (1 + g % 7) * 200 + h, (1 + h % 50) * (1 + g % 7),
           CASE WHEN g % 4 = 0 THEN 'api-' || (g % 40) || '.example.com' END
    FROM shaped''')
    # planted on the last day: bursts of exports to a dead drop from a new address
    s.execute(f'''
    INSERT INTO events (time, metadata_uid, source, class_uid, actor_user_type, integration_id, api_operation,
        action_class, status, resource_name, src_endpoint_ip, traffic_bytes_out, records, dst_endpoint_hostname)
    SELECT TIMESTAMP '2025-08-30 14:00:00' + to_seconds(j), 'atk-' || g || '-' || j, 'salesforce', 6003,
           'oauth_app', 'int-' || g, 'bulk_export', 'export', 'Success', 'obj-secret-' || (j % 40),
           '203.0.113.' || (g % 200), 5000000, 10000, 'webhook.site'
    FROM range(0, {k}, {k} // 5) a(g), range(400) b(j)''')
    n_rows = s.scalar("SELECT count(*) FROM events")
print(json.dumps({"integrations": k, "events": n_rows, "build_seconds": time.perf_counter() - t}))
"""

MEASURE = r"""
import sys, time, json, resource
from datetime import datetime
from nhiwatch.store import Store
from nhiwatch.detection import run_detection
from nhiwatch.detectors import registry
from nhiwatch.baseline import learn
db = sys.argv[1]
SCAN = '''SELECT integration_id, action_class, count(*), sum(records), sum(traffic_bytes_out),
          count(DISTINCT resource_name), count(DISTINCT src_endpoint_ip), count(DISTINCT dst_endpoint_hostname)
          FROM events GROUP BY ALL'''
timing = {"learn": 0.0}
def timed_learn(store, until, days):
    t = time.perf_counter()
    learn(store, until, history_days=days)
    timing["learn"] += time.perf_counter() - t
with Store(db) as s:
    n = s.event_count()
    s.fetchall(SCAN)  # warm-up: both measurements below run on a warm buffer cache
    t = time.perf_counter(); s.fetchall(SCAN); scan = time.perf_counter() - t
    metas = {d.meta.id: d.meta for d in registry.all_detectors().values()}
    t = time.perf_counter()
    r = run_detection(s, datetime(2025, 8, 30), datetime(2025, 8, 31), runner=registry.run_all,
                      learner=timed_learn, metas=metas)
    total = time.perf_counter() - t
print(json.dumps({"events": n, "scan_seconds": scan, "learn_seconds": timing["learn"],
                  "detect_seconds": total - timing["learn"], "total_seconds": total, "window_events": r.events,
                  "findings": len(r.findings), "alerts": len(r.alerts), "posture": len(r.posture),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(code: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{out.stderr[-3000:]}")
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
    mem = subprocess.run(["free", "-g"], capture_output=True, text=True, check=False).stdout.splitlines()
    total = mem[1].split()[1] if len(mem) > 1 else "?"
    return f"{os.cpu_count()} cores (`nproc`), {total} GB RAM (`free -g`), {cpu}; Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--work", type=Path, default=Path("/tmp/nhiwatch-detect-bench"))
    ap.add_argument("--append-doc", action="store_true", help="Write the figures into docs/benchmarks.md.")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        db = args.work / f"events-{n}.duckdb"
        if not db.exists():
            built = child(BUILD, str(n), str(db))
            print(
                f"built {built['events']:,} events for {built['integrations']} integrations "
                f"in {built['build_seconds']:.0f} s",
                flush=True,
            )
        m = child(MEASURE, str(db))
        print(json.dumps(m), flush=True)
        rows.append(m)
    table = report(rows)
    print(table)
    (args.work / "detection-table.md").write_text(table, encoding="utf-8")
    if args.append_doc:
        write_doc(table)


def report(rows: list[dict[str, float]]) -> str:
    lines = [
        f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d', time.gmtime())} with "
        "`.venv/bin/python benchmarks/detect_bench.py --append-doc`.",
        "",
        "| events in store | window events | learn s | detect + alerts s | total s | events/s (store / total) "
        "| reference scan s | total / scan | peak RSS MB | cost growth vs previous size |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    prev = None
    for m in rows:
        growth = "–"
        if prev:
            growth = (
                f"{m['events'] / prev['events']:.1f}× events → {m['total_seconds'] / prev['total_seconds']:.1f}× "
                f"time, {m['peak_rss_mb'] / prev['peak_rss_mb']:.1f}× memory"
            )
        lines.append(
            f"| {m['events']:,} | {m['window_events']:,} | {m['learn_seconds']:.1f} | {m['detect_seconds']:.1f} "
            f"| {m['total_seconds']:.1f} | {m['events'] / m['total_seconds']:,.0f} | {m['scan_seconds']:.2f} "
            f"| {m['total_seconds'] / m['scan_seconds']:.0f}× | {m['peak_rss_mb']:,.0f} | {growth} |"
        )
        prev = m
    return "\n".join(lines) + "\n"


def write_doc(table: str) -> None:
    write_section(
        "Detection",
        "Baselines (28 days of history) plus every detector and the alert stage, scoring the last day of a "
        "30-day store of simulated, resolved events (`benchmarks/detect_bench.py`). The reference is a plain "
        "DuckDB aggregate scan of the whole `events` table in the same process.\n\n" + table,
    )


def write_section(heading: str, body: str) -> None:
    """Replace (or append) the ``## heading`` section of docs/benchmarks.md with ``body``."""
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    section = f"## {heading}\n\n{body}"
    pattern = re.compile(rf"## {re.escape(heading)}\n.*?(?=\n## |\Z)", re.S)
    text = (
        pattern.sub(lambda _: section.rstrip("\n"), text)
        if pattern.search(text)
        else text.rstrip("\n") + "\n\n" + section
    )
    doc.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
