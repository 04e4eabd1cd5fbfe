"""Severity by what the evidence means, and the alert budget per risk tier (config, demotion, never a drop)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nhiwatch.alerts import budget
from nhiwatch.alerts.config import default_config, load_config
from nhiwatch.alerts.model import Alert
from nhiwatch.alerts.score import ScoreContext, grade
from nhiwatch.detectors.base import Finding
from nhiwatch.errors import ConfigError

T = datetime(2026, 3, 10, 4, 0)
CFG = default_config()


def _f(detector: str, deviation: float) -> Finding:
    return Finding(detector, "i", T, T, deviation, "o", "e", "s")


def test_a_token_used_from_a_new_network_is_high_even_on_a_low_tier() -> None:
    sev, why = grade([_f("new_network", 0.3)], 20, ScoreContext("low"), CFG)
    assert sev == "high" and "access evidence" in why[0]


def test_weak_evidence_keeps_the_scores_severity() -> None:
    assert grade([_f("new_network", 0.2)], 20, ScoreContext("low"), CFG) == ("low", [])
    # volume alone has no floor: month ends and backlogs make it common
    assert grade([_f("volume_spike", 0.9)], 30, ScoreContext("low"), CFG) == ("low", [])


def test_the_integrations_own_ticket_keeps_the_floor_off() -> None:
    ctx = ScoreContext("low", tickets=[{"id": "CHG-1", "integration_id": "i"}])
    assert grade([_f("new_network", 0.6)], 20, ctx, CFG)[0] == "low"


def test_critical_needs_two_kinds_of_evidence() -> None:
    one = grade([_f("new_destination", 1.0), _f("fan_out", 1.0)], 100, ScoreContext("critical"), CFG)
    assert one[0] == "high" and "critical needs 2" in one[1][-1]
    two = grade([_f("new_destination", 1.0), _f("off_hours", 0.5)], 100, ScoreContext("critical"), CFG)
    assert two == ("critical", [])


def test_posture_alerts_are_graded_by_their_score_alone() -> None:
    posture = Finding("posture_ownerless", "i", T, T, 1.0, "o", "e", "s", kind="posture")
    assert grade([posture], 95, ScoreContext("critical"), CFG) == ("critical", [])


def _alert(n: int, severity: str, score: int, tier: str = "medium", day: int = 0) -> Alert:
    t = T + timedelta(days=day, minutes=n)
    return Alert(
        f"al-{n}-{day}",
        "behaviour",
        f"i{n}",
        f"I{n}",
        "o",
        "p",
        tier,
        "internal",
        ["volume_spike"],
        t,
        t,
        score,
        severity,
        "title",
        "Explained.",
        [],
        {},
        [],
    )


def test_alerts_beyond_the_tiers_daily_budget_are_demoted_lowest_risk_first_and_say_so() -> None:
    day = [_alert(i, "medium", 40 + i) for i in range(5)] + [_alert(9, "high", 70), _alert(8, "critical", 90)]
    other_day = [_alert(i, "medium", 50, day=1) for i in range(2)]
    cfg = default_config().budget  # medium: 2 per 100 integration-days, at least 2 a day
    assert budget.allowance(cfg, "medium", 40) == 2
    demoted = budget.apply(day + other_day, cfg, {"medium": 40})
    assert demoted == 5  # two places go to the critical and the high; all five mediums are beyond them
    assert {a.severity for a in day[:5]} == {"low"}
    assert day[5].severity == "high" and day[6].severity == "critical"  # protected, never demoted
    assert all(a.severity == "medium" for a in other_day)  # within that day's budget
    assert "Demoted from medium to low by the alert budget" in day[0].explanation
    assert day[0].score_factors["budget"]["from"] == "medium"


def test_the_budget_scales_with_the_tier_and_can_be_turned_off(tmp_path: Path) -> None:
    alerts = [_alert(i, "medium", 40 + i) for i in range(5)]
    assert budget.apply(alerts, default_config().budget, {"medium": 250}) == 0  # 5 allowed a day
    text = (Path(__file__).parents[2] / "src/nhiwatch/alerts/default.yaml").read_text()
    off = tmp_path / "off.yaml"
    off.write_text(text.replace("  enabled: true", "  enabled: false"))
    assert budget.apply(alerts, load_config(off).budget, {"medium": 1}) == 0
    assert all(a.severity == "medium" for a in alerts)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("per_100_integration_days: {low: 1,", "per_100_integration_days: {lowest: 1,", "unknown risk tier"),
        ("  demote_to: low", "  demote_to: high", "must be below protect"),
        ("  min_per_day: 2", "  min_per_day: -1", "greater than or equal to 0"),
        ("  min_per_day: 2", "  min_per_dya: 2", "unknown key"),
        ("floors: {access: high, reach: high}", "floors: {access: high, exfil: high}", "unknown kind"),
        ("floors: {access: high,", "floors: {access: urgent,", "budget"),
    ],
)
def test_a_bad_budget_or_severity_setting_is_a_located_error(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = (Path(__file__).parents[2] / "src/nhiwatch/alerts/default.yaml").read_text()
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new))
    key = (
        "budget:" if "demote_to" in new else new.strip()
    )  # a rule between two keys: located at their section
    line = next(
        i for i, ln in enumerate(text.replace(old, new).splitlines(), 1) if ln.startswith(key) or key in ln
    )
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    msg = str(err.value)
    if message != "budget":
        assert message in msg, msg
    assert f"{bad}:{line}:" in msg, msg


def test_the_default_config_is_valid_and_budgets_every_tier() -> None:
    cfg = load_config()
    assert set(cfg.budget.per_100_integration_days) == {"low", "medium", "high", "critical"}
    assert cfg.severity.floors == {"access": "high", "reach": "high"}
