"""The hard month: a company ending with December whose benign irregularities look like attacks, each
labelled with its cause in the truth file, and the look-alike attacks that hide among them."""

from __future__ import annotations

import ipaddress
import random
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from nhiwatch.simulate import simulate
from nhiwatch.simulate.behaviour import benign
from nhiwatch.simulate.calendar import local_hours
from nhiwatch.simulate.company import build_company
from nhiwatch.simulate.hard import (
    CLOUD_PREFIXES,
    HARD_END,
    HardPlan,
    cloud_address,
    cloud_of,
    hard_start,
    month_end_exports,
    plan_hard,
)
from nhiwatch.simulate.labels import calendar_labels
from nhiwatch.simulate.model import Integration
from nhiwatch.simulate.seasonal import make_seasonal

DAYS = 40  # Nov 26, 2026 (Thanksgiving) to Jan 4, 2027: a month end, Christmas, the year end, New Year


def _ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def hard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hard")
    simulate(out, integrations=24, days=DAYS, seed=5, hard=True)
    return out


@pytest.fixture(scope="module")
def world() -> tuple[list[Integration], HardPlan]:
    company = build_company(60, random.Random("company:3"))
    make_seasonal(company, random.Random("seasonal:3"))
    return company, plan_hard(company, hard_start(120), 120, random.Random("hard:3"))


