"""``nhiwatch run --config nhiwatch.yaml``: collect, score, serve and deliver in one long-running process.

``--check`` validates the file and that every collector and sink can be built from its environment (its
credentials present), without contacting anything, and exits 0 or 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nhiwatch.cli.common import console, console_err, fail, friendly_errors
from nhiwatch.outputs.plain import plain


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="nhiwatch.yaml (see docs/run.md).")] = Path(
        "nhiwatch.yaml"
    ),
    check: Annotated[
        bool, typer.Option("--check", help="Validate the config and credentials, then exit (0 or 2).")
    ] = False,
) -> None:
    """Run nhiwatch as a service: collectors on their schedules, continuous scoring, the API and console,
    and alert delivery to the configured sinks."""
    from nhiwatch.monitor.config import load_run_config

    with friendly_errors():
        cfg = load_run_config(config)
    problems = _preflight(cfg)
    if check:
        for line in problems:
            console_err.print(f"[red]{plain(line)}[/red]")
        if problems:
            raise fail(f"{len(problems)} problem(s) in {config}")
        console.print(
            f"ok: store {plain(str(cfg.store))}; {len(cfg.collectors)} collector(s), {len(cfg.sinks)} sink(s), "
            f"server on {cfg.server.host}:{cfg.server.port}"
        )
        return
    for line in problems:  # a collector or sink without credentials is reported, the rest still run
        console_err.print(f"[yellow]{plain(line)}[/yellow]")
    _serve(cfg)


def _preflight(cfg: object) -> list[str]:
    """Problems found without contacting anything: missing credentials, unreadable files."""
    from nhiwatch.errors import NhiwatchError
    from nhiwatch.monitor.config import RunConfig
    from nhiwatch.outputs.sinks import build
    from nhiwatch.sources.collect import registry

    assert isinstance(cfg, RunConfig)
    problems = []
    for c in cfg.collectors:
        try:
            registry.build(c.name, c.settings).close()
        except NhiwatchError as exc:
            problems.append(f"collector {c.name}: {exc}")
    for s in cfg.sinks:
        if not s.enabled:
            continue
        try:
            build(s, cfg.console_url).close()
        except NhiwatchError as exc:
            problems.append(f"sink {s.name}: {exc}")
    for what, path in (("inventory", cfg.inventory), ("tickets", cfg.tickets)):
        if path is not None and not path.is_file():
            problems.append(f"{what}: no file at {path}")
    return problems


def _serve(cfg: object) -> None:
    from nhiwatch.monitor.config import RunConfig

    assert isinstance(cfg, RunConfig)
    try:
        import uvicorn

        from nhiwatch.server.app import create_app
        from nhiwatch.server.state import Settings
    except ImportError as exc:
        raise fail(
            f"nhiwatch run needs the server extra: pip install 'nhiwatch[server]' ({exc.name} missing)"
        ) from None
    from nhiwatch.monitor.scheduler import Scheduler, build_jobs
    from nhiwatch.server.local import url_for

    settings = Settings(
        cfg.store,
        worker_interval=cfg.server.interval,
        inventory=cfg.inventory,
        url=url_for(cfg.server.host, cfg.server.port),
        listen_host=cfg.server.host,
        response=cfg.response,
        collectors={c.name: dict(c.settings) for c in cfg.collectors},
    )
    with friendly_errors(cfg.store):
        app = create_app(cfg.store, settings=settings)
    state = app.state.nw
    _prepare(state, cfg)
    scheduler = Scheduler(build_jobs(state, cfg))
    state.scheduler = scheduler  # its jobs' status is shown at /api/v1/status and /metrics
    console_err.print(
        f"nhiwatch running on {cfg.store}: {len(cfg.collectors)} collector(s), {len(cfg.sinks)} sink(s); "
        f"API and console on http://{cfg.server.host}:{cfg.server.port}/"
    )
    scheduler.start()
    try:
        uvicorn.run(
            app,
            host=cfg.server.host,
            port=cfg.server.port,
            log_level=cfg.server.log_level,
            proxy_headers=cfg.server.proxy_headers,
            forwarded_allow_ips="127.0.0.1",
            server_header=False,
        )
    finally:
        scheduler.stop()


def _prepare(state: object, cfg: object) -> None:
    """The inventory and tickets of the config, applied before the first job runs."""
    from nhiwatch.inventory import load_inventory
    from nhiwatch.monitor.config import RunConfig
    from nhiwatch.pipeline import attribute, replace_inventory
    from nhiwatch.tickets import load_tickets, store_tickets

    assert isinstance(cfg, RunConfig)
    with friendly_errors(), state.db() as store:  # type: ignore[attr-defined]
        if cfg.inventory is not None:
            changed = replace_inventory(store, load_inventory(cfg.inventory))
            attribute(store, everything=changed)
        if cfg.tickets is not None:
            store_tickets(store, load_tickets(cfg.tickets), str(cfg.tickets))
