"""The simulator's internal data model: integrations, the identities they show, and abstract events.

An :class:`Ev` is vendor-neutral ("a Salesforce REST query by this connected app at this time"); the
writers in :mod:`nhiwatch.simulate.writers` turn lists of them into each vendor's native records.
Events are plain slotted objects rather than dicts so that a run of a few million stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Egress:
    """Where a self-hosted integration's worker sits and which sensor sees its traffic."""

    sensor: str  # zeek | vpcflow | squid
    src_ip: str
    hosts: list[str]  # destinations it normally talks to
    eni: str = ""


@dataclass
class Integration:
    """One integration (or a shadow one, absent from the inventory) and its hidden behaviour parameters."""

    id: str
    name: str
    owner: str
    purpose: str
    kind: str
    vendor: str
    risk_tier: str
    sensitivity: str
    partner_managed: bool
    source: str  # primary SaaS source ("" for egress-only workers)
    ids: dict[str, str]  # identity keys in the primary source (client_id, app_name, ...)
    scopes: list[str]
    destinations: list[str]
    tz: str
    pattern: str  # business | always | cadence | nightly | event
    hours: tuple[int, int] = (8, 18)
    weekdays: str = "mon-fri"
    every_min: int = 0
    nightly_at: tuple[int, int] = (2, 0)
    rate: float = 1.0  # sessions per active hour (business/always/event) or ops per run (nightly)
    ops: float = 3.0  # mean operations per session
    objects: list[str] = field(default_factory=list)  # repos, sObjects, buckets, API routes ...
    ips: list[str] = field(default_factory=list)  # addresses its SaaS calls come from
    ua: str = ""
    egress: Egress | None = None
    month_end: str = ""  # "" | declared | undeclared
    month_end_days: int = 3
    month_end_factor: float = 3.0
    quarter_end_factor: float = 1.0  # a quarter close on top of the month end (seasonal companies)
    country: str = ""  # public holidays of this country (seasonal companies); else the time zone's region
    catch_up_share: float = 0.0  # share of a held-back day worked off on the business day after holidays
    rotation_days: int = 0
    fail_rate: float = 0.01
    growth: float = 0.0  # relative growth per day
    shadow: bool = False
    tenant: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def schedule(self) -> dict[str, str]:
        if self.pattern == "cadence":
            return {"timezone": self.tz, "every": f"{self.every_min}m"}
        if self.pattern == "nightly":
            h, m = self.nightly_at
            return {"timezone": self.tz, "days": self.weekdays, "at": f"{h:02d}:{m:02d}"}
        if self.pattern == "always":
            return {"timezone": self.tz, "days": "mon-sun", "hours": "00:00-24:00"}
        return {
            "timezone": self.tz,
            "days": self.weekdays,
            "hours": f"{self.hours[0]:02d}:00-{self.hours[1]:02d}:00",
        }


class Ev:
    """One abstract event. ``op`` is a per-source operation key the writer understands."""

    __slots__ = ("cred", "extra", "integ", "ip", "n", "op", "size", "source", "status", "target", "ts", "ua")

    def __init__(
        self,
        ts: float,
        source: str,
        op: str,
        integ: Integration,
        *,
        cred: str = "",
        ip: str = "",
        ua: str = "",
        target: str = "",
        n: int = 0,
        size: int = 0,
        status: int = 200,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.ts = ts
        self.source = source
        self.op = op
        self.integ = integ
        self.cred = cred
        self.ip = ip
        self.ua = ua
        self.target = target
        self.n = n
        self.size = size
        self.status = status
        self.extra = extra


@dataclass
class Ticket:
    id: str
    start: float
    end: float
    integration: str
    summary: str


@dataclass
class Episode:
    episode_id: str
    family: str
    integration_id: str
    start: float
    end: float
    description: str
    indicators: dict[str, Any]
