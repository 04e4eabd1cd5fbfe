"""The providers' range files: parsing (hostile input included), lookup in SQL, and the refresh command."""

from __future__ import annotations

import gzip
import ipaddress
import itertools
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from nhiwatch.cli import app
from nhiwatch.errors import DataFormatError
from nhiwatch.netranges import ensure, load_ranges, lookup_sql, parse, read_table, write_table
from nhiwatch.netranges.parse import Range
from nhiwatch.netranges.table import flatten
from nhiwatch.store import Store

AWS = {
    "syncToken": "1",
    "createDate": "2025-07-24-20-23-14",
    "prefixes": [
        {"ip_prefix": "52.0.0.0/15", "region": "us-east-1", "service": "AMAZON"},
        {"ip_prefix": "52.0.0.0/15", "region": "us-east-1", "service": "EC2"},
        {"ip_prefix": "52.10.0.0/15", "region": "us-west-2", "service": "EC2"},
    ],
    "ipv6_prefixes": [{"ipv6_prefix": "2600:1f14::/35", "region": "us-west-2", "service": "EC2"}],
}
GCP = {"prefixes": [{"ipv4Prefix": "34.35.0.0/16", "service": "Google Cloud", "scope": "africa-south1"}]}
AZURE = {
    "changeNumber": 1,
    "cloud": "Public",
    "values": [
        {
            "name": "AzureCloud.westus3",
            "properties": {"region": "westus3", "addressPrefixes": ["20.38.0.0/20"]},
        },
        {"name": "Storage", "properties": {"region": "", "addressPrefixes": ["20.38.0.0/24"]}},
    ],
}
GEOFEED = "208.68.36.0/22,US,US-NJ,North Bergen,07047\n5.101.96.0/21,NL,NL-NH,Amsterdam,1098 XH\n"


def test_each_official_format_is_recognised_from_its_content() -> None:
    fmt, aws = parse(orjson.dumps(AWS))
    assert fmt == "aws" and {(r.prefix, r.region, r.service) for r in aws} == {
        ("52.0.0.0/15", "us-east-1", "EC2"),  # the service row wins over the AMAZON supernet entry
        ("52.10.0.0/15", "us-west-2", "EC2"),
        ("2600:1f14::/35", "us-west-2", "EC2"),
    }
    assert parse(orjson.dumps(GCP))[0] == "gcp"
    fmt, az = parse(orjson.dumps(AZURE))
    assert fmt == "azure" and [(r.prefix, r.region) for r in az] == [("20.38.0.0/20", "westus3")]
    fmt, do = parse(GEOFEED.encode(), provider="DigitalOcean")
    assert fmt == "geofeed" and do[0] == Range(
        "208.68.36.0/22", "DigitalOcean", "US-NJ North Bergen", "hosting"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "neither"),
        (b"{not json", "not valid JSON"),
        (b'{"hello": 1}', "none of AWS"),
        (orjson.dumps({"prefixes": [{"ip_prefix": "0.0.0.0/0", "region": "x"}]}), "broader than /8"),
        (
            orjson.dumps({"prefixes": [{"ip_prefix": "10.0.0.0/8", "region": "x"}]}),
            "not a public address range",
        ),
        (orjson.dumps({"prefixes": [{"ip_prefix": {"a": 1}}]}), "no valid prefix"),
        (orjson.dumps({"prefixes": "52.0.0.0/15"}), "none of AWS"),
        (orjson.dumps({"prefixes": [{"ip_prefix": "52.0.0.0/15"}], "ipv6_prefixes": 5}), "expected a list"),
        (b"[" * 5000 + b"]" * 5000, "neither"),
        (b"\xff\xfe1.2.3.0/24,x\n", "not UTF-8"),
    ],
)
def test_hostile_range_files_get_a_sentence_not_a_traceback(data: bytes, message: str) -> None:
    with pytest.raises(DataFormatError, match=message):
        parse(data, "f.json")


def test_a_file_with_more_than_one_bad_prefix_in_a_hundred_is_refused_whole() -> None:
    good = [{"ip_prefix": f"52.{i}.0.0/16", "region": "r"} for i in range(50)]
    with pytest.raises(DataFormatError, match="2 of 52 prefixes are invalid"):
        parse(orjson.dumps({"prefixes": [*good, {"ip_prefix": "52.0.0.1/16"}, {"ip_prefix": "x"}]}))


