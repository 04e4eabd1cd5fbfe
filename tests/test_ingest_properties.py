"""Property tests of the ingest engine: whatever the bytes, every record is either stored or quarantined."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.sources import files as F
from nhiwatch.store import Store

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
records = st.fixed_dictionaries(
    {
        "action": st.sampled_from(
            ["git.clone", "api.request", "repo.create", "hook.create", "org.add_member"]
        ),
        "@timestamp": st.one_of(st.integers(0, 4_102_444_800_000), texts),
        "_document_id": texts,
        "actor": texts,
        "org": texts,
    },
    optional={
        "repo": texts,
        "token_scopes": texts,
        "status_code": st.integers(100, 599),
        "request_method": texts,
    },
)
lines = st.one_of(
    records.map(json.dumps), st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, min_size=1, max_size=25))
@example([b"\x0b"])  # a line of a vertical tab is blank, as the Python readers skip it
@example([b" \x0c\t"])
def test_every_line_is_stored_duplicate_or_quarantined(items: list[str | bytes]) -> None:
    head = json.dumps({"action": "git.clone", "@timestamp": 1755429083000, "_document_id": "x", "org": "a"})
    body = [head.encode()] + [i.encode() if isinstance(i, str) else i for i in items]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "gh.jsonl"
        path.write_bytes(b"\n".join(body) + b"\n")
        with Store(Path(d) / "s.duckdb") as store:
            report = ingest(store, [path], source="github")
            nonblank = sum(1 for b in body if b.strip())
            assert report.stored + report.duplicates + report.quarantined == nonblank
            assert store.event_count() == report.stored
            times = store.fetchall("SELECT time FROM events WHERE time IS NULL")
            assert times == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(alphabet=st.sampled_from('ab"\\[]{}\x00é'), max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=30,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@settings(max_examples=200, deadline=None)
@given(json_values, st.integers(0, 12))
def test_bounded_json_reading_agrees_with_the_json_module(value: object, wrap: int) -> None:
    """``too_deep`` and ``decode_value`` (no recursion) read what ``json`` reads, brackets in strings included."""
    for _ in range(wrap):
        value = [value]
    text = json.dumps(value, ensure_ascii=False)
    depth = _depth(value)
    for limit in (depth - 1, depth):
        assert F.too_deep(text, limit) == (depth > limit)
    decoded, end = F.decode_value(" " + text + " ,", 1, json.JSONDecoder())
    assert decoded == value and end == len(text) + 1
