"""The spool's journal: pushes accepted together share one flush, a record a crash cut off is ignored at
replay (its group was never acknowledged), a restart replays each accepted push exactly once, and a spool
written before the journal (a ticket file per push) is still replayed."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhiwatch.server import spool as spool_module
from nhiwatch.server.app import create_app
from nhiwatch.server.spool import Spool, Ticket
from nhiwatch.server.state import ServerState, Settings
from tests.server import data
from tests.server.conftest import Company, auth, make_app, serve, writer_holding


def ticket(spool: Spool, n: int) -> Ticket:
    push_id = spool.new_id()
    return Ticket(push_id, f"push #{push_id}", "shipper", "2026-12-01T02:00:00", None, "", n, 0)


def body(n: int) -> bytes:
    return b"".join(
        b'{"action": "git.clone", "n": %d, "pad": "%s"}\n' % (i, b"x" * (i % 97)) for i in range(n)
    )


def accept(spool: Spool, n: int, *, in_memory: bool = False) -> Ticket:
    t = ticket(spool, n)
    path = spool.upload_path(t.id)
    if in_memory:
        return spool.accept(t, path, body(n))
    path.write_bytes(body(n))
    return spool.accept(t, path)


def journal(spool: Spool) -> Path:
    (found,) = spool.dir.glob("journal-*.nwj")
    return found


def test_accepted_pushes_replay_from_the_journal_alone(tmp_path: Path) -> None:
    first = Spool(tmp_path / "s.spool")
    accepted = [accept(first, n, in_memory=n % 2 == 0) for n in (1, 7, 50, 300)]
    for t in accepted:  # the body files were never flushed: a crash may lose them
        first.body(t).unlink()
    again = Spool(tmp_path / "s.spool")
    assert again.recover() == accepted
    assert [again.body(t).read_bytes() for t in accepted] == [body(n) for n in (1, 7, 50, 300)]
    assert [t.size for t in accepted] == [len(body(n)) for n in (1, 7, 50, 300)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=1, max_value=10_000), damage=st.booleans())
def test_a_torn_last_record_is_ignored_and_the_others_replay(tmp_path: Path, cut: int, damage: bool) -> None:
    """A crash mid-write leaves the last group's record cut off (or its bytes half-written): it was never
    acknowledged, so the replay takes every record before it and nothing after."""
    folder = tmp_path / f"s-{cut}-{damage}.spool"
    spool = Spool(folder)
    kept = [accept(spool, n) for n in (3, 5)]
    size_before = journal(spool).stat().st_size
    accept(spool, 40)
    whole = journal(spool).read_bytes()
    last = len(whole) - size_before
    cut = cut % last or 1
    torn = whole[: len(whole) - cut]
    if damage:  # the tail's length survived but a byte inside it did not
        torn = whole[:-cut] + bytes([whole[-cut] ^ 0xFF]) + whole[len(whole) - cut + 1 :]
    journal(spool).write_bytes(torn)
    again = Spool(folder)
    assert again.recover() == kept
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".log") == sorted(t.body for t in kept)


def test_an_interrupted_group_replays_only_its_complete_records(tmp_path: Path) -> None:
    """The crash came while the writer appended a group: records before the cut are complete (their
    senders got no answer yet, and may be stored once more than asked: the store de-duplicates), the one it
    cut is dropped, and the journal's earlier groups are untouched."""
    folder = tmp_path / "s.spool"
    spool = Spool(folder)
    earlier = accept(spool, 2)
    group = [ticket(spool, n) for n in (4, 6, 8)]
    for t in group:
        spool.upload_path(t.id).write_bytes(body(t.lines))
    seg = spool._segment()  # the writer's own steps for one group, then the crash before its flush
    for t in group:
        spool._append(seg, spool_module.Pending(t, spool.upload_path(t.id), None))
    whole = journal(spool).read_bytes()
    journal(spool).write_bytes(whole[:-10])
    again = Spool(folder)
    replayed = again.recover()
    assert [t.id for t in replayed] == [earlier.id, group[0].id, group[1].id]
    assert not again.upload_path(group[2].id).exists()  # never acknowledged, never ingested


