"""The alert configuration: grouping gap, scoring weights and severity thresholds, as a strict pydantic model.

A default ships in the package (``default.yaml``); ``--config FILE`` replaces it. Unknown keys and
impossible thresholds (critical below high, anything above 100) are :class:`~nhiwatch.errors.ConfigError`,
and so are detector parameters (``params``) that the detector does not declare in its metadata, or whose
value is not of the declared kind: each problem names the file, line, detector, key and the known keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nhiwatch.errors import ConfigError

TIERS = ("low", "medium", "high", "critical")
SENSITIVITIES = ("public", "internal", "confidential", "restricted")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    """Minimum scores for each severity above ``low``."""

    medium: float = Field(ge=0, le=100)
    high: float = Field(ge=0, le=100)
    critical: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.medium <= self.high <= self.critical:
            raise ValueError(
                f"thresholds must satisfy medium <= high <= critical, got medium={self.medium:g}, "
                f"high={self.high:g}, critical={self.critical:g}"
            )
        return self


LEVELS = ("low", "medium", "high", "critical")
STORIES = ("access", "reach", "volume", "timing")
Level = Literal["low", "medium", "high", "critical"]


class Severity(_Strict):
    default: Thresholds
    by_risk_tier: dict[str, Thresholds] = Field(default_factory=dict)
    # what the evidence means, whatever the score: a story's strong finding makes the alert at least this
    floors: dict[str, Level] = Field(default_factory=dict)
    floor_min_deviation: float = Field(default=0.25, ge=0, le=1)
    critical_min_stories: int = Field(default=2, ge=1, le=4)

    @model_validator(mode="after")
    def _tiers(self) -> Severity:
        bad = sorted(set(self.by_risk_tier) - set(TIERS))
        if bad:
            raise ValueError(f"unknown risk tier(s) {', '.join(bad)}; expected {', '.join(TIERS)}")
        return self

    @field_validator("floors")
    @classmethod
    def _stories(cls, floors: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(floors) - set(STORIES))
        if unknown:
            raise ValueError(
                f"unknown kind(s) of evidence {', '.join(unknown)}; expected {', '.join(STORIES)}"
            )
        return floors

    def for_tier(self, tier: str | None) -> Thresholds:
        return self.by_risk_tier.get(tier or "medium", self.default)


class Scoring(_Strict):
    risk_tier: dict[str, float]
    data_sensitivity: dict[str, float]
    ticket_factor: float = Field(default=0.5, ge=0, le=1)
    company_event_factor: float = Field(default=0.8, ge=0, le=1)
    no_owner_points: float = Field(default=10, ge=0, le=100)
    discovered_points: float = Field(default=10, ge=0, le=100)
    partner_managed_points: float = Field(default=5, ge=0, le=100)
    allowance_tolerance: float = Field(default=1.25, ge=1)
    allowance_days: int = Field(default=90, ge=1, le=3650)

    @model_validator(mode="after")
    def _complete(self) -> Scoring:
        for name, keys in (("risk_tier", TIERS), ("data_sensitivity", SENSITIVITIES)):
            given = getattr(self, name)
            missing, extra = set(keys) - set(given), set(given) - set(keys)
            if missing or extra:
                raise ValueError(f"scoring.{name} needs exactly {', '.join(keys)}")
            if any(v < 0 for v in given.values()):
                raise ValueError(f"scoring.{name} weights must not be negative")
        return self


class Grouping(_Strict):
    gap_hours: float = Field(default=6, gt=0, le=24 * 30)


class Detection(_Strict):
    history_days: int = Field(default=28, ge=1, le=366)
    step_hours: float = Field(default=24, gt=0)
    default_window_hours: float = Field(default=24, gt=0)


class Budget(_Strict):
    """Behaviour alerts a day each risk tier may raise at full severity (see :mod:`nhiwatch.alerts.budget`)."""

    enabled: bool = True
    per_100_integration_days: dict[str, float] = Field(default_factory=dict)
    min_per_day: int = Field(default=1, ge=0, le=10_000)
    demote_to: Level = "low"
    protect: Level = "high"  # alerts at or above this are never demoted

    @field_validator("per_100_integration_days")
    @classmethod
    def _rates(cls, rates: dict[str, float]) -> dict[str, float]:
        bad = sorted(set(rates) - set(TIERS))
        if bad:
            raise ValueError(f"unknown risk tier(s) {', '.join(bad)}; expected {', '.join(TIERS)}")
        for tier, rate in rates.items():
            if not (math.isfinite(rate) and rate >= 0):
                raise ValueError(f"the budget of tier {tier} must be a number of alerts >= 0, got {rate!r}")
        return rates

    @model_validator(mode="after")
    def _sane(self) -> Budget:
        if LEVELS.index(self.demote_to) >= LEVELS.index(self.protect):
            raise ValueError(f"demote_to ({self.demote_to}) must be below protect ({self.protect})")
        return self


class AlertConfig(_Strict):
    detection: Detection = Detection()
    budget: Budget = Budget()
    params: dict[str, dict[str, float | int | str]] = Field(default_factory=dict)  # per detector id overrides
    grouping: Grouping = Grouping()
    scoring: Scoring
    severity: Severity


def default_config() -> AlertConfig:
    text = resources.files("nhiwatch.alerts").joinpath("default.yaml").read_text(encoding="utf-8")
    return _parse(text, "default.yaml (packaged)")


def load_config(path: str | Path | None = None) -> AlertConfig:
    """The packaged default, or ``path`` (a complete config); a bad file raises :class:`ConfigError`."""
    if path is None:
        return default_config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the config ({exc})") from exc
    return _parse(text, str(p))


def _parse(text: str, where: str) -> AlertConfig:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{where}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the config must be a mapping (detection, grouping, scoring, severity)")
    try:
        cfg = AlertConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(str(x) for x in err["loc"])
            field = ".".join(loc) or "(top level)"
            msg = "unknown key (typo?)" if err["type"] == "extra_forbidden" else err["msg"]
            line = ""
            for n in range(len(loc), 0, -1):  # the deepest key the YAML has (a missing key: its parent)
                line = _line(text, loc[:n])
                if line:
                    break
            problems.append(f"  {where}{line}: {field}: {msg.removeprefix('Value error, ')}")
        raise ConfigError(f"{where}: invalid alert config:\n" + "\n".join(problems)) from None
    bad = param_problems(cfg.params)
    if bad:
        lines = [f"  {where}{_line(text, path)}: {'.'.join(path)}: {msg}" for path, msg in bad]
        raise ConfigError(f"{where}: invalid alert config:\n" + "\n".join(lines))
    return cfg


def param_problems(params: Mapping[str, Mapping[str, Any]]) -> list[tuple[tuple[str, ...], str]]:
    """(key path, problem) for every detector parameter the detector does not declare, or of the wrong kind."""
    from nhiwatch.detectors.registry import all_detectors  # late: the registry imports every detector

    declared = {k: d.meta.params for k, d in all_detectors().items()}
    out: list[tuple[tuple[str, ...], str]] = []
    for det, values in params.items():
        if det not in declared:
            out.append((("params", det), f"unknown detector (known: {', '.join(sorted(declared))})"))
            continue
        known = declared[det]
        for key, value in values.items():
            path = ("params", det, key)
            if key not in known:
                names = ", ".join(sorted(known)) or "none: it takes no parameters"
                out.append((path, f"detector {det} has no parameter {key!r} (known: {names})"))
                continue
            problem = _kind_problem(known[key], value)
            if problem:
                out.append((path, f"detector {det}: {problem}"))
    return out


def _kind_problem(default: Any, value: Any) -> str | None:
    if isinstance(default, str):
        return None if isinstance(value, str) else f"expected text, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {value!r}"
    if not math.isfinite(value):
        return f"expected a finite number, got {value!r}"
    if isinstance(default, int) and not float(value).is_integer():
        return f"expected a whole number, got {value!r}"
    return None


def _line(text: str, path: tuple[str, ...]) -> str:
    """``:N`` for the line of the key at ``path`` in the YAML ``text``, or ``""`` if it cannot be found."""
    try:
        node: Any = yaml.compose(text)
    except yaml.YAMLError:
        return ""
    mark = None
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            return ""
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                mark, node = k.start_mark, v
                break
        else:
            return ""
    return f":{mark.line + 1}" if mark is not None else ""
