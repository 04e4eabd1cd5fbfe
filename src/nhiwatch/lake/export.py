"""``nhiwatch export --lake DIR|s3://bucket/prefix``: write the store's events, rollups and reference tables.

Events are exported incrementally: each export writes the events of the ingest batches past the lake's
cursor (``_nhiwatch/export.json``) into new files named after that batch range, then moves the cursor.
The range is recorded as *pending* before any file is written, so an export cut short is finished by the
next one rewriting the same file names: every event reaches the lake exactly once. Rollups are recounted
in place when late events arrive, so they are rewritten whole (they are summaries: small beside events).
In a directory each table goes into a fresh directory that replaces the old one only once it is complete.

On S3 the same files are written by DuckDB into a local staging directory (``NHIWATCH_LAKE_STAGING``, else
the system's temporary directory; it holds one piece at a time: one batch range of events, or one rollup
table) and uploaded with pyarrow's ``S3FileSystem``. Object stores have no rename: a rollup table's new files
(named after this export) are uploaded first and the old ones deleted after, so a reader running during an
export may briefly see both; the cursor and reference tables are single objects, replaced whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow.fs as pafs

from nhiwatch import rollups
from nhiwatch.errors import ConfigError, NhiwatchError
from nhiwatch.inventory.resolve import ensure_tables as ensure_inventory
from nhiwatch.lake.layout import EVENTS, REFERENCE_TABLES, ROLLUP_TABLES, STATE_FILE, LakeTable
from nhiwatch.lake.location import LakeLocation, open_lake, parse_lake, s3_errors
from nhiwatch.store import Store


@dataclass
class ExportReport:
    lake: str  # the directory or s3:// URL
    events: int = 0  # events written by this export
    cursor: int = 0  # last ingest batch now in the lake
    rows: dict[str, int] = field(default_factory=dict)  # rollup and reference rows written
    seconds: float = 0.0


def lake_path(text: str | Path) -> Path:
    """The lake root as a local directory (for callers that need one); s3:// URLs are refused here."""
    loc = parse_lake(text)
    if loc.is_s3:
        raise ConfigError(f"{loc.url}: a local or mounted directory is needed here")
    return loc.local


