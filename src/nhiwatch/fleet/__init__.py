"""Fleet context: what happened to an integration's peers at the same time, so a vendor-wide outage is not
read as many attacks.

When every Salesforce integration answers 5xx for two hours and then catches up, each one alone looks like
probing (failures, then success) followed by a burst. Judged beside its peers it is one *fleet event*: an
outage (failures) or a silence that hit most of the group's active integrations in the same hours.

- :mod:`.find` finds fleet events, columnar in DuckDB, over the scored window's events and a look-back
  (:data:`LOOKBACK`), against each integration's own learned failure rate and duty cycle;
- :mod:`.table` stores them in ``fleet_events``, idempotent across re-runs and micro-batches;
- :mod:`.backlog` measures what each affected integration could not do during the event (its expected
  volume, from the rollups, less what it did), which its catch-up may repay;
- :mod:`.context` is what detections call: it finds and stores the events around a window once per window
  and exposes them as temp tables (``nw_fleet``, ``nw_fleet_backlog``) for their SQL.

A finding the fleet event explains is kept, marked ``details.fleet_explained`` with the event's id, and the
alert stage sets it aside as suppressed by ``fleet:<id>`` (:mod:`nhiwatch.alerts.suppress`): visible as
context, not raised. Anything beyond the explanation still alerts: failures with other reasons, a catch-up
larger than the backlog, new destinations or networks (those detections do not consult the fleet at all).
"""

from __future__ import annotations

from nhiwatch.fleet.context import ensure, fleet_text
from nhiwatch.fleet.find import PARAMS, FleetParams
from nhiwatch.fleet.table import DDL, load_events

__all__ = ["DDL", "PARAMS", "FleetParams", "ensure", "fleet_text", "load_events"]
