"""``nhiwatch report --html FILE``: the store's integrations, alerts and posture to-dos as one HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from nhiwatch.cli.common import DEFAULT_DB_PATH, DbOption, console, fail, friendly_errors, open_store


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)


def report_cmd(
    html: Annotated[
        Path,
        typer.Option("--html", help="Write the report to this HTML file (self-contained: opens offline)."),
    ] = Path("nhiwatch-report.html"),
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Write the HTML report: integrations, behaviour alerts with their charts, posture to-dos per owner."""
    try:
        from nhiwatch.outputs import report_html
    except ImportError:  # its charts and template come with the server extra (altair, jinja2)
        raise fail(escape("the HTML report needs the server extra: pip install 'nhiwatch[server]'")) from None
    if html.is_dir():
        raise fail(f"{html} is a directory: give a file name, e.g. --html {html / 'report.html'}")
    with friendly_errors(db), open_store(db, must_exist=True) as store:
        page = report_html.render(store, inline=True)
    try:
        html.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {html}: {exc.strerror}") from None
    console.print(f"report: {escape(str(html))} ({len(page) // 1024:,} KB)")
