"""``nhiwatch collect``: run one collector once (from its checkpoint, or a backfill from ``--since``), or
list every collector's checkpoint, lag and last error."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, fail, open_store
from nhiwatch.errors import NhiwatchError
from nhiwatch.redact import protect_logs, redact
from nhiwatch.sources.collect import registry, runner, state

_RELATIVE = re.compile(r"^\s*(\d{1,6})\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)


def collect(
    source: Annotated[
        str | None, typer.Argument(help=f"The collector to run: {', '.join(registry.names())}.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Backfill from this time instead of the checkpoint: 2026-11-01, an ISO time, or 7d / 12h / 30m."
        ),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="Show each collector's checkpoint, lag and last error.")
    ] = False,
    max_pages: Annotated[
        int,
        typer.Option(min=1, max=1_000_000, help="Pages read per stream in this run (the next run goes on)."),
    ] = runner.DEFAULT_MAX_PAGES,
    base_url: Annotated[
        str | None, typer.Option(help="The API's base URL (Okta org, GitHub Enterprise Server, Graph cloud).")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            help="A setting as KEY=VALUE (repeatable); credentials only from the environment.",
        ),
    ] = None,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Pull audit logs from a vendor API into the store, from where the last run stopped."""
    if list_:
        if source is not None:
            raise fail("--list takes no collector name")
        _list(db)
        return
    if source is None:
        raise fail(f"name a collector ({', '.join(registry.names())}) or pass --list")
    options = _options(option or [])
    if base_url is not None:
        options["base_url"] = base_url
    start = _since(since) if since is not None else None
    protect_logs(("nhiwatch.collect",))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        collector = registry.build(source, options)
    except NhiwatchError as exc:
        raise fail(redact(str(exc))) from None
    try:
        with open_store(db) as store:
            report = runner.run(store, collector, since=start, max_pages=max_pages)
    finally:
        collector.close()
    _print(report)
    errors = [s for s in report.streams if s.error]
    if errors:
        raise fail("; ".join(f"{source} {s.instance}: {s.error}" for s in errors))


def _options(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise fail(f"--option takes KEY=VALUE, not {redact(pair)!r}")
        out[key.strip()] = value.strip()
    return out


def _since(text: str) -> datetime:
    now = datetime.now(UTC).replace(tzinfo=None)
    m = _RELATIVE.match(text)
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"--since {text!r} is not a time: give 2026-11-01, 2026-11-01T08:00:00Z or 7d / 12h / 30m"
        ) from None
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    if t > now:
        raise fail(f"--since {text!r} is in the future")
    return t


def _print(report: runner.RunReport) -> None:
    t = Table(title=f"collect {report.collector}")
    for col in ("stream", "pages", "read", "stored", "duplicates", "quarantined", "checkpoint", "state"):
        t.add_column(col)
    for s in report.streams:
        status = "error" if s.error else ("caught up" if s.caught_up else "more to read (page limit)")
        t.add_row(
            escape(s.instance),
            str(s.pages),
            str(s.read),
            str(s.stored),
            str(s.duplicates),
            str(s.quarantined),
            _time(s.since),
            status,
        )
    console.print(t)
    if report.resolved:
        console.print(f"attributed {report.resolved:,} events")


def _list(path: Path) -> None:
    if not path.exists():
        raise fail(f"no store at {path}: no collector has run yet")
    with open_store(path) as store:
        rows = state.all_states(store)
    now = datetime.now(UTC).replace(tzinfo=None)
    t = Table(title="collectors")
    for col in (
        "collector",
        "stream",
        "checkpoint",
        "lag",
        "reading",
        "pages",
        "records",
        "last success",
        "last error",
    ):
        t.add_column(col, overflow="fold")
    seen = {r.source for r in rows}
    for cp in rows:
        error = ""
        if cp.last_error and (
            cp.last_success is None or (cp.last_error_at and cp.last_error_at >= cp.last_success)
        ):
            error = f"{_time(cp.last_error_at)}: {cp.last_error}"
        t.add_row(
            escape(cp.source),
            escape(cp.instance),
            _time(cp.since),
            _lag(now - cp.since) if cp.since else "-",
            f"window from {_time(cp.window_start)}" if cp.in_window else "-",
            str(cp.pages or 0),
            str(cp.records or 0),
            _time(cp.last_success),
            escape(redact(error)) if error else "-",
        )
    for name in registry.names():
        if name not in seen:
            t.add_row(name, "-", "never run", "-", "-", "0", "0", "-", "-")
    console.print(t)


def _time(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S}" if t else "-"


def _lag(d: timedelta) -> str:
    s = max(0, int(d.total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"
