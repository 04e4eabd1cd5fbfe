"""The ingest's staged redaction (:mod:`nhiwatch.staging`): the one trigger over a row's joined texts hides no
text a rule would change, and an access key id in a column of its own (CloudTrail's credential) does not send
the row through the chain."""

from __future__ import annotations

from typing import Any

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.redact import MASK, RULES, sql_redact_chain
from nhiwatch.redact.rules import AWS_ID, AWS_SECRET, IDENTIFIERS
from nhiwatch.staging import _REDACTED, redacted_stage, stage_trigger

COLUMNS = [*_REDACTED, "scopes"]
CON = duckdb.connect()
CON.execute(f"CREATE TABLE nw_stage ({', '.join(f'{c} VARCHAR' for c in _REDACTED)}, scopes VARCHAR[])")
CHAIN = f"SELECT {sql_redact_chain('t')} FROM (SELECT ?::VARCHAR AS t)"

PIECES = [t for r in RULES for t, _ in r.examples] + [t for r in RULES for t in r.keeps] + list(IDENTIFIERS)
TEXT = st.one_of(
    st.none(),
    st.sampled_from(PIECES),
    st.text(alphabet="AKISabc019/+=_-.:; \n\"'", max_size=60),
    st.builds(lambda a, b: a + b, st.sampled_from(PIECES), st.sampled_from(PIECES)),
)


def stage(row: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Whether the row triggers, and the row as the ingest stores it."""
    CON.execute("DELETE FROM nw_stage")
    values = [row.get(c) for c in COLUMNS]
    CON.execute(f"INSERT INTO nw_stage VALUES ({', '.join('?' for _ in COLUMNS)})", values)
    hit = CON.execute(f"SELECT {stage_trigger()} FROM nw_stage").fetchall()[0][0]
    out = CON.execute(f"SELECT {', '.join(COLUMNS)} FROM {redacted_stage()}").fetchall()[0]
    return bool(hit), dict(zip(COLUMNS, out, strict=True))


def chain(text: str | None) -> str | None:
    return None if text is None else str(CON.execute(CHAIN, [text]).fetchall()[0][0])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(TEXT, min_size=len(_REDACTED), max_size=len(_REDACTED)), st.lists(TEXT.filter(bool), max_size=3)
)
def test_the_joined_trigger_hides_no_text_a_rule_changes(texts: list[str | None], scopes: list[str]) -> None:
    row: dict[str, Any] = dict(zip(_REDACTED, texts, strict=True))
    row["scopes"] = scopes or None
    _, out = stage(row)
    for column in _REDACTED:
        assert out[column] == chain(row[column]), column
    assert out["scopes"] == (None if not scopes else [chain(s) for s in scopes])


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
