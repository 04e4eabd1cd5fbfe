"""Checking a DuckDB store file before anything opens it for writing.

DuckDB trusts its file: a truncated copy opens and fails later with an I/O error on whichever block a query
happens to touch, a flipped byte is noticed only when that block is read, and a write-ahead log cut short is
replayed up to its last whole entry and then deleted, so the transactions after the cut vanish without a
word. :func:`check_file` reads the file the way DuckDB lays it out (a main header, two database headers of
which the one with the higher iteration is current, then fixed-size blocks that each start with a checksum)
and raises :class:`StoreDamagedError` before DuckDB is given a chance to write into a damaged store.

Layout (DuckDB's ``storage/storage_info.hpp``, checked against the files the bundled version writes): the main
header holds the magic ``DUCK`` at byte 8 and the storage version at byte 12; each database header holds
``checksum, iteration, meta_block, free_list, block_count, block_alloc_size``; every header and block starts
with a 64-bit checksum of the rest (each 64-bit word multiplied by a constant, all XORed, XORed with 5381),
which numpy computes for a whole chunk of blocks at once. A WAL is a version header followed by entries
framed as ``size, checksum, payload``; a committed transaction ends with a flush entry.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nhiwatch.errors import NhiwatchError

HEADER_SIZE = 4096
FILE_HEADER_BYTES = 3 * HEADER_SIZE
MAGIC = b"DUCK"
_CHECKSUM_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_CHECKSUM_SEED = 5381
_BLOCK_SIZES = {2**k for k in range(14, 29)}  # DuckDB allows 16 KiB .. 256 MiB blocks
_CHUNK_BYTES = 32 * 2**20
_WAL_FLUSH, _WAL_CHECKPOINT = 100, 99
_WAL_END_OF_OBJECT = b"\xff\xff"
_METADATA_PER_BLOCK = 64
_INVALID_POINTER = 2**64 - 1


class StoreDamagedError(NhiwatchError):
    """The store file is truncated, corrupted or not a DuckDB file; nothing was written to it."""


@dataclass
class FileReport:
    """What the bytes of a store file say, without DuckDB."""

    path: Path
    size: int
    storage_version: int | None = None
    written_by: str = ""
    block_size: int = 0
    block_count: int = 0
    used_blocks: int = 0
    free_blocks: set[int] = field(default_factory=set)
    expected_size: int = 0
    blocks_checked: int = 0
    bad_blocks: list[int] = field(default_factory=list)
    wal_size: int | None = None
    wal_problem: str | None = None
    problem: str | None = None  # the first thing found wrong with the database file itself

    @property
    def damaged(self) -> bool:
        return self.problem is not None or self.wal_problem is not None


def checksum(data: bytes | np.ndarray) -> int:
    """DuckDB's block checksum of ``data`` (a multiple of 8 bytes).

    >>> checksum(bytes(16))
    5381
    """
    words = np.frombuffer(data, dtype="<u8") if isinstance(data, bytes) else data
    with np.errstate(over="ignore"):
        return int(np.bitwise_xor.reduce(words * _CHECKSUM_MULTIPLIER)) ^ _CHECKSUM_SEED


def _block_checksums(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stored, computed) checksums for a 2-D array of blocks, one block per row of 64-bit words."""
    with np.errstate(over="ignore"):
        computed = np.bitwise_xor.reduce(rows[:, 1:] * _CHECKSUM_MULTIPLIER, axis=1) ^ np.uint64(
            _CHECKSUM_SEED
        )
    return rows[:, 0], computed


