"""Rollups equal a recount from the events, however the events arrived: shuffled, repeated, interrupted,
late, or after the raw events of old hours were pruned."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import yaml

from nhiwatch import rollups
from nhiwatch.pipeline import attribute, ingest_all
from nhiwatch.simulate import simulate
from nhiwatch.store import Store

# An independent recount, written without the rollup module's SQL.
HOURLY_RECOUNT = """
WITH e AS (SELECT integration_id, date_trunc('hour', time) AS hour, coalesce(action_class, '?') AS c,
                  coalesce(status, '?') AS s, records,
                  CASE WHEN traffic_bytes_in IS NULL AND traffic_bytes_out IS NULL THEN NULL
                       ELSE coalesce(traffic_bytes_in, 0) + coalesce(traffic_bytes_out, 0) END AS b,
                  resource_name, lower(dst_endpoint_hostname) AS d, metadata_tenant_uid AS t
           FROM events WHERE integration_id IS NOT NULL)
SELECT integration_id, hour, c, s, count(*), sum(records), sum(b), count(*) FILTER (s = 'Failure'),
       NULL, NULL, NULL FROM e GROUP BY ALL
UNION ALL
SELECT integration_id, hour, c, '*', count(*), sum(records), sum(b), count(*) FILTER (s = 'Failure'),
       count(DISTINCT resource_name), count(DISTINCT d), count(DISTINCT t) FROM e GROUP BY ALL
UNION ALL
SELECT integration_id, hour, '*', '*', count(*), sum(records), sum(b), count(*) FILTER (s = 'Failure'),
       count(DISTINCT resource_name), count(DISTINCT d), count(DISTINCT t) FROM e GROUP BY ALL
ORDER BY ALL"""
HOURLY_ROLLED = """SELECT integration_id, hour, action_class, status, events, records, bytes, failures,
       resources, destinations, tenants FROM rollup_hourly ORDER BY ALL"""
VALUES_RECOUNT = """
SELECT integration_id, 'destination', lower(dst_endpoint_hostname), CAST(time AS DATE), min(time), max(time),
       count(*) FROM events WHERE integration_id IS NOT NULL AND dst_endpoint_hostname IS NOT NULL GROUP BY ALL
