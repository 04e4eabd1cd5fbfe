"""Daily-cost benchmark: the same 1M-events day scored on stores of 7, 30 and 90 days of history.

Run: ``.venv/bin/python benchmarks/daily_bench.py [--per-day 1000000] [--checkpoints 7 30 90] [--append-doc]``.

One store grows a day at a time, as a deployment's would: each day a child process appends ``--per-day``
normalized, resolved events (200 integrations per million events; business-hours, round-the-clock, egress
and exporting ones, a few planted exfiltration bursts on checkpoint days) straight in DuckDB SQL, and folds
them into the rollups (:func:`nhiwatch.rollups.advance`), timed as ``fold``. On a checkpoint day a fresh child
measures the daily run — ``run_detection`` over that day: baselines learned from the rollups of the 28 days
before it, every detector, alerts — with its peak RSS, and the reference: a plain DuckDB aggregate scan of
that day's events in the same process. Raw events are not pruned, so the 90-day store holds 90 days of
events: the daily run must not care. The figure to compare across machines is the ratio to the scan; the
one to watch is how the daily run grows from the smallest store to the largest (target ≤ 1.5×).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from detect_bench import child, machine, write_section  # noqa: E402

START = "2025-06-01"

APPEND = r"""
import sys, time, json
from datetime import datetime, timedelta
from nhiwatch import rollups
from nhiwatch.store import Store
from nhiwatch.inventory.model import Inventory, Integration
from nhiwatch.inventory.resolve import apply_inventory
n, day, db, planted, start = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1", sys.argv[5]
k = max(50, n // 5000)
with Store(db) as s:
    s.execute("SET enable_progress_bar = false")
    if day == 0:
        tiers, sens = ["low", "medium", "high", "critical"], ["public", "internal", "confidential", "restricted"]
        apply_inventory(s, Inventory(integrations=[Integration(id=f"int-{g}", name=f"Integration {g}",
            kind="oauth_app", owner=None if g % 17 == 0 else f"team-{g % 9}", purpose="benchmark",
            risk_tier=tiers[g % 4], data_sensitivity=sens[g % 4]) for g in range(k)]))
    t = time.perf_counter()
    s.execute(f'''
    INSERT INTO events (time, metadata_uid, source, class_uid, actor_app_uid, actor_app_name, actor_user_type,
        integration_id, api_operation, action_class, status, resource_name, src_endpoint_ip, http_request_user_agent,
        traffic_bytes_out, records, dst_endpoint_hostname, actor_user_credential_uid)
    WITH base AS (SELECT i, i % {k} AS g, hash(i + {day} * {n}) % 1000 AS h FROM range({n}) t(i)),
    shaped AS (
      SELECT *, CASE WHEN g % 3 = 0 THEN 28800 + (i * 86400 // {n}) * 10 // 24 ELSE i * 86400 // {n} END
                + h % 60 AS sec FROM base)
    SELECT TIMESTAMP '{start}' + INTERVAL ({day}) DAY + to_seconds(least(sec, 86399)), 'd{day}-' || i,
           ['salesforce', 'github', 'okta'][g % 3 + 1], 6003, 'app-' || g, 'Integration ' || g, 'oauth_app',
           'int-' || g,
           CASE WHEN h % 10 < 6 THEN 'query' WHEN h % 10 < 8 THEN 'update' WHEN h % 10 = 8 THEN 'token'
                WHEN g % 5 = 0 THEN 'bulk_export' ELSE 'query' END,
           CASE WHEN h % 10 < 6 THEN 'read' WHEN h % 10 < 8 THEN 'write' WHEN h % 10 = 8 THEN 'auth'
                WHEN g % 5 = 0 THEN 'export' ELSE 'read' END,
           CASE WHEN h % 100 = 0 THEN 'Failure' ELSE 'Success' END,
           'obj-' || g || '-' || (h % (3 + g % 10)),
           '10.' || (g // 250) || '.' || (g % 250) || '.' || (h % 3), 'client/1.' || (g % 5),
           (1 + h % 50) * (1 + g % 7) * 200 + h, (1 + h % 50) * (1 + g % 7),
           CASE WHEN g % 4 = 0 THEN 'api-' || (g % 40) || '.example.com' END, 'tok-' || g
    FROM shaped''')
    if planted:
        s.execute(f'''
        INSERT INTO events (time, metadata_uid, source, class_uid, actor_user_type, integration_id, api_operation,
            action_class, status, resource_name, src_endpoint_ip, traffic_bytes_out, records, dst_endpoint_hostname)
        SELECT TIMESTAMP '{start}' + INTERVAL ({day}) DAY + INTERVAL 14 HOUR + to_seconds(j), 'atk{day}-' || g || '-' || j,
               'salesforce', 6003, 'oauth_app', 'int-' || g, 'bulk_export', 'export', 'Success',
               'obj-secret-' || (j % 40), '203.0.113.' || (g % 200), 5000000, 10000, 'webhook.site'
        FROM range(0, {k}, {k} // 5) a(g), range(400) b(j)''')
    append = time.perf_counter() - t
    t = time.perf_counter()
    rollups.advance(s)
    fold = time.perf_counter() - t
    size = s.event_count()
print(json.dumps({"day": day, "events": size, "append_seconds": append, "fold_seconds": fold}))
"""

MEASURE = r"""
import sys, time, json, resource
from datetime import datetime, timedelta
from nhiwatch.store import Store
from nhiwatch.detection import run_detection
from nhiwatch.detectors import registry
from nhiwatch.baseline import learn
db, day = sys.argv[1], int(sys.argv[2])
since = datetime.fromisoformat(sys.argv[3]) + timedelta(days=day)
until = since + timedelta(days=1)
SCAN = '''SELECT integration_id, action_class, count(*), sum(records), sum(traffic_bytes_out),
          count(DISTINCT resource_name), count(DISTINCT src_endpoint_ip), count(DISTINCT dst_endpoint_hostname)
          FROM events WHERE time >= ? AND time < ? GROUP BY ALL'''
timing = {"learn": 0.0}
def timed_learn(store, until, days):
    t = time.perf_counter()
    learn(store, until, history_days=days)
    timing["learn"] += time.perf_counter() - t
with Store(db) as s:
    s.execute("SET enable_progress_bar = false")
    n = s.event_count()
    s.fetchall(SCAN, [since, until])  # warm-up
    t = time.perf_counter(); s.fetchall(SCAN, [since, until]); scan = time.perf_counter() - t
    metas = {d.meta.id: d.meta for d in registry.all_detectors().values()}
    t = time.perf_counter()
    r = run_detection(s, since, until, runner=registry.run_all, learner=timed_learn, metas=metas)
    total = time.perf_counter() - t
    size = {t: s.scalar(f"SELECT count(*) FROM {t}") for t in ("rollup_hourly", "rollup_values", "rollup_sizes")}
print(json.dumps({"day": day, "events": n, "scan_seconds": scan, "learn_seconds": timing["learn"],
                  "detect_seconds": total - timing["learn"], "total_seconds": total, "window_events": r.events,
                  "alerts": len(r.alerts), "errors": r.errors, "rollup_rows": size,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-day", type=int, default=1_000_000)
    ap.add_argument("--checkpoints", type=int, nargs="+", default=[7, 30, 90])
    ap.add_argument("--work", type=Path, default=Path("/tmp/nhiwatch-daily-bench"))
    ap.add_argument("--append-doc", action="store_true", help="Write the figures into docs/benchmarks.md.")
    ap.add_argument(
        "--resume", action="store_true", help="Go on from the days a previous run left in --work."
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    db = args.work / "daily.duckdb"
    log = args.work / "daily.jsonl"
    rows: list[dict[str, object]] = []
    folds: list[dict[str, object]] = []
    if args.resume and log.exists():
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            (rows if "scan_seconds" in rec else folds).append(rec)
    else:
        for p in [*args.work.glob("daily.duckdb*"), log]:
            p.unlink(missing_ok=True)
    done = {int(str(f["day"])) for f in folds}
    measured = {int(str(r["day"])) for r in rows}
    for day in range(max(args.checkpoints)):
        check = day + 1 in args.checkpoints
        if day in done and (not check or day in measured):
            continue
        if day not in done:
            a = child(APPEND, str(args.per_day), str(day), str(db), "1" if check else "0", START)
            folds.append(a)
            print(json.dumps(a), flush=True)
            with log.open("a") as fh:
                fh.write(json.dumps(a) + "\n")
        else:
            a = next(f for f in folds if f["day"] == day)
        if check:
            m = child(MEASURE, str(db), str(day), START)
            m["fold_seconds"] = a["fold_seconds"]
            print(json.dumps(m), flush=True)
            rows.append(m)
            with log.open("a") as fh:
                fh.write(json.dumps(m) + "\n")
    rows.sort(key=lambda r: int(str(r["day"])))
    table = report(rows, folds, args.per_day)
    print(table)
    (args.work / "daily-table.md").write_text(table, encoding="utf-8")
    if args.append_doc:
        write_doc(table)


def report(rows: list[dict[str, object]], folds: list[dict[str, object]], per_day: int) -> str:
    lines = [
        f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d', time.gmtime())} with "
        f"`.venv/bin/python benchmarks/daily_bench.py --append-doc` ({per_day:,} events a day).",
        "",
        "| days stored | events in store | fold s | learn s | detect + alerts s | daily run s | day's scan s "
        "| run / scan | peak RSS MB | rollup rows (hourly / values / sizes) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in rows:
        r = m["rollup_rows"]
        assert isinstance(r, dict)
        lines.append(
            f"| {int(m['day']) + 1} | {m['events']:,} | {m['fold_seconds']:.1f} | {m['learn_seconds']:.1f} "
            f"| {m['detect_seconds']:.1f} | {m['total_seconds']:.1f} | {m['scan_seconds']:.2f} "
            f"| {float(m['total_seconds']) / float(m['scan_seconds']):.0f}× | {m['peak_rss_mb']:,.0f} "
            f"| {r['rollup_hourly']:,} / {r['rollup_values']:,} / {r['rollup_sizes']:,} |"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        lines += [
            "",
            f"Daily run, largest store / smallest: **{float(last['total_seconds']) / float(first['total_seconds']):.2f}×** "
            f"for {int(last['events']) / int(first['events']):.1f}× the events. Folding a day into the rollups: "
            f"median {sorted(float(f['fold_seconds']) for f in folds)[len(folds) // 2]:.1f} s "
            f"(first {float(folds[0]['fold_seconds']):.1f} s, last {float(folds[-1]['fold_seconds']):.1f} s).",
        ]
    return "\n".join(lines) + "\n"


def write_doc(table: str) -> None:
    write_section(
        "Daily cost against history",
        "The same day of events scored on stores holding 7, 30 and 90 days (`benchmarks/daily_bench.py`). "
        "Learning reads the rollups, detections read the day's events plus rollups and baselines, so the "
        "daily run should not grow with the history. The reference is a plain DuckDB aggregate scan of the "
        "day's events in the same process.\n\n" + table,
    )


if __name__ == "__main__":
    main()
