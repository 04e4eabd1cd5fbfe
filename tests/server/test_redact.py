"""Secret redaction: the Python and SQL engines agree, identifiers are kept, and ingest stores redacted
``raw_data`` while mapping from the original record."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.redact import MASK, redact, redact_value, sql_redact
from nhiwatch.store import Store

GHP = "ghp_" + "x" * 36
CASES = [
    (f'{{"token":"{GHP}","hashed_token":"abc=","token_id":123}}', ["x" * 36], ["hashed_token", "123"]),
    ("GET https://admin:hunter2@example.com/x?access_token=abc123&page=2", ["hunter2", "abc123"], ["page=2"]),
    ('{"Authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"}', ["eyJ"], []),
    ("slack xoxb-1234567890-abcdefghij posted", ["1234567890-abcdefghij"], ["slack", "posted"]),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", ["11ABCDEFG"], []),
    (
        '{"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "accessKeyId": "AKIAIOSFODNN7EXAMPLE"}',
        ["wJalrXUtnFEMI"],
        ["AKIAIOSFODNN7EXAMPLE"],
    ),
    ('{"client_secret": "s3cr3t-value", "client_id": "0oa1abc"}', ["s3cr3t-value"], ["0oa1abc"]),
    ('"{\\"password\\":\\"s3cret\\",\\"user\\":\\"x\\"}"', ["s3cret"], ['\\"user\\"']),
    ("Authorization: Basic dXNlcjpwYXNz and X-Api-Key: abcdef", ["dXNlcjpwYXNz", "abcdef"], []),
    (
        '{"eventType":"app.oauth2.as.token.grant.access_token","nextPageToken":"rW2b"}',
        [],
        ["access_token", "rW2b"],
    ),
    ('{"action":"personal_access_token.access_granted","token_id":7}', [], ["access_granted"]),
]


@pytest.mark.parametrize(("text", "gone", "kept"), CASES)
def test_python_and_sql_redact_the_same(text: str, gone: list[str], kept: list[str]) -> None:
    out = redact(text)
    for secret in gone:
        assert secret not in out
    for part in kept:
        assert part in out
    if gone:
        assert MASK in out
    sql = duckdb.connect().execute(f"SELECT {sql_redact('t')} FROM (SELECT ? AS t)", [text]).fetchone()
    assert sql is not None and sql[0] == out


CON = duckdb.connect()
SQL = f"SELECT {sql_redact('t')} FROM (SELECT ? AS t)"
SECRETISH = st.sampled_from(
    [
        "ſecret=",
        "K",
        "\x0b",
        "\x1f",
        "token=",
        '"password":"',
        "Bearer ",
        "ghp_",
        "xoxb-",
        "://u:p@",
        "secret_key=",
    ]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), SECRETISH), max_size=8).map("".join))
def test_engines_agree_on_any_text(text: str) -> None:
    sql = CON.execute(SQL, [text]).fetchone()
    assert sql is not None and sql[0] == redact(text)


def test_redact_value_walks_json() -> None:
    v = redact_value({"a": [f"token={GHP}", 3, None], "b": {"c": "Bearer abcdefghijkl"}})
    assert v == {"a": [f"token={MASK}", 3, None], "b": {"c": f"Bearer {MASK}"}}


def test_ingest_stores_redacted_raw_data_but_maps_the_original(tmp_path: Path) -> None:
    line = (
        '{"@timestamp":1755429083123,"_document_id":"r1","action":"git.clone","actor":"release-bot",'
        f'"org":"acme","repo":"acme/api","user_agent":"git/2.43.0","url_path":"/x?access_token={GHP}"}}\n'
    )
    path = tmp_path / "audit.jsonl"
    path.write_text(line)
    with Store(tmp_path / "s.duckdb") as store:
        report = ingest(store, [path])
        assert report.stored == 1
        raw, actor = store.fetchone("SELECT raw_data, actor_user_name FROM events")  # type: ignore[misc]
    assert GHP not in raw and MASK in raw and actor == "release-bot"