prefixes = st.one_of(
    st.builds(
        lambda a, n: str(ipaddress.ip_network(f"{ipaddress.IPv4Address(a)}/{n}", strict=False)),
        st.integers(0, 2**32 - 1),
        st.integers(0, 32),
    ),
    st.builds(
        lambda a, n: str(ipaddress.ip_network(f"{ipaddress.IPv6Address(a)}/{n}", strict=False)),
        st.integers(0, 2**128 - 1),
        st.integers(0, 128),
    ),
    st.text(max_size=40),
)
entries = st.lists(
    st.fixed_dictionaries(
        {
            "ip_prefix": prefixes,
            "region": st.one_of(st.text(max_size=80), st.integers(-(2**63), 2**63 - 1), st.none()),
        },
        optional={"service": st.text(max_size=20)},
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(entries)
def test_parser_accepts_only_public_bounded_prefixes_or_refuses_with_a_message(items: list[dict]) -> None:
    try:
        _, ranges = parse(orjson.dumps({"prefixes": items, "ipv6_prefixes": []}))
    except DataFormatError as exc:
        assert str(exc)
        return
    for r in ranges:
        net = ipaddress.ip_network(r.prefix)
        assert net.prefixlen >= (8 if net.version == 4 else 16) and not net.network_address.is_private
        assert len(r.region) <= 48 and "<" not in r.region and "\n" not in r.region
    # our own table format reads back what it wrote
    assert sorted(read_table(write_table(ranges))) == sorted(ranges) if ranges else True


def test_lookup_names_the_most_specific_prefix_in_sql(store: Store) -> None:
    ensure(store)
    store.execute("CREATE TABLE ips (ip VARCHAR)")
    store.execute(
        "INSERT INTO ips VALUES ('52.10.1.5'), ('52.0.5.9'), ('208.68.36.90'), ('34.35.1.1'), ('20.38.1.1'), "
        "('198.51.100.10'), ('2600:1f14::1'), ('::ffff:52.10.1.5'), ('not-an-ip'), (NULL)"
    )
    got = {r[0]: r[1:3] for r in store.fetchall(f"SELECT ip, provider, region FROM {lookup_sql('ips')}")}
    assert got["52.10.1.5"] == ("AWS", "us-west-2") == got["::ffff:52.10.1.5"]
    assert got["52.0.5.9"] == ("AWS", "us-east-1")
    assert got["208.68.36.90"][0] == "DigitalOcean"
    assert got["34.35.1.1"][0] == "GCP" and got["20.38.1.1"][0] == "Azure"
    assert got["2600:1f14::1"][0] == "AWS"
    assert got["198.51.100.10"] == (None, None) == got["not-an-ip"]


def test_flatten_gives_disjoint_intervals_labelled_by_the_innermost_prefix() -> None:
    r = [
        Range("3.0.0.0/8", "AWS", "", "AMAZON"),
        Range("3.5.0.0/16", "AWS", "us-east-1", "EC2"),
        Range("3.5.7.0/24", "AWS", "us-east-2", "S3"),
        Range("3.9.0.0/16", "AWS", "eu-west-1", "EC2"),
    ]
    flat = flatten(r)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(flat))
    probe = int(ipaddress.ip_address("3.5.7.9")) | (0xFFFF << 32)
    assert [x.region for lo, hi, x in flat if lo <= probe <= hi] == ["us-east-2"]
    probe = int(ipaddress.ip_address("3.5.8.1")) | (0xFFFF << 32)
    assert [x.region for lo, hi, x in flat if lo <= probe <= hi] == ["us-east-1"]


def test_refresh_from_a_fake_server_writes_the_override_and_keeps_other_providers(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/ip-ranges.json").respond_with_data(orjson.dumps(AWS))
    httpserver.expect_request("/details").respond_with_data(
        b'<html><a href="' + httpserver.url_for("/x/ServiceTags_Public_20250721.json").encode() + b'">x</a>'
    )
    db = tmp_path / "n.duckdb"
    res = CliRunner().invoke(
        app, ["netranges", "refresh", "--db", str(db), "--from", httpserver.url_for("/ip-ranges.json")]
    )
    assert res.exit_code == 0, res.output
    ranges, origin = load_ranges(db)
    assert origin.endswith("n.duckdb.netranges.csv.gz")
    aws = [r for r in ranges if r.provider == "AWS"]
    assert len(aws) == 3  # replaced by the fake file's
    assert any(r.provider == "Azure" for r in ranges) and any(r.provider == "GCP" for r in ranges)  # kept


def test_refresh_follows_the_azure_download_page_only_to_microsoft(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/details").respond_with_data(
        b'<html><a href="https://evil.example/ServiceTags_Public_20250721.json">x</a>'
    )
    res = CliRunner().invoke(
        app,
        [
            "netranges",
            "refresh",
            "--db",
            str(tmp_path / "n.duckdb"),
            "--from",
            httpserver.url_for("/details"),
        ],
    )
    assert res.exit_code == 2 and "ServiceTags_Public_YYYYMMDD.json link" in res.output
    assert not (tmp_path / "n.duckdb.netranges.csv.gz").exists()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"nope", 404, "HTTP 404"),
        (b'{"prefixes": [{"ip_prefix": "127.0.0.0/8"}]}', 200, "not a public address range"),
        (b"<html>hello</html>", 200, "neither"),
    ],
)
def test_refresh_refuses_bad_downloads_with_a_message_and_writes_nothing(
    tmp_path: Path, httpserver: HTTPServer, body: bytes, status: int, message: str
) -> None:
    httpserver.expect_request("/r").respond_with_data(body, status=status)
    res = CliRunner().invoke(
        app, ["netranges", "refresh", "--db", str(tmp_path / "n.duckdb"), "--from", httpserver.url_for("/r")]
    )
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "n.duckdb.netranges.csv.gz").exists()


def test_refresh_bounds_the_download_size(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("nhiwatch.netranges.refresh.MAX_BYTES", 1000)
    httpserver.expect_request("/big").respond_with_data(b"{" + b" " * 5000 + b"}")
    res = CliRunner().invoke(
        app,
        ["netranges", "refresh", "--db", str(tmp_path / "n.duckdb"), "--from", httpserver.url_for("/big")],
    )
    assert res.exit_code == 2 and "more than 1,000 bytes" in res.output


def test_a_damaged_override_falls_back_to_the_shipped_snapshot(tmp_path: Path) -> None:
    db = tmp_path / "n.duckdb"
    (tmp_path / "n.duckdb.netranges.csv.gz").write_bytes(
        gzip.compress(b"prefix,provider,region,service\n0.0.0.0/0,X,,\n")
    )
    ranges, origin = load_ranges(db)
    assert "ignored" in origin and any(r.provider == "AWS" for r in ranges)
