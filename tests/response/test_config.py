"""``response:`` in nhiwatch.yaml: off by default, an allow list of known actions, typos refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from nhiwatch.errors import ConfigError
from nhiwatch.monitor.config import load_run_config
from nhiwatch.response.config import ResponseConfig
from nhiwatch.response.registry import ACTIONS

ROOT = Path(__file__).resolve().parents[2]


def test_off_by_default_everywhere() -> None:
    assert not ResponseConfig().enabled
    assert not load_run_config(ROOT / "deploy" / "nhiwatch.yaml").response.enabled


def test_allow_list(tmp_path: Path) -> None:
    p = tmp_path / "nhiwatch.yaml"
    p.write_text("response:\n  enabled: true\n  actions: [okta.revoke_app_tokens]\n")
    cfg = load_run_config(p).response
    assert cfg.allows("okta.revoke_app_tokens") and not cfg.allows("okta.deactivate_app")
    assert ResponseConfig(enabled=True).allows("aws.revoke_role_sessions")  # no list: every action
    assert not ResponseConfig(enabled=False, actions=("okta.deactivate_app",)).allows("okta.deactivate_app")


@pytest.mark.parametrize(
    "text, words",
    [
        (
            "response:\n  enabled: true\n  actions: [okta.revoke_everything]\n",
            "unknown action(s) okta.revoke_everything",
        ),
        ("response:\n  enabeld: true\n", "response.enabeld"),
        ("response:\n  slack_enterprise_id: T0123\n", "slack_enterprise_id"),
    ],
)
def test_typos_are_errors(tmp_path: Path, text: str, words: str) -> None:
    p = tmp_path / "nhiwatch.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_run_config(p)


def test_every_action_has_its_metadata() -> None:
    for action_id, cls in ACTIONS.items():
        _, _, verb = action_id.partition(".")
        assert verb and cls.id == action_id
        assert cls.title and cls.permission
        assert cls.doc.startswith("https://")
        assert cls.__module__.startswith("nhiwatch.response.")
        assert (cls.__doc__ or "").strip()
        module = __import__(cls.__module__, fromlist=["x"])
        assert "https://" in (module.__doc__ or ""), f"{cls.__module__} cites its vendor documentation"


def test_every_action_named_in_the_guidance_exists() -> None:
    import yaml

    from nhiwatch.response.manual import MANUAL

    text = (ROOT / "src/nhiwatch/alerts/response.yaml").read_text()
    named = {
        a
        for kinds in yaml.safe_load(text)["contain"].values()
        for steps in kinds.values()
        for s in steps
        for a in s.get("actions", [])
    }
    assert named and named <= set(ACTIONS) | set(MANUAL)
    assert set(ACTIONS) <= named, "every action is reachable from a guidance step"
