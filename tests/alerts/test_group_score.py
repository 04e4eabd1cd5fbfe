"""Grouping into episodes, the risk score and severity, and the configuration's checks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from nhiwatch.alerts.config import load_config
from nhiwatch.alerts.group import group_findings
from nhiwatch.alerts.references import merge
from nhiwatch.alerts.score import ScoreContext, score, severity
from nhiwatch.errors import ConfigError
from tests.alerts.helpers import METAS, T0, finding

CFG = load_config()
GAP = timedelta(hours=6)


def test_findings_within_gap_form_one_episode_chained() -> None:
    a = finding(at=T0)
    b = finding(detector="new_destination", at=T0 + timedelta(hours=5))
    c = finding(at=T0 + timedelta(hours=10))  # 5 h after b: chained
    d = finding(at=T0 + timedelta(hours=30))
    groups = group_findings([d, c, b, a], GAP)
    assert [len(g) for g in groups] == [3, 1]
    assert groups[0][0] is a


def test_integrations_and_posture_are_grouped_apart() -> None:
    groups = group_findings(
        [
            finding("a"),
            finding("b"),
            finding("a", "ownerless"),
            finding("a", "ownerless", at=T0 + timedelta(days=9)),
        ],
        GAP,
    )
    assert sorted((g[0].integration_id, g[0].kind, len(g)) for g in groups) == [
        ("a", "behaviour", 1),
        ("a", "posture", 2),
        ("b", "behaviour", 1),
    ]


def test_score_rises_with_risk_tier_and_sensitivity() -> None:
    f = [finding(deviation=0.6)]
    by_tier = [
        score(f, ScoreContext(tier, "internal", "owner"), CFG)[0]
        for tier in ("low", "medium", "high", "critical")
    ]
    assert by_tier == sorted(by_tier) and len(set(by_tier)) == 4
    sens = ("public", "internal", "confidential", "restricted")
    by_sens = [score(f, ScoreContext("medium", s, "owner"), CFG)[0] for s in sens]
    assert by_sens == sorted(by_sens) and len(set(by_sens)) == 4


def test_more_detectors_and_larger_deviation_score_higher() -> None:
    ctx = ScoreContext("high", "confidential", "owner")
    one = score([finding(deviation=0.5)], ctx, CFG)[0]
    same_twice = score([finding(deviation=0.5), finding(deviation=0.5)], ctx, CFG)[0]
    two = score([finding(deviation=0.5), finding(detector="new_destination", deviation=0.5)], ctx, CFG)[0]
    bigger = score([finding(deviation=0.8)], ctx, CFG)[0]
    assert one == same_twice < two
    assert one < bigger


def test_ticket_lowers_and_context_raises() -> None:
    f = [finding(deviation=0.6)]
    plain = score(f, ScoreContext("high", "internal", "owner"), CFG)[0]
    ticketed, factors = score(f, ScoreContext("high", "internal", "owner", tickets=[{"id": "CHG-1"}]), CFG)
    assert ticketed < plain and factors["tickets"] == ["CHG-1"]
    assert score(f, ScoreContext("high", "internal", None), CFG)[0] > plain
    assert score(f, ScoreContext("high", "internal", "owner", discovered=True), CFG)[0] > plain
    assert score(f, ScoreContext("high", "internal", "owner", partner_managed=True), CFG)[0] > plain
    assert (
        0
        <= score([finding(deviation=1.0)] * 3, ScoreContext("critical", "restricted", None, True, True), CFG)[
            0
        ]
        <= 100
    )


def test_severity_follows_the_tier_thresholds() -> None:
    assert severity(90, "medium", CFG) == "critical"
    assert severity(70, "medium", CFG) == "high"
    assert severity(50, "medium", CFG) == "medium"
    assert severity(10, "medium", CFG) == "low"
    assert severity(82, "critical", CFG) == "critical"  # critical integrations escalate sooner
    assert severity(82, "low", CFG) == "high"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "alerts.yaml"
    p.write_text(text)
    return p


def _default_text() -> str:
    return (Path(__file__).parents[2] / "src/nhiwatch/alerts/default.yaml").read_text()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "default: {medium: 40, high: 65, critical: 85}",
            "default: {medium: 40, high: 65, critical: 60}",
            "medium <= high <= critical",
        ),
        (
            "default: {medium: 40, high: 65, critical: 85}",
            "default: {medium: 40, high: 65, critical: 120}",
            "less than or equal to 100",
        ),
        ("gap_hours: 6", "gap_hourz: 6", "unknown key"),
        ("critical: {medium: 35", "extreme: {medium: 35", "unknown risk tier"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = _default_text()
    assert old in text
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, text.replace(old, new)))


def test_unparseable_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"alerts.yaml:\d+: not valid YAML"):
        load_config(_write(tmp_path, "severity: [\n  {"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(_write(tmp_path, "- 1\n"))


def test_references_keep_only_csf_2_subcategories() -> None:
    refs = merge([METAS["volume_spike"], METAS["new_destination"]])
    assert refs["nist_csf"] == [
        "DE.CM-03",
        "DE.AE-02",
        "DE.CM-01",
        "DE.AE-07",
    ]  # DE.CM-08 was withdrawn in 2.0
    assert [o["id"] for o in refs["owasp_nhi"]] == ["NHI5:2025", "NHI2:2025"]
    assert refs["attack"][0] == {
        "id": "T1119",
        "name": "Automated Collection",
        "url": "https://attack.mitre.org/techniques/T1119/",
    }
