"""Pruning raw events keeps what baselines learn (they read rollups) and the evidence of alerts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nhiwatch.baseline import learn
from nhiwatch.cli import app
from nhiwatch.errors import NhiwatchError
from nhiwatch.pipeline import ingest_all
from nhiwatch.retention import prune
from nhiwatch.simulate import simulate
from nhiwatch.store import Store

BASELINE_TABLES = ("baseline_integrations", "baseline_envelope", "baseline_volume", "baseline_values")


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("retention")
    simulate(out, integrations=10, days=6, seed=9)
    return out


def _baselines(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {t: store.fetchall(f"SELECT * FROM {t} ORDER BY ALL") for t in BASELINE_TABLES}


def test_baselines_survive_pruning_and_evidence_stays(company: Path, tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        ingest_all(store, [company / "logs"], inventory=company / "inventory.yaml")
        latest = store.scalar("SELECT max(time) FROM events")
        learn(store, until=latest)
        before = _baselines(store)
        old = store.fetchall(
            "SELECT metadata_uid FROM events WHERE time < ? LIMIT 3", [latest - timedelta(days=4)]
        )
        store.execute(
            "CREATE TABLE IF NOT EXISTS alerts (alert_id VARCHAR, evidence VARCHAR[], status VARCHAR)"
        )
        store.execute("INSERT INTO alerts VALUES ('a1', ?, 'open')", [[old[0][0]]])
        store.execute("INSERT INTO alerts VALUES ('a2', ?, 'benign')", [[old[1][0]]])
        total = store.event_count()
        report = prune(store, raw_days=2)
        assert report.events_deleted > total / 3
        assert report.evidence_kept == 1
        kept = {
            r[0]
            for r in store.fetchall("SELECT metadata_uid FROM events WHERE time < ?", [report.raw_before])
        }
        assert kept == {old[0][0]}  # the open alert's evidence, not the benign one's
        learn(store, until=latest)
        assert _baselines(store) == before


def test_retention_arguments_are_checked(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(NhiwatchError, match="at least as long"):
            prune(store, raw_days=35, rollup_days=10)
        with pytest.raises(NhiwatchError, match="at least one day"):
            prune(store, raw_days=0)


def test_prune_command(company: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        ingest_all(store, [company / "logs"], inventory=company / "inventory.yaml")
    result = CliRunner().invoke(app, ["prune", "--raw-days", "3", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "deleted" in result.output and "raw events before" in result.output
    bad = CliRunner().invoke(app, ["prune", "--raw-days", "30", "--rollup-days", "5", "--db", str(db)])
    assert bad.exit_code == 2 and "at least as long" in bad.output
