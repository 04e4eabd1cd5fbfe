"""The Entra / Graph storage-export collector (``entra_storage``) against a fake Blob service: hourly
append blobs of four ``insights-logs-*`` containers in both path layouts, read by offset (a tail appended
later is read once, a record being written is never cut), crashes between reading and the commit,
throttling with ``Retry-After``, hostile blob names and bad lines, and credentials kept out of every
message."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from nhiwatch.errors import ConfigError
from nhiwatch.sources.collect import registry, runner
from nhiwatch.sources.collect.base import Collector
from nhiwatch.sources.microsoft.storage import CONTAINERS, hour_of
from nhiwatch.store import Store
from tests.collectors.conftest import Clock, checkpoint, ids, options
from tests.collectors.crash import Crash, CrashingStore
from tests.collectors.fake_azure import (
    ACCOUNT_KEY,
    SAS,
    SAS_SIG,
    TENANT,
    FakeBlobService,
    Fault,
    blob_name,
    records,
)
from tests.collectors.fakes import NOW

pytest.importorskip("azure.storage.blob")

SP = "insights-logs-serviceprincipalsigninlogs"
MI = "insights-logs-managedidentitysigninlogs"
AUDIT = "insights-logs-auditlogs"
GRAPH = "insights-logs-microsoftgraphactivitylogs"
KIND = {SP: "signins", MI: "signins", AUDIT: "audit", GRAPH: "graph"}
SINCE = NOW - timedelta(days=2)


@pytest.fixture
def fake(httpserver: HTTPServer) -> Iterator[FakeBlobService]:
    service = FakeBlobService()
    service.base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request(re.compile(".*")).respond_with_handler(service)
    yield service


class Tenant:
    """What the fake account holds, and the ids nhiwatch should store from it."""

    def __init__(self, fake: FakeBlobService) -> None:
        self.fake = fake
        self.ids: list[str] = []
        self.n = 0

    def write(self, container: str, hours_ago: int, n: int = 3, *, style: str = "tenant") -> str:
        at = (NOW - timedelta(hours=hours_ago)).replace(minute=0)
        name = blob_name(at, style=style)
        self.n += 1
        data, new = records(KIND[container], at, n, f"{self.n:08x}")
        self.fake.append(container, name, data)
        self.ids += new
        return name


def _build(
    fake: FakeBlobService, clock: Clock, env: dict[str, str] | None = None, **settings: Any
) -> Collector:
    return registry.build(
        "entra_storage",
        {"base_url": fake.account_url, **settings},
        env=env if env is not None else {"NHIWATCH_ENTRA_STORAGE_SAS_TOKEN": SAS},
        http=options(clock),
    )


def _run(store: Store, collector: Collector, **kw: Any) -> runner.RunReport:
    try:
        return runner.run(store, collector, now=kw.pop("now", lambda: NOW), **kw)
    finally:
        collector.close()


def _stored(store: Store) -> list[str]:
    return ids(store, "microsoft")


def _uids(store: Store) -> list[str]:
    """The record ids inside the stored uids (Graph requests key by request id and URI hash)."""
    found = [re.search(r"[0-9a-f]{8}-\d{4}-4000-8000-0{12}", u) for u in _stored(store)]
    return sorted(m.group(0) if m else "?" for m in found)


def _gets(fake: FakeBlobService) -> list[tuple[str, str]]:
    return list(fake.ranges)


def test_first_run_reads_every_blob_then_a_second_run_reads_nothing_new(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    for c in CONTAINERS:
        t.write(c, 30)  # yesterday
        t.write(c, 3, style="resourceId")
        t.write(c, 1)
    collector = _build(fake, clock)
    for feed in collector.streams:
        feed.page_size = 2  # type: ignore[union-attr]  # several List Blobs pages per day
    report = _run(store, collector, since=SINCE)
    assert report.ok, [s.error for s in report.streams]
    assert [s.stored for s in report.streams] == [9, 9, 9, 9]
    assert all(s.caught_up and s.quarantined == 0 and s.duplicates == 0 for s in report.streams)
    assert _uids(store) == sorted(t.ids)
    assert {path.split("?")[0].split("/")[2] for _, path, _ in fake.requests} == set(CONTAINERS)
    cp = checkpoint(store, "entra_storage", f"{fake.account_url}/{SP}")
    assert cp.cursor == "2026-11-29" and cp.since == NOW and cp.last_error is None
    reads = len(fake.ranges)
    again = _run(store, _build(fake, clock), now=lambda: NOW + timedelta(minutes=10))
    assert again.ok and again.stored == 0 and len(fake.ranges) == reads  # listed, nothing fetched


def test_an_appended_tail_is_read_once_from_the_offset_already_read(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    name = t.write(AUDIT, 0)  # the hour being written now
    first = _run(store, _build(fake, clock, containers=AUDIT))
    assert first.ok and first.stored == 3
    size = len(fake.containers[AUDIT][name])
    # Azure appends two more records to the same blob.
    data, new = records("audit", NOW.replace(minute=30), 2, "0000beef")
    fake.append(AUDIT, name, data)
    t.ids += new
    second = _run(store, _build(fake, clock, containers=AUDIT), now=lambda: NOW + timedelta(minutes=5))
    assert second.ok and second.stored == 2 and second.streams[0].duplicates == 0
    assert fake.ranges[-1] == (name, f"bytes={size}-{size + len(data) - 1}")  # only the tail
    third = _run(store, _build(fake, clock, containers=AUDIT), now=lambda: NOW + timedelta(minutes=9))
    assert third.ok and third.stored == 0 and len(fake.ranges) == 2
    assert _uids(store) == sorted(t.ids)


def test_a_record_being_written_is_not_cut_and_is_read_when_complete(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    name = t.write(SP, 0, n=2)
    data, new = records("signins", NOW.replace(minute=40), 1, "0000cafe")
    half = len(data) // 2
    fake.append(SP, name, data[:half])  # the writer is in the middle of this line
    first = _run(store, _build(fake, clock, containers=SP))
    assert first.ok and first.stored == 2 and first.streams[0].quarantined == 0
    fake.append(SP, name, data[half:])
    t.ids += new
    second = _run(store, _build(fake, clock, containers=SP), now=lambda: NOW + timedelta(minutes=5))
    assert second.ok and second.stored == 1 and second.streams[0].quarantined == 0
    assert _uids(store) == sorted(t.ids)


def test_the_last_line_of_a_closed_hour_counts_without_its_newline(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    open_hour = t.write(SP, 0, n=1)
    closed = t.write(SP, 5, n=1)
    for name, hours in ((open_hour, 0), (closed, 5)):
        data, new = records("signins", NOW - timedelta(hours=hours), 1, f"0000{hours:04d}")
        fake.append(SP, name, data.rstrip(b"\n"))
        t.ids += new
    report = _run(store, _build(fake, clock, containers=SP))
    assert report.ok and report.stored == 3  # both closed-hour lines; only the open hour's first
    clock.now += 3 * 3600  # the open hour is now over by more than the grace
    late = _run(store, _build(fake, clock, containers=SP), now=lambda: NOW + timedelta(hours=3))
    assert late.ok and late.stored == 1 and _uids(store) == sorted(t.ids)


def test_a_blob_that_shrank_was_replaced_and_is_read_again_without_duplicates(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    name = t.write(GRAPH, 1, n=4)
    assert _run(store, _build(fake, clock, containers=GRAPH)).stored == 4
    data, new = records("graph", NOW - timedelta(hours=1), 1, "0000f00d")
    fake.containers[GRAPH][name] = bytearray(data)
    t.ids += new
    report = _run(store, _build(fake, clock, containers=GRAPH), now=lambda: NOW + timedelta(minutes=5))
    assert report.ok and report.stored == 1 and fake.ranges[-1] == (name, f"bytes=0-{len(data) - 1}")
    assert sorted(set(_uids(store))) == sorted(t.ids) == _uids(store)


@pytest.mark.parametrize("crash_at", [1, 2])
def test_a_crash_between_reading_and_the_commit_rereads_without_duplicates(
    fake: FakeBlobService, tmp_path: Path, clock: Clock, crash_at: int
) -> None:
    t = Tenant(fake)
    name = t.write(SP, 2)
    t.write(SP, 1)
    db = tmp_path / "crash.duckdb"
    s = CrashingStore(db)
    s.crash_at = crash_at
    try:
        with pytest.raises(Crash):
            _run(s, _build(fake, clock, containers=SP), since=SINCE)
    finally:
        s.close()
    data, new = records("signins", NOW - timedelta(hours=2), 2, "0000d00d")
    fake.append(SP, name, data)  # and the blob grew meanwhile
    t.ids += new
    with Store(db) as s2:
        stored_before = len(_stored(s2))
        assert stored_before < len(t.ids)
        report = _run(s2, _build(fake, clock, containers=SP))
        assert report.ok and report.streams[0].duplicates == 0
        assert _uids(s2) == sorted(t.ids)


def test_429_and_503_are_waited_out_as_retry_after_asks(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    t.write(AUDIT, 1)
    fake.faults["list"] = [
        Fault(429, "TooManyRequests", {"Retry-After": "7"}),
        Fault(503, "ServerBusy", {"x-ms-retry-after-ms": "1500"}),
    ]
    fake.faults["get"] = [Fault(503, "ServerBusy", {"Retry-After": "2"}), Fault(500, "InternalError")]
    report = _run(store, _build(fake, clock, containers=AUDIT))
    assert report.ok, report.streams[0].error
    assert report.stored == 3 and _uids(store) == sorted(t.ids)
    # Retry-After plus jitter (rng 0.5) of a tenth of it; our own backoff (1 s, then 2 s) without one.
    assert clock.sleeps == pytest.approx([7.4, 1.625, 2.15, 1.0])


def test_a_wait_longer_than_a_run_allows_ends_it_and_the_checkpoint_stays(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    t.write(AUDIT, 1)
    assert _run(store, _build(fake, clock, containers=AUDIT)).ok
    before = checkpoint(store, "entra_storage", f"{fake.account_url}/{AUDIT}")
    t.write(AUDIT, 0)
    fake.faults["get"] = [Fault(503, "ServerBusy", {"Retry-After": "3600"})]
    report = _run(store, _build(fake, clock, containers=AUDIT), now=lambda: NOW + timedelta(minutes=5))
    error = report.streams[0].error or ""
    assert "asks to wait 3600 s" in error and "next run" in error
    after = checkpoint(store, "entra_storage", f"{fake.account_url}/{AUDIT}")
    assert (after.cursor, after.since) == (before.cursor, before.since) and after.last_error == error
    retry = _run(store, _build(fake, clock, containers=AUDIT), now=lambda: NOW + timedelta(minutes=9))
    assert retry.ok and retry.stored == 3 and _uids(store) == sorted(t.ids)


def test_a_body_cut_short_is_fetched_again(fake: FakeBlobService, store: Store, clock: Clock) -> None:
    t = Tenant(fake)
    name = t.write(GRAPH, 1)
    fake.faults["get"] = [Fault(200, "", cut=True)]
    report = _run(store, _build(fake, clock, containers=GRAPH))
    assert report.ok and report.stored == 3 and report.streams[0].quarantined == 0
    # The SDK asks for the same range again itself (its download loop retries a short body at once).
    assert [r for _, r in fake.ranges] == [f"bytes=0-{len(fake.containers[GRAPH][name]) - 1}"] * 2


def test_hostile_blob_names_and_bad_lines_are_quarantined_with_a_reason(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    good = t.write(SP, 1, n=2)
    day = f"tenantId={TENANT}/y=2026/m=11/d=30/"
    hostile = [
        day + "h=11/m=00/PT1H.json.bak",
        day + "h=99/m=00/PT1H.json",
        day + "../../../../etc/passwd",
        day + "h=11/m=00/\u202enosj.H1TP",
        day + "h=11/" + "x" * 900,
    ]
    for name in hostile:
        fake.append(SP, name, b'{"category": "ServicePrincipalSignInLogs"}\n')
    fake.append(SP, good, b'{"broken json\n')
    fake.append(SP, good, b'{"category": "SignInLogs", "properties": {"id": "u1", "appId": "x"}}\n')
    report = _run(store, _build(fake, clock, containers=SP))
    assert report.ok and report.stored == 2 and _uids(store) == sorted(t.ids)
    reasons = [r[0] for r in store.fetchall("SELECT reason FROM quarantine ORDER BY reason")]
    layout = [r for r in reasons if "not in the diagnostic-settings layout" in r]
    assert len(layout) == len(hostile) and all("not read" in r for r in layout)
    assert any("\\u202e" in r for r in layout) and not any("\u202e" in r for r in reasons)
    assert "not valid JSON" in reasons and any("diagnostic category not read" in r for r in reasons)
    assert [b for b, _ in fake.ranges] == [good]  # a refused name is never fetched
    again = _run(store, _build(fake, clock, containers=SP), now=lambda: NOW + timedelta(minutes=5))
    assert again.ok and again.streams[0].quarantined == 0
    assert store.scalar("SELECT count(*) FROM quarantine") == len(reasons)


def _leaks(text: str) -> list[str]:
    secrets = [SAS, SAS_SIG, unquote(SAS.split("sig=")[1]), SAS.split("sig=")[1], ACCOUNT_KEY]
    return [s for s in secrets if s in text]


def test_credentials_never_appear_in_logs_errors_or_state(
    fake: FakeBlobService, store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    t = Tenant(fake)
    t.write(AUDIT, 1)
    caplog.set_level(logging.DEBUG)
    echo = f"Signature did not match. String to sign used was r {SAS} sig={SAS_SIG}"
    fake.faults["list"] = [
        Fault(503, "ServerBusy", {"Retry-After": "1"}, message=f"busy {SAS_SIG}"),
        Fault(403, "AuthenticationFailed", message=echo),
    ]
    collector = _build(fake, clock, containers=AUDIT)
    report = _run(store, collector)
    error = report.streams[0].error or ""
    assert "refused" in error and "AuthenticationFailed" in error and "[redacted]" in error
    assert _run(store, _build(fake, clock, containers=AUDIT)).stored == 3  # SAS requests work
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")  # the fake's own log
    state = str(store.fetchall("SELECT * FROM collector_state"))
    assert _leaks(ours + error + state + repr(collector) + str(collector.__dict__)) == []
    assert "sig=[redacted]" in ours  # urllib3's request lines were there, masked


def test_an_account_key_signs_requests_and_never_shows(
    fake: FakeBlobService, store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    fake.auth = "key"
    t = Tenant(fake)
    t.write(MI, 1)
    caplog.set_level(logging.DEBUG)
    env = {"NHIWATCH_ENTRA_STORAGE_ACCOUNT_KEY": ACCOUNT_KEY}
    report = _run(store, _build(fake, clock, env, containers=MI))
    assert report.ok and report.stored == 3
    headers = [h.get("Authorization", "") for _, _, h in fake.requests]
    assert headers and all(h.startswith("SharedKey acmelogs:") for h in headers)
    assert _leaks(caplog.text + str(fake.requests)) == []
    conn = f"DefaultEndpointsProtocol=http;AccountName=acmelogs;AccountKey={ACCOUNT_KEY};BlobEndpoint={fake.account_url}"
    collector = registry.build(
        "entra_storage",
        {"containers": MI},
        env={"NHIWATCH_ENTRA_STORAGE_CONNECTION_STRING": conn},
        http=options(clock),
    )
    asked = len(fake.requests)
    again = _run(store, collector, since=SINCE)
    # The same account and container: its blobs are known as read, listed with the key, not fetched.
    assert again.ok and again.stored == 0 and again.streams[0].pages == 0
    assert len(fake.requests) > asked and fake.requests[-1][2]["Authorization"].startswith(
        "SharedKey acmelogs:"
    )


def test_a_missing_container_or_refused_credential_is_a_clear_error(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    Tenant(fake).write(AUDIT, 1)
    report = _run(store, _build(fake, clock, containers=f"{AUDIT},{GRAPH}"))
    ok, missing = report.streams
    assert ok.error is None and ok.stored == 3
    assert "ContainerNotFound" in (missing.error or "") and "Traceback" not in (missing.error or "")
    wrong = _run(
        store, _build(fake, clock, {"NHIWATCH_ENTRA_STORAGE_SAS_TOKEN": "sv=1&sig=nope"}, containers=AUDIT)
    )
    assert "refused" in (wrong.streams[0].error or "") and "Storage Blob Data Reader" in (
        wrong.streams[0].error or ""
    )


def test_settings_and_credentials_are_checked_with_clear_messages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sas_token .*unknown setting") as err:
        registry.settings(
            "entra_storage", {"base_url": "https://a.blob.core.windows.net", "sas_token": SAS}, env={}
        )
    assert SAS_SIG not in str(err.value)
    with pytest.raises(ConfigError, match="user sign-ins"):
        registry.settings("entra_storage", {"containers": "insights-logs-signinlogs"}, env={})
    with pytest.raises(ConfigError, match="loopback"):
        registry.settings("entra_storage", {"base_url": "http://acme.blob.core.windows.net"}, env={})
    with pytest.raises(ConfigError, match="no query"):
        registry.settings("entra_storage", {"base_url": f"https://a.blob.core.windows.net/?{SAS}"}, env={})
    with pytest.raises(ConfigError, match="GUID"):
        registry.settings("entra_storage", {"tenants": "../x"}, env={})
    base = {"base_url": "https://acme.blob.core.windows.net"}
    with pytest.raises(ConfigError, match=r"NHIWATCH_ENTRA_STORAGE_SAS_TOKEN.*AZURE_CLIENT_ID"):
        registry.build("entra_storage", base, env={})
    both = {"NHIWATCH_ENTRA_STORAGE_SAS_TOKEN": SAS, "NHIWATCH_ENTRA_STORAGE_ACCOUNT_KEY": ACCOUNT_KEY}
    with pytest.raises(ConfigError, match="set one storage credential") as err:
        registry.build("entra_storage", base, env=both)
    assert _leaks(str(err.value)) == []
    with pytest.raises(ConfigError, match="Blob endpoint"):
        registry.build("entra_storage", {}, env={"NHIWATCH_ENTRA_STORAGE_SAS_TOKEN": SAS})
    sas_file = tmp_path / "sas"
    sas_file.write_text(SAS + "\n")
    collector = registry.build(
        "entra_storage", base, env={"NHIWATCH_ENTRA_STORAGE_SAS_TOKEN_FILE": str(sas_file)}
    )
    assert [f.instance for f in collector.streams] == [
        f"https://acme.blob.core.windows.net/{c}" for c in CONTAINERS
    ]
    collector.close()
    identity = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": TENANT, "AZURE_CLIENT_SECRET": "s3cr3t-value"}
    collector = registry.build("entra_storage", base, env=identity)
    assert type(collector.streams[0].container.credential).__name__ == "EnvironmentCredential"  # type: ignore[union-attr]
    assert "[redacted]" in collector.scrub("the secret s3cr3t-value") and "s3cr3t" not in repr(collector)
    collector.close()
    with pytest.raises(ConfigError, match="only over https"):
        registry.build("entra_storage", {"base_url": "http://127.0.0.1:10000/devstoreaccount1"}, env=identity)


@given(
    st.text(max_size=60)
    | st.from_regex(r"y=[0-9]{4}/m=[0-9]{2}/d=[0-9]{2}/h=[0-9]{2}/m=00/PT1H\.json", fullmatch=True)
)
def test_a_blob_name_gives_its_hour_or_none(rest: str) -> None:
    hour = hour_of(rest)
    if hour is not None:
        assert rest == f"y={hour.year:04d}/m={hour:%m}/d={hour:%d}/h={hour:%H}/m=00/PT1H.json"


def test_bodies_cut_short_past_the_sdk_own_retries_are_retried_with_backoff(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    t.write(AUDIT, 1)
    fake.faults["get"] = [Fault(200, "", cut=True) for _ in range(4)]
    report = _run(store, _build(fake, clock, containers=AUDIT))
    assert report.ok, report.streams[0].error
    assert report.stored == 3 and report.streams[0].quarantined == 0 and len(fake.ranges) == 5
    assert clock.sleeps == [0.5]  # our backoff (full jitter of 1 s) once the SDK gave up


def test_collect_entra_storage_from_the_command_line_then_list(fake: FakeBlobService, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from tests.collectors.test_new_collectors_wiring import nhiwatch

    hour = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0) - timedelta(hours=1)
    data, new = records("audit", hour, 3, "0000c11a")
    fake.append(AUDIT, blob_name(hour), data)
    sas_file = tmp_path / "sas"
    sas_file.write_text(SAS)
    sas_file.chmod(0o600)
    db = tmp_path / "n.duckdb"
    env = {"NHIWATCH_ENTRA_STORAGE_SAS_TOKEN_FILE": str(sas_file)}
    args = [
        "collect",
        "entra_storage",
        "--db",
        db,
        "--base-url",
        fake.account_url,
        "-o",
        f"containers={AUDIT}",
    ]
    run = nhiwatch(*args, "--since", "2d", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    with Store(db) as s:
        assert sorted(u.split(":", 1)[1] for u in ids(s, "microsoft")) == sorted(new)
    listed = nhiwatch("collect", "--list", "--db", db, cwd=tmp_path, env={})
    assert (
        listed.returncode == 0
        and "entra_storage" in listed.stdout
        and "insights-logs-auditlogs" in listed.stdout
    )
    missing = nhiwatch(*args, cwd=tmp_path, env={})
    assert missing.returncode == 2 and "NHIWATCH_ENTRA_STORAGE_SAS_TOKEN" in missing.stderr
    assert "Traceback" not in missing.stderr + run.stderr
    assert _leaks(run.stdout + run.stderr + listed.stdout + missing.stderr) == []


def test_run_config_takes_entra_storage_and_checks_its_settings(tmp_path: Path) -> None:
    from nhiwatch.monitor.config import load_run_config

    good = tmp_path / "nhiwatch.yaml"
    good.write_text(
        "collectors:\n  - name: entra_storage\n    every: 5m\n    settings:\n"
        "      account_url: https://acmelogs.blob.core.windows.net\n"
        f"      containers: {AUDIT},{SP}\n      tenants: {TENANT}\n"
    )
    assert [c.name for c in load_run_config(good).collectors] == ["entra_storage"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "collectors:\n  - name: entra_storage\n    settings:\n"
        f"      account_url: https://acmelogs.blob.core.windows.net\n      sas_token: '{SAS}'\n"
    )
    with pytest.raises(ConfigError, match="sas_token") as err:
        load_run_config(bad)
    assert _leaks(str(err.value)) == []


def test_a_tail_larger_than_one_read_is_read_in_parts_across_runs_bounded_by_pages(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    name = t.write(SP, 1, n=5)
    line = len(fake.containers[SP][name]) // 5

    def build() -> Collector:
        collector = _build(fake, clock, containers=SP)
        collector.streams[0].max_bytes = 2 * line + line // 2  # type: ignore[union-attr]  # two lines and a half
        return collector

    first = _run(store, build(), max_pages=2)
    assert first.ok and first.stored == 4 and not first.streams[0].caught_up
    assert [r for _, r in fake.ranges] == [
        f"bytes=0-{2 * line + line // 2 - 1}",
        f"bytes={2 * line}-{4 * line + line // 2 - 1}",
    ]
    second = _run(store, build(), now=lambda: NOW + timedelta(minutes=5))
    assert second.ok and second.stored == 1 and second.streams[0].caught_up
    assert fake.ranges[-1] == (name, f"bytes={4 * line}-{5 * line - 1}")
    assert _uids(store) == sorted(t.ids)


def test_offsets_below_the_floor_are_pruned_and_their_days_not_listed_again(
    fake: FakeBlobService, store: Store, clock: Clock
) -> None:
    t = Tenant(fake)
    old = t.write(AUDIT, 24 * 3)
    recent = t.write(AUDIT, 1)
    assert _run(store, _build(fake, clock, containers=AUDIT), since=NOW - timedelta(days=4)).stored == 6
    kept = [r[0] for r in store.fetchall("SELECT key FROM collector_offsets")]
    assert kept == [recent] and old not in kept
    before = len(fake.requests)
    again = _run(store, _build(fake, clock, containers=AUDIT), now=lambda: NOW + timedelta(minutes=5))
    assert again.ok and again.stored == 0
    day = re.compile(r"%2Fd%3D(\d\d)%2F")
    days = {m.group(1) for _, p, _ in fake.requests[before:] if (m := day.search(p))}
    assert days == {"29", "30"}
