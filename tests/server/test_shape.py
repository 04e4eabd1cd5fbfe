"""The streaming shape check agrees with a real JSON parser about nesting depth, whatever the chunking;
brackets and quotes inside strings (escaped or not) never count; records are measured one by one."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.server.shape import ShapeCheck, ShapeError

TRICKY = st.sampled_from(['"', "\\", "[", "]", "{", "}", '\\"', "\\\\", "\n", "é", "\u2028", "x"])
STRINGS = st.lists(TRICKY | st.text(max_size=5), max_size=6).map("".join)
VALUES = st.recursive(
    st.none() | st.integers() | STRINGS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(STRINGS, inner, max_size=3),
    max_leaves=25,
)


def depth(v: Any) -> int:
    if isinstance(v, dict):
        return 1 + max((depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((depth(x) for x in v), default=0)
    return 0


def outcome(data: bytes, cuts: list[int], max_depth: int, max_record: int = 10**9) -> str | int:
    check = ShapeCheck(max_depth, max_record)
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    try:
        for a, b in itertools.pairwise(points):
            check.feed(data[a:b])
        check.finish()
    except ShapeError as exc:
        return exc.status
    return "ok"


@settings(max_examples=400, deadline=None)
@given(
    value=VALUES,
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
    limit=st.integers(1, 6),
)
def test_depth_agrees_with_the_parser_for_any_chunking(value: Any, cuts: list[int], limit: int) -> None:
    data = json.dumps(value, ensure_ascii=False).encode()
    expected: str | int = "ok" if depth(value) <= limit else 400
    assert outcome(data, cuts, limit) == expected
    assert outcome(data, [], limit) == expected
    assert outcome(data, list(range(len(data))), limit) == expected  # one byte at a time


@settings(max_examples=200, deadline=None)
@given(records=st.lists(STRINGS, min_size=1, max_size=6), cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_ndjson_lines_are_counted_and_records_measured(records: list[str], cuts: list[int]) -> None:
    lines = [json.dumps({"r": r, "n": [1, [r]], "o": {"k": r}}).encode() for r in records]
    body = b"\n".join(lines) + b"\n"
    check = ShapeCheck(64, max(len(x) for x in lines))
    check.feed(body)
    check.finish()
    assert check.lines == len(lines)
    assert outcome(body, cuts, 64, max(len(x) for x in lines) - 1) == 413


@pytest.mark.parametrize(
    "body",
    [
        b'"unterminated string with [[[[[[[[[[\nnext line',
        b'text with a stray " quote [[[[[[[[[[\n"and ]]]]]]]] more',
        b"\xef\xbb\xbf[[[]]]",
        b'{"a": "\\\\"}' + b"[" * 5,
    ],
)
def test_text_lines_and_stray_quotes_do_not_confuse_the_depth(body: bytes) -> None:
    assert outcome(body, [], 20) == "ok"
    assert outcome(body, list(range(len(body))), 20) == "ok"


def test_an_export_wrapper_is_measured_without_its_records() -> None:
    element = b'{"eventName": "GetObject", "pad": "' + b"x" * 900 + b'"}'
    wrapper = b'{"Records": [' + b",".join([element] * 50) + b"]}"
    assert outcome(wrapper, [7, 500, 5000], 64, 1000) == "ok"
    big_element = b'{"eventName": "GetObject", "pad": "' + b"x" * 1100 + b'"}'
    assert outcome(b'{"Records": [' + element + b"," + big_element + b"]}", [], 64, 1000) == 413
    # a record with a list of objects (Okta's "target") is still measured for the rest of its bytes
    okta = b'{"target": [{"id": "t1"}], "big": "' + b"y" * 1100 + b'"}'
    assert outcome(okta, [], 64, 1000) == 413


LINES = st.lists(
    VALUES.map(lambda v: json.dumps(v, ensure_ascii=False))
    | STRINGS
    | st.integers(1, 12).map(lambda d: '{"x": ' + "[" * d + "]" * d + "}")
    | st.sampled_from(["[", "]", "{", '{"a": [', "]}", "", "  ", "\r", '"', 'a,b,"c["', "\ufeff{}"]),
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(
    lines=LINES,
    cuts=st.lists(st.integers(0, 10_000), max_size=6),
    limit=st.integers(1, 8),
    record=st.integers(4, 200),
    max_lines=st.none() | st.integers(1, 10),
)
def test_the_line_fast_path_decides_as_the_tokenizer_does(
    lines: list[str], cuts: list[int], limit: int, record: int, max_lines: int | None
) -> None:
    body = "\n".join(lines).encode()
    found = []
    for fast in (True, False):
        check = ShapeCheck(limit, record, max_lines, fast=fast)
        points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
        try:
            for a, b in itertools.pairwise(points):
                check.feed(body[a:b])
            check.finish()
            found.append(("ok", check.lines))
        except ShapeError as exc:
            found.append((exc.status, exc.message))
    assert found[0] == found[1]
