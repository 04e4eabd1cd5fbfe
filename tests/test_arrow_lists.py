"""Arrow arrays built from Python lists without pyarrow's pandas detection, and an ingest that never imports
pandas (pyarrow imported it to infer types: ~0.25 s inside every ingest, holding the GIL)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.arrow_lists import integers, strings
from nhiwatch.store import Store


# No deadline: the reference, pyarrow.array, imports pandas (~0.25 s) the first time it runs.
@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.characters(blacklist_categories=["Cs"])))))
def test_strings_are_what_pyarrow_builds(values: list[str | None]) -> None:
    got = strings(values)
    assert got.type == pa.string()
    assert got.equals(pa.array(values, pa.string()))
    assert got.null_count == values.count(None)


@settings(deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1)))
def test_integers_are_what_pyarrow_builds(values: list[int]) -> None:
    assert integers(values).equals(pa.array(values, pa.int64()))


def test_a_few_rows_of_every_kind_are_inserted_as_given(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        store.execute("CREATE TABLE t (a VARCHAR, b BIGINT, c BOOLEAN, d VARCHAR[], e TIMESTAMP, f HUGEINT)")
        rows = [
            ("x", 1, True, ["p", "q"], datetime(2026, 12, 1, 12, 0), 2**100),
            (None, None, None, [], None, None),
            ("é'\"; DROP TABLE t; --", -(2**62), False, None, datetime(1999, 12, 31), -1),
        ]
        store.insert_rows("t", ["a", "b", "c", "d", "e", "f"], rows)
        assert store.fetchall("SELECT * FROM t ORDER BY b NULLS LAST") == [rows[2], rows[0], rows[1]]


def test_an_ingest_with_its_inventory_never_imports_pandas(tmp_path: Path) -> None:
    code = """
import sys
from nhiwatch.pipeline import ingest_all
from nhiwatch.simulate import simulate
from nhiwatch.store import Store
out = sys.argv[1]
simulate(out, integrations=8, days=2, seed=3)
with Store(out + "/s.duckdb") as store:
    result = ingest_all(store, [out + "/logs"], inventory=out + "/inventory.yaml", tickets=out + "/tickets.csv")
assert result.report.stored > 0 and {"gws.reports", "aws.cloudtrail"} <= set(result.report.by_source)
print("pandas" in sys.modules)
"""
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "False"
