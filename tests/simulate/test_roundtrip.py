"""Round trip: a small simulated company ingests with no quarantined record, every source producing events."""

from __future__ import annotations

from pathlib import Path

import pytest

from nhiwatch.ingest import ingest
from nhiwatch.inventory import load_inventory
from nhiwatch.inventory.resolve import apply_inventory, ensure_tables, resolve
from nhiwatch.simulate import simulate
from nhiwatch.sources import registry
from nhiwatch.store import Store

# every stream the simulator writes
STREAMS = (
    "github.audit_log",
    "okta.system_log",
    "gws.reports",
    "microsoft.entra_signins",
    "microsoft.entra_audit",
    "microsoft.graph_activity",
    "salesforce.event_log_file",
    "slack.audit_logs",
    "aws.cloudtrail",
    "zeek.conn",
    "zeek.ssl",
    "zeek.http",
    "vpcflow.flow_log",
    "squid.access_log",
)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store, dict[str, int]]:
    out = tmp_path_factory.mktemp("roundtrip")
    summary = simulate(out, integrations=20, days=8, seed=3)
    store = Store(out / "events.duckdb")
    report = ingest(store, [out / "logs"])
    by_source = dict(report.by_source)
    by_source["_written"] = summary.total_records
    by_source["_stored"] = report.stored
    return out, store, by_source


def test_nothing_quarantined(ingested: tuple[Path, Store, dict[str, int]]) -> None:
    _, store, _ = ingested
    rows = store.fetchall("SELECT source, reason, ingest_file FROM quarantine LIMIT 5")
    assert rows == []


def test_every_record_stored_once(ingested: tuple[Path, Store, dict[str, int]]) -> None:
    _, _, counts = ingested
    assert counts["_stored"] == counts["_written"]


@pytest.mark.parametrize("stream", STREAMS)
def test_every_source_has_events(ingested: tuple[Path, Store, dict[str, int]], stream: str) -> None:
    _, _, by_source = ingested
    if stream not in {s.id for s in registry.all_sources()}:
        pytest.skip(f"no parser registered for {stream}")
    assert by_source.get(stream, 0) > 0


def test_inventory_resolves_most_events(ingested: tuple[Path, Store, dict[str, int]]) -> None:
    out, store, _ = ingested
    ensure_tables(store)
    apply_inventory(store, load_inventory(out / "inventory.yaml"))
    resolve(store, everything=True)
    # people (users) and office browsing (workloads on laptops) are not integrations; the rest should resolve
    nonhuman = "coalesce(actor_user_type, 'unknown') NOT IN ('user', 'workload')"
    total, unresolved, discovered, egress = store.fetchone(
        f"SELECT count(*) FILTER (WHERE {nonhuman}),"
        f" count(*) FILTER (WHERE {nonhuman} AND integration_id IS NULL),"
        " count(*) FILTER (WHERE integration_id LIKE 'discovered:%'),"
        " count(*) FILTER (WHERE source IN ('zeek', 'vpcflow', 'squid') AND integration_id IS NOT NULL)"
        " FROM events"
    ) or (0, 0, 0, 0)
    assert unresolved < 0.1 * total
    assert discovered > 0  # shadow integrations show up as discovered identities
    assert egress > 0  # worker addresses in the inventory claim their flows
