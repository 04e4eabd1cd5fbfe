"""Reading request bodies within limits.

Small bodies (inventory YAML) are read into memory up to a limit (:func:`read_limited`). A push is streamed
to its spool file as it arrives (:func:`spool_body`): never held whole in memory, a gzip body decompressed
incrementally to the file (so a small bomb stops at the same limit), and every decompressed byte passed
through :class:`~nhiwatch.server.shape.ShapeCheck` (nesting depth, record size, lines) before the ingest
engine parses anything. The per-chunk work runs in the thread pool, so a large push does not stall the
event loop that serves everyone else; a small plain body (:data:`INLINE`) is checked on the loop and
handed to the spool in memory, which is cheaper than the trip to a thread.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from nhiwatch.server.shape import ShapeCheck, ShapeError

GZIP_MAGIC = b"\x1f\x8b"
STEP = 1024 * 1024  # decompressed bytes produced per step: bounds the memory a bomb can claim at once


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"request body larger than {limit:,} bytes; split it into smaller pushes")


def _declared_too_large(request: Request, limit: int) -> bool:
    declared = request.headers.get("content-length")
    return bool(declared and declared.isdigit() and int(declared) > limit)


async def read_limited(request: Request, limit: int) -> bytes:
    if _declared_too_large(request, limit):
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class Spooled:
    """Where a push was written and what it held."""

    path: Path  # the file to ingest: the decompressed body, or the raw gzip when it was cut off
    lines: int
    blank: bool  # only whitespace (or nothing)
    gzip_complete: bool = True
    data: bytes | None = None  # a small plain body, checked but not written: the spool writes ``path``


@dataclass
class _Sink:
    """Receives the raw body chunk by chunk (in a worker thread): decompresses, checks, writes."""

    plain: Path
    raw: Path
    limit: int
    check: ShapeCheck
    _out: BinaryIO | None = None
    _raw_out: BinaryIO | None = None
    _head: bytes = b""
    _gzip: bool | None = None
    _inflate: zlib._Decompress | None = None
    _trailing: bool = False  # bytes after the last gzip member that are not gzip: ignored
    size: int = 0
    decompressed: int = 0
    blank: bool = True

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise too_large(self.limit)
        if self._gzip is None:
            self._head += chunk
            if len(self._head) < 2:
                return
            chunk, self._head = self._head, b""
            self._gzip = chunk[:2] == GZIP_MAGIC
            self._out = self.plain.open("xb")
            if self._gzip:
                self._raw_out = self.raw.open("xb")
                self._inflate = _member()
        if self._gzip:
            assert self._raw_out is not None
            self._raw_out.write(chunk)
            self._gunzip(chunk)
        else:
            self._emit(chunk)

    def _gunzip(self, data: bytes) -> None:
        try:
            while data and not self._trailing:
                assert self._inflate is not None
                piece = self._inflate.decompress(data, STEP)
                self._emit(piece)
                data = self._inflate.unconsumed_tail
                if self._inflate.eof:
                    data = self._inflate.unused_data
                    if data:
                        if data[:2] != GZIP_MAGIC[: len(data[:2])]:
                            self._trailing = True
                        else:
                            self._inflate = _member()
        except zlib.error as exc:
            raise HTTPException(400, f"body is not valid gzip: {exc}") from None

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        self.decompressed += len(data)
        if self.decompressed > self.limit:
            raise too_large(self.limit)
        if self.blank and data.strip():
            self.blank = False
        self.check.feed(data)
        assert self._out is not None
        self._out.write(data)

    def finish(self) -> Spooled:
        if self._gzip is None:  # a body of 0 or 1 byte
            self._gzip = False
            self._out = self.plain.open("xb")
            self._emit(self._head)
        self.check.finish()
        self.close()
        complete = not self._gzip or self._trailing or (self._inflate is not None and self._inflate.eof)
        if self._gzip and not complete:
            # a cut-off gzip: the engine salvages its complete records from the raw file and says why
            self.plain.unlink(missing_ok=True)
            return Spooled(self.raw, self.check.lines, self.blank, gzip_complete=False)
        self.raw.unlink(missing_ok=True)
        return Spooled(self.plain, self.check.lines, self.blank)

    def close(self) -> None:
        for fh in (self._out, self._raw_out):
            if fh is not None and not fh.closed:
                fh.close()

    def discard(self) -> None:
        self.close()
        self.plain.unlink(missing_ok=True)
        self.raw.unlink(missing_ok=True)


def _member() -> zlib._Decompress:
    return zlib.decompressobj(16 + zlib.MAX_WBITS)


SMALL = 256 * 1024  # declared body sizes read whole before checking (a body may not exceed what it declared)
INLINE = 64 * 1024  # a plain body this small is checked on the event loop: cheaper than a trip to a thread


async def _bounded(request: Request, limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # more than the Content-Length promised: read no further
            raise HTTPException(400, "request body longer than its Content-Length")
        if chunk:
            yield chunk


def _checked(data: bytes, path: Path, check: ShapeCheck, limit: int) -> Spooled:
    if len(data) > limit:
        raise too_large(limit)
    if data:
        check.feed(data)
    check.finish()
    return Spooled(path, check.lines, not data.strip(), data=data)


def _write_all(sink: _Sink, chunks: list[bytes]) -> Spooled:
    for chunk in chunks:
        sink.write(chunk)
    return sink.finish()


async def spool_body(request: Request, path: Path, check: ShapeCheck, limit: int) -> Spooled:
    """Stream the request body to ``path`` (decompressed) within ``limit`` bytes, raw and decompressed.

    Raises 413 past the size, line or record limits, 400 for bad gzip or a body nested too deep; the
    partial files are removed then.
    """
    if _declared_too_large(request, limit):
        raise too_large(limit)
    sink = _Sink(path, path.with_suffix(".gz"), limit, check)
    declared = request.headers.get("content-length", "")
    try:
        if declared.isdigit() and int(declared) <= SMALL:
            # a small push (the many-senders case): gathered here, then checked and written in one trip to
            # the thread pool, so it answers without queueing for a thread once per chunk
            chunks = [c async for c in _bounded(request, SMALL)]
            data = b"".join(chunks)
            if len(data) <= INLINE and data[:2] != GZIP_MAGIC[: len(data[:2])]:
                return _checked(data, path, check, limit)  # a few KB: checked here, written by the spool
            return await run_in_threadpool(_write_all, sink, [data])
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(sink.write, chunk)
        return await run_in_threadpool(sink.finish)
    except ShapeError as exc:
        sink.discard()
        raise HTTPException(exc.status, exc.message) from None
    except OSError:  # a full disk: the push is refused whole, and the sender may retry it
        sink.discard()
        raise HTTPException(
            503, "the server could not keep the push (its disk); retry later", headers={"Retry-After": "30"}
        ) from None
    except BaseException:
        sink.discard()
        raise
