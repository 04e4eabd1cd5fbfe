"""A local fake of the Salesforce REST API: the JWT bearer token endpoint (it checks the assertion's
signature, issuer, subject, audience and expiry), SOQL ``/query`` over ``EventLogFile`` and the storage
objects with ``nextRecordsUrl`` batches, ``LogFile`` downloads, ``Sforce-Limit-Info`` on every answer,
401 ``INVALID_SESSION_ID`` for a token it has revoked, and scripted faults by request number."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from werkzeug import Request, Response

from tests.collectors.fakes import FIXTURES, NOW, NOW_EPOCH, FakeApi, reply, times

VERSION = "62.0"
ELF_RE = re.compile(
    r"FROM EventLogFile WHERE Interval = '(\w+)' AND CreatedDate >= (\S+)(?: AND EventType IN \(([^)]*)\))? "
    r"ORDER BY CreatedDate, Id$"
)
RTEM_RE = re.compile(r"FROM (\w+) WHERE EventDate >= (\S+) AND EventDate <= (\S+)$")


def sf_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def soql_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


@dataclass
class LogFile:
    id: str
    event_type: str
    interval: str
    created: datetime
    log_date: datetime
    body: bytes


@dataclass
class FakeSalesforce(FakeApi):
    public_key: str = ""
    consumer_key: str = "3MVG9fakeConsumerKey.0123456789"
    username: str = "nhiwatch-integration@acme.example"
    audience: str = "https://login.salesforce.com"
    files: list[LogFile] = field(default_factory=list)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    api_used: int = 100
    api_limit: int = 15000
    locators: dict[str, tuple[list[Any], int]] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    batch_size: int | None = None  # smaller than the API's 200 minimum, to page through few files
    now: float = (
        NOW_EPOCH  # what a JWT's expiry is checked against: the tests' clock, or the real one (the CLI's)
    )

    def authorized(self, request: Request) -> bool:
        if request.path == "/services/oauth2/token":
            return True
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def unauthorized(self) -> Response:
        return reply(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])

    def revoke(self) -> None:
        self.tokens.clear()

    def limit_headers(self) -> dict[str, str]:
        self.api_used += 1
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_limit}"}

    def page(self, request: Request) -> Response:
        if request.path == "/services/oauth2/token":
            return self.issue(request)
        root = f"/services/data/v{VERSION}"
        if request.path == f"{root}/query":
            return self.query(request.args["q"], request)
        if request.path.startswith(f"{root}/query/"):
            return self.more(request.path.rsplit("/", 1)[1], request)
        m = re.fullmatch(rf"{root}/sobjects/EventLogFile/(\w+)/LogFile", request.path)
        if m:
            found = [f for f in self.files if f.id == m.group(1)]
            if not found:
                return reply(
                    404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
                )
            self.downloads.append(found[0].id)
            return Response(found[0].body, 200, headers=self.limit_headers(), content_type="text/csv")
        return reply(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])

    def issue(self, request: Request) -> Response:
        import jwt

        self.token_requests += 1
        form = request.form
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return reply(
                400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
            )
        try:
            claims = jwt.decode(
                form["assertion"],
                self.public_key,
                algorithms=["RS256"],
                audience=self.audience,
                options={"verify_exp": False},
            )
        except jwt.PyJWTError:
            return reply(400, {"error": "invalid_grant", "error_description": "invalid assertion"})
        if claims.get("iss") != self.consumer_key:
            return reply(
                400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
            )
        if claims.get("sub") != self.username:
            return reply(
                400, {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"}
            )
        if not (self.now - 3600 < claims["exp"] <= self.now + 3600 * 24):
            return reply(400, {"error": "invalid_grant", "error_description": "expired authorization code"})
        token = "00D8c000001XyZa!AQ" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return reply(
            200,
            {
                "access_token": token,
                "scope": "api",
                "instance_url": self.base,
                "id": f"{self.base}/id/00D8c000001XyZa/0058c00000Int01",
                "token_type": "Bearer",
            },
        )

    def query(self, soql: str, request: Request) -> Response:
        self.queries.append(soql)
        m = ELF_RE.search(soql)
        if m:
            interval, floor = m.group(1), soql_time(m.group(2))
            types = [t.strip(" '") for t in m.group(3).split(",")] if m.group(3) else None
            chosen = sorted(
                (
                    f
                    for f in self.files
                    if f.interval == interval
                    and f.created >= floor
                    and (types is None or f.event_type in types)
                ),
                key=lambda f: (f.created, f.id),
            )
            records = [
                {
                    "attributes": {
                        "type": "EventLogFile",
                        "url": f"/services/data/v{VERSION}/sobjects/EventLogFile/{f.id}",
                    },
                    "Id": f.id,
                    "EventType": f.event_type,
                    "LogDate": sf_time(f.log_date),
                    "CreatedDate": sf_time(f.created),
                    "Interval": f.interval,
                    "LogFileLength": float(len(f.body)),
                }
                for f in chosen
            ]
            return self.batch(records, 0, request)
        m = RTEM_RE.search(soql)
        if m:
            obj, lo, hi = m.group(1), soql_time(m.group(2)), soql_time(m.group(3))
            chosen = [
                e
                for e in self.events.get(obj, [])
                if lo <= datetime.strptime(e["EventDate"][:19], "%Y-%m-%dT%H:%M:%S") <= hi
            ]
            return self.batch(chosen, 0, request)
        return reply(400, [{"errorCode": "MALFORMED_QUERY", "message": f"unexpected query: {soql}"}])

    def batch(self, records: list[Any], start: int, request: Request) -> Response:
        opts = request.headers.get("Sforce-Query-Options", "batchSize=2000")
        size = self.batch_size or int(opts.split("=")[1])
        page = records[start : start + size]
        body: dict[str, Any] = {
            "totalSize": len(records),
            "done": start + size >= len(records),
            "records": page,
        }
        if not body["done"]:
            locator = f"01gD0000002HU6K{len(self.locators):03d}"
            self.locators[locator] = (records, start + size)
            body["nextRecordsUrl"] = f"/services/data/v{VERSION}/query/{locator}-{start + size}"
        return reply(200, body, self.limit_headers())

    def more(self, tail: str, request: Request) -> Response:
        locator = tail.split("-")[0]
        if locator not in self.locators:
            return reply(400, [{"errorCode": "INVALID_QUERY_LOCATOR", "message": "invalid query locator"}])
        records, start = self.locators[locator]
        return self.batch(records, start, request)


def key_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _rows(path: str) -> tuple[list[str], list[dict[str, str]]]:
    text = (FIXTURES / "salesforce/event_log_file" / path).read_text()
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def log_files(
    n_files: int, per_file: int = 20, interval: str = "Hourly", kind: str = "restapi.csv"
) -> list[LogFile]:
    """``n_files`` CSVs of ``per_file`` events each, created an hour apart before NOW, with unique
    request ids (so each event is one ``metadata_uid``)."""
    header, rows = _rows(kind)
    out = []
    for i in range(n_files):
        hour = NOW - timedelta(hours=n_files - i + 1)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=header, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writeheader()
        for j, t in enumerate(times(per_file, start=hour, end=hour + timedelta(minutes=59))):
            row = copy.deepcopy(rows[j % len(rows)])
            row["REQUEST_ID"] = f"4uE{interval[0]}{i:04d}R{j:04d}-l1cJIQk-"
            row["TIMESTAMP"] = t.strftime("%Y%m%d%H%M%S.") + f"{t.microsecond // 1000:03d}"
            row["TIMESTAMP_DERIVED"] = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
            w.writerow(row)
        file_id = f"0AT8c00000{interval[0]}{i:07d}"
        out.append(
            LogFile(
                file_id,
                "RestApi",
                interval,
                hour + timedelta(hours=1, minutes=7),
                hour,
                buf.getvalue().encode(),
            )
        )
    return out


def storage_events(n: int, obj: str = "ApiEvent", **kw: Any) -> list[dict[str, Any]]:
    doc = json.loads((FIXTURES / "salesforce/realtime_events/apievent_query.json").read_text())
    base = doc["records"][0]
    out = []
    for i, t in enumerate(times(n, **kw)):
        e = copy.deepcopy(base)
        e["attributes"] = {"type": obj}
        e["EventIdentifier"] = f"{obj}-{i:06d}"
        e["EventDate"] = sf_time(t)
        e.pop("Id", None)
        e.pop("CreatedDate", None)
        out.append(e)
    return out
