"""Secret redaction rules: every kind is masked with its naming part kept, near misses and identifiers
survive, the Python and DuckDB (RE2) engines agree on any text, redaction is idempotent and never makes a
secret, triggers never hide a match, log records are masked, and ingest stores every column masked."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.evidence import original_record
from nhiwatch.ingest import ingest
from nhiwatch.redact import (
    MASK,
    PATTERNS,
    RULES,
    TRIGGER,
    RedactingFilter,
    redact,
    redact_value,
    sql_redact,
)
from nhiwatch.redact.rules import GHP, IDENTIFIERS
from nhiwatch.store import Store

CON = duckdb.connect()
SQL = f"SELECT {sql_redact('t')} FROM (SELECT ? AS t)"
EXAMPLES = [(r.kind, text, secret) for r in RULES for text, secret in r.examples]
KEEPS = [(r.kind, text) for r in RULES for text in r.keeps]


def sql(text: str) -> str:
    row = CON.execute(SQL, [text]).fetchone()
    assert row is not None
    return str(row[0])


def ungated(text: str) -> str:
    """Every rule applied, without the trigger pre-check."""
    for pattern, keep in PATTERNS:
        text = re.sub(pattern, keep, text)
    return text


@pytest.mark.parametrize(
    ("kind", "text", "secret"), EXAMPLES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(EXAMPLES)]
)
def test_each_kind_is_masked_by_both_engines(kind: str, text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out and MASK in out, out
    assert sql(text) == out
    assert redact(out) == out
    rule = next(r for r in RULES if r.kind == kind)
    assert re.search(rule.trigger, text), "the rule's trigger must match wherever the rule does"


@pytest.mark.parametrize(("kind", "text"), KEEPS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(KEEPS)])
def test_near_misses_survive(kind: str, text: str) -> None:
    assert redact(text) == text and sql(text) == text


@pytest.mark.parametrize("ident", IDENTIFIERS)
@pytest.mark.parametrize(
    "shape",
    [
        "{}",
        '{{"id": "{}"}}',
        "/x?client_id={}&page=2",
        "key id {} rotated",
        '{{"accessKeyId":"{}"}}',
        "{},{}",
    ],
)
def test_identifiers_attribution_needs_are_kept(ident: str, shape: str) -> None:
    text = shape.format(ident, ident)
    assert redact(text) == text and sql(text) == text


def test_kept_parts_name_the_secret() -> None:
    assert redact(f"{GHP}") == f"ghp_{MASK}"
    assert redact('{"password": "x y z", "user": "u"}') == f'{{"password": "{MASK}", "user": "u"}}'
    assert redact("https://u:p4ss@h.example/x") == f"https://u:{MASK}@h.example/x"
    assert redact("https://hooks.slack.com/services/T01/B02/abcdefgh") == (
        f"https://hooks.slack.com/services/T01/B02/{MASK}"
    )


def test_pem_with_escaped_newlines_inside_json_keeps_the_json_valid() -> None:
    pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBYr\nAoGBAK9x\n-----END EC PRIVATE KEY-----\n"
    line = orjson.dumps({"note": pem, "user": "deploy"}).decode()
    out = redact(line)
    assert "MHcCAQEEIBYr" not in out and "AoGBAK9x" not in out
    assert orjson.loads(out)["user"] == "deploy"
    assert sql(line) == out


def test_redact_value_walks_json() -> None:
    v = redact_value({"a": [f"token={GHP}", 3, None], "b": {"c": "Bearer abcdefghijkl"}, GHP: 1})
    assert v == {"a": [f"token={MASK}", 3, None], "b": {"c": f"Bearer {MASK}"}, f"ghp_{MASK}": 1}


FRAGMENTS = st.sampled_from(
    [
        "ſecret=",
        "K",
        "\x0b",
        "\x1f",
        "\n",
        "\\",
        '\\"',
        '"',
        "token=",
        '"password":"',
        '\\"secret\\":\\"',
        '"github_token": "',
        "Bearer ",
        "ghp_",
        "xoxb-",
        "://u:p@",
        "secret_key=",
        "-----BEGIN RSA PRIVATE KEY-----",
        "AKIAIOSFODNN7EXAMPLE",
        "SK",
        "AIza",
        "sk_live_",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx",
        "hooks.slack.com/services/T1/B2/",
        "a" * 20,
        "0123456789abcdef",
        *[t for _, t, _ in EXAMPLES],
        *[s for _, _, s in EXAMPLES],
    ]
)
TEXTS = st.lists(st.one_of(st.text(max_size=12), FRAGMENTS), max_size=8).map("".join)


@settings(max_examples=150, deadline=None)
@given(TEXTS)
def test_engines_agree_on_any_text(text: str) -> None:
    assert sql(text) == redact(text)


@settings(max_examples=150, deadline=None)
@given(TEXTS)
def test_redaction_is_idempotent_and_the_trigger_hides_nothing(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
    assert ungated(text) == once  # a text without a trigger is one no rule would change


SECRETS = sorted({s for _, _, s in EXAMPLES}, key=len)


@settings(max_examples=150, deadline=None)
@given(TEXTS, st.sampled_from(SECRETS))
def test_redaction_never_makes_a_secret(text: str, secret: str) -> None:
    if secret not in text:
        assert secret not in redact(text)


SELF_EVIDENT = [(t, s) for k, t, s in EXAMPLES if not k.startswith(("json", "key_value"))]


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(SELF_EVIDENT),
    st.text(alphabet=" ,;|()<>[]{}\n\t", max_size=4),
    st.text(alphabet=" ,;|()<>[]{}\n\t", max_size=4),
)
def test_a_secret_is_masked_whatever_surrounds_it(example: tuple[str, str], before: str, after: str) -> None:
    text, secret = example
    assert secret not in redact(before + text + after)


def test_trigger_is_one_alternation_of_the_rules() -> None:
    assert all(re.search(TRIGGER, t) for _, t, _ in EXAMPLES)
    assert not re.search(TRIGGER, '{"action":"git.clone","actor":"release-bot","token_id":7}')


def test_log_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("nhiwatch.test.redact")
    log.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="nhiwatch.test.redact"):
        log.info("GET %s %s", "/api/v1/x?access_token=s3cr3tvalue", 200)  # uvicorn passes a tuple
        try:
            raise RuntimeError(f"could not convert {GHP}")
        except RuntimeError:
            log.exception("push failed for %s", "password=hunter22")
    text = caplog.text
    assert "s3cr3tvalue" not in text and GHP not in text and "hunter22" not in text
    assert "access_token=" + MASK in text and "RuntimeError" in text
    assert caplog.records[0].args == ("/api/v1/x?access_token=" + MASK, 200)


def test_ingest_stores_every_column_redacted_but_maps_the_original(tmp_path: Path) -> None:
    line = {
        "@timestamp": 1755429083123,
        "_document_id": "r1",
        "action": "git.clone",
        "actor": "release-bot",
        "org": "acme",
        "repo": f"acme/api?access_token={GHP}",
        "user_agent": "curl Authorization: Bearer abcdefgh12345678",
        "message": "login password=hunter22 failed",
        "token_scopes": f"repo,{GHP}",
        "url_path": f"/x?access_token={GHP}",
    }
    path = tmp_path / "audit.jsonl"
    path.write_bytes(orjson.dumps(line) + b"\n")
    with Store(tmp_path / "s.duckdb") as store:
        report = ingest(store, [path])
        assert report.stored == 1
        row = store.records("SELECT * FROM events")[0]
        original = original_record(store, "github:r1")
    assert GHP not in str(row) and "hunter22" not in str(row) and "abcdefgh12345678" not in str(row)
    assert row["actor_user_name"] == "release-bot" and row["api_operation"] == "git.clone"
    assert row["resource_name"] == f"acme/api?access_token={MASK}"
    assert row["scopes"] == ["repo", f"ghp_{MASK}"]
    assert row["metadata_uid"] == "github:r1" and original is not None and original.status == "verified"
    shown = str(original.record)  # the original record is redacted on its way out
    assert MASK in shown and GHP not in shown and "hunter22" not in shown and "abcdefgh12345678" not in shown


@pytest.mark.parametrize("text", [t for _, t, _ in EXAMPLES])
def test_the_python_pre_check_passes_every_example(text: str) -> None:
    from nhiwatch.redact import _maybe

    assert _maybe(text)
