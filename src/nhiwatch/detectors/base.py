"""The contract every detection implements, and the shape of what it returns.

A detection is one module in ``nhiwatch.detectors`` defining ``DETECTOR = Detector(meta, run)``. ``meta`` is
typed metadata (its ``id`` equals the module name, which a test asserts) with references to OWASP NHI Top 10
(2025), NIST CSF 2.0 and MITRE ATT&CK. ``run`` is a pure function of a :class:`DetectContext` returning
:class:`Finding` rows, computed with set-based SQL over the store grouped by integration (no per-event Python).

A finding is one detector's evidence that one integration deviated in one stretch of time; the alert
stage groups findings of an integration and episode into one alert, scores and explains it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from nhiwatch.store import Store

Kind = Literal["behaviour", "posture"]

FINDINGS_DDL = """CREATE TABLE IF NOT EXISTS findings (
    finding_id VARCHAR PRIMARY KEY,   -- stable: hash of detector, integration, first_seen, key
    run_id VARCHAR,
    detector VARCHAR,                 -- DetectorMeta.id
    kind VARCHAR,                     -- behaviour | posture
    integration_id VARCHAR,
    first_seen TIMESTAMP,             -- earliest evidence event
    last_seen TIMESTAMP,              -- latest evidence event
    deviation DOUBLE,                 -- 0..1: how far from normal (1 = far beyond any learned bound)
    observed VARCHAR,                 -- what was seen, with numbers ("41,200 records in 1 h")
    expected VARCHAR,                 -- the baseline it is compared with ("p99 1,150 records/h, max 1,900")
    summary VARCHAR,                  -- one sentence in business terms
    evidence VARCHAR[],               -- metadata_uid of evidence events (capped, most telling first)
    details JSON                      -- detector-specific facts (new values, counts, thresholds used)
)"""


@dataclass(frozen=True)
class Finding:
    detector: str
    integration_id: str
    first_seen: datetime
    last_seen: datetime
    deviation: float
    observed: str
    expected: str
    summary: str
    evidence: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    kind: Kind = "behaviour"


@dataclass(frozen=True)
class DetectorMeta:
    id: str
    title: str
    kind: Kind
    description: str  # what it finds and why it matters
    owasp_nhi: tuple[str, ...]  # e.g. ("NHI5:2025",)
    nist_csf: tuple[str, ...]  # CSF 2.0 subcategories only, e.g. ("DE.CM-03", "DE.AE-02")
    attack: tuple[str, ...]  # ATT&CK technique ids, e.g. ("T1119",)
    params: Mapping[str, float | int | str] = field(default_factory=dict)
    explanation: str = ""  # template over Finding fields: "{observed}, against {expected}"


@dataclass
class DetectContext:
    """What a detection may read: the store, the window being scored, and its parameters."""

    store: Store
    since: datetime  # window start (inclusive); baselines are learned from events before it
    until: datetime  # window end (exclusive)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # per detector id overrides

    def param(self, meta: DetectorMeta, name: str) -> Any:
        return self.params.get(meta.id, {}).get(name, meta.params[name])


@dataclass(frozen=True)
class Detector:
    meta: DetectorMeta
    run: Callable[[DetectContext], list[Finding]]
