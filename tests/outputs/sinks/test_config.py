"""The sink config: unknown keys refused with their line, secrets only by reference, endpoints checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.errors import ConfigError
from nhiwatch.outputs.sinks import build
from nhiwatch.outputs.sinks.config import load_delivery_config, parse_delivery_config

GOOD = """\
console_url: https://nhiwatch.example.com
sinks:
  - name: sec-slack
    type: slack
    url_env: SLACK_WEBHOOK_URL
    min_severity: high
  - name: splunk
    type: splunk_hec
    url: https://splunk.example.com:8088
    token_file: /run/secrets/hec
    kinds: [behaviour]
    tiers: [high, critical]
"""


def test_a_valid_config_loads(tmp_path: Path) -> None:
    p = tmp_path / "nhiwatch.yaml"
    p.write_text(GOOD)
    cfg = load_delivery_config(p)
    assert [s.name for s in cfg.sinks] == ["sec-slack", "splunk"]
    assert cfg.sinks[0].min_severity == "high"
    assert cfg.sinks[1].tiers == ["high", "critical"]


def test_an_inline_secret_is_an_unknown_key_located_by_line() -> None:
    text = GOOD.replace("    token_file: /run/secrets/hec\n", "    token: 0123-secret-hec-token-4567\n")
    with pytest.raises(ConfigError) as e:
        parse_delivery_config(text, "nhiwatch.yaml")
    msg = str(e.value)
    assert "nhiwatch.yaml:10: sinks.1.token: unknown key" in msg
    assert "0123-secret-hec-token-4567" not in msg


def test_problems_name_their_line_and_key() -> None:
    text = GOOD.replace("min_severity: high", "min_severity: hihg").replace("kinds: [behaviour]", "kind: [x]")
    with pytest.raises(ConfigError) as e:
        parse_delivery_config(text, "c.yaml")
    msg = str(e.value)
    assert "c.yaml:6: sinks.0.min_severity" in msg
    assert "c.yaml:11: sinks.1.kind: unknown key" in msg


@pytest.mark.parametrize(
    ("snippet", "needle"),
    [
        ("  - {name: a, type: webhook, url: 'http://hooks.example.com/x', secret_env: S}", "must use https"),
        ("  - {name: a, type: webhook, url: 'https://u:p@hooks.example.com/', secret_env: S}", "credentials"),
        (
            "  - {name: a, type: webhook, url: 'https://h.example.com/', secret_env: S, secret_file: /s}",
            "exactly one",
        ),
        ("  - {name: a, type: syslog, host: siem.example.com, tls: false}", "loopback"),
        ("  - {name: a, type: carrier_pigeon}", "sinks.0"),
        (
            "  - {name: a, type: parquet, path: /tmp/x}\n  - {name: a, type: parquet, path: /tmp/y}",
            "two sinks",
        ),
    ],
)
def test_unsafe_or_wrong_entries_are_refused(snippet: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_delivery_config("sinks:\n" + snippet + "\n")


def test_plain_http_is_allowed_to_loopback_or_when_asked() -> None:
    cfg = parse_delivery_config(
        "sinks:\n  - {name: a, type: webhook, url: 'http://127.0.0.1:9/x', secret_env: S}\n"
        "  - {name: b, type: webhook, url: 'http://hooks.internal/x', secret_env: S, allow_http: true}\n"
    )
    assert len(cfg.sinks) == 2


def test_a_missing_secret_names_the_variable_and_never_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_delivery_config(GOOD)
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    with pytest.raises(ConfigError, match=r"\$SLACK_WEBHOOK_URL, which is not set"):
        build(cfg.sinks[0])
    with pytest.raises(ConfigError, match="cannot read token_file /run/secrets/hec"):
        build(cfg.sinks[1])


def test_a_webhook_url_from_env_is_checked_like_any_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_delivery_config(GOOD)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "http://hooks.slack.com/services/T0/B0/abcdefghijklmnopqrstuvwx")
    with pytest.raises(ConfigError) as e:
        build(cfg.sinks[0])
    assert "must use https" in str(e.value) and "abcdefghijklmnopqrstuvwx" not in str(e.value)


def test_secret_files_are_read_and_never_printed(tmp_path: Path) -> None:
    secret = tmp_path / "hec"
    secret.write_text("11111111-2222-3333-4444-555555555555\n")
    cfg = parse_delivery_config(GOOD.replace("/run/secrets/hec", str(secret)))
    sink = build(cfg.sinks[1])
    assert sink.secrets[0].reveal() == "11111111-2222-3333-4444-555555555555"
    assert "1111" not in repr(sink.secrets[0]) and "1111" not in str(sink.secrets[0])
    assert "1111" not in sink.scrub("HTTP 403: token 11111111-2222-3333-4444-555555555555 is invalid")


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["name", "type", "url", "url_env", "token_env", "min_severity", "tiers", "port", "path"]
)


@settings(max_examples=200, deadline=None)
@given(
    sinks=st.lists(
        st.dictionaries(KEYS, JSONISH, max_size=6).map(lambda d: {"type": "webhook", **d}), max_size=3
    )
    | JSONISH
)
def test_any_config_is_accepted_or_refused_with_a_message(sinks: Any) -> None:
    text = yaml.safe_dump({"sinks": sinks})
    try:
        parse_delivery_config(text, "fuzz.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml")


@pytest.mark.parametrize("text", ["sinks: [", "- a\n- b", "sinks: !!python/object:os.system {}", "\x00"])
def test_broken_yaml_is_a_message(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^<config>"):
        parse_delivery_config(text)
