"""Server load and latency over HTTP on loopback: sustained ingest and scoring, push -> alert, small-push
latency while the worker runs, and the accept rate of a burst; checks that no event is lost.

Run: ``.venv/bin/python benchmarks/server_load.py [--events 200000] [--rate 5000] [--burst 100000]``.

1. A store is seeded (in this process, then closed) with four weeks of history for ``--bots`` GitHub
   bots, each cloning its own repositories around the clock, plus an inventory and an admin token. The
   pushed events continue that history over ``--live-days`` simulated days (default 28: a simulated day
   ends every few seconds of the run, and the worker learns again at each); with fewer, each day (and
   the history's) holds more events, closer to what a real source sends at these rates.
2. ``nhiwatch serve`` starts as a child process on 127.0.0.1 (only that process opens the store).
3. **Sustained**: the next weeks (``--events``) are pushed in time order as gzip NDJSON bodies of
   ``--batch`` events, paced at ``--rate`` events/s (open loop: a late push is sent at once, never
   skipped); every tenth push also re-sends part of the previous body (duplicates). ``--attacks`` times,
   spread over the load, one bot clones thirty new repositories from a new address; a poller measures
   from the start of that push to its alert in ``GET /api/v1/alerts``. Meanwhile a second sender pushes a
   small body (1-50 re-sent records) every ``--small-every`` seconds and times each answer
   (``--small-senders`` of them at once: many sources, each pushing a little).
   Sustained means the worker kept up: the backlog at the end of the phase is reported, and the events/s
   ingested are counted from the first push to the moment the queue is empty.
4. **Burst**: ``--burst`` further events are pushed as fast as one sender can (accepted events/s), then
   the time until the worker has ingested them all is measured.
5. At the end the store's event count (``/metrics``) must equal seeded + pushed - duplicates -
   quarantined (counted by the server).

Prints a JSON summary and Markdown rows for ``docs/benchmarks.md``. Bounded: loopback only, one run of
a few minutes.
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
    with hist.open("wb") as fh:  # a day at a time: a dense history does not sit in memory whole
        for day in range(HISTORY_DAYS):
            fh.write(b"".join(orjson.dumps(r) + b"\n" for r in stream(day, 1, bots, per_day)))
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


def metric(text: str, name: str, default: float | None = None) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    if default is not None:
        return default
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
                time.sleep(0.2)  # ten pollers at once: faster polling would load the server it measures
            self.missed.append(n)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)


def percentile(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, round(q * (len(v) - 1)))] if v else float("nan")


def gz(records: list[dict[str, object]]) -> bytes:
    return gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in records), 1)


class SmallSender:
    """Pushes a small body (1-50 re-sent records) every ``every`` seconds and times each answer."""

    def __init__(self, client: httpx.Client, pool: list[dict[str, object]], every: float) -> None:
        self.client, self.pool, self.every = client, pool, every
        self.seconds: list[float] = []
        self.records = 0  # records pushed (all re-sent: each is a duplicate)
        self.parts: dict[str, list[float]] = {}  # the server's own Server-Timing figures, ms
        self.codes: dict[int, int] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        i = 0
        while not self._stop.wait(self.every):
            n = 1 + (i * 7) % 50
            body = b"".join(orjson.dumps(r) + b"\n" for r in self.pool[i * 50 % len(self.pool) :][:n])
            t = time.perf_counter()
            r = self.client.post("/api/v1/ingest", content=body)
            self.seconds.append(time.perf_counter() - t)
            self.records += n
            self.codes[r.status_code] = self.codes.get(r.status_code, 0) + 1
            for part in r.headers.get("server-timing", "").split(","):
                name, _, dur = part.strip().partition(";dur=")
                if dur:
                    self.parts.setdefault(name, []).append(float(dur))
            i += 1

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()

    @classmethod
    def merged(cls, senders: list[SmallSender]) -> SmallSender:
        """One sender's figures holding every sender's answers (to report them together)."""
        out = cls(senders[0].client, senders[0].pool, senders[0].every)
        for s in senders:
            out.seconds += s.seconds
            out.records += s.records
            for code, n in s.codes.items():
                out.codes[code] = out.codes.get(code, 0) + n
            for name, values in s.parts.items():
                out.parts.setdefault(name, []).extend(values)
        return out


def wait_drained(client: httpx.Client, timeout: float = 600) -> float:
    """Seconds until the server has ingested every accepted push."""
    t = time.perf_counter()
    while time.perf_counter() - t < timeout:
        if metric(client.get("/metrics").text, "nhiwatch_push_queue") == 0:
            return time.perf_counter() - t
        time.sleep(0.05)
    raise SystemExit("the server did not drain its push queue")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="events pushed in the sustained phase")
    ap.add_argument("--rate", type=float, default=5000, help="sustained events/s offered")
    ap.add_argument("--burst", type=int, default=100_000, help="events pushed as fast as possible after")
    ap.add_argument("--bots", type=int, default=30)
    ap.add_argument("--batch", type=int, default=1000, help="events per sustained push")
    ap.add_argument("--burst-batch", type=int, default=5000, help="events per burst push")
    ap.add_argument(
        "--attacks",
        type=int,
        default=30,
        help="attacks injected (30: the p95 is not just the slowest of ten)",
    )
    ap.add_argument("--small-every", type=float, default=0.1, help="seconds between small pushes")
    ap.add_argument(
        "--small-senders", type=int, default=1, help="small senders pushing at once, each as above"
    )
    ap.add_argument("--interval", type=float, default=2.0, help="worker idle interval (s)")
    ap.add_argument(
        "--live-days",
        type=int,
        default=HISTORY_DAYS,
        help="simulated days the pushed events span (the history is as dense: fewer days, more events a day; "
        "a day that ends makes the worker learn again, which at real rates happens once a day)",
    )
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: temporary)")
    args = ap.parse_args()
    per_day = max(1, -(-(args.events + args.burst) // (args.live_days * args.bots)))
    work = args.keep or Path(tempfile.mkdtemp(prefix="nhiwatch-server-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    db, token, seeded = seed(work, args.bots, per_day)
    print(f"seeded {seeded:,} history events in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    live = stream(HISTORY_DAYS, args.live_days, args.bots, per_day)
    steady, burst = live[: args.events], live[args.events : args.events + args.burst]
    batches = [steady[i : i + args.batch] for i in range(0, len(steady), args.batch)]
    attack_at = {int(len(batches) * (k + 0.5) / args.attacks): k for k in range(args.attacks)}
    bodies: list[tuple[bytes, int, int | None, datetime | None]] = []  # body, records, attack, its time
    prev: list[dict[str, object]] = []
    for i, batch in enumerate(batches):
        recs = list(batch)
        if i % 10 == 9 and prev:
            recs += prev[:200]  # re-sent records: must count as duplicates
        k = attack_at.get(i)
        when = None
        if k is not None:
            when = datetime.fromtimestamp(float(batch[-1]["@timestamp"]) / 1000, UTC)  # type: ignore[arg-type]
            recs += attack(when, k % args.bots, k)
        bodies.append((gz(recs), len(recs), k, when))
        prev = batch
    burst_bodies = [gz(burst[i : i + args.burst_batch]) for i in range(0, len(burst), args.burst_batch)]

    port = free_port()
    nhiwatch = shutil.which("nhiwatch", path=str(Path(sys.executable).parent)) or "nhiwatch"
    cmd = [nhiwatch, "serve", "--db", str(db), "--host", HOST, "--port", str(port)]
    cmd += ["--interval", str(args.interval), "--log-level", "warning", "--pushes-per-minute", "1000000"]
    log_path = work / "server.log"
    log_file = log_path.open("w")
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log_file, text=True)
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
                    raise SystemExit(f"server did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            prober = Prober(httpx.Client(base_url=base, headers=headers, timeout=60))
            senders = [
                SmallSender(
                    httpx.Client(base_url=base, headers=headers, timeout=60), steady[:5000], args.small_every
                )
                for _ in range(args.small_senders)
            ]
            pushed = 0
            accept_seconds: list[float] = []
            for sender in senders:
                sender.thread.start()
            started = time.perf_counter()
            sent_events = 0
            for body, n, k, when in bodies:
                due = started + sent_events / args.rate
                if (pause := due - time.perf_counter()) > 0:
                    time.sleep(pause)
                t = time.perf_counter()
                r = client.post("/api/v1/ingest", content=body)
                accept_seconds.append(time.perf_counter() - t)
                if r.status_code != 202:
                    raise SystemExit(f"push failed: {r.status_code} {r.text[:300]}")
                pushed += n
                sent_events += n - (30 if k is not None else 0)
                if k is not None and when is not None:
                    prober.watch(k % args.bots, when - timedelta(minutes=1), t, k, 120)
            offered_wall = time.perf_counter() - started
            for sender in senders:
                sender.stop()
            small = SmallSender.merged(senders)
            backlog_at_end = int(metric(client.get("/metrics").text, "nhiwatch_push_queue"))
            drain_after = wait_drained(client)
            steady_wall = time.perf_counter() - started
            text = client.get("/metrics").text
            steady_worker = {  # where the worker's time went during the sustained phase (if it says)
                part: round(metric(text, f"nhiwatch_worker_{part}_seconds_total", float("nan")), 1)
                for part in ("ingest", "score", "learn")
            }
            steady_worker["cycles"] = int(metric(text, "nhiwatch_worker_batches_total"))
            for th in prober.threads:
                th.join()
            # the burst: as fast as one sender can push
            b0 = time.perf_counter()
            for body in burst_bodies:
                r = client.post("/api/v1/ingest", content=body)
                if r.status_code != 202:
                    raise SystemExit(f"burst push failed: {r.status_code} {r.text[:300]}")
            burst_accept = time.perf_counter() - b0
            burst_drain = wait_drained(client) + burst_accept
            pushed += len(burst)
            text = client.get("/metrics").text
            stored = int(metric(text, "nhiwatch_store_events"))
            duplicates = int(metric(text, "nhiwatch_events_duplicate_total"))
            quarantined = int(metric(text, "nhiwatch_events_quarantined_total"))
            batches_scored = int(metric(text, "nhiwatch_worker_batches_total"))
            small_records = small.records  # all re-sent
    finally:
        server.terminate()
        server.wait(timeout=60)
        log_file.close()
        if log_path.stat().st_size:
            print(f"server log (tail):\n{log_path.read_text()[-3000:]}", file=sys.stderr)
    lat = prober.latencies
    summary = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
        f"load avg {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
        "seeded_events": seeded,
        "pushed_events": pushed,
        "offered_rate": args.rate,
        "live_days": args.live_days,
        "sustained_pushes": len(bodies),
        "sustained_events_per_second": round(len(steady) / steady_wall),
        "backlog_pushes_at_end_of_load": backlog_at_end,
        "drain_after_load_seconds": round(drain_after, 2),
        "accept_p50_ms": round(statistics.median(accept_seconds) * 1000, 1),
        "small_senders": args.small_senders,
        "small_pushes": len(small.seconds),
        "small_push_codes": small.codes,
        "small_push_p50_ms": round(percentile(small.seconds, 0.5) * 1000, 1),
        "small_push_p95_ms": round(percentile(small.seconds, 0.95) * 1000, 1),
        "small_push_max_ms": round(max(small.seconds) * 1000, 1) if small.seconds else None,
        # inside the server (Server-Timing): p50 / p95 ms of signing in, receiving, making durable (waiting
        # for the journal's writer, its write and flush, resuming the handler), the handler
        "small_push_server_ms": {
            k: [round(percentile(v, 0.5), 1), round(percentile(v, 0.95), 1)] for k, v in small.parts.items()
        },
        "attacks": args.attacks,
        "alerts_found": len(lat),
        "missed_attacks": prober.missed,
        "push_to_alert_p50_s": round(percentile(lat, 0.5), 2) if lat else None,
        "push_to_alert_p95_s": round(percentile(lat, 0.95), 2) if lat else None,
        "push_to_alert_max_s": round(max(lat), 2) if lat else None,
        "burst_events": len(burst),
        "burst_accepted_events_per_second": round(len(burst) / burst_accept),
        "burst_ingested_events_per_second": round(len(burst) / burst_drain),
        "worker_batches": batches_scored,
        "sustained_worker_seconds": steady_worker,
        "store_events": stored,
        "duplicates": duplicates,
        "quarantined": quarantined,
        "lost": seeded + pushed + small_records - duplicates - quarantined - stored,
        "offered_wall_seconds": round(offered_wall, 1),
    }
    print(json.dumps(summary, indent=2))
    print(
        f"| {len(steady):,} at {args.rate:,.0f}/s | {summary['sustained_events_per_second']:,} "
        f"| {summary['push_to_alert_p50_s']} s | {summary['push_to_alert_p95_s']} s "
        f"| {summary['small_push_p50_ms']} ms | {summary['small_push_p95_ms']} ms "
        f"| {summary['burst_accepted_events_per_second']:,} | {summary['burst_ingested_events_per_second']:,} "
        f"| {summary['alerts_found']}/{args.attacks} | {summary['lost']} |"
    )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    if summary["lost"] != 0 or prober.missed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
