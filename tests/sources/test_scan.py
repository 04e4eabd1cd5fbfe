"""Finding the files under a folder: the order and the skipped paths are those of a plain os.walk, also for
links, pipes, hidden and ignored names, and names that sort differently as text than part by part."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nhiwatch.sources import files as F


def _reference(root: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The walk as it was written first: os.walk, every file stat'ed after sorting."""
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    found: list[Path] = []

    def unreadable(err: OSError) -> None:
        skipped.append((Path(err.filename or root), f"cannot read folder: {err.strerror or err}"))

    base = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in list(dirnames):
            if (here / d).is_symlink():
                skipped.append((here / d, "link to a folder, not followed (it could loop)"))
        for name in filenames:
            if name.startswith(".") or Path(name).suffix in F.IGNORED_SUFFIXES:
                continue
            found.append(here / name)
    for f in sorted(found):
        why = F._not_a_file(f, inside=base)
        if why:
            skipped.append((f, why))
        else:
            files.append(f)
    return files, skipped


def _touch(path: Path, text: str = '{"a": 1}\n') -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_folder_is_walked_as_os_walk_walks_it(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    outside = tmp_path / "outside.json"
    _touch(outside)
    for name in ("a/b.json", "a-b/x.json", "a.b/y.json", "a/b/c/d/e.json", "A/z.json", "b.json.gz", "c.csv"):
        _touch(root / name)
    _touch(root / ".hidden/seen.json")
    _touch(root / ".dotfile.json")
    _touch(root / "notes.md")
    _touch(root / "inventory.yaml")
    (root / "folder-link").symlink_to(root / "a", target_is_directory=True)
    (root / ".hidden-link").symlink_to(root / "a", target_is_directory=True)
    (root / "inside-link.json").symlink_to(root / "c.csv")
    (root / "outside-link.json").symlink_to(outside)
    (root / "broken-link.json").symlink_to(root / "missing.json")
    (root / "loop.json").symlink_to(root / "loop.json")
    os.mkfifo(root / "a" / "pipe.json")
    locked = root / "locked"
    _touch(locked / "secret.json")
    locked.chmod(0)
    try:
        got = F.scan([root])
        assert got == _reference(root)
    finally:
        locked.chmod(0o755)
    files, skipped = got
    names = [str(p.relative_to(root)) for p in files]
    assert names.index("a/b.json") < names.index("a-b/x.json")  # part by part, not as text ('-' < '/')
    reasons = {str(p.relative_to(root)): why for p, why in skipped}
    assert reasons["folder-link"].startswith("link to a folder")
    assert reasons["a/pipe.json"].startswith("not a regular file")
    assert "outside" in reasons["outside-link.json"] and reasons["broken-link.json"] == "broken link"
    assert "inside-link.json" in names and ".hidden/seen.json" not in names and "notes.md" not in names
    if os.geteuid() != 0:  # root reads a folder whatever its mode
        assert reasons["locked"].startswith("cannot read folder")
