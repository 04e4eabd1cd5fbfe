"""``nhiwatch detect | alerts | triage | suppress | evaluate``: scoring a window, and living with the alerts.

Every command is a thin shell over :mod:`nhiwatch.detection`, :mod:`nhiwatch.alerts` and
:mod:`nhiwatch.evaluate`; bad input is a one-line message and exit code 2, with nothing stored changed.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.text import Text

from nhiwatch.alerts import tables
from nhiwatch.alerts.config import load_config
from nhiwatch.alerts.model import STATUSES, Alert
from nhiwatch.alerts.response import guidance
from nhiwatch.alerts.suppress import add_rule, load_rules, make_rule
from nhiwatch.alerts.triage import VERDICTS, triage, undo
from nhiwatch.cli.common import (
    DEFAULT_DB_PATH,
    DbOption,
    console,
    console_err,
    fail,
    friendly_errors,
    open_source,
    open_store,
)
from nhiwatch.detection import run_detection
from nhiwatch.outputs import FORMATS, to_jsonl, to_ocsf
from nhiwatch.outputs.ocsf import evidence_events
from nhiwatch.outputs.plain import plain
from nhiwatch.outputs.table import print_alerts
from nhiwatch.redact import redact
from nhiwatch.store import Store

suppress_app = typer.Typer(
    help="Suppression rules: accepted behaviour that should not alert.", no_args_is_help=True
)

FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="table, jsonl or ocsf (OCSF Detection Finding).")
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write jsonl/ocsf here instead of stdout.")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Alert config YAML (default: the packaged one).")
]


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
    app.command("alerts")(alerts)
    app.command("triage")(triage_cmd)
    app.add_typer(suppress_app, name="suppress")
    app.command("evaluate")(evaluate)


def parse_time(text: str | None, option: str) -> datetime | None:
    """ISO 8601 (a time without offset is UTC) -> naive UTC."""
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"{option} {text!r} is not an ISO 8601 time (e.g. 2025-09-01 or 2025-09-01T12:00:00Z)"
        ) from None
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def _analyst() -> str:
    return os.environ.get("NHIWATCH_USER") or getpass.getuser()


def emit(
    store: Store | None, items: list[Alert], fmt: str, out: Path | None, title: str, explain: bool
) -> None:
    """Print or write alerts; ``store`` feeds OCSF evidence (None: alerts read through the server)."""
    if fmt == "table":
        print_alerts(console, items, title, explain=explain)
        return
    events = evidence_events(store, items) if store is not None and fmt == "ocsf" else None
    text = to_jsonl(items) if fmt == "jsonl" else to_ocsf(items, events)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console_err.print(f"wrote {len(items)} alert(s) to {out}")


def _point_at_earlier_alerts(store: Store, window_start: datetime) -> None:
    """A window with nothing new is not a store with nothing open: say where the earlier alerts are."""
    tables.ensure(store)
    earlier = int(
        store.scalar(
            "SELECT count(*) FROM alerts WHERE status = 'open' AND kind = 'behaviour' AND last_seen < ?",
            [window_start],
        )
        or 0
    )
    if earlier:
        console.print(
            f"{earlier} behaviour alert(s) from earlier windows are still open: `nhiwatch alerts --status open`"
            " (or `nhiwatch detect --since DATE` to score further back)"
        )


def detect(
    since: Annotated[str | None, typer.Option(help="Window start (ISO 8601, UTC if no offset).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Window end, exclusive (default: just after the last event).")
    ] = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
    config: ConfigOpt = None,
    explain: Annotated[bool, typer.Option(help="Print each alert's explanation under the table.")] = False,
    detector: Annotated[
        list[str] | None, typer.Option(help="Run only this detector (repeatable; default: all).")
    ] = None,
    db: DbOption = DEFAULT_DB_PATH,
    engine: Annotated[
        str, typer.Option(help="duckdb (the store's events) or spark (the --lake's; alerts to both).")
    ] = "duckdb",
    lake: Annotated[
        str | None,
        typer.Option(
            help="Lake root for --engine spark: a directory or s3://bucket/prefix (`nhiwatch export`)."
        ),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option(help="Spark master for --engine spark (default: spark-submit's, else local[2])."),
    ] = None,
) -> None:
    """Learn baselines from history, run every detection over the window, and raise explained alerts."""
    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if engine not in ("duckdb", "spark"):
        raise fail(f"--engine must be duckdb or spark, got {engine!r}")
    if engine == "spark" and not lake:
        raise fail(
            "--engine spark reads a lake: pass --lake DIR|s3://bucket/prefix (write one with `nhiwatch export --lake`)"
        )
    t_since, t_until = parse_time(since, "--since"), parse_time(until, "--until")
    with friendly_errors():
        cfg = load_config(config)
    with open_store(db, must_exist=True) as store:
        if engine == "spark":
            from nhiwatch.spark.engine import run_spark_detection

            with friendly_errors(db):
                result = run_spark_detection(
                    store, str(lake), t_since, t_until, cfg, only=detector or None, master=master
                )
        else:
            result = run_detection(store, t_since, t_until, cfg, only=detector or None)
        if fmt == "table":
            console.print(
                f"window {result.since:%Y-%m-%d %H:%M} – {result.until:%Y-%m-%d %H:%M} UTC: "
                f"{result.events:,} events, "
                f"{len(result.findings)} finding(s), {result.seconds:.1f} s"
            )
            print_alerts(console, result.alerts, "behaviour alerts", explain=explain)
            if result.posture:
                print_alerts(console, result.posture, "posture alerts", explain=explain)
            if since is None:
                _point_at_earlier_alerts(store, result.since)
        else:
            emit(store, [*result.alerts, *result.posture], fmt, out, "", explain)
    if result.suppressed:
        console_err.print(
            f"{len(result.suppressed)} alert(s) suppressed by rules "
            "(see `nhiwatch alerts --status suppressed`)"
        )
    if result.allowed:
        console_err.print(f"{result.allowed} finding(s) covered by earlier benign verdicts")
    for err in result.errors:
        console_err.print(f"[red]{redact(err)}[/red]")
    for note in result.notes[:5]:
        console_err.print(f"[yellow]{redact(note)}[/yellow]")
    for rule in result.unmatched_rules:
        console_err.print(f"[yellow]suppression rule {rule} matched nothing in this window[/yellow]")


def alerts(
    status: Annotated[str | None, typer.Option(help="open, benign, malicious or suppressed.")] = None,
    kind: Annotated[str | None, typer.Option(help="behaviour or posture.")] = None,
    alert: Annotated[str | None, typer.Option("--id", help="Show this alert with its explanation.")] = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
    explain: Annotated[bool, typer.Option(help="Print each alert's explanation under the table.")] = False,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """List stored alerts (highest risk first)."""
    if status is not None and status not in STATUSES:
        raise fail(f"--status must be one of {', '.join(STATUSES)}, got {status!r}")
    if kind is not None and kind not in ("behaviour", "posture"):
        raise fail(f"--kind must be behaviour or posture, got {kind!r}")
    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    response: dict[str, Any] | None = None
    with open_source(db, must_exist=True) as src:
        if isinstance(src, Store):
            tables.ensure(src)
            conds, params = ["true"], []
            for col, val in (("status", status), ("kind", kind), ("alert_id", alert)):
                if val is not None:
                    conds.append(f"{col} = ?")
                    params.append(val)
            found = tables.load_alerts(src, " AND ".join(conds), params)
            if alert is not None and not found:
                raise fail(f"no alert {alert!r} in {db}")
            emit(src, found, fmt, out, "alerts", explain or alert is not None)
            if alert is not None and fmt == "table":
                print_response(guidance(src, found[0]).as_dict())
            return
        if fmt == "ocsf":  # its evidence events come from the store, not from the API's redacted view
            raise fail(
                f"--format ocsf reads evidence from the store, which nhiwatch serve (pid {src.server.pid}) "
                "holds: use --format jsonl or table, or stop the server"
            )
        if alert is not None:
            got = src.get(f"/api/v1/alerts/{src.part(alert)}", not_found=f"no alert {alert!r} in {db}")
            found = [alert_from(got)]
            response = got.get("response")
        else:
            items = src.pages("/api/v1/alerts", "alerts", {"status": status, "kind": kind})
            found = sorted(map(alert_from, items), key=lambda a: (a.first_seen, a.alert_id))
    emit(None, found, fmt, out, "alerts", explain or alert is not None)
    if alert is not None and fmt == "table" and response:
        print_response(response)


def print_response(response: dict[str, Any]) -> None:
    """What to do about one alert: whom to contact, how to contain it, what to look at."""
    console.print(Text("\nwhat to do", style="bold"))
    console.print(Text("contact: ") + plain(response.get("contact", "")), highlight=False)
    for step in response.get("contain", []):
        line = Text("contain: ") + plain(step.get("step", ""))
        if step.get("doc"):
            line += Text(" — ") + plain(step["doc"])
        console.print(line, highlight=False)
    for text in response.get("investigate", []):
        console.print(Text("investigate: ") + plain(text), highlight=False)


def alert_from(data: dict[str, Any]) -> Alert:
    """An alert from the API's JSON (times as ISO 8601 text), as the store would have given it."""
    fields: dict[str, Any] = {k: data[k] for k in Alert.__dataclass_fields__ if k in data}
    for k in ("first_seen", "last_seen", "created_at"):
        if isinstance(fields.get(k), str):
            fields[k] = datetime.fromisoformat(fields[k])
    return Alert(**fields)


