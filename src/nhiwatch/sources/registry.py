"""Finds every source module under ``nhiwatch.sources`` and picks the one that fits a file.

A module registers a stream by defining ``SOURCE`` (or ``SOURCES``, a tuple); nothing else needs to be
edited to add a vendor. Detection asks every source to score a sample of the file and takes the best.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import replace
from functools import cache
from pathlib import Path

from nhiwatch.errors import SourceError
from nhiwatch.sources.base import Sample, Source

# A module that declares streams says so at the start of a line; the others (collectors, their HTTP clients) are
# not imported just to find that out: a file ingest has no use for httpx (~0.07 s to import).
_DECLARES = re.compile(rb"^SOURCES?\b", re.MULTILINE)


def _declares(info: pkgutil.ModuleInfo) -> bool:
    """Whether ``info``'s module may declare a stream (True when its text cannot be read: import it to see)."""
    if info.ispkg:
        return True  # walk_packages has imported it already
    try:
        spec = info.module_finder.find_spec(info.name, None)
        origin = spec.origin if spec is not None else None
        if origin is None or not origin.endswith(".py"):
            return True
        return _DECLARES.search(Path(origin).read_bytes()) is not None
    except (OSError, ImportError, AttributeError):
        return True


@cache
def all_sources() -> tuple[Source, ...]:
    import nhiwatch.sources as pkg

    found: dict[str, Source] = {}
    for info in pkgutil.walk_packages(pkg.__path__, prefix="nhiwatch.sources."):
        if not _declares(info):
            continue
        module = importlib.import_module(info.name)
        declared = list(getattr(module, "SOURCES", ()))
        if hasattr(module, "SOURCE"):
            declared.append(module.SOURCE)
        for src in declared:
            if src.id in found:
                raise SourceError(f"source id {src.id} is declared twice ({info.name})")
            found[src.id] = src
    return tuple(sorted(found.values(), key=lambda s: s.id))


def names() -> list[str]:
    """Every name ``--source`` accepts: a stream id (``github.audit_log``) or a vendor name with one stream."""
    ids = [s.id for s in all_sources()]
    vendors = sorted({s.name for s in all_sources()})
    return vendors + ids


def get(name: str) -> list[Source]:
    """The sources a ``--source`` value names: one stream, or every stream of a vendor."""
    matches = [s for s in all_sources() if name in (s.id, s.name)]
    if not matches:
        raise SourceError(f"unknown source {name!r}; known: {', '.join(names())}")
    return matches


def detect(sample: Sample, candidates: tuple[Source, ...] | list[Source] | None = None) -> Source | None:
    """The best-scoring source for a sample, or None when no source claims it."""
    best: tuple[float, Source] | None = None
    for src in candidates if candidates is not None else all_sources():
        try:
            score = src.sniff(sample)
        except Exception:  # a sniffer tripped by odd input just does not claim the file
            score = 0.0
        if score > 0 and (best is None or score > best[0]):
            best = (score, src)
    return None if best is None else best[1]


AGREED = 3  # this many views claimed by one source, and none by another, settle the format


def recognise(
    sample: Sample, candidates: tuple[Source, ...] | list[Source] | None = None
) -> tuple[Source, Sample] | None:
    """The source most of a file's first records belong to, and the view of the sample that showed it.

    The file as sampled is asked first, then each of its first lines as if it were the first: the source
    claiming the most of them wins (ties: the earliest). A malformed, wrong-shaped or oversized first
    record therefore costs that record, not the file.
    """
    head = detect(sample, candidates)
    if head is not None and (head.layout == "csv" or (head.text is not None and head.text.header_names)):
        return head, sample  # a header is only ever the first line
    # JSON lines vote; plain text lines only when nothing else can (a text log with a garbled first line).
    rest = [(line, value) for line, value in sample.lines[1:] if value is not None]
    if head is None and not rest:
        rest = list(sample.lines[1:])
    views = [sample] + [replace(sample, first_record=value, first_line=line) for line, value in rest]
    votes: dict[str, int] = {}
    first_view: dict[str, tuple[Source, Sample]] = {}
    for i, view in enumerate(views):
        src = head if i == 0 else detect(view, candidates)
        if src is not None:
            votes[src.id] = votes.get(src.id, 0) + 1
            first_view.setdefault(src.id, (src, view))
            if len(votes) == 1 and votes[src.id] >= AGREED:
                break
    if not votes:
        return None
    winner = max(votes, key=lambda sid: votes[sid])  # max keeps the first of equal counts (insertion order)
    return first_view[winner]