def test_a_failed_flush_refuses_the_group_and_the_next_push_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "s.spool")
    before = accept(spool, 2)

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool_module, "_datasync", full_disk)
    with pytest.raises(OSError):
        accept(spool, 3)
    monkeypatch.undo()
    after = accept(spool, 4)
    assert Spool(tmp_path / "s.spool").recover() == [before, after]  # the refused push is not replayed


def test_a_group_of_concurrent_pushes_shares_one_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "s.spool")
    flushes: list[int] = []
    real = spool_module._datasync
    monkeypatch.setattr(spool_module, "_datasync", lambda fd: (flushes.append(fd), real(fd)))
    with spool._io:  # the disk is busy with a flush: fifty pushes arrive meanwhile
        futures = []
        for n in range(1, 51):
            t = ticket(spool, n)
            futures.append(spool.submit(t, spool.upload_path(t.id), body(n)))
    accepted = [f.future.result(timeout=30) for f in futures]
    assert len(flushes) <= 2  # the one the writer had begun, and one for everything that queued behind it
    assert Spool(tmp_path / "s.spool").recover() == accepted


def test_a_push_given_up_before_it_was_journaled_is_skipped_and_the_group_still_answered(
    tmp_path: Path,
) -> None:
    """Its request went away (a client that hung up): the writer leaves it out; the pushes beside it are
    accepted and answered, and a push the writer had taken stays accepted (it can no longer be cancelled)."""
    spool = Spool(tmp_path / "s.spool")
    with spool._io:  # the writer is busy: three pushes wait, and the sender of the middle one hangs up
        items = []
        for n in (2, 3, 4):
            t = ticket(spool, n)
            path = spool.upload_path(t.id)
            path.write_bytes(body(n))
            items.append(spool.submit(t, path))
        assert items[1].future.cancel()
    kept = [items[0].future.result(timeout=30), items[2].future.result(timeout=30)]
    assert not items[0].future.cancel()  # accepted: cancelling now changes nothing
    assert Spool(tmp_path / "s.spool").recover() == kept
    assert not spool.upload_path(items[1].ticket.id).exists()


def test_ingested_pushes_take_their_journal_with_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.spool")
    accepted = [accept(spool, n) for n in (1, 2, 3)]
    spool.remove(accepted[0])
    assert journal(spool).exists()  # two pushes in it wait
    for t in accepted[1:]:
        spool.remove(t)
    with spool._io:  # the writer's next group (or its idle end) deletes the active journal
        spool._retire_if_done()
    assert not list(spool.dir.iterdir())


def test_a_spool_from_before_the_journal_is_replayed_with_the_new_pushes(tmp_path: Path) -> None:
    """Tickets beside bodies (the layout before the journal) are queued with the journal's pushes, in the
    order they were accepted, and go as they are ingested."""
    folder = tmp_path / "s.spool"
    spool = Spool(folder)
    old = ticket(spool, 5)
    old = Ticket(**{**old.__dict__, "body": f"{old.id}.log", "size": len(body(5))})
    (folder / old.body).write_bytes(body(5))
    (folder / f"{old.id}.json").write_text(json.dumps(old.__dict__))
    new = accept(spool, 6)
    again = Spool(folder)
    assert again.recover() == [old, new]
    for t in (old, new):
        again.remove(t)
    assert not list(folder.iterdir())


# --- through the server ----------------------------------------------------------------------------------


def small_bodies(tag: str, count: int) -> list[bytes]:
    recs = data.attack(40)
    out = []
    for i in range(count):
        chosen = [
            {**r, "_document_id": f"{r['_document_id']}-{tag}-{i}-{k}"}
            for k, r in enumerate(recs[: 1 + i % 5])
        ]
        out.append(data.ndjson(chosen))
    return out