def _sql_path(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


@dataclass(frozen=True)
class Cursor:
    done: int = 0  # last ingest batch whose events are in the lake
    pending: int | None = None  # an export of (done, pending] was started and may not have finished


def read_cursor(lake: str | Path | LakeLocation) -> Cursor:
    loc = open_lake(lake)
    path = loc.path(STATE_FILE)
    with s3_errors(loc, "read the export cursor of"):
        if loc.fs.get_file_info(path).type == pafs.FileType.NotFound:
            return Cursor()
        with loc.fs.open_input_stream(path) as f:
            data = f.read(1 << 16)
    try:
        state = orjson.loads(data)
        pending = state.get("pending")
        return Cursor(int(state.get("cursor", 0)), None if pending is None else int(pending))
    except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
        raise NhiwatchError(
            f"{loc.display(STATE_FILE)} is not an export cursor nhiwatch wrote; pass --full to export "
            "everything again"
        ) from None


def _write_cursor(loc: LakeLocation, c: Cursor) -> None:
    body = orjson.dumps({"cursor": c.done, "pending": c.pending})
    if loc.is_s3:  # one PUT: a reader sees the old object or the new one
        with (
            s3_errors(loc, "write the export cursor to"),
            loc.fs.open_output_stream(loc.path(STATE_FILE)) as f,
        ):
            f.write(body)
        return
    path = loc.local / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(body)
    os.replace(tmp, path)  # atomic: a reader sees the old cursor or the new one


def export_lake(store: Store, lake: str | Path | LakeLocation, *, full: bool = False) -> ExportReport:
    """Export to ``lake`` (a directory or s3:// URL); ``full`` rewrites the events from the first batch.
    Events carry the pointer to their original record (``ingest_file``, ``ingest_line``, ``raw_hash``), not
    the record itself: the store does not keep it either (``nhiwatch.evidence`` re-reads it)."""
    t0 = time.perf_counter()
    if store.event_count() == 0:
        raise NhiwatchError("the store has no events: ingest logs first (`nhiwatch ingest ...`)")
    loc = open_lake(lake)
    if not loc.is_s3:
        loc.local.mkdir(parents=True, exist_ok=True)
    with store.transaction():
        rollups.advance(store)  # the lake's rollups then cover every stored event
    ensure_inventory(store)
    cur = Cursor() if full else read_cursor(loc)
    if full:
        _remove_dir(loc, EVENTS.name)
    report = ExportReport(loc.url)
    if cur.pending is not None:  # an export cut short: write the same range again, same file names
        report.events += _put_events(store, loc, cur.done, cur.pending)
        cur = Cursor(cur.pending)
        _write_cursor(loc, cur)
    hi = int(store.scalar("SELECT coalesce(max(ingest_batch), 0) FROM events") or 0)
    if hi > cur.done:
        _write_cursor(loc, Cursor(cur.done, hi))
        report.events += _put_events(store, loc, cur.done, hi)
        cur = Cursor(hi)
        _write_cursor(loc, cur)
    report.cursor = cur.done
    for table in ROLLUP_TABLES:
        report.rows[table.name] = (
            _replace_s3(store, loc, table) if loc.is_s3 else _replace_dir(store, loc.local, table)
        )
    for name, select in REFERENCE_TABLES.items():
        report.rows[name] = _put_reference(store, loc, name, select)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


@contextmanager
def _staging() -> Iterator[Path]:
    base = os.environ.get("NHIWATCH_LAKE_STAGING") or None
    if base and not Path(base).is_dir():
        raise ConfigError(f"NHIWATCH_LAKE_STAGING {base!r} is not a directory")
    with tempfile.TemporaryDirectory(prefix="nhiwatch-lake-", dir=base) as tmp:
        yield Path(tmp)


def _upload(loc: LakeLocation, local: Path, *parts: str) -> None:
    with s3_errors(loc, "write to"):
        pafs.copy_files(
            str(local),
            loc.path(*parts),
            source_filesystem=pafs.LocalFileSystem(),
            destination_filesystem=loc.fs,
        )


def _remove_dir(loc: LakeLocation, name: str) -> None:
    if not loc.is_s3:
        if (loc.local / name).exists():
            shutil.rmtree(loc.local / name)
        return
    with s3_errors(loc, "clear"):
        if loc.fs.get_file_info(loc.path(name)).type != pafs.FileType.NotFound:
            loc.fs.delete_dir_contents(loc.path(name), missing_dir_ok=True)


def _put_events(store: Store, loc: LakeLocation, lo: int, hi: int) -> int:
    if not loc.is_s3:
        return _export_events(store, loc.local, lo, hi)
    with _staging() as tmp:
        n = _export_events(store, tmp, lo, hi)
        if n:
            _upload(loc, tmp / EVENTS.name, EVENTS.name)
    return n


def _replace_s3(store: Store, loc: LakeLocation, table: LakeTable) -> int:
    """Upload the table's new files, then delete the files of earlier exports (no rename on S3)."""
    tag = f"x{uuid.uuid4().hex[:12]}"
    with _staging() as tmp:
        n = _write_rollup(store, tmp / table.name, table, f"{tag}_{{i}}")
        _upload(loc, tmp / table.name, table.name)
    with s3_errors(loc, "replace the rollups in"):
        old = [
            f.path
            for f in loc.fs.get_file_info(pafs.FileSelector(loc.path(table.name), recursive=True))
            if f.type == pafs.FileType.File and not f.base_name.startswith(tag)
        ]
        for path in old:
            loc.fs.delete_file(path)
    return n


def _put_reference(store: Store, loc: LakeLocation, name: str, select: str) -> int:
    if not loc.is_s3:
        return _export_reference(store, loc.local, name, select)
    with _staging() as tmp:
        target = tmp / "data.parquet"
        store.execute(f"COPY (SELECT {select} FROM {name}) TO {_sql_path(target)} (FORMAT parquet)")
        with s3_errors(loc, "write to"):
            pafs.copy_files(
                str(target),
                loc.path("reference", name, "data.parquet"),
                source_filesystem=pafs.LocalFileSystem(),
                destination_filesystem=loc.fs,
            )
    return int(store.scalar(f"SELECT count(*) FROM {name}") or 0)


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


def _write_rollup(store: Store, folder: Path, table: LakeTable, pattern: str = "data_{i}") -> int:
    """The rollup table, Hive-partitioned by day, into ``folder`` (which must not exist yet)."""
    n = int(store.scalar(f"SELECT count(*) FROM {table.name}") or 0)
    if n:
        store.execute(
            f"""COPY (SELECT {table.select}, {table.day} AS event_day FROM {table.name})
            TO {_sql_path(folder)} (FORMAT parquet, PARTITION_BY (event_day), COMPRESSION zstd,
            FILENAME_PATTERN '{pattern}')"""
        )
    else:  # a zero-row file keeps the table's columns readable (a reader refuses an empty directory)
        empty = folder / "event_day=__HIVE_DEFAULT_PARTITION__"
        empty.mkdir(parents=True)
        name = pattern.replace("{i}", "0") + ".parquet"
        store.execute(
            f"COPY (SELECT {table.select} FROM {table.name} LIMIT 0) TO {_sql_path(empty / name)}"
            " (FORMAT parquet)"
        )
    return n


def _replace_dir(store: Store, root: Path, table: LakeTable) -> int:
    final = root / table.name
    fresh = root / f".{table.name}.new"
    if fresh.exists():
        shutil.rmtree(fresh)
    n = _write_rollup(store, fresh, table)
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
