"""Splits a Google Workspace Reports activity into one record per ``events[]`` entry.

The Reports API nests each event's parameters as ``[{name, value | intValue | boolValue | multiValue |
multiIntValue | messageValue | multiMessageValue}]``. :func:`expand` flattens them into a plain dict
(``{"scope": [...], "num_response_bytes": "8191"}``) so the SQL mapping can address them by name. It
also accepts the shapes other pipelines write: ``events`` as a single object, and ``parameters``
already flattened into a dict. It never raises: a record it cannot split is passed through whole and
the mapping's checks quarantine it with a reason.

>>> expand({"id": {"time": "t"}, "events": [{"name": "activity",
...     "parameters": [{"name": "method_name", "value": "drive.files.list"}]}]})[0]["event"]
{'type': None, 'name': 'activity', 'parameters': {'method_name': 'drive.files.list'}}
"""

from __future__ import annotations

from typing import Any

PAGE_KIND = "admin#reports#activities"
SCALAR_KEYS = ("value", "intValue", "boolValue", "multiValue", "multiIntValue")
MAX_DEPTH = 4  # nested messageValue levels kept; deeper ones are left in the raw event


def flatten(parameters: Any, depth: int = 0) -> dict[str, Any]:
    """``[{name, <typed value>}]`` -> ``{name: value}``; a dict is taken as already flat."""
    if isinstance(parameters, dict):
        return parameters
    out: dict[str, Any] = {}
    if not isinstance(parameters, list):
        return out
    for p in parameters:
        if isinstance(p, dict):
            name = p.get("name")
            if isinstance(name, str):
                # ``value`` is the first of SCALAR_KEYS and the common case: no call for it
                out[name] = p["value"] if "value" in p else _value(p, depth)
    return out


def _value(p: dict[str, Any], depth: int) -> Any:
    for key in SCALAR_KEYS:
        if key in p:
            return p[key]
    if depth >= MAX_DEPTH:
        return None
    message = p.get("messageValue")
    if isinstance(message, dict):
        return flatten(message.get("parameter"), depth + 1)
    messages = p.get("multiMessageValue")
    if isinstance(messages, list):
        return [flatten(m.get("parameter"), depth + 1) for m in messages if isinstance(m, dict)]
    return None


def expand(item: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per event: the activity's fields, ``event_index`` and the event with flat parameters."""
    events = item.get("events")
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not events:
        # An empty API page (no ``items``) has nothing to read; anything else goes to the checks.
        return [] if item.get("kind") == PAGE_KIND and "items" not in item else [item]
    base = dict(item)
    del base["events"]
    out: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        record = base.copy()
        record["event_index"] = index
        record["event"] = (
            {
                "type": event.get("type"),
                "name": event.get("name"),
                "parameters": flatten(event.get("parameters")),
            }
            if isinstance(event, dict)
            else None
        )
        out.append(record)
    return out
