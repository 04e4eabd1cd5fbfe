"""The review's four code findings (issue 8, item 9), each with a test that failed before its fix:
hostile values never change the SQL, IPv6 prefixes are computed, detector parameters are validated, and
the demo shows detector failures."""

from __future__ import annotations

import ipaddress
import shutil
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch import demo
from nhiwatch.alerts.config import _parse, default_config
from nhiwatch.alerts.suppress import add_rule, make_rule
from nhiwatch.detection import DetectionResult, run_detection
from nhiwatch.dimensions import IP24
from nhiwatch.errors import ConfigError
from nhiwatch.ingest import IngestReport
from nhiwatch.pipeline import IngestOutcome
from nhiwatch.store import Store
from tests.cli.test_detect_cli import ATTACK, _build

HOSTILE = [
    "evil'; DROP TABLE events; --.example",
    "x' OR '1'='1.example",
    'quote"d.example',
    "ünïcødé.例え.jp",
    "back\\slash.example",
]
HOSTILE_INTEG = "discovered:github:actor:o'brien'); DROP TABLE events; --"


# --- (a) values from logs, users and the config are bound, never spliced into SQL -------------------------


@pytest.fixture(scope="module")
def hostile_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "h.duckdb"
    _build(path)
    with Store(path) as store:
        rows = [
            (
                ATTACK + timedelta(minutes=5 + i),
                f"hostile-{i}",
                "zeek",
                integ,
                "POST",
                "egress",
                "Success",
                "oauth_app",
                "10.0.0.5",
                host,
                1_000_000,
            )
            for i, (integ, host) in enumerate(
                [("crm-sync", h) for h in HOSTILE] + [(HOSTILE_INTEG, "webhook.site")]
            )
        ]
        store.insert_rows(
            "events",
            [
                "time",
                "metadata_uid",
                "source",
                "integration_id",
                "api_operation",
                "action_class",
                "status",
                "actor_user_type",
                "src_endpoint_ip",
                "dst_endpoint_hostname",
                "traffic_bytes_out",
            ],
            rows,
        )
    return path


@pytest.fixture
def hostile(hostile_base: Path, tmp_path: Path) -> Path:
    path = tmp_path / "h.duckdb"
    shutil.copy(hostile_base, path)
    return path


WINDOW = (datetime(2025, 9, 11), datetime(2025, 9, 12))


def test_hostile_hostnames_and_integration_ids_are_data(hostile: Path) -> None:
    with Store(hostile) as store:
        n = store.event_count()
        result = run_detection(store, *WINDOW, only=["new_destination", "volume_spike", "unticketed_burst"])
        assert result.errors == []
        assert store.event_count() == n  # nothing dropped, nothing changed
        (crm,) = [
            f for f in result.findings if f.detector == "new_destination" and f.integration_id == "crm-sync"
        ]
        assert {h.lower() for h in HOSTILE} <= set(crm.details["hosts"])


def test_a_config_parameter_cannot_inject_sql(hostile: Path) -> None:
    """``unticketed_burst.classes`` comes from the alert config; it used to be spliced between quotes."""
    cfg = default_config()
    evil = cfg.model_copy(update={"params": {"unticketed_burst": {"classes": "egress') OR true OR ('x"}}})
    with Store(hostile) as store:
        n = store.event_count()
        result = run_detection(store, *WINDOW, evil, only=["unticketed_burst"])
        assert result.errors == []
        assert store.event_count() == n
        assert result.findings == []  # "egress') OR true OR ('x" is one (unknown) class, matching nothing
        ok = run_detection(store, *WINDOW, cfg, only=["unticketed_burst"])
        assert ok.errors == []


def test_hostile_suppression_fields(hostile: Path) -> None:
    with Store(hostile) as store:
        run_detection(store, *WINDOW, only=["new_destination"])
        rule = make_rule(
            integration_id="crm-*", match={"hosts": "evil'; drop*"}, reason="it's fine'; --", owner="o'neil"
        )
        assert add_rule(store, rule, now=datetime(2025, 9, 12), by="ana'); --") == 1
        assert store.fetchall("SELECT owner, reason FROM suppressions") == [("o'neil", "it's fine'; --")]


# --- (b) network prefixes are computed, not sliced ------------------------------------------------------


def expected_prefix(text: str) -> str | None:
    bare = text.strip().strip("[]").split("%")[0]
    try:
        addr = ipaddress.ip_address(bare)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return str(ipaddress.ip_network(f"{addr}/{24 if addr.version == 4 else 64}", strict=False))


@pytest.fixture(scope="module")
def mem() -> Any:
    with Store(":memory:") as s:
        yield s


def prefix(store: Store, ip: str | None) -> str | None:
    return store.scalar(f"SELECT {IP24.format(ip='x')} FROM (SELECT ?::VARCHAR AS x)", [ip])


