"""Property tests of the ingest engine: whatever the bytes, every record is either stored or quarantined."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
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
