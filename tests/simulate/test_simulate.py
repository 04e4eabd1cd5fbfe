"""The simulator: same seed, same bytes; every attack family labelled; files the rest of nhiwatch accepts."""

from __future__ import annotations

import csv
import hashlib
import random
from datetime import date
from pathlib import Path

import orjson
import pytest

from nhiwatch.simulate import simulate
from nhiwatch.simulate.attacks import FAMILIES, episodes_per_family
from nhiwatch.simulate.calendar import last_business_days, local_hours


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, integrations=30, days=12, seed=11)
    return out


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(a, integrations=12, days=5, seed=3)
    simulate(b, integrations=12, days=5, seed=3)
    assert _digest(a) == _digest(b)


def test_other_seed_other_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(a, integrations=12, days=5, seed=3)
    simulate(b, integrations=12, days=5, seed=4)
    assert (a / "truth.jsonl").read_bytes() != (b / "truth.jsonl").read_bytes()


def test_every_family_in_truth(small: Path) -> None:
    rows = [orjson.loads(line) for line in (small / "truth.jsonl").read_bytes().splitlines()]
    rows = [r for r in rows if r.get("kind") != "benign"]  # the benign labels: tests/simulate/test_hard.py
    assert {r["family"] for r in rows} == set(FAMILIES)
    for r in rows:
        assert set(r) == {
            "episode_id",
            "family",
            "integration_id",
            "start",
            "end",
            "description",
            "indicators",
        }
        assert r["start"] <= r["end"] and r["start"].endswith("Z")


def test_more_episodes_in_bigger_runs() -> None:
    rng = random.Random(1)
    assert all(1 <= episodes_per_family(150, 60, rng) <= 2 for _ in range(50))
    assert min(episodes_per_family(1000, 180, rng) for _ in range(50)) >= 17
    assert episodes_per_family(10, 7, rng) == 1


def test_inventory_validates(small: Path) -> None:
    from nhiwatch.inventory import load_inventory

    inv = load_inventory(small / "inventory.yaml")
    assert len(inv.integrations) == 30
    rows = [orjson.loads(x) for x in (small / "truth.jsonl").read_bytes().splitlines()]
    truth_ids = {r["integration_id"] for r in rows if r.get("kind") != "benign"}
    truth_ids |= {i for r in rows if r.get("kind") == "benign" for i in r["integrations"]}
    assert truth_ids <= {i.id for i in inv.integrations}


def test_tickets_load(small: Path) -> None:
    from nhiwatch.tickets import load_tickets

    with (small / "tickets.csv").open() as fh:
        assert next(csv.reader(fh)) == ["id", "start", "end", "integration", "summary"]
    tickets = load_tickets(small / "tickets.csv")
    assert any(t.integration_id is None for t in tickets)  # company-wide business events


def test_summary_file(small: Path) -> None:
    s = orjson.loads((small / "summary.json").read_bytes())
    assert s["total_events"] == sum(s["events"].values()) > 1000
    assert s["files"] > 0


def test_dst_shifts_utc_hours() -> None:
    hours = local_hours("America/New_York", date(2026, 3, 1), 14)
    nine = [h.ts % 86400 // 3600 for h in hours if h.hour == 9]
    assert nine[0] == 14 and nine[-1] == 13  # 09:00 EST = 14:00 UTC, 09:00 EDT = 13:00 UTC


def test_month_end_business_days() -> None:
    assert last_business_days(date(2026, 2, 27), 1)  # Friday, last business day of February
    assert not last_business_days(date(2026, 2, 28), 3)  # Saturday


@pytest.mark.parametrize("n", [150, 400])
def test_large_inventory_validates(tmp_path: Path, n: int) -> None:
    """Repeated templates get their own identities: the inventory model rejects any claimed twice."""
    from nhiwatch.inventory import load_inventory
    from nhiwatch.simulate.company import build_company
    from nhiwatch.simulate.output import write_inventory

    company = build_company(n, random.Random(f"company:{n}"))
    write_inventory(tmp_path / "inventory.yaml", company)
    inv = load_inventory(tmp_path / "inventory.yaml")
    assert len(inv.integrations) == n
    assert any(i.owner is None for i in inv.integrations) and any(i.purpose is None for i in inv.integrations)


@pytest.mark.parametrize(("n", "days"), [(1, 1), (3, 2), (5, 9)])
def test_tiny_runs(tmp_path: Path, n: int, days: int) -> None:
    """Tiny companies and windows still simulate (with the families their integrations allow)."""
    s = simulate(tmp_path, integrations=n, days=days, seed=1)
    assert s.integrations == n and s.total_records >= s.total_events > 0


def test_ticket_ids_are_unique_across_seeds(tmp_path: Path) -> None:
    from nhiwatch.tickets import load_tickets

    for seed in (7, 11):
        out = tmp_path / f"s{seed}"
        simulate(out, integrations=12, days=75, seed=seed, start=date(2026, 2, 1))  # spans Good Friday 2026
        ids = [t.id for t in load_tickets(out / "tickets.csv")]
        assert len(ids) == len(set(ids))


def test_seasonal_company_declares_its_calendars(tmp_path: Path) -> None:
    """A seasonal company's inventory names its holiday calendars (company-wide and the exceptions) and
    the quarter close of the integrations that declare their month end; it loads as a valid inventory."""
    from nhiwatch.inventory import load_inventory
    from nhiwatch.simulate.company import build_company
    from nhiwatch.simulate.output import write_inventory
    from nhiwatch.simulate.seasonal import TZ_COUNTRY, make_seasonal

    company = build_company(150, random.Random("company:7"))
    country = make_seasonal(company, random.Random("seasonal:7"))
    write_inventory(tmp_path / "inventory.yaml", company, country)
    inv = load_inventory(tmp_path / "inventory.yaml")
    assert inv.country == country == "US"
    by_id = {i.id: i for i in company}
    for entry in inv.integrations:
        assert (entry.country or inv.country) == TZ_COUNTRY[by_id[entry.id].tz]
        calendars = [w.calendar for w in entry.bursty_windows]
        assert calendars in ([], ["month_end", "quarter_end"])
    assert any(i.bursty_windows for i in inv.integrations)
    assert any(i.catch_up_share > 0 for i in company) and any(i.quarter_end_factor > 1 for i in company)


def test_seasonal_hours_idle_on_holidays_and_catch_up_after() -> None:
    from nhiwatch.simulate.behaviour import multiplier
    from nhiwatch.simulate.company import build_company

    hours = local_hours("America/New_York", date(2026, 5, 22), 7, "US")  # Memorial Day is Mon May 25
    day = {h.day: h for h in hours if h.hour == 10}
    assert not day[date(2026, 5, 25)].business_day and day[date(2026, 5, 26)].catch_up == 1
    assert day[date(2026, 5, 27)].catch_up == 0
    assert local_hours("America/New_York", date(2026, 5, 22), 7)[0].catch_up == 0
    integ = build_company(1, random.Random("x"))[0]
    integ.growth, integ.month_end, integ.catch_up_share = 0.0, "", 0.5
    assert multiplier(integ, day[date(2026, 5, 26)], 4) == 1.5
    assert multiplier(integ, day[date(2026, 5, 27)], 5) == 1.0