@pytest.mark.parametrize(
    ("ip", "want"),
    [
        ("2001:db8::5", "2001:db8::/64"),
        ("2001:db8:0:0:1::1", "2001:db8::/64"),
        ("2001:0db8:0000:0000:ffff:0000:0000:0005", "2001:db8::/64"),
        ("2001:DB8:AAAA:BBBB:1:2:3:4", "2001:db8:aaaa:bbbb::/64"),
        ("2001:0:0:1::5", "2001:0:0:1::/64"),
        ("::1", "::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("[2001:db8::7]", "2001:db8::/64"),
        ("::ffff:10.1.2.3", "10.1.2.0/24"),  # IPv4-mapped: the IPv4 network
        ("0:0:0:0:0:ffff:10.1.2.3", "10.1.2.0/24"),
        ("::ffff:a01:203", "10.1.2.0/24"),
        ("64:ff9b::1.2.3.4", "64:ff9b::/64"),
        ("10.1.2.3", "10.1.2.0/24"),
        ("256.1.1.1", None),
        ("2001:db8::1::2", None),
        ("not-an-address", None),
        (None, None),
    ],
)
def test_prefix_of_each_form(mem: Store, ip: str | None, want: str | None) -> None:
    assert prefix(mem, ip) == want


def test_two_addresses_of_one_64_are_one_network(mem: Store) -> None:
    assert prefix(mem, "2001:db8::5") == prefix(mem, "2001:db8:0:0:ffff::9") == "2001:db8::/64"


@st.composite
def written_addresses(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        v4 = ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))
        return draw(st.sampled_from([str(v4), f"::ffff:{v4}", f"0:0:0:0:0:ffff:{v4}"]))
    v6 = ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1)))
    form = draw(st.sampled_from(["compressed", "exploded", "upper", "zone", "bracket"]))
    text = {
        "compressed": v6.compressed,
        "exploded": v6.exploded,
        "upper": v6.compressed.upper(),
        "zone": v6.compressed + "%eth0",
        "bracket": f"[{v6.compressed}]",
    }[form]
    return text


@settings(max_examples=300, deadline=None)
@given(written_addresses())
def test_prefix_matches_ipaddress(ip: str) -> None:
    with Store(":memory:") as store:
        assert prefix(store, ip) == expected_prefix(ip)


# --- (c) detector parameters in the alert config are checked against the detectors' metadata -------------


def _config_with(params_yaml: str) -> str:
    text = resources.files("nhiwatch.alerts").joinpath("default.yaml").read_text(encoding="utf-8")
    return text.replace("params: {}", "params:\n" + params_yaml + "\n#")


def test_a_typo_in_a_detector_parameter_is_an_error_with_its_line() -> None:
    text = _config_with("  volume_spike:\n    max_ratoi: 3")
    line = text.splitlines().index("    max_ratoi: 3") + 1
    with pytest.raises(ConfigError) as err:
        _parse(text, "alerts.yaml")
    msg = str(err.value)
    assert f"alerts.yaml:{line}: params.volume_spike.max_ratoi" in msg
    assert "volume_spike has no parameter 'max_ratoi'" in msg
    assert "known: alpha, burst_allowance, max_ratio, min_hours, z" in msg


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("  volume_spik: {max_ratio: 3}", "params.volume_spik: unknown detector"),
        ("  new_destination: {fleet_min: 2.5}", "expected a whole number, got 2.5"),
        ("  new_destination: {alpha: .inf}", "expected a finite number"),
        ("  new_destination: {alpha: high}", "expected a number, got 'high'"),
        ("  posture_ownerless: {days: 3}", "known: none: it takes no parameters"),
    ],
)
def test_bad_detector_parameters(params: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        _parse(_config_with(params), "alerts.yaml")


def test_valid_overrides_and_the_packaged_default_pass() -> None:
    assert default_config().params == {}
    cfg = _parse(
        _config_with("  volume_spike: {max_ratio: 3, min_hours: 4}\n  new_network: {dims: ip24}"), "a"
    )
    assert cfg.params["volume_spike"]["max_ratio"] == 3


# --- (d) the demo shows detector failures --------------------------------------------------------------


def test_demo_reports_detector_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nhiwatch import detection, evaluate

    failure = "detector fan_out failed on the step from 2025-09-11 00:00: KeyError: 'bytes'"

    def fake_detection(store: Store, since: datetime) -> DetectionResult:
        return DetectionResult("run-1", since, since, 0, errors=[failure])

    class FakeEvaluation:
        def as_text(self) -> str:
            return "| episodes detected | 50 % |"

    monkeypatch.setattr(detection, "run_detection", fake_detection)
    monkeypatch.setattr(evaluate, "evaluate_store", lambda *a, **k: FakeEvaluation())
    said: list[str] = []
    result = demo.DemoResult(tmp_path, tmp_path / "d.duckdb", IngestOutcome(IngestReport()))
    with Store(tmp_path / "d.duckdb") as store:
        store.execute("INSERT INTO events (time) VALUES ('2025-09-01')")
        demo._detect(store, tmp_path, result, said.append)
    assert result.errors == [failure]
    assert any(failure in s and s.startswith("error:") for s in said)
    report = demo.write_report(result).read_text()
    assert "## Detector failures (1)" in report and failure in report
