"""Documents are parsed with the cyclic collector's thresholds raised, and the thresholds are restored after,
also when the ingest fails."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path
from typing import Any

import pytest

from nhiwatch import ingest as I
from nhiwatch.sources import reading as R
from nhiwatch.store import Store

PAGE = Path(__file__).resolve().parent / "fixtures" / "gws" / "reports" / "001.json"


def test_thresholds_are_raised_while_parsing_and_restored_after(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(PAGE, tmp_path / "page.json")
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    parse = R.python_records

    def spy(path: Path, src: Any) -> Any:
        seen.append(gc.get_threshold())
        return parse(path, src)

    monkeypatch.setattr(R, "python_records", spy)
    report = I.ingest(store, [tmp_path])
    assert report.stored > 0
    assert seen and all(t[0] > before[0] for t in seen)
    assert gc.get_threshold() == before


def test_thresholds_are_restored_when_parsing_fails(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(PAGE, tmp_path / "page.json")
    before = gc.get_threshold()

    def broken(path: Path, src: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(R, "python_records", broken)
    with pytest.raises(KeyboardInterrupt):
        I.ingest(store, [tmp_path])
    assert gc.get_threshold() == before
