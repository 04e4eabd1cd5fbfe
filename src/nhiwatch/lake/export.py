"""``nhiwatch export --lake DIR``: write the store's events, rollups and reference tables to the lake.

Events are exported incrementally: each export writes the events of the ingest batches past the lake's
cursor (``_nhiwatch/export.json``) into new files named after that batch range, then moves the cursor.
The range is recorded as *pending* before any file is written, so an export cut short is finished by the
next one rewriting the same file names: every event reaches the lake exactly once. Rollups are recounted
in place when late events arrive, so they are rewritten whole (they are summaries: small beside events),
each table into a fresh directory that replaces the old one only once it is complete.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from nhiwatch import rollups
from nhiwatch.errors import ConfigError, NhiwatchError
from nhiwatch.inventory.resolve import ensure_tables as ensure_inventory
from nhiwatch.lake.layout import EVENTS, REFERENCE_TABLES, ROLLUP_TABLES, STATE_FILE, LakeTable
from nhiwatch.store import Store


@dataclass
class ExportReport:
    lake: Path
    events: int = 0  # events written by this export
    cursor: int = 0  # last ingest batch now in the lake
    rows: dict[str, int] = field(default_factory=dict)  # rollup and reference rows written
    seconds: float = 0.0


def lake_path(text: str | Path) -> Path:
    """The lake root as a local directory; object-store URLs are refused with the way round it."""
    s = str(text)
    if "://" in s:
        raise ConfigError(
            f"--lake {s!r}: only a local or mounted directory is supported; export to a directory and copy "
            "it with `aws s3 sync` / `azcopy`, or mount the bucket (see docs/spark.md)"
        )
    return Path(s)


def _sql_path(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


@dataclass(frozen=True)
class Cursor:
    done: int = 0  # last ingest batch whose events are in the lake
    pending: int | None = None  # an export of (done, pending] was started and may not have finished


def read_cursor(lake: Path) -> Cursor:
    path = lake / STATE_FILE
    if not path.exists():
        return Cursor()
    try:
        state = orjson.loads(path.read_bytes())
        pending = state.get("pending")
        return Cursor(int(state.get("cursor", 0)), None if pending is None else int(pending))
    except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
        raise NhiwatchError(
            f"{path} is not an export cursor nhiwatch wrote; pass --full to export everything again"
        ) from None


def _write_cursor(lake: Path, c: Cursor) -> None:
    path = lake / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({"cursor": c.done, "pending": c.pending}))
    os.replace(tmp, path)  # atomic: a reader sees the old cursor or the new one


def export_lake(store: Store, lake: str | Path, *, full: bool = False) -> ExportReport:
    """Export to ``lake``; ``full`` rewrites the events from the first batch. Events carry the pointer to
    their original record (``ingest_file``, ``ingest_line``, ``raw_hash``), not the record itself: the
    store does not keep it either (``nhiwatch.evidence`` re-reads it)."""
    t0 = time.perf_counter()
    root = lake_path(lake)
    root.mkdir(parents=True, exist_ok=True)
    if store.event_count() == 0:
        raise NhiwatchError("the store has no events: ingest logs first (`nhiwatch ingest ...`)")
    with store.transaction():
        rollups.advance(store)  # the lake's rollups then cover every stored event
    ensure_inventory(store)
    cur = Cursor() if full else read_cursor(root)
    if full and (root / EVENTS.name).exists():
        shutil.rmtree(root / EVENTS.name)
    report = ExportReport(root)
    if cur.pending is not None:  # an export cut short: write the same range again, same file names
        report.events += _export_events(store, root, cur.done, cur.pending)
        cur = Cursor(cur.pending)
        _write_cursor(root, cur)
    hi = int(store.scalar("SELECT coalesce(max(ingest_batch), 0) FROM events") or 0)
    if hi > cur.done:
        _write_cursor(root, Cursor(cur.done, hi))
        report.events += _export_events(store, root, cur.done, hi)
        cur = Cursor(hi)
        _write_cursor(root, cur)
    report.cursor = cur.done
    for table in ROLLUP_TABLES:
        report.rows[table.name] = _replace_dir(store, root, table)
    for name, select in REFERENCE_TABLES.items():
        report.rows[name] = _export_reference(store, root, name, select)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _export_events(store: Store, root: Path, lo: int, hi: int) -> int:
    cols = EVENTS.select
    # lo and hi are integers from the store's own sequence, not from data
    where = f"ingest_batch > {int(lo)} AND ingest_batch <= {int(hi)}"
    n = int(store.scalar(f"SELECT count(*) FROM events WHERE {where}") or 0)
    if n:
        store.execute(
            f"""COPY (SELECT {cols}, {EVENTS.day} AS event_day FROM events WHERE {where})
            TO {_sql_path(root / EVENTS.name)}
            (FORMAT parquet, PARTITION_BY ({", ".join(EVENTS.partition_by)}), OVERWRITE_OR_IGNORE true,
             FILENAME_PATTERN 'events-b{int(lo)}-{int(hi)}_{{i}}', COMPRESSION zstd)"""
        )
    return n


def _replace_dir(store: Store, root: Path, table: LakeTable) -> int:
    final = root / table.name
    fresh = root / f".{table.name}.new"
    if fresh.exists():
        shutil.rmtree(fresh)
    n = int(store.scalar(f"SELECT count(*) FROM {table.name}") or 0)
    if n:
        store.execute(
            f"""COPY (SELECT {table.select}, {table.day} AS event_day FROM {table.name})
            TO {_sql_path(fresh)} (FORMAT parquet, PARTITION_BY (event_day), COMPRESSION zstd)"""
        )
    else:  # a zero-row file keeps the table's columns readable (a reader refuses an empty directory)
        empty = fresh / "event_day=__HIVE_DEFAULT_PARTITION__"
        empty.mkdir(parents=True)
        store.execute(
            f"COPY (SELECT {table.select} FROM {table.name} LIMIT 0) TO {_sql_path(empty / 'empty.parquet')}"
            " (FORMAT parquet)"
        )
    old = root / f".{table.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    fresh.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return n


def _export_reference(store: Store, root: Path, name: str, select: str) -> int:
    folder = root / "reference" / name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "data.parquet"
    tmp = folder / ".data.parquet.tmp"
    store.execute(f"COPY (SELECT {select} FROM {name}) TO {_sql_path(tmp)} (FORMAT parquet)")
    os.replace(tmp, target)
    return int(store.scalar(f"SELECT count(*) FROM {name}") or 0)
