"""``nhiwatch deliver``: send new and changed alerts to the sinks of a config file, retry what is due,
and with ``--retry`` what was dead-lettered; ``--dry-run`` shows what would go, ``--status`` the spool."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nhiwatch.cli.common import (
    DEFAULT_DB_PATH,
    DbOption,
    console,
    console_err,
    fail,
    friendly_errors,
    open_store,
)
from nhiwatch.cli.detect_cmd import parse_time
from nhiwatch.outputs.plain import plain
from nhiwatch.outputs.sinks import deliver, spool
from nhiwatch.outputs.sinks.config import DeliveryConfig, load_delivery_config


def register(app: typer.Typer) -> None:
    app.command("deliver")(deliver_cmd)


class _Notices(logging.Handler):
    """Retry notices of the run on stderr as they happen (errors are in the summary the command prints)."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.WARNING <= record.levelno < logging.ERROR:
            console_err.print(plain(f"note: {record.getMessage()}"), style="yellow")


def _show_notices() -> None:
    logger = logging.getLogger(deliver.log.name)
    if not any(isinstance(h, _Notices) for h in logger.handlers):
        logger.addHandler(_Notices())


def deliver_cmd(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", envvar="NHIWATCH_CONFIG", help="YAML file with a `sinks:` list."),
    ] = Path("nhiwatch.yaml"),
    retry: Annotated[bool, typer.Option("--retry", help="Also send dead-lettered deliveries again.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; send nothing.")
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Show the delivery spool per sink and exit.")
    ] = False,
    sink: Annotated[list[str] | None, typer.Option("--sink", help="Only this sink (repeatable).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only alerts last seen at or after this time (ISO 8601, UTC).")
    ] = None,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Deliver alerts to Slack, Teams, webhooks, Splunk, Elasticsearch, syslog, PagerDuty, Jira, Parquet."""
    if status:
        with open_store(db, must_exist=True) as store:
            _print_status(spool.summary(store))
        return
    with friendly_errors():
        cfg = _delivery_config(config)
    if not cfg.sinks:
        raise fail(f"{config} has no sinks; see docs/delivery.md")
    t_since = parse_time(since, "--since")
    now = datetime.now(UTC).replace(tzinfo=None)
    _show_notices()
    with open_store(db, must_exist=True) as store:
        reports = deliver.run(
            store, cfg, now=now, retry_dead=retry, dry_run=dry_run, since=t_since, only=sink or ()
        )
    bad = False
    for r in reports:
        if dry_run:
            console.print(plain(f"{r.sink}: would send {len(r.would_send)} update(s) ({r.queued} new)"))
            for key in r.would_send:
                console.print(plain(f"  {key}"))
            continue
        if r.error:
            console.print(plain(f"{r.sink}: not set up: {r.error}"), style="red")
            bad = True
            continue
        line = f"{r.sink}: {r.queued} new update(s); {r.delivered} delivered, {r.retrying} retrying later, {r.dead} dead"
        console.print(plain(line), style="red" if r.dead else None)
        bad = bad or bool(r.dead)
    if bad:
        raise typer.Exit(1)


def _print_status(rows: list[dict[str, object]]) -> None:
    t = Table(title="deliveries")
    for col in ("sink", "status", "rows", "last change (UTC)"):
        t.add_column(col)
    for r in rows:
        last = r["last"]
        t.add_row(
            plain(r["sink"]),
            plain(r["status"]),
            str(r["n"]),
            f"{last:%Y-%m-%d %H:%M}" if isinstance(last, datetime) else "",
        )
    console.print(t)


def _delivery_config(path: Path) -> DeliveryConfig:
    """The sinks of a delivery file, or of a whole ``nhiwatch run`` config (the same keys, more beside)."""
    import yaml

    from nhiwatch.monitor.config import RunConfig, load_run_config

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None  # the delivery loader reports it with its line
    extra = set(data) - set(DeliveryConfig.model_fields) if isinstance(data, dict) else set()
    if extra and extra <= set(RunConfig.model_fields):
        return load_run_config(path).delivery()
    return load_delivery_config(path)
