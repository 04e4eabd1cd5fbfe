"""A fake Azure Blob service for pytest-httpserver: List Blobs (XML, ``prefix``, ``delimiter``,
``marker``, ``maxresults``) and Get Blob with ``x-ms-range``, over append blobs that tests grow between
runs, with the authentication checks a real account makes (a SAS signature, a SharedKey header) and
faults queued per operation (429 / 503 with ``Retry-After``, a body cut short, 403)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from werkzeug import Request, Response

from tests.collectors.fakes import FIXTURES

ACCOUNT = "acmelogs"
TENANT = "a62038f1-6a24-4161-8ed1-21c5799be2b4"
SAS_SIG = "kT9pQz+/Xy3Fake0Signature9Value4Test/abcdEFGH="
SAS = f"sv=2022-11-02&ss=b&srt=co&sp=rl&se=2027-01-01T00:00:00Z&spr=https,http&sig={SAS_SIG.replace('+', '%2B').replace('/', '%2F').replace('=', '%3D')}"
ACCOUNT_KEY = "c2VjcmV0LWFjY291bnQta2V5LWZvci10ZXN0cy1vbmx5LW5vdC1yZWFs"


def blob_name(at: datetime, *, style: str = "tenant") -> str:
    when = f"y={at:%Y}/m={at:%m}/d={at:%d}/h={at:%H}/m=00/PT1H.json"
    if style == "tenant":
        return f"tenantId={TENANT}/{when}"
    return f"resourceId=/tenants/{TENANT}/providers/microsoft.aadiam/{when}"


def _template(kind: str) -> dict[str, Any]:
    path = {
        "signins": FIXTURES / "microsoft/entra_signins/service_principal.jsonl",
        "audit": FIXTURES / "microsoft/entra_audit/audit.jsonl",
        "graph": FIXTURES / "microsoft/graph_activity/activity.jsonl",
    }[kind]
    return json.loads(path.read_text().splitlines()[0])  # type: ignore[no-any-return]


def records(kind: str, at: datetime, n: int, tag: str) -> tuple[bytes, list[str]]:
    """``n`` diagnostic records (one a line, each ending in a newline) and the ids nhiwatch keys them by."""
    base = _template(kind)
    lines, ids = [], []
    for i in range(n):
        r = copy.deepcopy(base)
        uid = f"{tag}-{i:04d}-4000-8000-000000000000"
        t = (at + timedelta(minutes=1, seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        r["time"] = t
        if kind == "graph":
            r["properties"]["requestId"] = uid
            r["properties"]["timeGenerated"] = t
        else:
            r["properties"]["id"] = uid
        lines.append(json.dumps(r))
        ids.append(uid)
    return ("\n".join(lines) + "\n").encode(), ids


@dataclass
class Fault:
    status: int
    code: str
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False  # a Get Blob whose body ends early
    message: str = ""


@dataclass
class FakeBlobService:
    """Containers of blobs; ``auth`` is "sas" or "key"."""

    auth: str = "sas"
    containers: dict[str, dict[str, bytearray]] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)  # "list" / "get" -> answered in order
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    ranges: list[tuple[str, str]] = field(default_factory=list)  # (blob, x-ms-range) of each Get Blob
    base: str = ""
    on_get: Callable[[str], None] | None = None

    @property
    def account_url(self) -> str:
        return f"{self.base}/{ACCOUNT}"

    def append(self, container: str, name: str, data: bytes) -> None:
        self.containers.setdefault(container, {}).setdefault(name, bytearray()).extend(data)

    def __call__(self, request: Request) -> Response:
        self.requests.append((request.method, request.full_path, dict(request.headers)))
        refused = self._auth(request)
        if refused is not None:
            return refused
        path = unquote(request.path)
        m = re.match(rf"^/{ACCOUNT}/([^/]+)(?:/(.*))?$", path)
        if not m:
            return _error(400, "InvalidUri", "not an account path")
        container, blob = m.group(1), m.group(2)
        op = "list" if blob is None and request.args.get("comp") == "list" else "get"
        fault = self.faults.get(op, [])
        if fault and not fault[0].cut:
            f = fault.pop(0)
            return _error(f.status, f.code, f.message or f"fake {f.code}", f.headers)
        if container not in self.containers:
            return _error(404, "ContainerNotFound", "The specified container does not exist.")
        if op == "list":
            return self._list(container, request)
        return self._get(container, blob or "", request, fault.pop(0) if fault else None)

    def _auth(self, request: Request) -> Response | None:
        if self.auth == "sas":
            if request.args.get("sig") != SAS_SIG:
                return _error(403, "AuthenticationFailed", "Server failed to authenticate the request.")
        elif not str(request.headers.get("Authorization", "")).startswith(f"SharedKey {ACCOUNT}:"):
            return _error(403, "AuthenticationFailed", "Server failed to authenticate the request.")
        return None

    def _list(self, container: str, request: Request) -> Response:
        prefix = request.args.get("prefix", "")
        delimiter = request.args.get("delimiter")
        marker = request.args.get("marker", "")
        limit = int(request.args.get("maxresults", "5000"))
        entries: list[tuple[str, bool]] = []  # (name, is a prefix)
        for name in sorted(self.containers[container]):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :]
            if delimiter and delimiter in rest:
                folder = prefix + rest.split(delimiter, 1)[0] + delimiter
                if not entries or entries[-1] != (folder, True):
                    entries.append((folder, True))
            else:
                entries.append((name, False))
        entries = [e for e in entries if e[0] > marker] if marker else entries
        page, more = entries[:limit], entries[limit:]
        when = format_datetime(datetime(2026, 11, 30, 12, tzinfo=UTC), usegmt=True)
        body = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<EnumerationResults ServiceEndpoint="{self.base}/{ACCOUNT}/" ContainerName="{container}">',
            f"<Prefix>{escape(prefix)}</Prefix><MaxResults>{limit}</MaxResults>",
            f"<Delimiter>{escape(delimiter)}</Delimiter>" if delimiter else "",
            "<Blobs>",
        ]
        for name, is_prefix in page:
            if is_prefix:
                body.append(f"<BlobPrefix><Name>{escape(name)}</Name></BlobPrefix>")
                continue
            size = len(self.containers[container][name])
            body.append(
                f"<Blob><Name>{escape(name)}</Name><Properties><Creation-Time>{when}</Creation-Time>"
                f"<Last-Modified>{when}</Last-Modified><Etag>0x8DE{size:012X}</Etag>"
                f"<Content-Length>{size}</Content-Length><Content-Type>application/json</Content-Type>"
                "<BlobType>AppendBlob</BlobType><LeaseStatus>unlocked</LeaseStatus>"
                "<LeaseState>available</LeaseState></Properties></Blob>"
            )
        body.append("</Blobs>")
        body.append(f"<NextMarker>{escape(page[-1][0]) if more else ''}</NextMarker>")
        body.append("</EnumerationResults>")
        return Response("".join(body), 200, {"Content-Type": "application/xml", **_common()})

    def _get(self, container: str, blob: str, request: Request, fault: Fault | None) -> Response:
        data = self.containers[container].get(blob)
        if data is None:
            return _error(404, "BlobNotFound", "The specified blob does not exist.")
        asked = request.headers.get("x-ms-range") or request.headers.get("Range") or ""
        self.ranges.append((blob, asked))
        if self.on_get is not None:
            self.on_get(blob)
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", asked)
        start = int(m.group(1)) if m else 0
        end = int(m.group(2)) if m and m.group(2) else len(data) - 1
        if start >= len(data):
            return _error(
                416, "InvalidRange", "The range specified is invalid for the current size of the resource."
            )
        end = min(end, len(data) - 1)
        body = bytes(data[start : end + 1])
        headers = {
            "Content-Range": f"bytes {start}-{end}/{len(data)}",
            "Content-Length": str(len(body)),
            "Content-Type": "application/json",
            "ETag": f'"0x8DE{len(data):012X}"',
            "Last-Modified": format_datetime(datetime(2026, 11, 30, 12, tzinfo=UTC), usegmt=True),
            "x-ms-blob-type": "AppendBlob",
            "Accept-Ranges": "bytes",
            **_common(),
        }
        if fault is not None and fault.cut:
            headers["Content-Length"] = str(len(body))
            return _Short(body[: len(body) // 2], 206 if m else 200, headers, len(body))
        return Response(body, 206 if m else 200, headers)


class _Short(Response):
    """A response that declares its full length and sends half: the connection ends early."""

    def __init__(self, part: bytes, status: int, headers: dict[str, str], declared: int) -> None:
        super().__init__(part, status, headers)
        self.headers["Content-Length"] = str(declared)
        self.automatically_set_content_length = False


def _common() -> dict[str, str]:
    return {"x-ms-request-id": "00000000-0000-0000-0000-000000000000", "x-ms-version": "2025-11-05"}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        f"<Code>{code}</Code><Message>{escape(message)}\nRequestId:00000000-0000-0000-0000-000000000000"
        "\nTime:2026-11-30T12:00:00.0000000Z</Message></Error>"
    )
    return Response(
        body,
        status,
        {"Content-Type": "application/xml", "x-ms-error-code": code, **_common(), **(headers or {})},
    )