def inspect_file(path: str | Path, *, verify_blocks: bool = True) -> FileReport:
    """Read the headers (and, with ``verify_blocks``, every used block's checksum) of a store file and its WAL."""
    p = Path(path)
    report = FileReport(p, p.stat().st_size)
    _inspect_wal(report, Path(str(p) + ".wal"))
    if report.size == 0:
        report.problem = "the file is empty (0 bytes), not a DuckDB database"
        return report
    with p.open("rb") as fh:
        head = fh.read(FILE_HEADER_BYTES)
        if len(head) < FILE_HEADER_BYTES or head[8:12] != MAGIC:
            report.problem = "not a DuckDB database (no DuckDB header)"
            return report
        report.storage_version = struct.unpack_from("<Q", head, 12)[0]
        report.written_by = head[52:84].split(b"\0", 1)[0].decode("ascii", "replace")
        if struct.unpack_from("<Q", head, 0)[0] != checksum(head[8:HEADER_SIZE]):
            report.problem = "the main header's checksum does not match (the first 4 KiB are corrupted)"
            return report
        current = _current_header(head)
        if isinstance(current, str):
            report.problem = current
            return report
        report.block_count, report.block_size, free_list = current
        if report.block_size not in _BLOCK_SIZES:
            report.problem = f"the database header names an impossible block size ({report.block_size})"
            return report
        try:
            free = _free_blocks(fh, report, free_list)
        except _Unreadable as exc:
            report.problem = str(exc)
            return report
        report.free_blocks = free
        report.used_blocks = report.block_count - len(free)
        # DuckDB cuts free blocks off the end of the file, so only the last used block bounds its size.
        last_used = max((b for b in range(report.block_count - 1, -1, -1) if b not in free), default=-1)
        report.expected_size = FILE_HEADER_BYTES + (last_used + 1) * report.block_size
        if report.size < report.expected_size:
            report.problem = (
                f"the file is truncated: {report.size:,} bytes, but its header says it holds block "
                f"{last_used} ({report.expected_size:,} bytes)"
            )
            return report
        if verify_blocks:
            _verify_blocks(fh, report, free)
    if report.bad_blocks:
        first = report.bad_blocks[0]
        report.problem = (
            f"{len(report.bad_blocks)} of {report.used_blocks} blocks fail their checksum "
            f"(first: block {first}, at byte {FILE_HEADER_BYTES + first * report.block_size:,})"
        )
    return report


class _Unreadable(Exception):
    pass


def _current_header(head: bytes) -> tuple[int, int, int] | str:
    """(block_count, block_size, free list pointer) of the database header with the highest iteration, or
    what is wrong. DuckDB reads both headers and refuses the file if either fails its checksum."""
    best: tuple[int, int, int, int] | None = None
    for offset in (HEADER_SIZE, 2 * HEADER_SIZE):
        stored, iteration, _meta, free_list, block_count, block_size = struct.unpack_from(
            "<QQQQQQ", head, offset
        )
        if stored != checksum(head[offset + 8 : offset + HEADER_SIZE]):
            return f"the database header at bytes {offset:,}-{offset + HEADER_SIZE - 1:,} fails its checksum"
        if best is None or iteration > best[0]:
            best = (iteration, block_count, block_size, free_list)
    assert best is not None
    return best[1:]


def _read_block(fh: BinaryIO, report: FileReport, block: int) -> bytes:
    if block >= report.block_count:
        raise _Unreadable(f"a metadata pointer names block {block}, beyond the {report.block_count} blocks")
    fh.seek(FILE_HEADER_BYTES + block * report.block_size)
    data = fh.read(report.block_size)
    if len(data) < report.block_size:
        raise _Unreadable(
            f"the file is truncated: {report.size:,} bytes, but its free-block list is in block {block}, "
            f"which ends at byte {FILE_HEADER_BYTES + (block + 1) * report.block_size:,}"
        )
    if struct.unpack_from("<Q", data, 0)[0] != checksum(data[8:]):
        raise _Unreadable(f"block {block} (the free-block list) fails its checksum")
    return data


def _free_blocks(fh: BinaryIO, report: FileReport, pointer: int) -> set[int]:
    """The free-block list the header points to: a count, then block ids, written across a chain of
    metadata sub-blocks (each 1/64 of a block, starting with the pointer to the next)."""
    sub_size = (report.block_size - 8) // _METADATA_PER_BLOCK // 8 * 8
    words: list[int] = []
    count: int | None = None
    hops = 0
    while pointer != _INVALID_POINTER and (count is None or len(words) < count + 1):
        block, index = pointer & (2**56 - 1), pointer >> 56
        if index >= _METADATA_PER_BLOCK or hops > report.block_count * _METADATA_PER_BLOCK:
            raise _Unreadable("the free-block list pointer is invalid (the metadata is corrupted)")
        data = _read_block(fh, report, block)
        start = 8 + index * sub_size
        pointer = struct.unpack_from("<Q", data, start)[0]
        words.extend(struct.unpack_from(f"<{(sub_size - 8) // 8}q", data, start + 8))
        count = words[0]
        hops += 1
        if not 0 <= count <= report.block_count:
            raise _Unreadable(f"the free-block list claims {count} free blocks of {report.block_count}")
    if count is None:
        return set()
    free = set(words[1 : count + 1])
    if len(words) < count + 1 or any(not 0 <= b < report.block_count for b in free):
        raise _Unreadable("the free-block list is incomplete or names blocks that do not exist")
    return free


