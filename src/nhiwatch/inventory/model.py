"""Pydantic models of the inventory file. ``extra="forbid"`` everywhere, so a typo'd key is an error."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal[
    "oauth_app",
    "github_app",
    "pat",
    "api_token",
    "service_principal",
    "iam_role",
    "bot",
    "webhook",
    "ci_workflow",
    "service_account",
]
RiskTier = Literal["low", "medium", "high", "critical"]
Sensitivity = Literal["public", "internal", "confidential", "restricted"]

IDENTITY_KEYS = (
    "client_id",
    "app_id",
    "app_name",
    "token_id",
    "actor",
    "installation_id",
    "access_key_id",
    "role_arn",
    "src_ip",
)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
EVERY = re.compile(r"^(\d+)\s*(s|m|h|d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Identity(_Strict):
    """How an integration appears in one source: exactly one identity key, optionally scoped to a source."""

    source: str | None = None
    client_id: str | None = None
    app_id: str | None = None
    app_name: str | None = None
    token_id: str | None = None
    actor: str | None = None
    installation_id: str | None = None
    access_key_id: str | None = None
    role_arn: str | None = None
    src_ip: str | None = None

    @field_validator(*IDENTITY_KEYS, mode="before")
    @classmethod
    def _as_text(cls, v: object) -> object:
        return None if v is None else str(v)

    @field_validator("source")
    @classmethod
    def _known_source(cls, v: str | None) -> str | None:
        if v is not None:
            from nhiwatch.inventory.resolve import event_sources

            event_sources(v)
        return v

    @field_validator("src_ip")
    @classmethod
    def _ip_or_network(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ipaddress.ip_network(v, strict=False)
            except ValueError as exc:
                raise ValueError(f"{v!r} is not an IP address or CIDR network") from exc
        return v

    @model_validator(mode="after")
    def _one_key(self) -> Identity:
        keys = [k for k in IDENTITY_KEYS if getattr(self, k) is not None]
        if len(keys) != 1:
            raise ValueError(
                f"an identity needs exactly one of {', '.join(IDENTITY_KEYS)} (got {', '.join(keys) or 'none'});"
                " list several identities for several keys"
            )
        return self

    @property
    def key(self) -> str:
        return next(k for k in IDENTITY_KEYS if getattr(self, k) is not None)

    @property
    def value(self) -> str:
        return str(getattr(self, self.key))


class Schedule(_Strict):
    """When an integration is expected to run, in its own time zone."""

    timezone: str = "UTC"
    days: str = "mon-sun"
    hours: str = "00:00-24:00"
    every: str | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Europe/Paris)") from exc
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: str) -> str:
        parse_days(v)
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        if not HOURS.match(v.replace(" ", "")):
            raise ValueError(f"hours must look like 07:00-19:00, got {v!r}")
        return v.replace(" ", "")

    @field_validator("every")
    @classmethod
    def _every(cls, v: str | None) -> str | None:
        if v is not None and not EVERY.match(v.strip()):
            raise ValueError(f"every must look like 15m, 1h or 1d, got {v!r}")
        return v

    def day_set(self) -> frozenset[int]:
        """ISO weekdays (1 = Monday) the schedule covers."""
        return parse_days(self.days)

    def hour_range(self) -> tuple[float, float]:
        m = HOURS.match(self.hours)
        assert m
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        return h1 + m1 / 60, h2 + m2 / 60

    def every_seconds(self) -> int | None:
        if self.every is None:
            return None
        m = EVERY.match(self.every.strip())
        assert m
        return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def parse_days(text: str) -> frozenset[int]:
    """``mon-fri`` / ``mon,wed,fri`` / ``daily`` / ``weekdays`` -> ISO weekday numbers.

    >>> sorted(parse_days("fri-mon"))
    [1, 5, 6, 7]
    """
    t = text.strip().lower()
    if t in ("daily", "all", "every day", "mon-sun"):
        return frozenset(range(1, 8))
    if t == "weekdays":
        return frozenset(range(1, 6))
    if t == "weekends":
        return frozenset({6, 7})
    out: set[int] = set()
    for part in t.split(","):
        part = part.strip()
        a, _, b = part.partition("-")
        if a not in DAY_NAMES or (b and b not in DAY_NAMES):
            raise ValueError(f"days must be like mon-fri or mon,wed,fri; got {text!r}")
        i, j = DAY_NAMES.index(a) + 1, DAY_NAMES.index(b or a) + 1
        out.update(range(i, j + 1) if i <= j else [*range(i, 8), *range(1, j + 1)])
    return frozenset(out)


class BurstyWindow(_Strict):
    """A recurring window in which bursts are normal (month-end closes, quarter ends)."""

    calendar: Literal["month_end", "month_start", "quarter_end", "year_end", "weekly"]
    business_days: int = Field(default=3, ge=1, le=10)
    weekday: str | None = None  # for calendar: weekly


class Integration(_Strict):
    """One integration the team knows about, with its owner and its purpose."""

    id: str
    name: str
    owner: str | None = None
    purpose: str | None = None
    kind: Kind
    vendor: str | None = None
    risk_tier: RiskTier = "medium"
    data_sensitivity: Sensitivity = "internal"
    partner_managed: bool = False
    identities: list[Identity] = Field(default_factory=list)
    allowed_destinations: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    schedule: Schedule | None = None
    bursty_windows: list[BurstyWindow] = Field(default_factory=list)
    # public holidays and business days follow this country (ISO 3166, optionally with a subdivision such
    # as DE-BY), read in the schedule's time zone; the inventory's ``country`` when not given
    country: str | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        return None if v is None else _known_country(v)

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG.match(v):
            raise ValueError(f"id must be a lower-case slug (a-z, 0-9, '.', '_', '-'), got {v!r}")
        return v

    @field_validator("owner", "purpose", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @property
    def ownerless(self) -> bool:
        return self.owner is None


def _known_country(v: str) -> str:
    from nhiwatch.baseline.calendar import validate_country

    return validate_country(v)


class Inventory(_Strict):
    # the company-wide calendar for integrations that declare no ``country`` of their own
    country: str | None = None
    integrations: list[Integration] = Field(default_factory=list)

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        return None if v is None else _known_country(v)

    @model_validator(mode="after")
    def _unique(self) -> Inventory:
        seen: dict[str, int] = {}
        for i, integ in enumerate(self.integrations):
            if integ.id in seen:
                raise ValueError(f"duplicate integration id {integ.id!r} (entries {seen[integ.id]} and {i})")
            seen[integ.id] = i
        claimed: dict[tuple[str | None, str, str], str] = {}
        for integ in self.integrations:
            for ident in integ.identities:
                k = (ident.source, ident.key, ident.value)
                if k in claimed and claimed[k] != integ.id:
                    raise ValueError(
                        f"identity {ident.key}={ident.value!r} is claimed by both {claimed[k]!r} and {integ.id!r}"
                    )
                claimed[k] = integ.id
        return self

    def get(self, integration_id: str) -> Integration | None:
        return next((i for i in self.integrations if i.id == integration_id), None)
