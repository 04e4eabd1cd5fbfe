"""Templates of real-world integrations the simulated company runs, loaded from ``catalog.yaml``.

Each template says which SaaS log it shows up in, how it is built (partner-hosted or our own worker),
what it touches and when it runs. :mod:`nhiwatch.simulate.company` instantiates them with variations
(team, region, time zone, volume) until the requested number of integrations is reached. Templates
under ``shadow`` become integrations that act in the logs but are missing from the inventory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Template:
    slug: str
    source: str  # primary SaaS source, "" for egress-only workers
    kind: str
    vendor: str
    app: str  # how the vendor's log names the app / principal
    name: str
    purpose: str
    scopes: tuple[str, ...]
    destinations: tuple[str, ...]
    patterns: tuple[str, ...]  # candidate schedules: business | always | cadence | nightly | event
    objects: tuple[str, ...]
    ua: str
    hosted: str = "partner"  # partner | self
    tier: str = "medium"
    sensitivity: str = "internal"
    finance: bool = False  # month-end exports
    rate: float = 2.0  # sessions per active hour, or operations per nightly run
    ops: float = 4.0  # operations per session
    api_host: str = ""
    weight: float = 1.0
    extra: dict[str, str] = field(default_factory=dict)


def _template(row: dict[str, Any]) -> Template:
    row = dict(row)
    for key in ("scopes", "destinations", "patterns", "objects"):
        row[key] = tuple(row.get(key) or ())
    for key in ("source", "name", "purpose", "ua"):
        row.setdefault(key, "")
    return Template(**row)


_DATA = yaml.safe_load(
    resources.files("nhiwatch.simulate").joinpath("catalog.yaml").read_text(encoding="utf-8")
)
TEMPLATES: tuple[Template, ...] = tuple(_template(r) for r in _DATA["templates"])
SHADOW: tuple[Template, ...] = tuple(_template(r) for r in _DATA["shadow"])
TIMEZONES: tuple[str, ...] = tuple(_DATA["timezones"])
TEAMS: tuple[str, ...] = tuple(_DATA["teams"])
QUALIFIERS: tuple[str, ...] = tuple(_DATA["qualifiers"])
