"""Reading request bodies within limits: a declared or streamed size past the limit is 413, and a gzip
body is decompressed incrementally so a small bomb cannot expand past the same limit."""

from __future__ import annotations

import zlib

from fastapi import HTTPException, Request


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"request body larger than {limit:,} bytes; split it into smaller pushes")


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip_limited(data: bytes, limit: int) -> tuple[bytes, bool]:
    """Every gzip member of ``data`` decompressed, and whether the stream was complete (a cut-off one is
    left to the ingest engine, which keeps its complete records); 413 past ``limit``, 400 if not gzip."""
    out: list[bytes] = []
    size = 0
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            piece = d.decompress(rest, limit - size + 1)
            size += len(piece)
            if size > limit or d.unconsumed_tail:
                raise too_large(limit)
            out.append(piece)
            if not d.eof:
                return b"".join(out), False
            rest = d.unused_data
            if rest[:2] != b"\x1f\x8b":
                break
    except zlib.error as exc:
        raise HTTPException(400, f"body is not valid gzip: {exc}") from None
    return b"".join(out), True
