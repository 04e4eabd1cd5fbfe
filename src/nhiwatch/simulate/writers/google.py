"""Google Workspace Reports API: ``activities.list`` response pages for ``applicationName=token``.

Pages hold 80 activities (``maxResults=80``), newest first, as the API returns them; one file per page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from nhiwatch.simulate.model import Ev
from nhiwatch.simulate.writers.common import Ids, by_day, iso_ms, write_bytes

CUSTOMER = "C03az79cb"
BUCKET = {"drive": "DRIVE", "gmail": "GMAIL", "calendar": "CALENDAR", "admin": "OTHER"}
PAGE = 80  # small pages: a page must fit in the 64 KiB the format sniffer reads


def render(e: Ev, ids: Ids) -> dict[str, Any]:
    integ = e.integ
    x = e.extra or {}
    params: list[dict[str, Any]] = [
        {"name": "client_id", "value": integ.ids.get("client_id", "")},
        {"name": "app_name", "value": integ.ids.get("app_name", "")},
        {"name": "client_type", "value": "WEB"},
    ]
    if e.op == "authorize":
        scopes = x.get("scopes", integ.scopes)
        params.append({"name": "scope", "multiValue": list(scopes)})
        params.append(
            {
                "name": "scope_data",
                "multiMessageValue": [
                    {
                        "parameter": [
                            {"name": "scope_name", "value": s},
                            {"name": "product_bucket", "multiValue": ["OTHER"]},
                        ]
                    }
                    for s in scopes
                ],
            }
        )
        ev = {"type": "auth", "name": "authorize", "parameters": params}
    else:
        params += [
            {"name": "api_name", "value": e.target},
            {"name": "method_name", "value": x.get("method", "")},
            {"name": "num_response_bytes", "intValue": str(e.size)},
            {"name": "product_bucket", "value": BUCKET.get(e.target, "OTHER")},
        ]
        ev = {"type": "auth", "name": "activity", "parameters": params}
    return {
        "kind": "admin#reports#activity",
        "id": {
            "time": iso_ms(e.ts),
            "uniqueQualifier": "-" + ids.digits(19),
            "applicationName": "token",
            "customerId": CUSTOMER,
        },
        "etag": f'"{ids.b62(27)}/{ids.b62(27)}"',
        "actor": {
            "email": x.get("user", "it-admin@acme.example"),
            "profileId": ids.digits(21),
            "callerType": "USER",
        },
        "ipAddress": e.ip,
        "events": [ev],
    }


def write(events: list[Ev], root: Path, ids: Ids, gzip: bool) -> int:
    n = 0
    for day, evs in by_day(events):
        items = [render(e, ids) for e in reversed(evs)]  # the API lists newest first
        for p in range(0, len(items), PAGE):
            page = {
                "kind": "admin#reports#activities",
                "etag": f'"{ids.b62(27)}"',
                "items": items[p : p + PAGE],
            }
            if p + PAGE < len(items):
                page["nextPageToken"] = ids.b62(40)
            write_bytes(root / "gws" / f"token-{day}-p{p // PAGE + 1:03d}.json", orjson.dumps(page), gzip)
            n += 1
    return n
