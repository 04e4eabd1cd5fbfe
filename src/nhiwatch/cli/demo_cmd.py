"""``nhiwatch demo``: simulate → ingest → detect → a summary on screen and a report file."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, friendly_errors
from nhiwatch.demo import run_demo
from nhiwatch.outputs.plain import plain


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the simulated logs and the report.")] = Path(
        "demo-out"
    ),
    integrations: Annotated[int, typer.Option(min=12, help="Integrations to simulate.")] = 40,
    days: Annotated[int, typer.Option(min=21, help="Days to simulate (the first 14 are history).")] = 35,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    db: DbOption = DEFAULT_DB_PATH,
    hard: Annotated[
        bool,
        typer.Option("--hard", help="End with a December: year end, outage, vendor changes, look-alikes."),
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option(help="Start over even if the earlier demo store holds tokens, verdicts or pushed data."),
    ] = False,
) -> None:
    """Run the whole pipeline on a simulated company and print what it found."""
    with friendly_errors(db):
        result = run_demo(
            out,
            db,
            integrations=integrations,
            days=days,
            seed=seed,
            say=console.print,
            fresh=fresh,
            hard=hard,
        )
    t = Table("severity", "risk", "integration", "title", title="top alerts")
    for a in sorted(result.alerts, key=lambda a: -float(a.get("risk_score", 0)))[:15]:
        t.add_row(
            str(a.get("severity")),
            str(a.get("risk_score")),
            plain(a.get("integration_id")),
            plain(a.get("title")),
        )
    console.print(t)
    if result.evaluation:
        console.print(result.evaluation)
    console.print(f"report: {result.report}" + (f" and {result.html_report}" if result.html_report else ""))
    exe = command_name()
    console.print(
        f"next: [bold]{exe} token create --role admin --name me --db {db}[/bold], then "
        f"[bold]{exe} serve --db {db}[/bold] and sign in at http://127.0.0.1:8080 to triage these alerts",
        soft_wrap=True,
    )


def command_name() -> str:
    """How this shell can run nhiwatch again: ``nhiwatch`` if that is on PATH and is this program, else
    the path that ran it (after ``make demo`` it is ``.venv/bin/nhiwatch``, which a fresh shell lacks)."""
    argv0 = Path(sys.argv[0])
    on_path = shutil.which("nhiwatch")
    if argv0.name != "nhiwatch":
        return f"{shlex.quote(sys.executable)} -m nhiwatch.cli"
    if on_path and Path(on_path).resolve() == argv0.resolve():
        return "nhiwatch"
    try:
        shown = argv0.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = argv0.resolve()
    return shlex.quote(str(shown))
