"""The ``nhiwatch`` command line: a thin shell over the library, one module per command group.

Library errors (:class:`~nhiwatch.errors.NhiwatchError`) become a one-line message and exit code 2;
nothing below the CLI exits the process.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from nhiwatch.cli import common

app = typer.Typer(
    name="nhiwatch",
    help="Watch SaaS integrations and other non-human identities; alert when behaviour stops fitting purpose.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version() -> str:
    try:
        return version("nhiwatch")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from nhiwatch import __version__

        return __version__


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"nhiwatch {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    _version_flag: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_show_version, is_eager=True),
    ] = False,
) -> None:
    """Watch SaaS integrations and other non-human identities; alert when behaviour stops fitting purpose."""


# Each command module registers its commands on ``app``.
for _name in (
    "ingest_cmd",
    "quarantine_cmd",
    "inventory_cmd",
    "simulate_cmd",
    "demo_cmd",
    "baseline_cmd",
    "detect_cmd",
    "serve_cmd",
    "prune_cmd",
    "doctor_cmd",
    "collect_cmd",
    "deliver_cmd",
    "run_cmd",
    "export_cmd",
    "netranges_cmd",
    "report_cmd",
):
    common.register_module(app, f"nhiwatch.cli.{_name}")


def main() -> None:
    try:
        app()
    except common.HandledError as exc:
        common.console_err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
