"""``nhiwatch export --lake s3://bucket/prefix`` against a local S3: the same layout, read back by DuckDB.

Also the hostile side: bucket and prefix validated before any request, credentials never taken from (or
echoed out of) the URL, and a missing bucket, refused credentials or an unreachable endpoint as one line.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow.fs as pafs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from nhiwatch.cli import app
from nhiwatch.errors import ConfigError, NhiwatchError
from nhiwatch.lake.export import export_lake, read_cursor
from nhiwatch.lake.location import open_lake, parse_lake
from nhiwatch.lake.read import lake_dataset
from nhiwatch.pipeline import ingest_all
from nhiwatch.store import Store
from tests.server.data import attack, ndjson, write_company
from tests.spark.conftest import LocalS3

runner = CliRunner()


@pytest.fixture
def company(store: Store, tmp_path: Path) -> Store:
    logs, inv = write_company(tmp_path / "co")
    ingest_all(store, [logs], inventory=inv)
    return store


def _sql(dataset: object, query: str) -> list[tuple[object, ...]]:
    """DuckDB over a lake table read with pyarrow (how a lake on S3 is read where httpfs is not installed)."""
    con = duckdb.connect()
    con.register("t", dataset)
    return con.sql(query).fetchall()


def _files(s3: LocalS3, under: str) -> list[str]:
    fs = pafs.S3FileSystem(endpoint_override=s3.endpoint, region="us-east-1")
    sel = pafs.FileSelector(f"{s3.bucket}/{under}", recursive=True, allow_not_found=True)
    return sorted(f.path for f in fs.get_file_info(sel) if f.type == pafs.FileType.File)


def test_export_to_s3_keeps_the_layout_and_duckdb_reads_it_back(company: Store, s3: LocalS3) -> None:
    report = export_lake(company, s3.url("security-lake/ext/nhiwatch"))
    assert report.lake == s3.url("security-lake/ext/nhiwatch")
    assert report.events == company.event_count() > 0
    files = _files(s3, "security-lake/ext/nhiwatch/events")
    assert files and all("/source=github/event_day=" in f and f.endswith(".parquet") for f in files)
    events = lake_dataset(s3.url("security-lake/ext/nhiwatch"), "events")
    cols = "metadata_uid, time, source, integration_id, src_endpoint_ip, raw_hash"
    assert sorted(_sql(events, f"SELECT {cols} FROM t")) == sorted(
        company.fetchall(f"SELECT {cols} FROM events")
    )
    days = _sql(events, "SELECT count(DISTINCT event_day) FROM t")[0][0]
    assert days == company.scalar("SELECT count(DISTINCT CAST(time AS DATE)) FROM events") > 20
    for table in ("rollup_hourly", "rollup_values", "rollup_sizes", "rollup_lifecycle"):
        rollup = lake_dataset(s3.url("security-lake/ext/nhiwatch"), table)
        assert _sql(rollup, "SELECT count(*) FROM t") == company.fetchall(f"SELECT count(*) FROM {table}")
    assert _files(s3, "security-lake/ext/nhiwatch/reference/integrations") == [
        f"{s3.bucket}/security-lake/ext/nhiwatch/reference/integrations/data.parquet"
    ]
    assert events.count_rows() == report.events


def test_a_second_s3_export_adds_only_new_events_and_replaces_the_rollups(
    company: Store, s3: LocalS3, tmp_path: Path
) -> None:
    url = s3.url()
    first = export_lake(company, url)
    rollup_files = _files(s3, "lake/rollup_hourly")
    assert export_lake(company, url).events == 0
    extra = tmp_path / "more.jsonl"
    late = [dict(r, _document_id=f"late-{i}") for i, r in enumerate(attack(day_offset=29))]
    extra.write_bytes(ndjson(late))
    ingest_all(company, [extra])
    second = export_lake(company, url)
    assert second.events == len(late) and read_cursor(url).done == second.cursor > first.cursor
    uids = lake_dataset(url, "events").to_table(columns=["metadata_uid"])["metadata_uid"].to_pylist()
    assert len(uids) == len(set(uids)) == company.event_count()
    # the earlier exports' rollup files are gone: the table is counted once, not once per export
    assert not set(rollup_files) & set(_files(s3, "lake/rollup_hourly"))
    hourly = lake_dataset(url, "rollup_hourly")
    assert _sql(hourly, "SELECT count(*) FROM t") == company.fetchall("SELECT count(*) FROM rollup_hourly")


def test_full_export_to_s3_rewrites_events_once(company: Store, s3: LocalS3) -> None:
    export_lake(company, s3.url())
    export_lake(company, s3.url(), full=True)
    assert lake_dataset(s3.url(), "events").count_rows() == company.event_count()


def test_cli_export_to_s3(tmp_path: Path, s3: LocalS3) -> None:
    logs, inv = write_company(tmp_path / "co")
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        ingest_all(s, [logs], inventory=inv)
        n = s.event_count()
    out = runner.invoke(app, ["export", "--lake", s3.url("p/"), "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert f"exported {n:,} new event(s) to {s3.url('p')}" in out.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "not a valid S3 bucket name"),
        ("s3://Bucket/x", "not a valid S3 bucket name"),
        ("s3://ab/x", "not a valid S3 bucket name"),
        ("s3://a..b/x", "not a valid S3 bucket name"),
        ("s3://192.168.1.10/x", "not a valid S3 bucket name"),
        ("s3://bucket/../other", "plain path segments"),
        ("s3://bucket/a//b", "plain path segments"),
        ("s3://bucket/a\\b", "plain path segments"),
        ("s3://bucket/a\x00b", "plain path segments"),
        ("s3://bucket/a?versionId=1", "without ? or #"),
        ("gs://bucket/x", "gs:// is not supported"),
        ("https://bucket.s3.amazonaws.com/x", "https:// is not supported"),
        ("s3://bucket/" + "p/" * 300, "longer than"),
    ],
)
def test_bad_lake_urls_are_refused_before_any_request(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_lake(url)


def test_credentials_in_the_url_are_refused_and_never_echoed(tmp_path: Path, company: Store) -> None:
    secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
    with pytest.raises(ConfigError, match="must not carry credentials") as err:
        export_lake(company, f"s3://AKIAEXAMPLE:{secret}@bucket/lake")
    assert secret not in str(err.value) and "AKIAEXAMPLE" not in str(err.value)
    db = tmp_path / "s.duckdb"
    Store(db).close()
    out = runner.invoke(app, ["export", "--lake", f"s3://AKIAEXAMPLE:{secret}@bucket/lake", "--db", str(db)])
    assert out.exit_code != 0 and "must not carry credentials" in out.output
    assert secret not in out.output and "Traceback" not in out.output


@given(st.text(max_size=80))
def test_parse_lake_accepts_or_refuses_with_a_config_error(tail: str) -> None:
    try:
        loc = parse_lake("s3://" + tail)
    except ConfigError as exc:
        assert "\x00" not in str(exc)
        return
    assert loc.is_s3 and loc.url == f"s3://{loc.root}"
    assert ".." not in loc.root.split("/") and "//" not in loc.root and "@" not in loc.root


def test_a_missing_bucket_is_one_clear_line(company: Store, s3: LocalS3, tmp_path: Path) -> None:
    with pytest.raises(NhiwatchError, match="bucket 'no-such-bucket-here' does not exist"):
        export_lake(company, "s3://no-such-bucket-here/lake")
    logs, inv = write_company(tmp_path / "co2")
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        ingest_all(s, [logs], inventory=inv)
    out = runner.invoke(app, ["export", "--lake", "s3://no-such-bucket-here/lake", "--db", str(db)])
    assert out.exit_code != 0 and "does not exist" in out.output and "Traceback" not in out.output


def test_refused_and_missing_credentials_are_one_clear_line(
    company: Store, s3: LocalS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import moto.settings

    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # the server now checks keys
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(NhiwatchError, match="access was denied: check that the AWS credentials") as err:
        export_lake(company, s3.url())
    assert "not-the-secret" not in str(err.value)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(NhiwatchError, match="no AWS credentials were found"):
        export_lake(company, s3.url())


def test_an_unreachable_or_malformed_endpoint_is_one_clear_line(
    company: Store, s3: LocalS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(NhiwatchError, match="could not be reached"):
        open_lake(s3.url())
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://user:pw@minio:9000")
    with pytest.raises(ConfigError, match="without credentials") as err:
        open_lake(s3.url())
    assert "pw" not in str(err.value)


def test_reading_a_lake_that_is_not_there(s3: LocalS3) -> None:
    with pytest.raises(NhiwatchError, match="has no events: run `nhiwatch export"):
        lake_dataset(s3.url("empty"), "events")
    with pytest.raises(NhiwatchError, match="does not exist"):
        open_lake(s3.url("empty"), must_exist=True)


def test_detect_on_a_bad_or_missing_s3_lake_is_one_line_before_spark_starts(
    tmp_path: Path, s3: LocalS3
) -> None:
    logs, inv = write_company(tmp_path / "co")
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        ingest_all(s, [logs], inventory=inv)
    for lake, message in [
        ("s3://Not_A_Bucket/x", "not a valid S3 bucket name"),
        ("s3://no-such-bucket-here/x", "bucket 'no-such-bucket-here' does not exist"),
        (s3.url("never-exported"), "does not exist: write one with `nhiwatch export --lake`"),
    ]:
        out = runner.invoke(app, ["detect", "--engine", "spark", "--lake", lake, "--db", str(db)])
        assert out.exit_code != 0 and message in out.output, out.output
        assert "Traceback" not in out.output
