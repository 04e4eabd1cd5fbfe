"""Copies nhiwatch keeps of transient inputs, so their events' original records stay retrievable.

Files ingested from the operator's folder are re-read from where they are (evidence checks each record
against its stored hash). A pushed body (or an API page a collector fetched) has no such home: its spool
file is deleted after ingest. Such inputs are copied, gzip-compressed, into ``<store>.raw/`` next to the
store, named by a digest of their content (the same body pushed twice is kept once), and their events name
the copy as ``ingest_file``. :func:`prune` deletes the copies no stored event names any more.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from nhiwatch.sources.files import is_gzip
from nhiwatch.store import Store

_MEMORY_DIRS: dict[int, Path] = {}  # in-memory stores: one private folder per connection, for the process


def raw_dir(store: Store) -> Path:
    """The folder holding the store's copies (``<store>.raw``; a private temporary one for ``:memory:``)."""
    if store.path != ":memory:":
        return Path(os.path.abspath(store.path + ".raw"))
    key = id(store.con)
    if key not in _MEMORY_DIRS:
        _MEMORY_DIRS[key] = Path(tempfile.mkdtemp(prefix="nhiwatch-raw-"))
    return _MEMORY_DIRS[key]


def keep(store: Store, path: Path) -> Path:
    """A compressed copy of ``path`` in the store's folder (made once per distinct content), mode 0600."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    folder = raw_dir(store)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / f"{digest.hexdigest()[:32]}.gz"
    if target.exists():
        return target
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as src:
            if is_gzip(path):
                shutil.copyfileobj(src, out)
            else:
                with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as gz:
                    shutil.copyfileobj(src, gz)
        os.replace(tmp, target)  # complete or absent: a reader never sees half a copy
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def is_copy(store: Store, name: str) -> bool:
    """True when ``name`` (an ``ingest_file``) is one of this store's copies."""
    return Path(name).parent == raw_dir(store)


def prune(store: Store) -> int:
    """Delete the copies (and interrupted partial copies) no stored event names; returns how many."""
    folder = raw_dir(store)
    if not folder.is_dir():
        return 0
    prefix = str(folder) + os.sep
    used = {
        str(r[0])
        for r in store.fetchall(
            "SELECT DISTINCT ingest_file FROM events WHERE starts_with(ingest_file, ?)", [prefix]
        )
    }
    gone = 0
    for f in folder.iterdir():
        if f.is_file() and str(f) not in used:
            f.unlink(missing_ok=True)
            gone += 1
    return gone


__all__ = ["is_copy", "keep", "prune", "raw_dir"]