def _truth(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = [orjson.loads(x) for x in (out / "truth.jsonl").read_bytes().splitlines()]
    return [r for r in rows if r.get("kind") != "benign"], [r for r in rows if r.get("kind") == "benign"]


def test_hard_company_ends_with_december_and_labels_every_cause(hard: Path) -> None:
    summary = orjson.loads((hard / "summary.json").read_bytes())
    assert summary["start"] == "2026-11-26" and date.fromisoformat(summary["start"]).toordinal() + DAYS == (
        HARD_END.toordinal()
    )
    _, labels = _truth(hard)
    kinds = {(r["cause"], r["detail"]) for r in labels}
    for expected in (
        ("outage", "vendor_outage"),
        ("calendar", "holiday"),
        ("calendar", "year_end"),
        ("calendar", "month_end"),
        ("vendor_change", "sdk_upgrade"),
        ("vendor_change", "network_move"),
        ("on_demand", "burst"),
    ):
        assert expected in kinds
    for r in labels:
        assert set(r) == {
            "kind",
            "label_id",
            "cause",
            "detail",
            "start",
            "end",
            "integrations",
            "description",
        }
        assert r["start"] < r["end"] and r["integrations"]
    christmas = [
        r for r in labels if r["detail"] == "holiday" and r["start"][:10] in ("2026-12-24", "2026-12-25")
    ]
    assert christmas and all(r["end"][:10] >= "2026-12-28" for r in christmas)  # the backlog day after


def test_outage_hits_the_source_with_most_integrations_in_december(
    world: tuple[list[Integration], HardPlan],
) -> None:
    company, plan = world
    counts = Counter(
        i.source for i in company if not i.shadow and i.source in ("salesforce", "github", "okta", "gws")
    )
    assert plan.outage.source == counts.most_common(1)[0][0]
    assert datetime.fromtimestamp(plan.outage.t0, UTC).month == 12
    (label,) = [b for b in plan.labels if b.cause == "outage"]
    assert set(label.integrations) == {
        i.id for i in company if not i.shadow and i.source == plan.outage.source
    }
    assert len(label.integrations) >= 5 and label.end > plan.outage.t1  # the catch-up is in the window


def test_sdk_upgrade_changes_only_the_user_agent(world: tuple[list[Integration], HardPlan]) -> None:
    company, plan = world
    assert len(plan.ua_switch) >= 2
    switches = [t for t, _ in plan.ua_switch.values()]
    assert max(switches) - min(switches) <= 3 * 86400  # one vendor, within days
    integ = next(i for i in company if i.id in plan.ua_switch and i.source)
    when, new_ua = plan.ua_switch[integ.id]
    events, _ = benign(integ, hard_start(120), 120, random.Random(1), [], plan.outage, plan)
    own = [e for e in events if e.source == integ.source and e.ua]  # its API calls, not its egress flows
    before = [e for e in own if e.ts < when]
    after = [e for e in own if e.ts >= when]
    assert before and after and new_ua != integ.ua
    assert {e.ua for e in before} == {integ.ua} and {e.ua for e in after} == {new_ua}
    assert {e.op for e in after} <= {e.op for e in before}  # nothing new but the user agent


def test_network_move_stays_with_the_cloud_provider(world: tuple[list[Integration], HardPlan]) -> None:
    company, plan = world
    assert len(plan.ip_move) >= 2 and plan.move_cloud in CLOUD_PREFIXES
    integ = next(i for i in company if i.id in plan.ip_move)
    when, moved = plan.ip_move[integ.id]
    events, _ = benign(integ, hard_start(120), 120, random.Random(2), [], plan.outage, plan)
    before = {e.ip for e in events if e.ts < when and e.ip and e.source == integ.source}
    after = {e.ip for e in events if e.ts >= when and e.ip and e.source == integ.source}
    assert before <= set(moved) and after <= set(moved.values()) and after
    old_region, new_region = CLOUD_PREFIXES[plan.move_cloud]
    for ip in before | after:
        assert cloud_of(ip) == plan.move_cloud
    assert all(any(ipaddress.ip_address(ip) in ipaddress.ip_network(p) for p in new_region) for ip in after)
    assert not any(ipaddress.ip_address(ip) in ipaddress.ip_network(p) for ip in after for p in old_region)


def test_cloud_addresses_are_hosts_in_published_prefixes() -> None:
    rng = random.Random(0)
    for cloud, regions in CLOUD_PREFIXES.items():
        for region in (0, 1):
            for _ in range(50):
                ip = ipaddress.ip_address(cloud_address(cloud, rng, region=region))
                net = next(ipaddress.ip_network(p) for p in regions[region] if ip in ipaddress.ip_network(p))
                assert ip not in (net.network_address, net.broadcast_address)
    assert cloud_of("198.51.100.10") is None


def test_year_end_exporters_exported_at_every_month_end(world: tuple[list[Integration], HardPlan]) -> None:
    company, plan = world
    assert plan.exporters
    integ = next(i for i in company if i.id in plan.exporters)
    hours = local_hours(integ.tz, hard_start(120), 120, integ.country)
    exports = month_end_exports(integ, plan, hours, random.Random(4))
    months = Counter(datetime.fromtimestamp(t, UTC).strftime("%Y-%m") for t, _ in exports)
    assert set(months) >= {"2026-09", "2026-10", "2026-11", "2026-12"}
    december = [n for t, n in exports if datetime.fromtimestamp(t, UTC).month == 12]
    others = [n for t, n in exports if datetime.fromtimestamp(t, UTC).month != 12]
    assert len(december) == 2 and max(others) <= 50 and sum(december) > 2 * max(others)
    assert all(i.extra["year_end_factor"] > 1 for i in company if i.month_end and not i.shadow)


def test_lookalike_attacks_are_episodes(hard: Path) -> None:
    episodes, labels = _truth(hard)
    by_family = {r["family"]: r for r in episodes}
    assert {"attack_during_outage", "same_cloud_token_replay", "mimic_victim"} <= set(by_family)
    outage = next(r for r in labels if r["cause"] == "outage")
    during = by_family["attack_during_outage"]
    assert during["integration_id"] in outage["integrations"]
    assert _ts(outage["start"]) <= _ts(during["start"]) <= _ts(outage["end"])
    replay = by_family["same_cloud_token_replay"]
    assert cloud_of(replay["indicators"]["src_ip"]) == replay["indicators"]["cloud"]
    assert len({r["episode_id"] for r in episodes}) == len(episodes)  # numbered after the other families


def test_calendar_labels_follow_each_integrations_calendar(world: tuple[list[Integration], HardPlan]) -> None:
    company, _ = world
    labels = calendar_labels(company, hard_start(120), 120)
    thanksgiving = [b for b in labels if b.detail == "holiday" and "US:2026-11-26" in b.description]
    assert thanksgiving
    us_people = {
        i.id for i in company if not i.shadow and i.country == "US" and i.pattern in ("business", "event")
    }
    assert set(thanksgiving[0].integrations) == us_people
    year_end = [b for b in labels if b.detail == "year_end"]
    assert [set(b.integrations) for b in year_end] == [
        {i.id for i in company if i.month_end and not i.shadow}
    ]


def test_every_run_labels_its_outage(tmp_path: Path) -> None:
    simulate(tmp_path, integrations=12, days=5, seed=3)
    _, labels = _truth(tmp_path)
    assert [r["cause"] for r in labels if r["cause"] == "outage"] == ["outage"]