def _verify_blocks(fh: BinaryIO, report: FileReport, free: set[int]) -> None:
    words = report.block_size // 8
    per_chunk = max(1, _CHUNK_BYTES // report.block_size)
    in_file = min(report.block_count, (report.size - FILE_HEADER_BYTES) // report.block_size)
    fh.seek(FILE_HEADER_BYTES)
    done = 0
    while done < in_file:
        n = min(per_chunk, in_file - done)
        rows = np.fromfile(fh, dtype="<u8", count=n * words)
        if rows.size < n * words:  # shorter than when we measured it: changed while we read
            raise_at = done + rows.size // words
            report.bad_blocks.extend(b for b in range(raise_at, in_file) if b not in free)
            break
        stored, computed = _block_checksums(rows.reshape(n, words))
        report.bad_blocks.extend(
            b for b in (int(i) + done for i in np.flatnonzero(stored != computed)) if b not in free
        )
        done += n
    report.blocks_checked = done


def _inspect_wal(report: FileReport, wal: Path) -> None:
    """Check that the WAL's entries are whole and that it ends with a committed transaction."""
    if not wal.exists():
        return
    data = wal.read_bytes()
    report.wal_size = len(data)
    if not data:
        return
    pos = _wal_version_header_end(data)
    if pos is None:
        report.wal_problem = "the write-ahead log has no complete version header"
        return
    last_type = None
    while pos < len(data):
        if pos + 16 > len(data):
            report.wal_problem = f"the write-ahead log is cut short inside an entry header at byte {pos:,}"
            return
        size = struct.unpack_from("<Q", data, pos)[0]
        if pos + 16 + size > len(data):
            report.wal_problem = (
                f"the write-ahead log is cut short: an entry at byte {pos:,} needs {size:,} bytes, "
                f"{len(data) - pos - 16:,} remain"
            )
            return
        payload = data[pos + 16 : pos + 16 + size]
        last_type = payload[2] if len(payload) > 2 and payload[:2] == b"\x64\x00" else None
        pos += 16 + size
    if last_type not in (None, _WAL_FLUSH, _WAL_CHECKPOINT):
        report.wal_problem = "the write-ahead log ends inside a transaction (its last entry is not a commit)"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of an unsigned LEB128 integer; IndexError if it runs off the end."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _wal_version_header_end(data: bytes) -> int | None:
    """Where the WAL's unframed version header (type, version, database id, checkpoint) ends, or None."""
    pos = 0
    try:
        while True:
            field_id = struct.unpack_from("<H", data, pos)[0]
            pos += 2
            if data[pos - 2 : pos] == _WAL_END_OF_OBJECT:
                return pos
            if field_id == 102:  # the database identifier: a list of bytes, each a varint
                count, pos = _varint(data, pos)
                for _ in range(count):
                    _, pos = _varint(data, pos)
            elif field_id in (100, 101, 103):
                _, pos = _varint(data, pos)
            else:
                return None
    except (IndexError, struct.error):
        return None


def check_file(path: str | Path) -> FileReport:
    """Raise :class:`StoreDamagedError` (one line, naming the file and what to do) if the store is damaged."""
    report = inspect_file(path)
    if report.damaged:
        raise StoreDamagedError(damage_message(report))
    return report


def damage_message(report: FileReport) -> str:
    what = report.problem or report.wal_problem
    return (
        f"the store {report.path} is damaged: {what}; nothing was written to it. "
        f"Run `nhiwatch doctor --db {report.path}` for its state and how to recover"
    )


def readable_size(n: int) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    >>> readable_size(22_556_672)
    '21.5 MiB'
    """
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n:,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