def triage_cmd(
    alert_id: Annotated[str, typer.Argument(help="The alert (see `nhiwatch alerts`).")],
    verdict: Annotated[str, typer.Argument(help="benign, malicious, or undo (takes the last verdict back).")],
    note: Annotated[str, typer.Option(help="Why: kept in the audit log.")] = "",
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Record a verdict. Benign teaches nhiwatch that this behaviour is fine for this integration, until
    the allowance expires (`scoring.allowance_days`); undo takes the last verdict back."""
    if verdict not in (*VERDICTS, "undo"):
        raise fail(f"verdict must be benign, malicious or undo, got {verdict!r}")
    with open_store(db, must_exist=True) as store, friendly_errors():
        if verdict == "undo":
            outcome = undo(store, alert_id, analyst=_analyst(), now=_now())
        else:
            outcome = triage(store, alert_id, verdict, note=note, analyst=_analyst(), now=_now())
    console.print(
        redact(f"{outcome.alert_id}: {outcome.previous_status} -> {outcome.verdict}; {outcome.effect}")
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@suppress_app.command("add")
def suppress_add(
    reason: Annotated[str, typer.Option(help="Why this behaviour is accepted.")],
    owner: Annotated[str, typer.Option(help="Who answers for the rule.")],
    integration: Annotated[str | None, typer.Option(help="Integration id (shell pattern).")] = None,
    detector: Annotated[str | None, typer.Option(help="Detector id (shell pattern).")] = None,
    match: Annotated[
        list[str] | None, typer.Option(help="Field match KEY=PATTERN on the finding (repeatable).")
    ] = None,
    expires: Annotated[str | None, typer.Option(help="When the rule stops applying (ISO 8601).")] = None,
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Add a rule; it must match at least one stored finding."""
    fields: dict[str, str] = {}
    for m in match or []:
        key, sep, value = m.partition("=")
        if not sep or not key.strip():
            raise fail(f"--match must look like KEY=PATTERN, got {m!r}")
        fields[key.strip()] = value.strip()
    t_exp = parse_time(expires, "--expires")
    with open_store(db, must_exist=True) as store:
        rule = make_rule(
            integration_id=integration,
            detector=detector,
            match=fields,
            reason=reason,
            owner=owner,
            expires=t_exp,
        )
        hits = add_rule(store, rule, now=_now(), by=_analyst())
    console.print(f"added {rule.rule_id}: matches {hits} stored finding(s)")


@suppress_app.command("list")
def suppress_list(db: DbOption = DEFAULT_DB_PATH) -> None:
    """Rules with scope, reason, owner and expiry."""
    from rich.table import Table

    with open_store(db, must_exist=True) as store:
        rules = load_rules(store)
    t = Table("rule", "integration", "detector", "match", "reason", "owner", "expires", "state")
    now = _now()
    for r in rules:
        t.add_row(
            r.rule_id,
            plain(r.integration_id or "*"),
            plain(r.detector or "*"),
            plain(", ".join(f"{k}={v}" for k, v in r.match.items())),
            plain(r.reason),
            plain(r.owner),
            f"{r.expires:%Y-%m-%d %H:%M}" if r.expires else "never",
            "active" if r.active(now) else "expired",
        )
    console.print(t)


def evaluate(
    truth: Annotated[Path, typer.Option(help="Ground truth: the simulator's truth.jsonl.")],
    alerts_file: Annotated[
        Path | None, typer.Option("--alerts", help="Alerts jsonl (default: the store's).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Window start (default: the last detection run's).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Window end (default: the last detection run's).")] = None,
    generic: Annotated[
        bool, typer.Option(help="Also score River HalfSpaceTrees and IsolationForest.")
    ] = True,
    min_severity: Annotated[
        str, typer.Option(help="Count only nhiwatch alerts at or above this severity (default: all).")
    ] = "low",
    config: ConfigOpt = None,
    show_failures: Annotated[
        bool, typer.Option("--failures", help="List missed episodes and false alerts.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write the Markdown report here.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text (Markdown) or json.")] = "text",
    db: DbOption = DEFAULT_DB_PATH,
) -> None:
    """Score alerts against ground truth: episodes detected, time to evidence, precision, false alerts
    (overall and by cause: outage, calendar, vendor change, on-demand, other)."""
    if fmt not in ("text", "json"):
        raise fail(f"--format must be text or json, got {fmt!r}")
    from nhiwatch.evaluate.report import failures, markdown
    from nhiwatch.evaluate.run import evaluate as run_evaluation

    t_since, t_until = parse_time(since, "--since"), parse_time(until, "--until")
    with friendly_errors():
        cfg = load_config(config)
    with open_source(db, must_exist=True) as src:
        if isinstance(src, Store):
            ev = run_evaluation(
                src,
                truth,
                alerts=alerts_file,
                since=t_since,
                until=t_until,
                config=cfg,
                generic=generic,
                min_severity=min_severity,
            )
            text, missed = redact(markdown(ev)), redact(failures(ev.results["nhiwatch"]))
            data = ev.as_dict()
        else:
            if alerts_file is not None or config is not None:
                raise fail(
                    f"--alerts and --config are read by this process, but nhiwatch serve (pid "
                    f"{src.server.pid}) holds the store: stop the server to use them"
                )
            try:
                body = truth.read_bytes()
            except OSError as exc:
                raise fail(f"{truth}: cannot read the truth file ({exc.strerror or exc})") from None
            params = {
                "since": t_since.isoformat() if t_since else None,
                "until": t_until.isoformat() if t_until else None,
                "generic": generic,
                "min_severity": min_severity,
            }
            got = src.request(
                "POST",
                "/api/v1/evaluate",
                content=body,
                params={k: v for k, v in params.items() if v is not None},
            )
            text, missed, data = got["report"], got["failures"], got.get("evaluation", {})
    if fmt == "json":
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"
    console.print(text, highlight=False, markup=False)
    if show_failures:
        console.print(missed, highlight=False, markup=False)
    if out is not None:
        out.write_text(text, encoding="utf-8")
