"""Push ingest: NDJSON, JSON arrays and gzip bodies through the library ingest; malformed records get a
reason each while good ones are kept; oversized bodies and gzip bombs are 413; pushed events are scored
by the worker so their alerts appear without a restart."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from tests.server import data
from tests.server.conftest import Company, auth, make_app


def push(client: TestClient, token: str, body: bytes, **params: str) -> tuple[int, dict]:
    r = client.post("/api/v1/ingest", content=body, params=params, headers=auth(token))
    return r.status_code, r.json()


def events(client: TestClient) -> int:
    with client.app.state.nw.db() as store:  # type: ignore[attr-defined]
        return store.event_count()


def later_day(offset: int) -> list[dict]:
    """The attack shape again, on a later day: ids, repositories and address not seen before."""
    recs = data.attack(offset)
    for r in recs:
        r["_document_id"] = f"{r['_document_id']}-d{offset}"
        if r["actor"] == "release-bot":
            r["repo"] = f"{r['repo']}-d{offset}"
            r["actor_ip"] = f"192.0.2.{offset}"
    return recs


def test_ndjson_push_is_stored_and_deduplicated(client: TestClient, company: Company) -> None:
    before = events(client)
    body = data.ndjson(later_day(30))
    code, out = push(client, company.tokens["analyst"], body)
    assert code == 200, out
    assert out["stored"] == 31 and out["quarantined"] == 0 and out["by_source"] == {"github.audit_log": 31}
    assert events(client) == before + 31
    code, again = push(client, company.tokens["analyst"], body)
    assert code == 200 and again["stored"] == 0 and again["duplicates"] == 31
    assert events(client) == before + 31


def test_gzip_and_json_array_bodies(client: TestClient, company: Company) -> None:
    code, out = push(client, company.tokens["analyst"], gzip.compress(data.ndjson(later_day(31))))
    assert code == 200 and out["stored"] == 31
    code, out = push(client, company.tokens["analyst"], orjson.dumps(later_day(32)), source="github")
    assert code == 200 and out["stored"] == 31


def test_malformed_records_get_reasons_and_good_ones_are_kept(client: TestClient, company: Company) -> None:
    good = later_day(33)
    lines = [orjson.dumps(good[0]), b'{"action": "git.clone", "broken', orjson.dumps(good[1]), b"[1, 2]"]
    no_time = dict(good[2])
    del no_time["@timestamp"], no_time["created_at"]
    lines.append(orjson.dumps(no_time))
    before = events(client)
    code, out = push(client, company.tokens["analyst"], b"\n".join(lines) + b"\n")
    assert code == 400
    assert out["stored"] == 2 and out["quarantined"] == 3
    reasons = {e["line"]: e["reason"] for e in out["errors"]}
    assert set(reasons) == {2, 4, 5}
    assert "JSON" in reasons[2] and "wrong shape" in reasons[4] and "timestamp" in reasons[5]
    assert events(client) == before + 2
    with client.app.state.nw.db() as store:  # type: ignore[attr-defined]
        assert (
            store.scalar("SELECT count(*) FROM quarantine WHERE ingest_file LIKE 'push % by analyst-1 #%'")
            == 3
        )


def test_mixed_formats_in_one_body_are_refused_per_record(client: TestClient, company: Company) -> None:
    okta = {"uuid": "x1", "published": "2025-10-03T10:00:00Z", "eventType": "user.session.start"}
    body = data.ndjson([*later_day(34)[:2], okta])
    code, out = push(client, company.tokens["analyst"], body)
    assert code == 400 and out["stored"] == 2 and out["quarantined"] == 1
    assert out["errors"][0]["line"] == 3


def test_unrecognised_empty_and_bad_requests(client: TestClient, company: Company) -> None:
    t = company.tokens["analyst"]
    code, out = push(client, t, b"hello, this is not a log\n")
    assert code == 400 and out["stored"] == 0 and out["errors"]
    assert push(client, t, b"   ")[0] == 400
    code, out = push(client, t, data.ndjson(later_day(35)), source="no-such-source")
    assert code == 400 and "no-such-source" in out["detail"]
    assert push(client, t, b"\x1f\x8b\x08\x00garbage")[0] == 400


def test_oversized_bodies_and_gzip_bombs_are_413(company: Company, tmp_path: Path) -> None:
    app = make_app(company, tmp_path, max_body_bytes=64 * 1024)
    client = TestClient(app, base_url="http://127.0.0.1")
    t = company.tokens["analyst"]
    assert push(client, t, b"x" * (65 * 1024))[0] == 413
    bomb = gzip.compress(b"{}\n" * 1_000_000)  # 3 MB of JSON in a few KB
    assert len(bomb) < 64 * 1024
    assert push(client, t, bomb)[0] == 413
    app.state.nw.close()


def test_viewer_cannot_push(client: TestClient, company: Company) -> None:
    r = client.post("/api/v1/ingest", content=b"{}", headers=auth(company.tokens["viewer"]))
    assert r.status_code == 403


def test_pushed_attack_is_scored_by_the_worker(client: TestClient, company: Company) -> None:
    v = auth(company.tokens["viewer"])
    before = {a["alert_id"] for a in client.get("/api/v1/alerts", headers=v).json()["alerts"]}
    recs = later_day(35)
    code, _ = push(client, company.tokens["analyst"], data.ndjson(recs))
    assert code == 200
    worker = client.app.state.nw.worker  # type: ignore[attr-defined]
    assert worker.pending
    outcome = worker.run_once()
    assert outcome is not None and outcome.error is None and outcome.alerts >= 1
    after = client.get("/api/v1/alerts", params={"integration": "release-bot"}, headers=v).json()["alerts"]
    new = [a for a in after if a["alert_id"] not in before]
    assert new and new[0]["first_seen"].startswith("2025-10-06")
    metrics = client.get("/metrics", headers=v).text
    assert "nhiwatch_worker_batches_total 1" in metrics and "nhiwatch_events_stored_total 31" in metrics


def test_pushed_records_stay_retrievable_after_the_spool_file_is_gone(
    client: TestClient, company: Company
) -> None:
    from nhiwatch.evidence import VERIFIED, original_records
    from nhiwatch.raw_copies import raw_dir

    recs = later_day(40)
    code, out = push(client, company.tokens["analyst"], gzip.compress(data.ndjson(recs)))
    assert code == 200 and out["stored"] == 31
    uids = [f"github:{r['_document_id']}" for r in recs]
    with client.app.state.nw.db() as store:  # type: ignore[attr-defined]
        files = {
            r[0]
            for r in store.fetchall(
                "SELECT DISTINCT ingest_file FROM events WHERE metadata_uid IN (SELECT unnest(?::VARCHAR[]))",
                [uids],
            )
        }
        found = original_records(store, uids)
        copies = raw_dir(store)
    assert len(files) == 1 and Path(next(iter(files))).parent == copies  # the copy, not the spool file
    assert {e.status for e in found.values()} == {VERIFIED} and len(found) == 31
    assert orjson.loads(str(found[uids[0]].record))["_document_id"] == recs[0]["_document_id"]
