"""Zeek conn / http / ssl JSON logs, written from the fields Zeek documents for each log."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.sources import registry
from nhiwatch.sources.base import Sample
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine, write

ZEEK = FIXTURES / "zeek"


def _by_uid(store: Store) -> dict[str, dict[str, object]]:
    return {str(r["metadata_uid"]): r for r in events(store)}


def test_each_log_is_recognised_by_its_own_keys() -> None:
    for log in ("conn", "http", "ssl"):
        line = next((ZEEK / log).glob("*.log")).read_text().splitlines()[0]
        sample = Sample(name=f"{log}.log", head=line, first_record=json.loads(line), first_line=line)
        found = registry.detect(sample)
        assert found is not None and found.id == f"zeek.{log}"


def test_conn_log_maps_endpoints_bytes_and_state(store: Store) -> None:
    report = ingest(store, [ZEEK / "conn"])
    assert report.stored == 4 and report.quarantined == 0
    rows = _by_uid(store)
    tls = rows["zeek:conn:CHhAvVGS1DHFjwGM9"]
    assert tls["class_uid"] == 4001 and tls["action_class"] == "egress" and tls["status"] == "Success"
    assert tls["src_endpoint_ip"] == "10.20.0.15" and tls["dst_endpoint_hostname"] == "3.5.1.2"
    assert tls["traffic_bytes_in"] == 5423 and tls["traffic_bytes_out"] == 48211
    assert tls["api_operation"] == "tcp/ssl" and tls["resource_name"] == "3.5.1.2:443"
    assert str(tls["time"]) == "2025-08-17 11:11:23.123456"
    assert rows["zeek:conn:C4J4Th3PJpwUYZZ6gc"]["status"] == "Failure"  # REJ
    assert rows["zeek:conn:CUM0KZ3MLUfNB0cl11"]["status_detail"] == "S0"
    assert rows["zeek:conn:CUM0KZ3MLUfNB0cl11"]["status"] == "Failure"


def test_http_log_uses_host_and_status(store: Store) -> None:
    ingest(store, [ZEEK / "http"])
    rows = sorted(events(store), key=lambda r: str(r["time"]))
    post, forbidden, fetch = rows
    assert post["class_uid"] == 4002 and post["api_operation"] == "POST"
    assert post["dst_endpoint_hostname"] == "hooks.example.com"
    assert post["resource_name"] == "/ingest/v1/events"
    assert post["traffic_bytes_in"] == 18273 and post["traffic_bytes_out"] == 2
    assert post["http_request_user_agent"] == "python-requests/2.32.3"
    assert forbidden["status"] == "Failure" and forbidden["status_detail"] == "403 Forbidden"
    assert forbidden["dst_endpoint_hostname"] == "hooks.example.com"  # port dropped
    assert fetch["actor_user_name"] == "svc-backup" and fetch["dst_endpoint_hostname"] == "192.0.2.44"
    # two requests on one connection keep distinct ids
    assert post["metadata_uid"] != forbidden["metadata_uid"]


def test_ssl_log_uses_sni_and_handshake_result(store: Store) -> None:
    ingest(store, [ZEEK / "ssl"])
    ok, bad = sorted(events(store), key=lambda r: str(r["time"]))
    assert ok["dst_endpoint_hostname"] == "api.drift.com" and ok["status"] == "Success"
    assert ok["class_uid"] == 4001 and ok["api_operation"] == "TLSv13"
    assert bad["dst_endpoint_hostname"] == "raw.githubusercontent.com" and bad["status"] == "Failure"
    assert bad["status_detail"] == "unable to get local issuer certificate"


def test_iso_timestamps_nested_ids_and_path_are_read(store: Store, tmp_path: Path) -> None:
    rec = {
        "_path": "conn",
        "ts": "2025-08-17T11:11:23.123456Z",
        "uid": "CJ2a6x3kU5ZJkTl6Ba",
        "id": {"orig_h": "10.20.0.15", "orig_p": 51234, "resp_h": "3.5.1.2", "resp_p": 443},
        "proto": "tcp",
        "conn_state": "SF",
        "orig_bytes": 10,
        "resp_bytes": 20,
    }
    report = ingest_text(store, tmp_path, "conn.json", json.dumps(rec) + "\n")
    assert report.stored == 1
    (row,) = events(store)
    assert row["source"] == "zeek" and str(row["time"]) == "2025-08-17 11:11:23.123456"
    assert row["src_endpoint_ip"] == "10.20.0.15" and row["resource_name"] == "3.5.1.2:443"


def test_bad_lines_are_quarantined_with_line_numbers(store: Store, tmp_path: Path) -> None:
    lines = (ZEEK / "conn" / "conn.log").read_text().splitlines()
    no_origin = json.loads(lines[1])
    del no_origin["id.orig_h"]
    broken = '{"ts":1755429090.5,"uid":"Cx", broken'
    content = "\n".join([lines[0], broken, json.dumps(no_origin), lines[2]]) + "\n"
    report = ingest(store, [write(tmp_path, "conn.log", content, gz=True)])
    assert report.stored == 2 and report.quarantined == 2
    reasons = {q["ingest_line"]: str(q["reason"]) for q in quarantine(store)}
    assert "not valid JSON" in reasons[2] and "id.orig_h" in reasons[3]
    assert [r["ingest_line"] for r in events(store)] == [1, 4]


def test_reingest_is_idempotent(store: Store) -> None:
    ingest(store, [ZEEK])
    again = ingest(store, [ZEEK])
    assert again.stored == 0 and again.duplicates == 9


conn_records = st.fixed_dictionaries(
    {
        "ts": st.floats(min_value=1.0e9, max_value=2.0e9, allow_nan=False).map(lambda t: round(t, 6)),
        "uid": st.from_regex(r"C[A-Za-z0-9]{17}", fullmatch=True),
        "id.orig_h": st.ip_addresses(v=4).map(str),
        "id.orig_p": st.integers(1, 65535),
        "id.resp_h": st.ip_addresses(v=4).map(str),
        "id.resp_p": st.integers(1, 65535),
        "proto": st.sampled_from(["tcp", "udp", "icmp"]),
        "orig_bytes": st.integers(0, 2**40),
        "resp_bytes": st.integers(0, 2**40),
        "conn_state": st.sampled_from(["SF", "S0", "REJ", "RSTO", "OTH", "SH", "S1"]),
    }
)


@settings(max_examples=25, deadline=None)
@given(records=st.lists(conn_records, min_size=1, max_size=8, unique_by=lambda r: r["uid"]))
def test_conn_records_round_trip(records: list[dict[str, object]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, Store(":memory:") as store:
        path = write(Path(tmp), "conn.log", "\n".join(json.dumps(r) for r in records) + "\n")
        report = ingest(store, [path])
        assert report.stored == len(records) and report.quarantined == 0
        for rec, row in zip(records, events(store), strict=True):
            assert row["metadata_uid"] == f"zeek:conn:{rec['uid']}"
            assert row["traffic_bytes_in"] == rec["orig_bytes"]
            assert row["traffic_bytes_out"] == rec["resp_bytes"]
            assert row["src_endpoint_ip"] == rec["id.orig_h"]
            assert row["dst_endpoint_hostname"] == rec["id.resp_h"]
            expected = {"S0": "Failure", "REJ": "Failure", "SH": "Failure", "OTH": "Unknown"}
            assert row["status"] == expected.get(str(rec["conn_state"]), "Success")
