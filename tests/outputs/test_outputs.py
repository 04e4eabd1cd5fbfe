"""The jsonl and OCSF renderings of an alert, and the rich table."""

from __future__ import annotations

from datetime import datetime

import orjson
from rich.console import Console

from nhiwatch.alerts.model import Alert
from nhiwatch.alerts.references import merge
from nhiwatch.outputs import to_jsonl, to_ocsf
from nhiwatch.outputs.table import print_alerts
from tests.alerts.helpers import METAS


def alert(**kw: object) -> Alert:
    base: dict[str, object] = dict(
        alert_id="al-1",
        kind="behaviour",
        integration_id="crm-sync",
        integration_name="CRM sync",
        owner="team-data",
        purpose="nightly sync",
        risk_tier="high",
        data_sensitivity="confidential",
        detectors=["new_destination", "volume_spike"],
        first_seen=datetime(2025, 9, 1, 14, 0),
        last_seen=datetime(2025, 9, 1, 14, 30),
        risk_score=81,
        severity="high",
        title="CRM sync: new destination",
        explanation="CRM sync sent 5 MB to webhook.site.",
        evidence=["e1", "e2"],
        references=merge([METAS["new_destination"], METAS["volume_spike"]]),
        finding_ids=["fi-1"],
        created_at=datetime(2025, 9, 2),
    )
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def test_jsonl_has_the_documented_fields() -> None:
    (rec,) = [orjson.loads(x) for x in to_jsonl([alert()]).splitlines()]
    for key in (
        "alert_id",
        "kind",
        "integration_id",
        "integration_name",
        "owner",
        "detectors",
        "first_seen",
        "last_seen",
        "risk_score",
        "severity",
        "title",
        "explanation",
        "evidence",
        "references",
    ):
        assert key in rec
    assert rec["first_seen"] == "2025-09-01T14:00:00.000Z" and rec["evidence"] == ["e1", "e2"]


def test_ocsf_detection_finding_required_fields() -> None:
    events = {"e1": {"metadata_uid": "e1", "api_operation": "POST", "src_endpoint_ip": "203.0.113.9"}}
    (f,) = [orjson.loads(x) for x in to_ocsf([alert()], events).splitlines()]
    assert (f["class_uid"], f["category_uid"], f["activity_id"], f["type_uid"]) == (2004, 2, 1, 200401)
    info = f["finding_info"]
    assert info["uid"] == "al-1" and info["title"] and info["desc"].startswith("CRM sync sent")
    assert info["types"] == ["behaviour", "new_destination", "volume_spike"]
    assert info["analytic"] == {
        "name": "new_destination + volume_spike",
        "uid": "new_destination,volume_spike",
        "type_id": 2,
        "type": "Behavioral",
    }
    assert info["related_events_count"] == 2
    assert info["first_seen_time"] == 1756735200000 and info["last_seen_time"] == 1756737000000
    assert {"uid": "T1567", "name": "Exfiltration Over Web Service"}.items() <= f["attacks"][0][
        "technique"
    ].items()
    assert f["evidences"][0]["api"] == {"operation": "POST"}
    assert f["evidences"][0]["src_endpoint"] == {"ip": "203.0.113.9"}
    assert f["evidences"][1] == {"data": {"metadata_uid": "e2"}}
    assert f["resources"][0]["uid"] == "crm-sync" and f["resources"][0]["owner"] == {"name": "team-data"}
    assert f["risk_score"] == 81 and f["severity_id"] == 4 and f["status_id"] == 1
    assert f["metadata"]["version"] == "1.3.0" and f["metadata"]["product"]["name"] == "nhiwatch"
    assert f["metadata"]["product"]["vendor_name"]
    assert "DE.CM-08" not in f["unmapped"]["nist_csf"]


def test_ocsf_status_follows_the_verdict() -> None:
    for status, sid in (("open", 1), ("malicious", 2), ("suppressed", 3), ("benign", 4)):
        (f,) = [orjson.loads(x) for x in to_ocsf([alert(status=status)]).splitlines()]
        assert f["status_id"] == sid


def test_table_lists_highest_risk_first() -> None:
    console = Console(record=True, width=200)
    print_alerts(
        console, [alert(), alert(alert_id="al-2", risk_score=95, owner=None)], "behaviour", explain=True
    )
    text = console.export_text()
    assert text.index("al-2") < text.index("al-1") and "none" in text and "webhook.site" in text
