"""Local fakes of the vendor APIs, served by pytest-httpserver: each implements its API's documented
pagination (time filters, page sizes, cursors, next links), ordering and rate-limit headers, and takes a
*script* of faults keyed by request number (1-based) to answer instead: 429 storms, 5xx, truncated or
malformed bodies, 401s, hostile links.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug import Request, Response

FIXTURES = Path(__file__).parents[1] / "fixtures"
NOW = datetime(2026, 11, 30, 12, 0, 0)  # the tests' clock: naive UTC, as the store keeps time
NOW_EPOCH = NOW.replace(tzinfo=UTC).timestamp()

Answer = Response | Callable[[Request], Response]


def reply(
    status: int = 200, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> Response:
    data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    return Response(data, status=status, headers=headers or {}, content_type="application/json")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def iso_z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def times(n: int, *, start: datetime | None = None, end: datetime | None = None) -> list[datetime]:
    """``n`` event times spread over [start, end) (default: the six hours before NOW)."""
    start = start or NOW - timedelta(hours=6)
    end = end or NOW - timedelta(minutes=1)
    step = (end - start) / max(n, 1)
    return [start + step * i for i in range(n)]


@dataclass
class FakeApi:
    """The parts every fake shares: auth check, request log, scripted faults."""

    token: str
    base: str = ""  # the server's URL, for absolute next links
    script: dict[int, Answer] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    seen_auth: list[str] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        self.seen_auth.append(request.headers.get("Authorization", ""))
        answer = self.script.pop(len(self.requests), None)
        if answer is not None:
            return answer(request) if callable(answer) and not isinstance(answer, Response) else answer
        if not self.authorized(request):
            return self.unauthorized()
        return self.page(request)

    def authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def unauthorized(self) -> Response:
        return reply(401, {"message": "Bad credentials"})

    def page(self, request: Request) -> Response:
        raise NotImplementedError

    @property
    def data_requests(self) -> int:
        return len(self.requests)


def template(path: str, index: int = 0) -> dict[str, Any]:
    text = (FIXTURES / path).read_text()
    if path.endswith(".jsonl"):
        return json.loads(text.splitlines()[index])
    doc = json.loads(text)
    items = doc if isinstance(doc, list) else doc.get("value") or doc.get("items") or doc.get("entries")
    return items[index]


# --- Okta ------------------------------------------------------------------------------------------


@dataclass
class FakeOkta(FakeApi):
    events: list[dict[str, Any]] = field(default_factory=list)

    def authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"SSWS {self.token}"

    def unauthorized(self) -> Response:
        return reply(
            401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided", "errorCauses": []}
        )

    def page(self, request: Request) -> Response:
        a = request.args
        since, until = parse_time(a["since"]), parse_time(a["until"])
        assert a.get("sortOrder") == "ASCENDING"
        limit = int(a.get("limit", 100))
        chosen = [e for e in self.events if since <= parse_time(e["published"]) < until]
        start = 0
        if "after" in a:
            start = next(i for i, e in enumerate(chosen) if e["uuid"] == a["after"]) + 1
        page = chosen[start : start + limit]
        headers = {
            "X-Rate-Limit-Limit": "120",
            "X-Rate-Limit-Remaining": "119",
            "X-Rate-Limit-Reset": str(int(NOW_EPOCH) + 60),
        }
        query = {k: a[k] for k in ("since", "until", "limit", "sortOrder")}
        links = [f'<{self.base}/api/v1/logs?{urlencode(query)}>; rel="self"']
        if start + limit < len(chosen):
            links.append(
                f'<{self.base}/api/v1/logs?{urlencode({**query, "after": page[-1]["uuid"]})}>; rel="next"'
            )
        headers["Link"] = ", ".join(links)
        return reply(200, page, headers)


def okta_events(n: int, **kw: Any) -> list[dict[str, Any]]:
    base = template("okta/system_log/001.json")
    out = []
    for i, t in enumerate(times(n, **kw)):
        e = copy.deepcopy(base)
        e["uuid"] = f"okta-{i:06d}"
        e["published"] = iso_z(t)
        out.append(e)
    return out


# --- GitHub ----------------------------------------------------------------------------------------


@dataclass
class FakeGitHub(FakeApi):
    events: list[dict[str, Any]] = field(default_factory=list)
    org: str = "acme"
    prefix: str = ""  # "/api/v3" on Enterprise Server

    def page(self, request: Request) -> Response:
        a = request.args
        path = request.path.removeprefix(self.prefix)
        if path not in (f"/orgs/{self.org}/audit-log", f"/enterprises/{self.org}/audit-log"):
            return reply(404, {"message": "Not Found"})
        assert a.get("include") == "all" and a.get("order") == "asc"
        phrase = a["phrase"]
        assert phrase.startswith("created:>="), phrase
        start_t = (
            datetime.fromisoformat(phrase.removeprefix("created:>=")).astimezone(UTC).replace(tzinfo=None)
        )
        per_page = int(a.get("per_page", 30))
        chosen = [e for e in self.events if _ms(e["@timestamp"]) >= start_t]
        start = 0
        if "after" in a:
            start = next(i for i, e in enumerate(chosen) if e["_document_id"] == a["after"]) + 1
        page = chosen[start : start + per_page]
        headers = {
            "X-RateLimit-Limit": "1750",
            "X-RateLimit-Remaining": "1700",
            "X-RateLimit-Reset": str(int(NOW_EPOCH) + 3600),
        }
        if start + per_page < len(chosen):
            query = {**{k: a[k] for k in a}, "after": page[-1]["_document_id"]}
            headers["Link"] = f'<{self.base}{request.path}?{urlencode(query)}>; rel="next"'
        return reply(200, page, headers)


def _ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def github_events(n: int, **kw: Any) -> list[dict[str, Any]]:
    base = template("github/audit_log/streaming.jsonl", 1)
    out = []
    for i, t in enumerate(times(n, **kw)):
        e = copy.deepcopy(base)
        e["_document_id"] = f"gh-{i:06d}"
        e["@timestamp"] = e["created_at"] = int(t.replace(tzinfo=UTC).timestamp() * 1000)
        out.append(e)
    return out


# --- Slack -----------------------------------------------------------------------------------------


@dataclass
class FakeSlack(FakeApi):
    events: list[dict[str, Any]] = field(default_factory=list)

    def unauthorized(self) -> Response:
        return reply(200, {"ok": False, "error": "invalid_auth"})

    def page(self, request: Request) -> Response:
        a = request.args
        oldest, latest = int(a["oldest"]), int(a["latest"])
        limit = int(a.get("limit", 100))
        newest_first = sorted(
            (e for e in self.events if oldest <= e["date_create"] <= latest), key=lambda e: -e["date_create"]
        )
        start = int(base64.b64decode(a["cursor"]).decode()) if a.get("cursor") else 0
        page = newest_first[start : start + limit]
        more = start + limit < len(newest_first)
        cursor = base64.b64encode(str(start + limit).encode()).decode() if more else ""
        return reply(200, {"entries": page, "response_metadata": {"next_cursor": cursor}})


def slack_events(n: int, **kw: Any) -> list[dict[str, Any]]:
    base = template("slack/audit_logs/stream.jsonl", 0)
    out = []
    for i, t in enumerate(times(n, **kw)):
        e = copy.deepcopy(base)
        e["id"] = f"slack-{i:06d}"
        e["date_create"] = int(t.replace(tzinfo=UTC).timestamp())
        out.append(e)
    return out


# --- Microsoft Graph -------------------------------------------------------------------------------


@dataclass
class FakeGraph(FakeApi):
    signins: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)

    def unauthorized(self) -> Response:
        return reply(
            401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}}
        )

    def page(self, request: Request) -> Response:
        a = request.args
        if request.path == "/beta/auditLogs/signIns":
            items, field_name = self.signins, "createdDateTime"
        elif request.path == "/v1.0/auditLogs/directoryAudits":
            items, field_name = self.audits, "activityDateTime"
        else:
            return reply(404, {"error": {"code": "NotFound"}})
        flt = a["$filter"]
        parts = flt.split(" and ")
        lo = parse_time(parts[0].split(" ge ")[1])
        hi = parse_time(parts[1].split(" le ")[1])
        kind = None
        if len(parts) > 2:
            kind = parts[2].split("eq '")[1].rstrip("')")
        chosen = [
            e
            for e in items
            if lo <= parse_time(e[field_name]) <= hi
            and (kind is None or kind in e.get("signInEventTypes", []))
        ]
        chosen.sort(key=lambda e: e[field_name], reverse=True)  # newest first, as Graph answers
        top = int(a.get("$top", 100))
        start = int(a.get("$skiptoken", "0"))
        page = chosen[start : start + top]
        body: dict[str, Any] = {"@odata.context": "x", "value": page}
        if start + top < len(chosen):
            query = {"$filter": flt, "$top": str(top), "$skiptoken": str(start + top)}
            body["@odata.nextLink"] = f"{self.base}{request.path}?{urlencode(query)}"
        return reply(200, body)


def graph_signins(n: int, kind: str = "servicePrincipal", **kw: Any) -> list[dict[str, Any]]:
    base = template("microsoft/entra_signins/graph_signins.json", 0)
    out = []
    for i, t in enumerate(times(n, **kw)):
        e = copy.deepcopy(base)
        e["id"] = f"{kind}-{i:06d}"
        e["createdDateTime"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        e["signInEventTypes"] = [kind]
        out.append(e)
    return out


def graph_audits(n: int, **kw: Any) -> list[dict[str, Any]]:
    base = template("microsoft/entra_audit/audit.jsonl", 0)["properties"]
    out = []
    for i, t in enumerate(times(n, **kw)):
        e = copy.deepcopy(base)
        e["id"] = f"Directory_{i:06d}"
        e["activityDateTime"] = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.append(e)
    return out


# --- Google Workspace ------------------------------------------------------------------------------


@dataclass
class FakeGoogle(FakeApi):
    activities: list[dict[str, Any]] = field(default_factory=list)

    def unauthorized(self) -> Response:
        return reply(
            401, {"error": {"code": 401, "message": "Request had invalid authentication credentials."}}
        )

    def page(self, request: Request) -> Response:
        a = request.args
        prefix = "/admin/reports/v1/activity/users/all/applications/"
        assert request.path.startswith(prefix), request.path
        app = request.path.removeprefix(prefix)
        lo, hi = parse_time(a["startTime"]), parse_time(a["endTime"])
        chosen = [
            e
            for e in self.activities
            if e["id"]["applicationName"] == app and lo <= parse_time(e["id"]["time"]) <= hi
        ]
        chosen.sort(key=lambda e: e["id"]["time"], reverse=True)
        size = int(a.get("maxResults", 1000))
        start = int(a.get("pageToken", "0"))
        page = chosen[start : start + size]
        body: dict[str, Any] = {"kind": "admin#reports#activities", "etag": '"x"'}
        if page:
            body["items"] = page  # Google leaves out "items" when there are none
        if start + size < len(chosen):
            body["nextPageToken"] = str(start + size)
        return reply(200, body)


def gws_activities(n: int, app: str = "token", **kw: Any) -> list[dict[str, Any]]:
    base = template("gws/reports/activities.jsonl", 0)
    out = []
    for i, t in enumerate(times(n, **kw)):
        e = copy.deepcopy(base)
        e["id"] = {**e["id"], "applicationName": app, "time": iso_z(t), "uniqueQualifier": str(1000 + i)}
        out.append(e)
    return out
