"""``JsonAccessor.elements`` (an array's elements parsed once per record) reads Okta's ``target[]`` exactly as
the per-use JSON re-parsing it replaced did, whatever shape the field has (hypothesis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.sources.base import sql_str
from nhiwatch.sources.compile import JsonAccessor
from nhiwatch.sources.okta.system_log import _first_target, _target
from nhiwatch.store import Store

TYPES = ("Token", "AppInstance", "User", "access_token")
KEYS = ("id", "displayName", "alternateId", "type")


def _old_target(targets: str, types: tuple[str, ...], key: str) -> str:
    """The expression Okta's mapping used before (sources/okta/system_log.py at 4b5233a)."""
    wanted = ", ".join(map(sql_str, types))
    items = f"(CASE WHEN json_type({targets}) = 'ARRAY' THEN json_extract({targets}, '$[*]') END)"
    first = f"list_filter({items}, lambda t: json_extract_string(t, '$.type') IN ({wanted}))[1]"
    return f"json_extract_string({first}, {sql_str('$.' + key)})"


def _old_first_target(targets: str, key: str) -> str:
    return f"(CASE WHEN json_type({targets}) = 'ARRAY' THEN json_extract_string({targets}, '$[0].{key}') END)"


SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from((*TYPES, "", "[1]", "x")),
    st.text(max_size=5),
)
ENTRY = st.one_of(
    st.dictionaries(
        st.sampled_from((*KEYS, "ID", "Type", "other")), st.one_of(SCALAR, st.lists(SCALAR, max_size=2))
    ),
    SCALAR,
    st.lists(SCALAR, max_size=2),
)
TARGET = st.one_of(st.lists(ENTRY, max_size=4), ENTRY, st.just('[{"type": "Token", "id": "t"}]'))


@st.composite
def _record(draw: st.DrawFn) -> str:
    record: dict[str, Any] = {"eventType": "x"}
    if draw(st.integers(0, 5)):
        record["target"] = draw(TARGET)
    return json.dumps(record)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with Store(":memory:") as store:
        yield store.con


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_record(), min_size=1, max_size=20))
def test_elements_read_targets_as_the_json_reparsing_did(
    con: duckdb.DuckDBPyConnection, records: list[str]
) -> None:
    acc = JsonAccessor()
    old_doc = acc.json("target")
    pairs = []
    for types in ((TYPES[0],), TYPES[1:3], TYPES):
        for key in KEYS:
            pairs.append((_target(acc, types, key), _old_target(old_doc, types, key)))
    for key in KEYS:
        pairs.append((_first_target(acc, key), _old_first_target(old_doc, key)))
    _assert_pairs_equal(con, acc, records, ", ".join(f"[{new}, {old}]" for new, old in pairs))


def test_elements_is_null_unless_the_field_is_an_array(con: duckdb.DuckDBPyConnection) -> None:
    acc = JsonAccessor()
    ids = acc.elements("target", "id")
    rows = f"SELECT *, {', '.join(acc.derived_sql())} FROM (SELECT {acc.extract_sql()} FROM recs)"
    records = [
        '{"target": [{"id": "a"}, {"x": 1}, null, 5]}',
        '{"target": "[{\\"id\\": 1}]"}',
        '{"target": {}}',
        "{}",
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE recs AS SELECT 'f' AS file, i AS line, j FROM unnest(?) WITH ORDINALITY t(j, i)",
        [records],
    )
    got = [r[0] for r in con.execute(f"SELECT {ids} FROM ({rows}) ORDER BY line").fetchall()]
    assert got == [["a", None, None, None], None, None, None]


FIELD = st.one_of(
    SCALAR, st.lists(SCALAR, max_size=3), st.dictionaries(st.sampled_from(KEYS), SCALAR, max_size=2)
)


@st.composite
def _scoped(draw: st.DrawFn) -> str:
    record: dict[str, Any] = {"eventName": "x"}
    if draw(st.integers(0, 3)):
        record["scopes"] = draw(FIELD)
    return json.dumps(record)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_scoped(), min_size=1, max_size=20))
def test_json_value_reads_as_json_for_the_readers_that_use_it(
    con: duckdb.DuckDBPyConnection, records: list[str]
) -> None:
    """``json_value`` gives NULL where ``json`` gives a JSON null; every reader switched to it (json_list, the
    Workspace lists, Slack's reason) gives the same either way."""
    from nhiwatch.sources.gws.reports import _list, _scope_names
    from nhiwatch.sources.sql import json_list

    acc = JsonAccessor()
    old, new = acc.json("scopes"), acc.json_value("scopes")
    readers = [
        json_list,
        _list,
        _scope_names,
        lambda x: f"CASE WHEN json_type({x}) = 'ARRAY' THEN 1 ELSE 0 END",
    ]
    _assert_pairs_equal(
        con, acc, records, ", ".join(f"[{read(new)}::VARCHAR, {read(old)}::VARCHAR]" for read in readers)
    )


def _assert_pairs_equal(
    con: duckdb.DuckDBPyConnection, acc: JsonAccessor, records: list[str], cols: str
) -> None:
    """Each ``[new, old]`` pair of ``cols``, computed over ``records``, holds two equal values."""
    rows = f"SELECT *, {', '.join(acc.derived_sql())} FROM (SELECT {acc.extract_sql()} FROM recs)"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE recs AS SELECT 'f' AS file, i AS line, j FROM unnest(?) WITH ORDINALITY t(j, i)",
        [records],
    )
    for row in con.execute(f"SELECT j, {cols} FROM ({rows})").fetchall():
        for new_old in row[1:]:
            assert new_old[0] == new_old[1], row[0]
