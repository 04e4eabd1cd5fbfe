"""Squid native access.log: padded columns, CONNECT tunnels, denials, malformed lines."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine, write

ACCESS = FIXTURES / "squid" / "access_log" / "access.log"


def test_access_log_maps_columns(store: Store) -> None:
    report = ingest(store, [ACCESS])
    assert report.stored == 7 and report.quarantined == 0
    rows = {r["ingest_line"]: r for r in events(store)}
    tunnel = rows[1]
    assert tunnel["source"] == "squid" and tunnel["class_uid"] == 4002 and tunnel["action_class"] == "egress"
    assert str(tunnel["time"]) == "2025-08-17 11:11:23.123000"
    assert tunnel["api_operation"] == "CONNECT" and tunnel["dst_endpoint_hostname"] == "api.drift.com"
    assert tunnel["src_endpoint_ip"] == "10.20.0.15" and tunnel["traffic_bytes_out"] == 5423
    assert tunnel["status"] == "Success" and tunnel["status_detail"] == "TCP_TUNNEL/200"
    assert rows[2]["dst_endpoint_hostname"] == "archive.ubuntu.com"
    assert rows[3]["status"] == "Failure" and rows[4]["status"] == "Failure"  # TCP_DENIED/403, /407
    assert rows[4]["dst_endpoint_hostname"] == "192.0.2.44"
    assert rows[5]["status"] == "Failure" and rows[5]["actor_user_name"] == "svc-sync"  # 502
    assert rows[6]["status"] == "Unknown"  # aborted, no reply
    assert rows[7]["dst_endpoint_hostname"] is None and rows[7]["status"] == "Failure"


def test_malformed_lines_are_quarantined_and_the_rest_kept(store: Store, tmp_path: Path) -> None:
    good = ACCESS.read_text().splitlines()
    content = "\n".join(
        [
            good[0],
            "1755429084.532     87 10.20.0.15 TCP_MISS/200 1843 GET",  # cut short
            good[1],
            "Aug 17 11:11:24 proxy squid[812]: WARNING: something unrelated",
            "",
            good[2],
        ]
    )
    report = ingest(store, [write(tmp_path, "access.log", content, gz=True)], source="squid")
    assert report.stored == 3 and report.quarantined == 2
    assert [q["ingest_line"] for q in quarantine(store)] == [2, 4]
    assert "10 columns" in str(quarantine(store)[0]["reason"])
    assert [r["ingest_line"] for r in events(store)] == [1, 3, 6]


def test_extra_trailing_columns_are_accepted(store: Store, tmp_path: Path) -> None:
    line = ACCESS.read_text().splitlines()[1] + " [Host: archive.ubuntu.com\\r\\nAccept: */*\\r\\n] []"
    report = ingest_text(store, tmp_path, "access.log", line + "\n")
    assert report.stored == 1 and events(store)[0]["dst_endpoint_hostname"] == "archive.ubuntu.com"


def test_reingest_counts_duplicates(store: Store) -> None:
    ingest(store, [ACCESS])
    again = ingest(store, [ACCESS])
    assert again.stored == 0 and again.duplicates == 7


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){1,3}", fullmatch=True)
requests = st.tuples(
    st.integers(1_500_000_000, 1_900_000_000),
    st.integers(0, 999),
    st.integers(0, 10**6),
    st.ip_addresses(v=4).map(str),
    st.sampled_from(["TCP_MISS", "TCP_TUNNEL", "TCP_DENIED", "TCP_HIT", "TCP_REFRESH_MODIFIED"]),
    st.sampled_from([200, 204, 301, 403, 404, 407, 500, 503]),
    st.integers(0, 10**9),
    hosts,
    st.booleans(),
)


@settings(max_examples=25, deadline=None)
@given(reqs=st.lists(requests, min_size=1, max_size=10, unique=True), pad=st.integers(1, 6))
def test_access_log_round_trip(
    reqs: list[tuple[int, int, int, str, str, int, int, str, bool]], pad: int
) -> None:
    lines = []
    for secs, ms, elapsed, ip, code, http, size, host, connect in reqs:
        method, url = ("CONNECT", f"{host}:443") if connect else ("GET", f"http://{host}/x?y=1")
        head = f"{secs}.{ms:03d}{' ' * pad}{elapsed:>6} {ip}"
        lines.append(f"{head} {code}/{http} {size} {method} {url} - HIER_DIRECT/{ip} -")
    with tempfile.TemporaryDirectory() as tmp, Store(":memory:") as store:
        report = ingest(store, [write(Path(tmp), "access.log", "\n".join(lines) + "\n")])
        assert report.stored == len(reqs) and report.quarantined == 0
        for (_, _, _, ip, code, http, size, host, _), row in zip(reqs, events(store), strict=True):
            assert row["dst_endpoint_hostname"] == host and row["src_endpoint_ip"] == ip
            assert row["traffic_bytes_out"] == size
            failed = code == "TCP_DENIED" or http >= 400
            assert row["status"] == ("Failure" if failed else "Success")


def test_tabs_and_crlf_around_a_line_are_whitespace(store: Store, tmp_path: Path) -> None:
    line = ACCESS.read_text().splitlines()[0]
    report = ingest_text(store, tmp_path, "access.log", f"\t{line}\r\n  {line.replace('215', '216')}\t\r\n")
    assert report.stored == 2 and report.quarantined == 0


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.text(" \t\n\r\x0b\x0c\u00a0\u3000a-/", max_size=14), min_size=1, max_size=30))
def test_the_split_without_a_regex_splits_as_the_regex_did(lines: list[str]) -> None:
    from nhiwatch.sources.squid.access_log import _split

    regex = "regexp_split_to_array(regexp_replace(s, '^\\s+|\\s+$', '', 'g'), '\\s+')"
    with Store(":memory:") as s:
        rows = s.con.execute(
            f"SELECT s, {regex}, {_split('s')} FROM unnest(CAST(? AS VARCHAR[])) t(s)", [[*lines, None]]
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(r[0], r[2]) for r in rows]
