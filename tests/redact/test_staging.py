"""The ingest's staged redaction (:mod:`nhiwatch.staging`): the one trigger over a row's joined texts hides no
text a rule would change, wherever in the row the text sits, and an access key id in a column of its own
(CloudTrail's credential) does not send the row through the chain."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.redact import MASK, RULES, sql_redact_chain
from nhiwatch.redact.rules import AWS_ID, AWS_SECRET, IDENTIFIERS
from nhiwatch.staging import _REDACTED, HIT, redacted_stage, stage_trigger

COLUMNS = [*_REDACTED, "scopes"]
CON = duckdb.connect()
CON.execute(
    f"CREATE TABLE nw_stage ({', '.join(f'{c} VARCHAR' for c in _REDACTED)}, scopes VARCHAR[], {HIT} BOOLEAN)"
)
# Every rule, ungated, over many texts in one statement (the chain's patterns are compiled per statement).
CHAIN = f"SELECT list_transform(?::VARCHAR[], lambda t: {sql_redact_chain('t')})"

PIECES = [t for r in RULES for t, _ in r.examples] + [t for r in RULES for t in r.keeps] + list(IDENTIFIERS)
# Values no rule changes, as CloudTrail and the others map them (a key id among them, in a column of its own).
PLAIN = [None, "111122223333", AWS_ID, "AIDAJQABLZS4A3QDU576Q", "GetObject", "52.94.133.131", "Drift", "read"]
TEXT = st.one_of(
    st.sampled_from(PLAIN),
    st.sampled_from(PIECES),
    st.text(alphabet="AKISabc019/+=_-.:; \n\"'", max_size=60),
    st.builds(lambda a, b: a + b, st.sampled_from(PIECES), st.sampled_from(PIECES)),
)


def chain(texts: list[str | None]) -> list[str | None]:
    return list(CON.execute(CHAIN, [texts]).fetchall()[0][0])


def stage(row: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Whether the row triggers, and the row as the ingest stores it."""
    CON.execute("DELETE FROM nw_stage")
    values = [row.get(c) for c in COLUMNS]
    CON.execute(f"INSERT INTO nw_stage VALUES ({', '.join('?' for _ in COLUMNS)}, NULL)", values)
    CON.execute(f"UPDATE nw_stage SET {HIT} = {stage_trigger()}")  # as the ingest writes its stage
    hit = CON.execute(f"SELECT {HIT} FROM nw_stage").fetchall()[0][0]
    out = CON.execute(f"SELECT {', '.join(COLUMNS)} FROM {redacted_stage()}").fetchall()[0]
    return bool(hit), dict(zip(COLUMNS, out, strict=True))


# Where a text is put: the first and last columns, and either side of the credential's.
_CREDENTIAL = _REDACTED.index("actor_user_credential_uid")
PLACES = {
    _REDACTED[0],
    _REDACTED[_CREDENTIAL - 1],
    _REDACTED[_CREDENTIAL],
    _REDACTED[_CREDENTIAL + 1],
    _REDACTED[-1],
}


def test_plain_values_are_plain() -> None:
    assert chain(PLAIN) == PLAIN


@pytest.mark.parametrize("piece", PIECES)
def test_one_text_a_rule_changes_is_found_among_plain_columns(piece: str) -> None:
    (expected,) = chain([piece])
    for n, column in enumerate(_REDACTED):
        if column not in PLACES:
            continue
        row: dict[str, Any] = {c: PLAIN[(n + i) % len(PLAIN)] for i, c in enumerate(_REDACTED)}
        row[column] = piece
        hit, out = stage(row)
        assert out[column] == expected, column
        assert hit or expected == piece
        assert all(out[c] == row[c] for c in _REDACTED if c != column)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(TEXT, min_size=len(_REDACTED), max_size=len(_REDACTED)), st.lists(TEXT.filter(bool), max_size=3)
)
def test_the_joined_trigger_hides_no_text_a_rule_changes(texts: list[str | None], scopes: list[str]) -> None:
    row: dict[str, Any] = dict(zip(_REDACTED, texts, strict=True))
    row["scopes"] = scopes or None
    _, out = stage(row)
    assert [out[c] for c in _REDACTED] == chain(texts)
    assert out["scopes"] == (chain(list(scopes)) if scopes else None)


def test_a_key_id_in_its_own_column_does_not_trigger_but_a_secret_before_one_is_masked() -> None:
    cloudtrail = {
        "metadata_uid": "aws:4c9a2b7e-1d3f-4e5a-9b8c-7d6e5f4a3b2c",
        "metadata_tenant_uid": "111122223333",
        "actor_user_credential_uid": AWS_ID,
        "actor_user_uid": "AIDAJQABLZS4A3QDU576Q",
        "actor_user_name": "billing-export",
        "api_operation": "s3.amazonaws.com:GetObject",
        "resource_name": "arn:aws:s3:::acme-exports/2026/11/ledger.csv",
        "src_endpoint_ip": "52.94.133.131",
    }
    hit, out = stage(cloudtrail)
    assert not hit and out["actor_user_credential_uid"] == AWS_ID
    noted = {**cloudtrail, "status_detail": f"rotated {AWS_SECRET} {AWS_ID}"}
    hit, out = stage(noted)
    assert hit and AWS_SECRET not in str(out) and out["status_detail"] == f"rotated {MASK} {AWS_ID}"
    assert out["actor_user_credential_uid"] == AWS_ID
