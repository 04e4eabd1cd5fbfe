"""Every write path outside the server and ingest runs in one transaction: a failure injected half-way
(after some rows are written) leaves nothing behind, and the next write on the same connection works."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nhiwatch.alerts import tables
from nhiwatch.alerts.suppress import add_rule, make_rule
from nhiwatch.alerts.triage import triage
from nhiwatch.detection import run_detection
from nhiwatch.inventory import resolve as resolve_mod
from nhiwatch.inventory.model import Inventory
from nhiwatch.inventory.resolve import apply_inventory, resolve
from nhiwatch.server.tokens import create_token, list_tokens, revoke_token
from nhiwatch.store import Store
from nhiwatch.tickets import Ticket, store_tickets
from tests.alerts.helpers import integration
from tests.cli.test_detect_cli import _build

SINCE, UNTIL = datetime(2025, 9, 11), datetime(2025, 9, 12)
NOW = datetime(2025, 9, 12, 12)


class Injected(Exception):
    pass


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tx") / "base.duckdb"
    _build(path)
    with Store(path) as store:
        run_detection(store, SINCE, UNTIL, now=NOW)
    return path


@pytest.fixture
def store(detected: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "s.duckdb"
    shutil.copy(detected, path)
    with Store(path) as s:
        yield s


def fail_after_insert(monkeypatch: pytest.MonkeyPatch, store: Store, table: str, exc: BaseException) -> None:
    """Let the insert into ``table`` happen, then raise: the rows are written when the failure comes."""
    original = store.insert_rows

    def insert(name: str, columns: Any, rows: Sequence[Sequence[Any]]) -> None:
        original(name, columns, rows)
        if name == table:
            raise exc

    monkeypatch.setattr(store, "insert_rows", insert)


def snapshot(store: Store, *tables_: str) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted(map(repr, store.fetchall(f"SELECT * FROM {t}"))) for t in tables_}  # type: ignore[misc]


@pytest.mark.parametrize("exc", [Injected("boom"), KeyboardInterrupt(), RecursionError("deep")])
def test_transaction_rolls_back_on_any_exception(tmp_path: Path, exc: BaseException) -> None:
    with Store(tmp_path / "t.duckdb") as store:
        store.execute("CREATE TABLE t (x INTEGER)")
        with pytest.raises(type(exc)), store.transaction():
            store.execute("INSERT INTO t VALUES (1)")
            with store.transaction():  # nested: joins the outer one, rolled back with it
                store.execute("INSERT INTO t VALUES (2)")
            raise exc
        assert store.scalar("SELECT count(*) FROM t") == 0
        with store.transaction():
            store.execute("INSERT INTO t VALUES (3)")
        assert store.fetchall("SELECT x FROM t") == [(3,)]


def test_a_failed_statement_inside_a_transaction_does_not_poison_the_next(tmp_path: Path) -> None:
    with Store(tmp_path / "t.duckdb") as store:
        store.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        store.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(Exception, match=r"[Cc]onstraint"), store.transaction():
            store.execute("INSERT INTO t VALUES (2)")
            store.execute("INSERT INTO t VALUES (1)")
        store.execute("INSERT INTO t VALUES (4)")
        assert store.fetchall("SELECT x FROM t ORDER BY x") == [(1,), (4,)]


def test_triage_failure_leaves_the_alert_open_and_no_allowance(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id, status = store.fetchone(
        "SELECT alert_id, status FROM alerts WHERE kind = 'behaviour' LIMIT 1"
    ) or (
        None,
        None,
    )
    assert alert_id is not None and status == "open"
    before = snapshot(store, "alerts", "allowances", "triage_log")
    fail_after_insert(monkeypatch, store, "triage_log", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        triage(store, alert_id, "benign", analyst="ana", now=NOW)
    assert snapshot(store, "alerts", "allowances", "triage_log") == before
    monkeypatch.undo()
    triage(store, alert_id, "benign", analyst="ana", now=NOW)
    assert store.scalar("SELECT status FROM alerts WHERE alert_id = ?", [alert_id]) == "benign"
    assert store.scalar("SELECT count(*) FROM allowances") >= 1


def test_suppression_failure_keeps_the_previous_rule(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    rule = make_rule(integration_id="crm-sync", reason="migration", owner="ana")
    add_rule(store, rule, now=NOW, by="ana")
    before = snapshot(store, "suppressions")
    changed = make_rule(integration_id="crm-sync", reason="a new reason", owner="bo")
    fail_after_insert(monkeypatch, store, "suppressions", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        add_rule(store, changed, now=NOW, by="bo")
    assert snapshot(store, "suppressions") == before  # the DELETE of the old row was rolled back too
    monkeypatch.undo()
    add_rule(store, changed, now=NOW, by="bo")
    assert store.fetchall("SELECT reason FROM suppressions") == [("a new reason",)]


def test_detection_failure_while_storing_leaves_no_findings_alerts_or_run(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(store, "findings", "alerts", "detection_runs")

    def save_alerts(s: Store, alerts: Any, now: datetime) -> None:
        s.execute("DELETE FROM alerts")  # half of a write
        raise KeyboardInterrupt

    monkeypatch.setattr(tables, "save_alerts", save_alerts)
    with pytest.raises(KeyboardInterrupt):
        run_detection(store, SINCE, UNTIL, now=NOW + timedelta(hours=1))
    assert snapshot(store, "findings", "alerts", "detection_runs") == before
    monkeypatch.undo()
    run_detection(store, SINCE, UNTIL, now=NOW + timedelta(hours=1))
    assert store.scalar("SELECT count(*) FROM detection_runs") == 2


def test_inventory_failure_keeps_the_previous_inventory(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(store, "integrations", "identities")
    fail_after_insert(monkeypatch, store, "identities", Injected("bad identity"))
    new = Inventory(integrations=[integration("only-one")])
    with pytest.raises(Injected):
        apply_inventory(store, new)
    assert snapshot(store, "integrations", "identities") == before
    monkeypatch.undo()
    apply_inventory(store, new)
    assert store.fetchall("SELECT id FROM integrations WHERE NOT discovered") == [("only-one",)]


def test_resolve_failure_leaves_event_attribution_as_it_was(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.fetchall("SELECT metadata_uid, integration_id FROM events ORDER BY 1")

    def discover(s: Store, new: str) -> int:
        raise Injected("discovery failed")

    monkeypatch.setattr(resolve_mod, "_discover", discover)
    with pytest.raises(Injected):
        resolve(store, everything=True)  # the reset of every event's integration ran before the failure
    assert store.fetchall("SELECT metadata_uid, integration_id FROM events ORDER BY 1") == before
    monkeypatch.undo()
    assert resolve(store, everything=True) >= 0


def test_ticket_failure_keeps_the_stored_tickets(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    t = Ticket("CHG-1", datetime(2025, 9, 1), datetime(2025, 9, 2), "crm-sync", "first", "change")
    store_tickets(store, [t], "a.csv")
    before = snapshot(store, "tickets")
    fail_after_insert(monkeypatch, store, "tickets", Injected("boom"))
    with pytest.raises(Injected):
        store_tickets(store, [Ticket("CHG-1", t.start, t.end, None, "replaced", "change")], "b.csv")
    assert snapshot(store, "tickets") == before
    monkeypatch.undo()
    assert store_tickets(store, [Ticket("CHG-2", t.start, t.end, None, "next", "change")], "c.csv") == 1


def test_token_create_and_revoke_are_all_or_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_after_insert(monkeypatch, store, "api_tokens", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        create_token(store, "ci", "analyst")
    assert list_tokens(store) == []
    monkeypatch.undo()
    create_token(store, "ci", "analyst")
    original: Callable[..., Any] = store.execute

    def execute(sql: str, params: Any = None) -> Any:
        out = original(sql, params)
        if sql.startswith("UPDATE api_tokens SET revoked_at"):
            raise Injected("after the update")
        return out

    monkeypatch.setattr(store, "execute", execute)
    with pytest.raises(Injected):
        revoke_token(store, "ci")
    assert [t["state"] for t in list_tokens(store)] == ["active"]
    monkeypatch.undo()
    revoke_token(store, "ci")
    assert [t["state"] for t in list_tokens(store)] == ["revoked"]
