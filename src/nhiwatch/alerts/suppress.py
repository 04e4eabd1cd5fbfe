"""Suppression rules: known, accepted behaviour that should not alert, each with a reason, owner and expiry.

A rule scopes by integration and/or detector (shell-style patterns) and/or a field match on the finding
(a details key, or ``observed`` / ``summary``). A rule that matches no stored finding is refused when it
is added, and a rule that matched nothing in a run is reported in the run's result.

Fleet context sets findings aside the same way: a finding a fleet event explains (a vendor outage's failures,
the catch-up that repays its backlog: ``details.fleet_explained``, see :mod:`nhiwatch.fleet`) is suppressed by
``fleet:<event id>`` — kept and shown with the event, not raised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nhiwatch.alerts import tables
from nhiwatch.alerts.model import finding_id
from nhiwatch.detectors.base import Finding
from nhiwatch.errors import ConfigError
from nhiwatch.redact import redact, redact_value
from nhiwatch.store import Store

FLEET_PREFIX = "fleet:"


class SuppressionRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: str = ""
    integration_id: str | None = None
    detector: str | None = None
    match: dict[str, str] = Field(default_factory=dict)
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    expires: datetime | None = None

    @model_validator(mode="after")
    def _scoped(self) -> SuppressionRule:
        if not (self.integration_id or self.detector or self.match):
            raise ValueError("a suppression rule needs a scope: an integration, a detector or a field match")
        return self

    def with_id(self) -> SuppressionRule:
        if self.rule_id:
            return self
        key = orjson.dumps([self.integration_id, self.detector, sorted(self.match.items())]).decode()
        return self.model_copy(update={"rule_id": "sr-" + hashlib.sha1(key.encode()).hexdigest()[:10]})

    def active(self, now: datetime) -> bool:
        return self.expires is None or self.expires > now

    def matches(self, f: Finding) -> bool:
        if self.integration_id and not fnmatchcase(f.integration_id, self.integration_id):
            return False
        if self.detector and not fnmatchcase(f.detector, self.detector):
            return False
        return all(_field_matches(f, k, pattern) for k, pattern in self.match.items())


def _field_matches(f: Finding, key: str, pattern: str) -> bool:
    value: Any = getattr(f, key) if key in ("observed", "expected", "summary") else f.details.get(key)
    if value is None:
        return False
    values = value if isinstance(value, list | tuple | set) else [value]
    return any(fnmatchcase(str(v), pattern) for v in values)


def make_rule(**fields: Any) -> SuppressionRule:
    """Validate a rule from keyword fields; raises :class:`ConfigError` with every problem.

    The reason and owner are free text people type; a secret pasted there is masked before it is stored.
    """
    for key in ("reason", "owner"):
        if isinstance(fields.get(key), str):
            fields[key] = redact(fields[key])
    try:
        return SuppressionRule(**fields).with_id()
    except ValidationError as exc:
        msgs = [
            f"{'.'.join(map(str, e['loc'])) or 'rule'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise ConfigError("invalid suppression rule: " + "; ".join(msgs)) from None


def load_rules(store: Store) -> list[SuppressionRule]:
    tables.ensure(store)
    return [
        SuppressionRule(
            rule_id=r["rule_id"],
            integration_id=r["integration_id"],
            detector=r["detector"],
            match=orjson.loads(r["match"]) if r["match"] else {},
            reason=r["reason"],
            owner=r["owner"],
            expires=r["expires"],
        )
        for r in store.records("SELECT * FROM suppressions ORDER BY created_at, rule_id")
    ]


def add_rule(store: Store, rule: SuppressionRule, *, now: datetime, by: str) -> int:
    """Store ``rule`` after checking it would match something; returns how many stored findings it matches."""
    tables.ensure(store)
    rule = rule.with_id()
    if rule.expires is not None and rule.expires <= now:
        raise ConfigError(
            f"suppression rule expires {rule.expires:%Y-%m-%d %H:%M} UTC, which is already past"
        )
    stored = tables.load_findings(store, [r[0] for r in store.fetchall("SELECT finding_id FROM findings")])
    if rule.integration_id and not any(fnmatchcase(f.integration_id, rule.integration_id) for f in stored):
        known = store.scalar("SELECT count(*) FROM integrations WHERE id = ?", [rule.integration_id])
        what = "has no findings" if known else "is not a known integration"
        raise ConfigError(f"suppression rule matches nothing: integration {rule.integration_id!r} {what}")
    if rule.detector and not any(fnmatchcase(f.detector, rule.detector) for f in stored):
        raise ConfigError(f"suppression rule matches nothing: no finding from detector {rule.detector!r}")
    hits = sum(rule.matches(f) for f in stored)
    if hits == 0:
        scope = ", ".join(f"{k}={v}" for k, v in rule.match.items()) or "this scope"
        raise ConfigError(
            f"suppression rule matches nothing: none of {len(stored)} stored finding(s) has {scope}"
        )
    with store.transaction():
        store.execute("DELETE FROM suppressions WHERE rule_id = ?", [rule.rule_id])
        store.insert_rows(
            "suppressions",
            [
                "rule_id",
                "integration_id",
                "detector",
                "match",
                "reason",
                "owner",
                "expires",
                "created_at",
                "created_by",
            ],
            [
                (
                    rule.rule_id,
                    rule.integration_id,
                    rule.detector,
                    orjson.dumps(rule.match).decode(),
                    rule.reason,
                    rule.owner,
                    rule.expires,
                    now,
                    by,
                )
            ],
        )
    return hits


def apply(
    rules: Sequence[SuppressionRule], findings: Iterable[Finding], now: datetime
) -> tuple[dict[str, str], dict[str, int]]:
    """(finding id -> id of the first active rule suppressing it, or ``fleet:<event id>`` for a finding a
    fleet event explains; hits per active rule id)."""
    active = [r for r in rules if r.active(now)]
    hits = {r.rule_id: 0 for r in active}
    suppressed: dict[str, str] = {}
    for f in findings:
        for r in active:
            if r.matches(f):
                suppressed[finding_id(f)] = r.rule_id
                hits[r.rule_id] += 1
                break
        else:
            event = fleet_explanation(f)
            if event:
                suppressed[finding_id(f)] = event
    return suppressed, hits


def fleet_explanation(f: Finding) -> str | None:
    """``fleet:<event id>`` when a fleet event explains ``f`` (behaviour findings only), else None."""
    event = f.details.get("fleet_event")
    if (
        f.kind != "behaviour"
        or not f.details.get("fleet_explained")
        or not isinstance(event, str)
        or not event
    ):
        return None
    return FLEET_PREFIX + event


def describe(rule: SuppressionRule) -> Mapping[str, Any]:
    return dict(redact_value(rule.model_dump()))
