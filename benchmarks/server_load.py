"""Server load and latency: push >= 200k events over HTTP on loopback, measure sustained events/s and the
time from pushing an attack to its alert; check that no event is lost.

Run: ``.venv/bin/python benchmarks/server_load.py [--events 200000] [--bots 30] [--attacks 10]``.

1. A store is seeded (in this process, then closed) with four weeks of history for ``--bots`` GitHub
   bots, each cloning its own repositories around the clock, plus an inventory and an analyst token.
2. ``nhiwatch serve`` starts as a child process on 127.0.0.1 (only that process opens the store) with
   the scoring worker every second.
3. The next four weeks are pushed in time order as gzip NDJSON bodies of ``--batch`` events; every tenth
   push also re-sends part of the previous body (duplicates). ``--attacks`` times, spread over the
   load, one bot clones thirty new repositories from a new address; a poller measures push -> alert.
4. At the end the store's event count (``/metrics``) must equal seeded + pushed - duplicates.

Prints a JSON summary and a Markdown row for ``docs/benchmarks.md``. Bounded: loopback only, one run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

START = datetime(2025, 6, 2, tzinfo=UTC)
HISTORY_DAYS = 28
HOST = "127.0.0.1"


def event(t: datetime, bot: int, repo: str, ip: str, uid: str) -> dict[str, object]:
    ms = int(t.timestamp() * 1000)
    return {
        "@timestamp": ms,
        "_document_id": uid,
        "action": "git.clone",
        "actor": f"bench-bot-{bot}",
        "actor_id": 700000 + bot,
        "actor_is_bot": True,
        "actor_ip": ip,
        "org": "acme",
        "repo": repo,
        "programmatic_access_type": "GitHub App server-to-server token",
        "user_agent": "git/2.43.0",
        "created_at": ms,
        "operation_type": "access",
    }


def stream(first_day: int, days: int, bots: int, per_day: int) -> list[dict[str, object]]:
    """Each bot spreads ``per_day`` clones of its three repositories over the day, in time order."""
    out = []
    step = 86400 / per_day
    for d in range(first_day, first_day + days):
        day = START + timedelta(days=d)
        for i in range(per_day):
            for b in range(bots):
                t = day + timedelta(seconds=i * step + (b * 37) % step)
                out.append(event(t, b, f"acme/svc-{b}-{i % 3}", f"10.0.{b}.5", f"d{d}-b{b}-i{i}"))
    return out


def attack(t: datetime, bot: int, n: int) -> list[dict[str, object]]:
    return [
        event(t + timedelta(seconds=k), bot, f"acme/secret-{n}-{k}", f"198.51.100.{n + 10}", f"atk{n}-{k}")
        for k in range(30)
    ]


def inventory(bots: int) -> str:
    lines = ["integrations:"]
    for b in range(bots):
        lines += [
            f"- id: bench-bot-{b}",
            f"  name: Bench bot {b}",
            "  owner: platform@acme.example",
            "  purpose: Clones its service repositories for builds",
            "  kind: github_app",
            "  risk_tier: high",
            "  identities:",
            "  - source: github",
            f"    actor: bench-bot-{b}",
        ]
    return "\n".join(lines) + "\n"


def seed(work: Path, bots: int, per_day: int) -> tuple[Path, str, int]:
    from nhiwatch.pipeline import ingest_all
    from nhiwatch.server.tokens import create_token
    from nhiwatch.store import Store

    db = work / "server.duckdb"
    hist = work / "history.jsonl"
    hist.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in stream(0, HISTORY_DAYS, bots, per_day)))
    inv = work / "inventory.yaml"
    inv.write_text(inventory(bots), encoding="utf-8")
    with Store(db) as store:
        outcome = ingest_all(store, [hist], inventory=inv)
        token = create_token(store, "bench", "admin")
        n = store.event_count()
        store.execute("CHECKPOINT")
    assert outcome.report.stored == n
    return db, token, n


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)


class Prober:
    """Polls for the alert of each injected attack while the load goes on."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.latencies: list[float] = []
        self.missed: list[int] = []
        self.threads: list[threading.Thread] = []

    def watch(self, bot: int, since: datetime, pushed_at: float, n: int, timeout: float) -> None:
        def run() -> None:
            params = {
                "integration": f"bench-bot-{bot}",
                "since": since.isoformat(),
                "until": (since + timedelta(minutes=2)).isoformat(),
            }
            while time.perf_counter() - pushed_at < timeout:
                r = self.client.get("/api/v1/alerts", params=params)
                if r.status_code == 200 and r.json()["total"] > 0:
                    self.latencies.append(time.perf_counter() - pushed_at)
                    return
                time.sleep(0.1)
            self.missed.append(n)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--bots", type=int, default=30)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--attacks", type=int, default=10)
    ap.add_argument("--interval", type=float, default=2.0, help="worker micro-batch interval (s)")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: temporary)")
    args = ap.parse_args()
    per_day = max(1, -(-args.events // (HISTORY_DAYS * args.bots)))  # at least --events live events
    work = args.keep or Path(tempfile.mkdtemp(prefix="nhiwatch-server-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    db, token, seeded = seed(work, args.bots, per_day)
    print(f"seeded {seeded:,} history events in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    live = stream(HISTORY_DAYS, HISTORY_DAYS, args.bots, per_day)
    batches = [live[i : i + args.batch] for i in range(0, len(live), args.batch)]
    attack_at = {int(len(batches) * (k + 0.5) / args.attacks): k for k in range(args.attacks)}

    port = free_port()
    nhiwatch = shutil.which("nhiwatch", path=str(Path(sys.executable).parent)) or "nhiwatch"
    cmd = [nhiwatch, "serve", "--db", str(db), "--host", HOST, "--port", str(port)]
    cmd += ["--interval", str(args.interval), "--log-level", "warning"]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://{HOST}:{port}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"server did not start: {server.stderr.read() if server.stderr else ''}")
                time.sleep(0.2)
            prober = Prober(httpx.Client(base_url=base, headers=headers, timeout=60))
            pushed = duplicates = quarantined = 0
            push_seconds: list[float] = []
            started = time.perf_counter()
            prev: list[dict[str, object]] = []
            for i, batch in enumerate(batches):
                body_recs = list(batch)
                if i % 10 == 9 and prev:
                    body_recs += prev[:200]  # re-sent records: must count as duplicates
                k = attack_at.get(i)
                if k is not None:
                    when = datetime.fromtimestamp(float(batch[-1]["@timestamp"]) / 1000, UTC)  # type: ignore[arg-type]
                    body_recs += attack(when, k % args.bots, k)
                body = gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in body_recs), 1)
                t = time.perf_counter()
                r = client.post("/api/v1/ingest", content=body)
                push_seconds.append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise SystemExit(f"push {i} failed: {r.status_code} {r.text[:300]}")
                out = r.json()
                pushed += len(body_recs)
                duplicates += out["duplicates"]
                quarantined += out["quarantined"]
                if k is not None:
                    prober.watch(k % args.bots, when - timedelta(minutes=1), time.perf_counter(), k, 300)
                prev = batch
            push_wall = time.perf_counter() - started
            for th in prober.threads:
                th.join()
            text = client.get("/metrics").text
            stored = int(metric(text, "nhiwatch_store_events"))
            batches_scored = int(metric(text, "nhiwatch_worker_batches_total"))
    finally:
        server.terminate()
        server.wait(timeout=60)
    lat = sorted(prober.latencies)
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))] if lat else float("nan")
    summary = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
        f"load avg {os.getloadavg()[0]:.1f}",
        "seeded_events": seeded,
        "pushed_events": pushed,
        "duplicates": duplicates,
        "quarantined": quarantined,
        "pushes": len(batches),
        "push_wall_seconds": round(push_wall, 1),
        "events_per_second": round(pushed / push_wall),
        "push_p50_ms": round(statistics.median(push_seconds) * 1000),
        "attacks": args.attacks,
        "alerts_found": len(lat),
        "missed_attacks": prober.missed,
        "push_to_alert_p50_s": round(statistics.median(lat), 2) if lat else None,
        "push_to_alert_p95_s": round(p95, 2),
        "push_to_alert_max_s": round(lat[-1], 2) if lat else None,
        "worker_batches": batches_scored,
        "store_events": stored,
        "lost": seeded + pushed - duplicates - quarantined - stored,
    }
    print(json.dumps(summary, indent=2))
    print(
        f"| {summary['pushed_events']:,} | {summary['events_per_second']:,} | {summary['push_p50_ms']} ms "
        f"| {summary['push_to_alert_p50_s']} s | {summary['push_to_alert_p95_s']} s "
        f"| {summary['alerts_found']}/{args.attacks} | {summary['lost']} |"
    )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    if summary["lost"] != 0 or prober.missed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
