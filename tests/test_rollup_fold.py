"""The rollup fold against a recount written per event, on stored events of every awkward shape: every
dimension's values (IPv6 networks, NULLs, mixed-case hosts), the hour's active minutes, success and
failure runs (outcomes at the same instant included), folded in one rebuild or in two advances."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch import rollups
from nhiwatch.dimensions import DIMENSIONS
from nhiwatch.store import Store

START = datetime(2026, 3, 1, 22, 0)  # the events span midnight: two days, several hours
COLUMNS = (
    "metadata_uid",
    "integration_id",
    "time",
    "action_class",
    "status",
    "records",
    "traffic_bytes_in",
    "traffic_bytes_out",
    "resource_name",
    "resource_type",
    "dst_endpoint_hostname",
    "metadata_tenant_uid",
    "src_endpoint_ip",
    "src_endpoint_asn",
    "http_request_user_agent",
    "actor_user_credential_uid",
    "api_operation",
    "scopes",
)

event = st.fixed_dictionaries(
    {
        "integration_id": st.sampled_from(["ci-deploy", "crm-sync", None]),
        # coarse steps, so that events share an instant, a minute and an hour
        "time": st.integers(0, 4 * 60 * 2).map(lambda k: START + timedelta(seconds=30 * k)),
        "action_class": st.sampled_from(["read", "write", "credential_issue", "scope_grant", None]),
        "status": st.sampled_from(["Success", "Failure", "Failure", "Unknown", None]),
        "records": st.sampled_from([None, 0, 1, 250]),
        "traffic_bytes_in": st.sampled_from([None, 0, 4096]),
        "traffic_bytes_out": st.sampled_from([None, 512]),
        "resource_name": st.sampled_from([None, "repo/app", "repo/infra", "s3://bucket/key"]),
        "resource_type": st.sampled_from([None, "repository", "bucket"]),
        "dst_endpoint_hostname": st.sampled_from(
            [None, "API.github.com", "api.github.com", "s3.amazonaws.com"]
        ),
        "metadata_tenant_uid": st.sampled_from([None, "t-1", "t-2"]),
        "src_endpoint_ip": st.sampled_from(
            [
                None,
                "10.1.2.3",
                "10.1.2.77",
                "10.9.0.1",
                "2001:db8::5",
                "2001:0db8:0:0:ffff::1",
                "::ffff:10.1.2.9",
                "junk",
            ]
        ),
        "src_endpoint_asn": st.sampled_from([None, 16509, 8075]),
        "http_request_user_agent": st.sampled_from([None, "terraform/1.8.5", "terraform/1.8.6", "curl/8.1"]),
        "actor_user_credential_uid": st.sampled_from([None, "key-1", "key-2"]),
        "api_operation": st.sampled_from([None, "GetObject", "git.clone", "CreateAccessKey"]),
        "scopes": st.sampled_from([None, [], ["repo"], ["repo", "admin:org"]]),
    }
)

# Per event and per dimension, with none of the fold's grouping: what every value set must hold.
_DIMS = {**DIMENSIONS, **rollups.USE_DIMENSIONS}
VALUES_RECOUNT = (
    " UNION ALL ".join(
        f"""SELECT integration_id, '{dim}', CAST({expr} AS VARCHAR) AS v, CAST(time AS DATE), min(time), max(time),
            count(*) FROM events e WHERE integration_id IS NOT NULL AND v IS NOT NULL GROUP BY ALL"""
        for dim, expr in _DIMS.items()
    )
    + " ORDER BY ALL"
)
VALUES_ROLLED = """SELECT integration_id, dimension, value, day, first_seen, last_seen, events FROM rollup_values
WHERE dimension NOT IN ('scope', 'scope_used') ORDER BY ALL"""
WHOLE_HOURS = """SELECT integration_id, hour, minutes, has_success, fail_lead, fail_inner, fail_trail
FROM rollup_hourly WHERE action_class = '*' AND status = '*' ORDER BY ALL"""


def _hour_shape(rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """Minutes, success and failure runs of one hour's (time, status) rows, counted in Python."""
    minutes = 0
    for time, _ in rows:
        minutes |= 1 << time.minute
    statuses = [s for _, s in rows if s is not None]
    has_success = None if not statuses else "Success" in statuses
    # a failure and a success at the same instant: failure first
    outcomes = [s for _, s in sorted(rows, key=lambda r: (r[0], r[1] or "")) if s in ("Success", "Failure")]
    if "Failure" not in outcomes:
        return minutes, has_success, 0, None, (0 if has_success else None)
    parts = "".join("S" if s == "Success" else "F" for s in outcomes).split("S")
    inner = max(len(p) for p in parts[1:-1]) if len(parts) > 2 else None
    trail = len(parts[-1]) if len(parts) > 1 else None
    return minutes, has_success, len(parts[0]), inner, ((trail or 0) if has_success else None)


def _expected_hours(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    hours: dict[tuple[str, datetime], list[tuple[datetime, str | None]]] = {}
    for e in events:
        if e["integration_id"] is not None:
            hour = e["time"].replace(minute=0, second=0)
            hours.setdefault((e["integration_id"], hour), []).append((e["time"], e["status"]))
    return sorted((*key, *_hour_shape(rows)) for key, rows in hours.items())


def _store(events: list[dict[str, Any]]) -> Store:
    store = Store(":memory:")
    rollups.ensure_tables(store)
    _insert(store, events, 0)
    return store


def _insert(store: Store, events: list[dict[str, Any]], first: int) -> None:
    rows = [(f"uid-{first + i}", *(e[c] for c in COLUMNS[1:])) for i, e in enumerate(events)]
    store.insert_rows("events", COLUMNS, rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(event, min_size=1, max_size=60), split=st.integers(0, 60))
def test_fold_equals_a_per_event_recount(events: list[dict[str, Any]], split: int) -> None:
    split = min(split, len(events))
    with _store(events[:split]) as store:
        rollups.rebuild(store)
        _insert(store, events[split:], split)
        rollups.advance(store)  # the hours the later events touch are recounted
        assert store.fetchall(VALUES_ROLLED) == store.fetchall(VALUES_RECOUNT)
        assert store.fetchall(WHOLE_HOURS) == _expected_hours(events)


def test_failure_runs_do_not_depend_on_the_order_events_were_stored() -> None:
    """A failure and a success at the same instant gave a failure before the first success or one after the
    last, whichever DuckDB read first."""
    at = START + timedelta(minutes=5)
    later = START + timedelta(minutes=9)
    base = {c: None for c in COLUMNS[1:]} | {"integration_id": "ci-deploy"}
    failure, success = base | {"time": at, "status": "Failure"}, base | {"time": at, "status": "Success"}
    closing = base | {"time": later, "status": "Success"}
    shapes = set()
    for order in ([failure, success, closing], [success, failure, closing], [closing, success, failure]):
        with _store(order) as store:
            rollups.rebuild(store)
            shapes.add(tuple(store.fetchall(WHOLE_HOURS)))
    assert shapes == {(("ci-deploy", START, (1 << 5) | (1 << 9), True, 1, 0, 0),)}
