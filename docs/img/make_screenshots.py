"""Take the screenshots of docs/console.md from a demo store, with headless Chromium (Debian's, as the tests).

    nhiwatch demo --out demo-out --db demo.duckdb
    python docs/img/make_screenshots.py demo.duckdb docs/img

The store is copied first (a token is added to the copy), so the demo store stays as it was.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from nhiwatch.server.app import create_app
from nhiwatch.server.tokens import create_token
from nhiwatch.store import Store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WIDTH = 1100


def main(db: Path, out: Path, alert: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "shots.duckdb"
        shutil.copy(db, copy)
        with Store(copy) as store:
            token = create_token(store, "screenshots", "analyst")
            store.execute("CHECKPOINT")
            if alert is None:  # the worst behaviour alert with a volume spike: the one a reader opens first
                alert = store.scalar(
                    "SELECT alert_id FROM alerts WHERE kind = 'behaviour' AND status = 'open' "
                    "ORDER BY list_contains(detectors, 'volume_spike') DESC, risk_score DESC, alert_id LIMIT 1"
                )
        app = create_app(copy)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=8765, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
                page = browser.new_page(
                    viewport={"width": WIDTH, "height": 900}, base_url="http://127.0.0.1:8765"
                )
                page.goto("/login")
                page.fill("#token", token)
                page.click("button[type=submit]")
                page.wait_for_url("**/alerts")
                shots = [  # (file, page, where the picture starts, its height): each well under 300 KB
                    ("console-alert.png", f"/alerts/{alert}", None, 1450),
                    ("console-alert-cards.png", f"/alerts/{alert}", "#chart-heatmap", 1350),
                    ("console-posture.png", "/posture", None, 950),
                    ("console-report.png", "/report", None, 1500),
                ]
                for name, url, start, height in shots:
                    page.goto(url)
                    page.wait_for_load_state("networkidle")
                    charts = page.locator("div.chart[data-spec]")
                    for i in range(charts.count()):
                        charts.nth(i).locator("svg").first.wait_for(state="attached", timeout=30_000)
                    top = 0.0
                    if start:
                        box = page.locator(start).first.bounding_box()
                        top = (box["y"] if box else 0.0) + page.evaluate("window.scrollY") - 8
                    total = page.evaluate("document.body.scrollHeight")
                    clip = {"x": 0, "y": top, "width": WIDTH, "height": min(height, total - top)}
                    page.screenshot(path=str(out / name), full_page=True, clip=clip, type="png")
                    print(f"{out / name}: {(out / name).stat().st_size // 1024} KB")
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            app.state.nw.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
