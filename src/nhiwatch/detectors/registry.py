"""Discovering detections and running them over a window.

Every module of this package with a ``DETECTOR`` is a detection; its ``meta.id`` must equal the module
name (asserted at load). ``run_all`` only reads learned baselines: learn them first
(:func:`nhiwatch.baseline.learn`, usually with ``until = ctx.since``). Every behaviour finding leaves with
``details.ticket_id``: the change ticket (or company-wide event) covering it, or None.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

import nhiwatch.detectors as _pkg
from nhiwatch.detectors._common import annotate_tickets
from nhiwatch.detectors.base import DetectContext, Detector, Finding
from nhiwatch.errors import NhiwatchError

_SKIP = {"base", "registry"}


def all_detectors() -> dict[str, Detector]:
    """Detector id -> detector, in module-name order."""
    out: dict[str, Detector] = {}
    for mod in sorted(pkgutil.iter_modules(_pkg.__path__), key=lambda m: m.name):
        if mod.name in _SKIP or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_pkg.__name__}.{mod.name}")
        det = getattr(module, "DETECTOR", None)
        if not isinstance(det, Detector):
            continue
        if det.meta.id != mod.name:
            raise AssertionError(f"detector id {det.meta.id!r} differs from its module name {mod.name!r}")
        out[det.meta.id] = det
    return out


def run_all(ctx: DetectContext, only: Iterable[str] | None = None) -> list[Finding]:
    """Run every detection (or those named in ``only``) over ``ctx``'s window; findings in detector order."""
    dets = all_detectors()
    names = list(dets) if only is None else list(only)
    unknown = [n for n in names if n not in dets]
    if unknown:
        raise NhiwatchError(f"unknown detector(s): {', '.join(unknown)} (known: {', '.join(dets)})")
    findings: list[Finding] = []
    for name in names:
        findings.extend(dets[name].run(ctx))
    return annotate_tickets(ctx.store, findings)
