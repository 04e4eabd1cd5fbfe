"""Finds every source module under ``nhiwatch.sources`` and picks the one that fits a file.

A module registers a stream by defining ``SOURCE`` (or ``SOURCES``, a tuple); nothing else needs to be
edited to add a vendor. Detection asks every source to score a sample of the file and takes the best.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from nhiwatch.errors import SourceError
from nhiwatch.sources.base import Sample, Source


@cache
def all_sources() -> tuple[Source, ...]:
    import nhiwatch.sources as pkg

    found: dict[str, Source] = {}
    for info in pkgutil.walk_packages(pkg.__path__, prefix="nhiwatch.sources."):
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
        score = src.sniff(sample)
        if score > 0 and (best is None or score > best[0]):
            best = (score, src)
    return None if best is None else best[1]