def stored_ids(state: ServerState, tag: str) -> list[str]:
    with state.reader() as store:
        return [
            uid
            for (uid,) in store.fetchall(
                "SELECT metadata_uid FROM events WHERE metadata_uid LIKE ? ORDER BY 1", [f"%-{tag}-%"]
            )
        ]


def test_many_concurrent_small_pushes_are_all_accepted_and_stored_once(
    company: Company, tmp_path: Path
) -> None:
    app = make_app(company, tmp_path, worker_interval=0.2, pushes_per_minute=10_000)
    bodies = small_bodies("many", 60)
    with contextmanager(serve)(app) as live:
        state: ServerState = live.app.state.nw
        headers = auth(company.tokens["analyst"])
        with httpx.Client(base_url=live.url, headers=headers, timeout=60) as c:
            barrier = threading.Barrier(12)

            def send(chunk: list[bytes]) -> list[httpx.Response]:
                barrier.wait(30)
                return [c.post("/api/v1/ingest", content=b) for b in chunk]

            with ThreadPoolExecutor(12) as pool:
                answers = [r for rs in pool.map(send, [bodies[i::12] for i in range(12)]) for r in rs]
            assert [r.status_code for r in answers] == [202] * 60, [
                r.text for r in answers if r.status_code != 202
            ]
            ids = [r.json()["id"] for r in answers]
            assert len(set(ids)) == 60
            for i in ids:  # every push is ingested
                assert state.intake.wait(i, 60)
            outcomes = [c.get(f"/api/v1/ingest/{i}").json() for i in ids]
        assert {o["status"] for o in outcomes} == {"ingested"}
        expected = sorted(
            json.loads(line)["_document_id"] for b in bodies for line in b.splitlines() if line.strip()
        )
        uids = stored_ids(state, "many")
        assert len(uids) == len(expected) == sum(o["stored"] for o in outcomes)
        assert len(set(uids)) == len(uids)


def crash_copy(state: ServerState, into: Path) -> Path:
    """The store and the journal as a crash would leave them: the unflushed body files lost."""
    db = state.settings.db_path
    into.mkdir()
    for f in db.parent.iterdir():
        if f.name.startswith(db.name) and f.is_file() and not f.name.endswith(".server.json"):
            (into / f.name).write_bytes(f.read_bytes())
    spool = into / (db.name + ".spool")
    spool.mkdir(mode=0o700)
    for f in state.intake.spool.dir.glob("journal-*.nwj"):
        (spool / f.name).write_bytes(f.read_bytes())
    return into / db.name


def test_a_restart_replays_each_accepted_push_exactly_once(company: Company, tmp_path: Path) -> None:
    app = make_app(company, tmp_path)
    state: ServerState = app.state.nw
    c = TestClient(app, base_url="http://127.0.0.1")
    analyst = auth(company.tokens["analyst"])
    bodies = small_bodies("restart", 8)
    state.worker.start()
    try:
        with writer_holding(state):  # accepted, queued behind a long write: then the process dies
            ids = [c.post("/api/v1/ingest", content=b, headers=analyst).json()["id"] for b in bodies]
            db = crash_copy(state, tmp_path / "crashed")
    finally:
        state.close()
    for _ in range(2):  # the first restart ingests the eight pushes; the second finds nothing to replay
        again = create_app(db, settings=Settings(db))
        try:
            nw: ServerState = again.state.nw
            assert nw.intake.backlog()[0] == (8 if _ == 0 else 0)
            nw.worker.run_once()
            assert not list(nw.intake.spool.dir.iterdir())
            tc = TestClient(again, base_url="http://127.0.0.1")
            outcomes = [tc.get(f"/api/v1/ingest/{i}", headers=analyst).json() for i in ids]
            assert [o["stored"] for o in outcomes] == [1 + i % 5 for i in range(8)]
            assert len(stored_ids(nw, "restart")) == sum(1 + i % 5 for i in range(8))
        finally:
            again.state.nw.close()
