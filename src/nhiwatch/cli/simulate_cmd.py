"""``nhiwatch simulate``: write a realistic company's logs, inventory, tickets and attack truth file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nhiwatch.cli.common import console, friendly_errors


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
    integrations: Annotated[int, typer.Option(min=5, max=20000, help="Number of integrations.")] = 150,
    days: Annotated[int, typer.Option(min=7, max=730, help="Days of activity.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same files.")] = 7,
    gz: Annotated[bool, typer.Option("--gzip/--no-gzip", help="Compress the log files.")] = False,
    hard: Annotated[
        bool,
        typer.Option("--hard", help="End with a December: year end, outage, vendor changes, look-alikes."),
    ] = False,
) -> None:
    """Simulate SaaS integrations, benign and malicious, in the vendors' native log formats."""
    from nhiwatch.simulate import simulate as run

    with friendly_errors():
        summary = run(out, integrations=integrations, days=days, seed=seed, gzip=gz, hard=hard)
    console.print(f"wrote {out}: {summary}")
