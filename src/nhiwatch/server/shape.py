"""Bounds on the shape of a request body, checked while it streams in, before anything parses it.

:class:`ShapeCheck` is fed the (decompressed) body chunk by chunk and tracks JSON brackets outside strings,
so a record nested thousands of levels deep is refused before a recursive parser ever sees it. It also
counts lines and measures records: a text or CSV line, or a JSON object without the objects listed in its
arrays, which are measured on their own (so the ``{"Records": [...]}`` wrapper of a whole export is not one
huge record, each element is; and every byte still belongs to some measured record). Each
violation is a :class:`ShapeError` that names the limit, the body line, and what to do. Brackets inside
strings do not count; a stray quote in a text log ends at the end of its line, as JSON strings do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import orjson

# Each match skips plain bytes and complete strings and stops at the next bracket or newline (group 1),
# or at a string the chunk's end or a newline cuts (group 2), or at the chunk's end: Python only sees the
# structure. Quantifiers are possessive and every match succeeds where it starts, so a complete string is
# never re-read from its middle.
_TOKEN = re.compile(
    rb'(?:[^"\[\]{}\n]++|"(?:[^"\\\n]++|\\.)*+")*+(?:([\[\]{}\n])|("(?:[^"\\\n]++|\\.)*+\\?)|\Z)'
)
_STRING_REST = re.compile(rb'(?:[^"\\\n]++|\\.)*+(")?')
_FIRST = re.compile(rb"[^ \t\r]")
_BOM = b"\xef\xbb\xbf"
_OPEN = {0x7B, 0x5B}  # { [


class ShapeError(Exception):
    """A body past a bound: ``status`` is 400 (malformed shape) or 413 (too large)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Open:
    kind: int  # 0x7B "{" or 0x5B "["
    start: int  # body offset of the bracket
    line: int
    listed: int = 0  # bytes of the objects in this object's arrays: measured as records of their own


@dataclass
class ShapeCheck:
    max_depth: int
    max_record_bytes: int
    max_lines: int | None = None
    what: str = "the pushed body"
    lines: int = 0  # newlines seen
    _offset: int = 0
    _line_start: int = 0
    _line_json: bool | None = None  # does the line start inside JSON or with a bracket? None: not seen yet
    _in_string: bool = False
    _escape: bool = False
    _stack: list[_Open] = field(default_factory=list)
    fast: bool = True  # take whole simple lines at once (tests compare it with the token-by-token path)

    def feed(self, chunk: bytes) -> None:
        """Check the next piece of the body; raises :class:`ShapeError` at the first violation."""
        n = len(chunk)
        pos = 3 if self._offset == 0 and chunk.startswith(_BOM) else 0
        if self._in_string:
            if self._escape:
                pos, self._escape = pos + 1, False
            pos = self._string_rest(chunk, pos)
        if self._line_json is None:
            self._first_byte(chunk, pos)
        while pos < n:
            if (
                self.fast
                and not self._stack
                and not self._in_string
                and self._offset + pos == self._line_start
            ):
                pos = self._simple_lines(chunk, pos)
                if pos >= n:
                    break
            m = _TOKEN.match(chunk, pos)
            assert m is not None  # every match succeeds where it starts
            pos = m.end()
            if m.start(1) < 0:  # a string cut by the chunk's end (it goes on) or by a newline (it ends)
                if m.start(2) < 0:
                    break  # the chunk's end
                if m.end() == n:
                    self._in_string = True
                    self._escape = m.group(2).endswith(b"\\") and _odd_backslashes(m.group(2))
                continue
            c = chunk[m.start(1)]
            at = self._offset + m.start(1)
            if c == 0x0A:
                self._end_line(at)
                self._line_start = at + 1
                self._line_json = True if self._stack else None
                if self._line_json is None:
                    self._first_byte(chunk, m.end())
            elif c in _OPEN:
                if len(self._stack) >= self.max_depth:
                    raise ShapeError(
                        400,
                        f"{self.what}, line {self.lines + 1}: JSON nested deeper than {self.max_depth} "
                        "levels; audit records are far shallower: remove or flatten that record and send again",
                    )
                self._stack.append(_Open(c, at, self.lines + 1))
            elif self._stack:  # a closing bracket
                o = self._stack.pop()
                if o.kind == 0x7B:
                    size = at + 1 - o.start
                    if size - o.listed > self.max_record_bytes:
                        raise self._too_big(o.line)
                    if (
                        len(self._stack) >= 2
                        and self._stack[-1].kind == 0x5B
                        and self._stack[-2].kind == 0x7B
                    ):
                        self._stack[-2].listed += size
        self._offset += n

    def _simple_lines(self, chunk: bytes, pos: int) -> int:
        """Take complete lines from ``pos`` (a line start, outside any JSON) while each is provably within
        the bounds without tokenizing it: short enough, and either free of brackets (text, CSV) or one
        complete JSON value (orjson parses it, so its brackets balance) with fewer openings than the depth
        limit. Returns where the token-by-token path must resume."""
        while True:
            nl = chunk.find(b"\n", pos)
            if nl < 0 or nl - pos > self.max_record_bytes:
                break
            line = chunk[pos:nl]
            opens = line.count(b"{") + line.count(b"[")
            if opens:
                if opens > self.max_depth:
                    break
                try:
                    orjson.loads(line)
                except orjson.JSONDecodeError:
                    break
            elif b"}" in line or b"]" in line:
                break
            self._line_json = None
            self._end_line(self._offset + nl)
            pos = nl + 1
            self._line_start = self._offset + pos
        if self._line_json is None:
            self._first_byte(chunk, pos)
        return pos

    def finish(self) -> None:
        """The body ended: its last line is checked as well."""
        if self._offset > self._line_start:
            self._end_line(self._offset)

    def _string_rest(self, chunk: bytes, pos: int) -> int:
        m = _STRING_REST.match(chunk, pos)
        assert m is not None  # the pattern matches the empty string
        end = m.end()
        if m.start(1) >= 0 or (end < len(chunk) and chunk[end] != 0x5C):
            self._in_string = False  # closed, or ended by its line (a JSON string cannot hold a newline)
            return end
        if end < len(chunk) - 1:  # a backslash before a newline: the string ends with its line
            self._in_string = False
            return end
        self._escape = end == len(chunk) - 1
        return len(chunk)

    def _first_byte(self, chunk: bytes, i: int) -> None:
        m = _FIRST.search(chunk, i)
        if m is not None:
            self._line_json = chunk[m.start()] in _OPEN

    def _end_line(self, at: int) -> None:
        if not self._line_json and at - self._line_start > self.max_record_bytes:
            raise self._too_big(self.lines + 1)
        self.lines += 1
        self._in_string = self._escape = False
        if self.max_lines is not None and self.lines > self.max_lines:
            raise ShapeError(
                413, f"{self.what} has more than {self.max_lines:,} lines; split it into smaller pushes"
            )

    def _too_big(self, line: int) -> ShapeError:
        return ShapeError(
            413,
            f"{self.what}, line {line}: a record larger than {self.max_record_bytes:,} bytes; "
            "send it trimmed, or raise the server's record limit",
        )


def _odd_backslashes(tok: bytes) -> bool:
    return (len(tok) - len(tok.rstrip(b"\\"))) % 2 == 1


def check_bytes(data: bytes, max_depth: int, max_record_bytes: int, what: str = "the body") -> None:
    """One-shot form of :class:`ShapeCheck` for small bodies already in memory."""
    check = ShapeCheck(max_depth, max_record_bytes, what=what)
    check.feed(data)
    check.finish()
