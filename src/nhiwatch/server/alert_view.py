"""Everything the alert page (and the HTML report) shows about one alert beyond its row: the evidence drawn
against the baseline, one card per detection, and the response steps — redacted, ready for a template."""

from __future__ import annotations

from typing import Any

from nhiwatch.alerts import tables
from nhiwatch.alerts.response import guidance
from nhiwatch.detectors.registry import all_detectors
from nhiwatch.errors import NotFoundError
from nhiwatch.redact import redact_value
from nhiwatch.server.alert_charts import AlertEvidence, alert_evidence, integration_zone
from nhiwatch.server.cards import cards, context
from nhiwatch.server.human import span
from nhiwatch.store import Store


def alert_view(store: Store, alert_id: str, *, charts: bool = True) -> dict[str, Any]:
    """``evidence`` (specs and new values), ``cards``, ``context`` (purpose, data, owner), ``response`` and
    ``seen`` (local time with its zone)."""
    found = tables.load_alerts(store, "alert_id = ?", [alert_id])
    if not found:
        raise NotFoundError(f"no alert {alert_id!r}")
    alert = found[0]
    metas = {k: d.meta for k, d in all_detectors().items()}
    findings = tables.load_findings(store, alert.finding_ids)
    if (
        charts and alert.kind == "behaviour"
    ):  # a posture finding is about the inventory, not a stretch of time
        evidence = alert_evidence(store, alert, findings)
    else:
        evidence = AlertEvidence(tz=integration_zone(store, alert.integration_id))
    return {
        "evidence": evidence,
        "cards": [redact_value(vars(c)) for c in cards(alert, findings, metas, evidence.tz)],
        "response": redact_value(guidance(store, alert).as_dict()),
        "context": context(alert),
        "seen": span(alert.first_seen, alert.last_seen, evidence.tz),
    }
