"""The documentation generated from code is current."""

from __future__ import annotations

from pathlib import Path

from nhiwatch.sources.doc import render

DOCS = Path(__file__).parent.parent / "docs"


def test_sources_doc_is_current() -> None:
    expected = render(DOCS)
    assert (DOCS / "sources.md").read_text(encoding="utf-8") == expected, (
        "docs/sources.md is stale: run `python -m nhiwatch.sources.doc docs/sources.md`"
    )
