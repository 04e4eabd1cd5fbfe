"""AWS VPC Flow Logs: S3 delivery with a header (default v2 and a custom v5 format) and CloudWatch exports."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.ingest import ingest
from nhiwatch.sources.aws.vpc_flow import V2_FIELDS
from nhiwatch.store import Store
from tests.conftest import FIXTURES, events, ingest_text, quarantine, write

VPC = FIXTURES / "aws" / "vpc_flow"
V2 = next(VPC.glob("*_20250817T1115Z_*.log.gz"))
V5 = next(VPC.glob("*_20250817T1120Z_*.log.gz"))
CW = VPC / "cloudwatch-export-000000.txt"
V2_HEADER = " ".join(V2_FIELDS)
ENI = "2 123456789012 eni-0a1b2c3d4e5f67890"


def test_default_format_drops_header_and_quarantines_nodata_skipdata(store: Store) -> None:
    report = ingest(store, [V2])
    assert report.stored == 3 and report.quarantined == 2
    out, back, rejected = events(store)
    assert out["ingest_line"] == 2 and str(out["time"]) == "2025-08-17 11:11:23"
    assert out["source"] == "vpcflow" and out["class_uid"] == 4001 and out["action_class"] == "egress"
    assert out["metadata_tenant_uid"] == "123456789012" and out["actor_user_uid"] == "eni-0a1b2c3d4e5f67890"
    assert out["src_endpoint_ip"] == "10.20.0.15" and out["dst_endpoint_hostname"] == "3.5.1.2"
    assert out["traffic_bytes_in"] == 6683 and out["traffic_bytes_out"] is None
    assert out["resource_name"] == "3.5.1.2:443/tcp" and out["status"] == "Success"
    # the reply (public -> private) is seen from the workload: same peer, bytes received
    assert back["src_endpoint_ip"] == "10.20.0.15" and back["dst_endpoint_hostname"] == "3.5.1.2"
    assert back["traffic_bytes_out"] == 50363 and back["traffic_bytes_in"] is None
    assert rejected["status"] == "Failure" and rejected["api_operation"] == "REJECT"
    reasons = {q["ingest_line"]: str(q["reason"]) for q in quarantine(store)}
    assert reasons[5].startswith("NODATA") and reasons[6].startswith("SKIPDATA")


def test_custom_v5_format_is_read_by_header_names(store: Store) -> None:
    report = ingest(store, [V5])
    assert report.stored == 5 and report.quarantined == 1
    rows = {r["ingest_line"]: r for r in events(store)}
    assert rows[2]["actor_user_uid"] == "i-0c51a7e4d7b2f9a31" and rows[2]["traffic_bytes_in"] == 6683
    ingress = rows[3]
    assert ingress["src_endpoint_ip"] == "10.20.0.15" and ingress["traffic_bytes_out"] == 50363
    s3 = rows[4]
    assert s3["resource_type"] == "aws_service" and s3["resource_name"] == "S3"
    nat = rows[5]  # recorded on the NAT gateway's interface: the original source is pkt-srcaddr
    assert nat["src_endpoint_ip"] == "10.20.0.31" and nat["actor_user_uid"] == "eni-07d1e2f3a4b5c6d7e"
    assert rows[6]["status"] == "Failure"
    assert str(quarantine(store)[0]["reason"]).startswith("NODATA")


def test_cloudwatch_export_without_header_and_truncated_line(store: Store) -> None:
    report = ingest(store, [CW])
    assert report.stored == 2 and report.quarantined == 1
    (bad,) = quarantine(store)
    assert bad["ingest_line"] == 3 and "expected 14 fields" in str(bad["reason"])
    assert [r["dst_endpoint_hostname"] for r in events(store)] == ["3.5.1.2", "140.82.112.6"]


def test_same_flow_from_s3_and_cloudwatch_is_stored_once(store: Store) -> None:
    ingest(store, [CW])
    report = ingest(store, [V2])
    assert report.duplicates == 1 and report.stored == 2


def test_files_with_different_headers_in_one_run(store: Store, tmp_path: Path) -> None:
    ecs_header = (
        "version account-id srcaddr dstaddr dstport protocol bytes start action log-status "
        "ecs-service-name ecs-task-arn reject-reason some-future-field"
    )
    line = (
        "7 123456789012 10.20.4.9 34.120.5.5 443 6 900 1755429200 REJECT OK payments-sync "
        "arn:aws:ecs:us-east-1:123456789012:task/prod/0f1e2d3c4b5a69788 1 x"
    )
    one = write(tmp_path, "ecs.log", ecs_header + "\n" + line + "\n", gz=True)
    two = write(
        tmp_path,
        "v2.log",
        V2_HEADER
        + "\n"
        + f"{ENI} 10.20.0.15 140.82.112.6 49822 443 6 18 2911 1755429101 1755429143 ACCEPT OK\n",
    )
    report = ingest(store, [one, two])
    assert report.stored == 2 and report.quarantined == 0
    ecs = events(store, "ingest_file LIKE '%ecs.log.gz'")[0]
    assert ecs["actor_user_name"] == "payments-sync" and ecs["actor_user_uid"].endswith("0f1e2d3c4b5a69788")
    assert ecs["status_detail"] == "1" and ecs["ingest_line"] == 2


def test_garbage_line_among_flows_keeps_the_rest(store: Store, tmp_path: Path) -> None:
    good = f"{ENI} 10.20.0.15 3.5.1.2 51234 443 6 24 6683 1755429083 1755429143 ACCEPT OK"
    content = "\n".join([V2_HEADER, good, "this is not a flow record", good.replace("51234", "51235")]) + "\n"
    report = ingest_text(store, tmp_path, "flows.log", content, source="vpcflow")
    assert report.stored == 2 and report.quarantined == 1
    assert quarantine(store)[0]["ingest_line"] == 3


flow = st.tuples(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=4).map(str),
    st.integers(0, 65535),
    st.sampled_from(["6", "17", "1"]),
    st.integers(1, 10**6),
    st.integers(0, 10**12),
    st.integers(1_500_000_000, 1_900_000_000),
    st.sampled_from(["ACCEPT", "REJECT"]),
)


@settings(max_examples=25, deadline=None)
@given(flows=st.lists(flow, min_size=1, max_size=10, unique=True), sep=st.sampled_from([" ", "  ", "\t"]))
def test_default_format_round_trip(
    flows: list[tuple[str, str, int, str, int, int, int, str]], sep: str
) -> None:
    lines = [V2_HEADER]
    for n, (src, dst, port, proto, pkts, nbytes, start, action) in enumerate(flows):
        cols = ["2", "123456789012", "eni-0a1b2c3d4e5f67890", src, dst, str(40000 + n), str(port), proto]
        cols += [str(pkts), str(nbytes), str(start), str(start + 60), action, "OK"]
        lines.append(sep.join(cols))
    with tempfile.TemporaryDirectory() as tmp, Store(":memory:") as store:
        report = ingest(store, [write(Path(tmp), "f.log", "\n".join(lines) + "\n", gz=True)])
        assert report.stored == len(flows) and report.quarantined == 0
        for (src, dst, _, _, _, nbytes, _, action), row in zip(flows, events(store), strict=True):
            assert {row["src_endpoint_ip"], row["dst_endpoint_hostname"]} == {src, dst}
            assert nbytes in (row["traffic_bytes_in"], row["traffic_bytes_out"])
            assert row["status"] == ("Success" if action == "ACCEPT" else "Failure")