UNION ALL
SELECT integration_id, 'operation', api_operation, CAST(time AS DATE), min(time), max(time), count(*)
FROM events WHERE integration_id IS NOT NULL AND api_operation IS NOT NULL GROUP BY ALL
UNION ALL
SELECT integration_id, 'scope', s, CAST(time AS DATE), min(time), max(time), count(*)
FROM (SELECT integration_id, time, unnest(scopes) AS s FROM events WHERE integration_id IS NOT NULL) GROUP BY ALL
ORDER BY ALL"""
VALUES_ROLLED = """SELECT integration_id, dimension, value, day, first_seen, last_seen, events FROM rollup_values
WHERE dimension IN ('destination', 'operation', 'scope') ORDER BY ALL"""


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rollups")
    simulate(out, integrations=12, days=4, seed=5)
    return out


def _files(company: Path) -> list[Path]:
    return sorted(p for p in (company / "logs").rglob("*") if p.is_file())


MINUTES_RECOUNT = """SELECT integration_id, date_trunc('hour', time), list_sort(list(DISTINCT minute(time)))
FROM events WHERE integration_id IS NOT NULL GROUP BY ALL ORDER BY ALL"""
MINUTES_ROLLED = """SELECT integration_id, hour, list_filter(range(60), lambda k: (minutes >> k) & 1 = 1)
FROM rollup_hourly WHERE action_class = '*' AND status = '*' ORDER BY ALL"""
SIZES_RECOUNT = """SELECT integration_id, coalesce(action_class, '?'), count(records), sum(records), max(records)
FROM events WHERE integration_id IS NOT NULL AND records >= 0 GROUP BY ALL ORDER BY ALL"""
SIZES_ROLLED = """SELECT integration_id, action_class, sum(n), sum(total), max(max) FROM rollup_sizes
WHERE metric = 'records_per_op' GROUP BY ALL ORDER BY ALL"""
LIFECYCLE_RECOUNT = """SELECT metadata_uid, integration_id, time, scopes FROM events WHERE integration_id IS NOT NULL
AND action_class IN ('credential_issue', 'credential_revoke', 'scope_grant') ORDER BY ALL"""
LIFECYCLE_ROLLED = "SELECT metadata_uid, integration_id, time, scopes FROM rollup_lifecycle ORDER BY ALL"
USED_RECOUNT = """SELECT integration_id, actor_user_credential_uid, max(time), count(*) FROM events
WHERE integration_id IS NOT NULL AND actor_user_credential_uid IS NOT NULL
  AND action_class NOT IN ('credential_issue', 'credential_revoke') GROUP BY ALL ORDER BY ALL"""
USED_ROLLED = """SELECT integration_id, value, max(last_seen), sum(events) FROM rollup_values
WHERE dimension = 'credential_use' GROUP BY ALL ORDER BY ALL"""


def _assert_matches_recount(store: Store) -> None:
    assert store.fetchall(HOURLY_ROLLED) == store.fetchall(HOURLY_RECOUNT)
    assert store.fetchall(VALUES_ROLLED) == store.fetchall(VALUES_RECOUNT)
    assert store.fetchall(MINUTES_ROLLED) == store.fetchall(MINUTES_RECOUNT)
    assert store.fetchall(SIZES_ROLLED) == store.fetchall(SIZES_RECOUNT)
    assert store.fetchall(LIFECYCLE_ROLLED) == store.fetchall(LIFECYCLE_RECOUNT)
    assert store.fetchall(USED_ROLLED) == store.fetchall(USED_RECOUNT)


def test_in_one_go(company: Path, tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        ingest_all(store, [company / "logs"], inventory=company / "inventory.yaml")
        assert store.scalar("SELECT count(*) FROM rollup_hourly") > 0
        assert store.scalar("SELECT count(*) FROM rollup_values WHERE dimension = 'scope'") > 0
        assert store.scalar("SELECT count(*) FROM rollup_lifecycle") > 0
        assert store.scalar("SELECT count(*) FROM rollup_values WHERE dimension = 'credential_use'") > 0
        _assert_matches_recount(store)


def test_shuffled_repeated_and_split_ingests(company: Path, tmp_path: Path) -> None:
    files = _files(company)
    order = files * 2  # every file twice: duplicates must not count again
    random.Random(1).shuffle(order)
    with Store(tmp_path / "s.duckdb") as store:
        ingest_all(store, [], inventory=company / "inventory.yaml")
        for i in range(0, len(order), 7):
            ingest_all(store, order[i : i + 7])
        _assert_matches_recount(store)
        assert rollups.advance(store) == 0  # nothing new: nothing folded twice


def test_interrupted_fold_is_redone_once(
    company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files(company)
    half = len(files) // 2
    with Store(tmp_path / "s.duckdb") as store:
        ingest_all(store, files[:half], inventory=company / "inventory.yaml")
        before = rollups.cursor(store)

        def crash(_store: Store) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(rollups, "_fold_values", crash)
        with pytest.raises(KeyboardInterrupt):
            ingest_all(store, files[half:])
        monkeypatch.undo()
        assert rollups.cursor(store) == before  # the cursor did not move past unfolded events
        # resolution rolled back with the rollups: the next run attributes and folds them, once
        assert (
            store.scalar(
                "SELECT count(*) FROM events WHERE ingest_batch > ? AND integration_id IS NOT NULL", [before]
            )
            == 0
        )
        assert attribute(store) > 0
        _assert_matches_recount(store)


def test_late_events_for_pruned_hours_are_added(company: Path, tmp_path: Path) -> None:
    files = _files(company)
    with Store(tmp_path / "s.duckdb") as store:
        ingest_all(store, files, inventory=company / "inventory.yaml")
        first_day = store.scalar("SELECT date_trunc('day', min(time)) + INTERVAL 1 DAY FROM events")
        rolled = store.scalar(
            "SELECT sum(events) FROM rollup_hourly WHERE action_class = '*' AND status = '*'"
        )
        # Prune the first day of raw events; re-ingest everything: only the pruned day's events come back in.
        rollups.set_raw_horizon(store, first_day)
        pruned = store.scalar(
            "SELECT count(*) FROM events WHERE time < ? AND integration_id IS NOT NULL", [first_day]
        )
        store.execute("DELETE FROM events WHERE time < ?", [first_day])
        assert pruned > 0
        ingest_all(store, files)
        total = store.scalar(
            "SELECT sum(events) FROM rollup_hourly WHERE action_class = '*' AND status = '*'"
        )
        assert total == rolled + pruned  # added to the kept hours (they were never forgotten)
        # Retained hours are still exact.
        kept = store.fetchall(HOURLY_ROLLED.replace("ORDER BY", "WHERE hour >= ? ORDER BY"), [first_day])
        recount = [r for r in store.fetchall(HOURLY_RECOUNT) if r[1] >= first_day]
        assert kept == recount


def test_store_from_before_rollups_is_upgraded(company: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        ingest_all(store, _files(company), inventory=company / "inventory.yaml")
        for table in ("rollup_hourly", "rollup_values", "rollup_state"):
            store.execute(f"DROP TABLE {table}")
        store.execute("ALTER TABLE events DROP COLUMN ingest_batch")
    old = tmp_path / "old.duckdb"
    shutil.copy(db, old)
    with Store(old) as store:
        rollups.ensure_tables(store)
        _assert_matches_recount(store)
        ingest_all(store, _files(company)[:3])  # all duplicates: nothing changes
        _assert_matches_recount(store)


def test_attribution_follows_new_events_and_inventory_changes(company: Path, tmp_path: Path) -> None:
    files = _files(company)
    with Store(tmp_path / "s.duckdb") as store:
        first = ingest_all(store, files[:-3], inventory=company / "inventory.yaml")
        again = ingest_all(store, files[-3:], inventory=company / "inventory.yaml")  # same identities
        assert 0 < again.resolved <= again.report.stored < first.resolved  # only new events looked at
        _assert_matches_recount(store)
        # Declare a discovered integration: history is re-attributed and the rollups rebuilt.
        found = store.fetchall(
            "SELECT id, discovered_source, discovered_identity FROM integrations WHERE discovered LIMIT 1"
        )
        assert found, "the simulated company has undeclared integrations"
        did, src, ident = found[0]
        key, value = ident.split("=", 1)
        inv = yaml.safe_load((company / "inventory.yaml").read_text())
        inv["integrations"].append(
            {
                "id": "newly-declared",
                "name": "Newly declared",
                "owner": "sec@example.com",
                "purpose": "test",
                "kind": "bot",
                "identities": [{"source": src, key: value}],
            }
        )
        (tmp_path / "inv.yaml").write_text(yaml.safe_dump(inv))
        ingest_all(store, [], inventory=tmp_path / "inv.yaml")
        assert not store.scalar("SELECT count(*) FROM rollup_hourly WHERE integration_id = ?", [did])
        assert store.scalar("SELECT count(*) FROM rollup_hourly WHERE integration_id = 'newly-declared'")
        _assert_matches_recount(store)
