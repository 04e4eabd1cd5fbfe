"""Change tickets and business events: CSV and JSON, offsets required, errors located."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from nhiwatch.errors import ConfigError
from nhiwatch.store import Store
from nhiwatch.tickets import load_tickets, store_tickets
from tests.conftest import write

CSV = """id,start,end,integration,summary
CHG-1001,2025-08-29T18:00:00-04:00,2025-08-30T02:00:00-04:00,drift-salesforce,Backfill of leads after outage
BIZ-Q3,2025-09-29T00:00:00+00:00,2025-10-03T00:00:00+00:00,,Quarter close
"""


def test_csv_tickets_are_read_in_utc(tmp_path: Path, store: Store) -> None:
    tickets = load_tickets(write(tmp_path, "t.csv", CSV))
    assert (
        tickets[0].start == datetime(2025, 8, 29, 22, 0) and tickets[0].integration_id == "drift-salesforce"
    )
    assert tickets[1].integration_id is None
    assert store_tickets(store, tickets, "t.csv") == 2
    assert store_tickets(store, tickets, "t.csv") == 2
    assert store.scalar("SELECT count(*) FROM tickets") == 2


def test_json_tickets(tmp_path: Path) -> None:
    text = '[{"id": "A", "start": "2025-01-01T00:00:00Z", "end": "2025-01-01T01:00:00Z", "integration": "x", "summary": "s"}]'
    assert load_tickets(write(tmp_path, "t.json", text))[0].id == "A"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id,start,end,summary\n", ":1: missing column(s) integration"),
        (
            CSV.replace("2025-08-29T18:00:00-04:00", "2025-08-29T18:00:00"),
            ":2: start '2025-08-29T18:00:00' has no UTC offset",
        ),
        (
            CSV.replace("2025-08-29T18:00:00-04:00", "yesterday"),
            ":2: start 'yesterday' is not an ISO 8601 time",
        ),
        (CSV.replace("BIZ-Q3", "CHG-1001"), ":3: duplicate ticket id 'CHG-1001'"),
        (CSV.replace("2025-08-30T02:00:00-04:00", "2025-08-28T02:00:00-04:00"), ":2: end is before start"),
        (CSV + "X,2025-01-01T00:00Z,2025-01-01T01:00Z,a,b,extra\n", ":4: more values than columns"),
    ],
)
def test_bad_tickets_are_located(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_tickets(write(tmp_path, "t.csv", text))
    assert expected in str(err.value)
