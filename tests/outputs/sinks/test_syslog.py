"""Syslog RFC 5424 over TCP and TLS with octet-counting framing, and CEF escaping (property-tested)."""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhiwatch.outputs.sinks import build
from nhiwatch.outputs.sinks.base import Item
from nhiwatch.outputs.sinks.cef import cef_line
from nhiwatch.outputs.sinks.config import DeliveryConfig
from nhiwatch.outputs.sinks.escape import clean
from nhiwatch.outputs.sinks.syslog import frame, rfc5424
from tests.outputs.sinks.helpers import hostile_alert, item
from tests.outputs.test_outputs import alert

HEADER = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z) (?P<host>[!-~]{1,255}) "
    r"(?P<app>[!-~]{1,48}) (?P<proc>[!-~]{1,128}) (?P<msgid>[!-~]{1,32}) (?P<sd>-|\[.*?\]) (?P<msg>.*)$",
    re.S,
)


def read_frames(data: bytes) -> list[bytes]:
    """RFC 6587 octet counting, strictly: digits, one space, exactly that many bytes; nothing left over."""
    out, pos = [], 0
    while pos < len(data):
        m = re.match(rb"([1-9][0-9]*) ", data[pos:])
        assert m, f"bad frame at {pos}: {data[pos : pos + 20]!r}"
        n, start = int(m.group(1)), pos + m.end()
        assert start + n <= len(data), "frame longer than the stream"
        out.append(data[start : start + n])
        pos = start + n
    return out


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """Split a CEF line as a SIEM does: 6 header fields on unescaped pipes, then key=value pairs keyed at
    unescaped equals signs; values unescaped."""
    assert line.startswith("CEF:0|")
    fields, cur, i = [], [], len("CEF:0|")
    while len(fields) < 6:
        c = line[i]
        if c == "\\" and line[i + 1] in "\\|":
            cur.append(line[i + 1])
            i += 2
            continue
        assert c not in "\r\n"
        if c == "|":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    ext = line[i:]
    # positions of unescaped '='
    eqs, j = [], 0
    while j < len(ext):
        if ext[j] == "\\":
            j += 2
            continue
        if ext[j] == "=":
            eqs.append(j)
        j += 1
    pairs: dict[str, str] = {}
    starts = [ext.rfind(" ", 0, e) + 1 for e in eqs]
    for n, e in enumerate(eqs):
        key = ext[starts[n] : e]
        assert re.fullmatch(r"[A-Za-z0-9_]+", key), key
        end = starts[n + 1] - 1 if n + 1 < len(eqs) else len(ext)
        raw = ext[e + 1 : end]
        pairs[key] = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), raw)
    return fields, pairs


def test_cef_escapes_header_and_extension() -> None:
    it = item(hostile_alert())
    line = cef_line(it, "https://nhiwatch.example.com/alerts/al-hostile")
    assert "\n" not in line and "\r" not in line
    head, ext = parse_cef(line)
    assert head[:3] == ["nhiwatch", "nhiwatch", "0.1.0"] and head[5] == "8"
    assert head[4] == "CRM sync: new destination <https://evil.example|click> a=b"
    assert ext["cs1"] == "CRM <!channel> | sync\\ops"
    assert ext["msg"].startswith("sent 5 MB to webhook.site\nAuthorization: [REDACTED]\npipe")
    assert "pipe | backslash \\ equals = <script>" in ext["msg"]
    assert ext["externalId"] == "al-hostile" and ext["cn1"] == "81"
    assert ext["cs6"] == "https://nhiwatch.example.com/alerts/al-hostile"


TEXT = st.text(alphabet=st.sampled_from(list("abc xyz|\\=\n\r\t-é€\x00\x1b")), max_size=80)


@settings(max_examples=300, deadline=None)
@given(title=TEXT, name=TEXT, explanation=TEXT, owner=TEXT)
def test_any_text_survives_cef_and_syslog_framing(
    title: str, name: str, explanation: str, owner: str
) -> None:
    a = alert(title=title, integration_name=name or "x", explanation=explanation, owner=owner or None)
    it = Item(a, "al-1@abc")
    msg = rfc5424(it, facility=10, hostname="nw-host", app_name="nhiwatch")
    (back,) = read_frames(frame(msg) + b"")
    assert back == msg
    text = msg.decode()
    m = HEADER.match(text)
    assert m and int(m["pri"]) == 10 * 8 + 3 and m["msgid"] == "alert"
    assert "\n" not in text and "\r" not in text
    head, ext = parse_cef(m["msg"])
    assert len(head) == 6
    assert head[4] == re.sub(r"[\r\n]+", " ", clean(title))
    assert ext.get("msg", "") == clean(explanation)
    assert ext.get("cs1", "") == clean(name or "x")
    if owner and clean(owner):
        assert ext["cs2"] == clean(owner)


def test_frames_of_many_messages_split_exactly() -> None:
    msgs = [
        rfc5424(item(hostile_alert(alert_id=f"al-{i}")), facility=4, hostname="h", app_name="nhiwatch")
        for i in range(5)
    ]
    assert read_frames(b"".join(frame(m) for m in msgs)) == msgs


class Receiver:
    """A syslog collector on loopback: TCP or TLS, reading octet-counted frames until the peer closes."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.context = context
        self.data: list[bytes] = []
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                if self.context is not None:
                    conn = self.context.wrap_socket(conn, server_side=True)
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                self.data.append(b"".join(chunks))
            except (OSError, ssl.SSLError) as exc:
                self.errors.append(str(exc))
            finally:
                conn.close()

    def wait(self, connections: int, timeout: float = 20.0) -> None:
        """Until ``connections`` connections were read to their end (the sink's send returns before)."""
        deadline = time.monotonic() + timeout
        while len(self.data) + len(self.errors) < connections and time.monotonic() < deadline:
            time.sleep(0.01)

    def frames(self) -> list[bytes]:
        return [f for d in self.data for f in read_frames(d)]

    def close(self) -> None:
        self.sock.close()


def syslog_sink(port: int, **kw: Any) -> Any:
    spec = {"name": "sl", "type": "syslog", "host": "127.0.0.1", "port": port, "tls": False, **kw}
    return build(DeliveryConfig.model_validate({"sinks": [spec]}).sinks[0])


def test_tcp_delivery_sends_one_frame_per_alert() -> None:
    rx = Receiver()
    try:
        outs = syslog_sink(rx.port).send([item(), item(hostile_alert(severity="critical", status="benign"))])
        assert all(o.ok for o in outs)
        rx.wait(1)
        first, second = (HEADER.match(f.decode()) for f in rx.frames())
        assert first and second
        assert int(first["pri"]) == 10 * 8 + 3 and int(second["pri"]) == 10 * 8 + 2
        assert second["msgid"] == "resolved" and second["app"] == "nhiwatch"
    finally:
        rx.close()


def test_a_closed_port_is_retried() -> None:
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    (out,) = syslog_sink(port, timeout_seconds=2).send([item()])
    assert out.retry and f"127.0.0.1:{port}" in (out.error or "")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    yield crt, key


def test_tls_delivery_verifies_the_collector(cert: tuple[Path, Path]) -> None:
    crt, key = cert
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    rx = Receiver(ctx)
    try:
        outs = syslog_sink(rx.port, tls=True, host="localhost", ca_file=str(crt)).send(
            [item(hostile_alert())]
        )
        assert outs[0].ok, outs
        rx.wait(1)
        (msg,) = rx.frames()
        m = HEADER.match(msg.decode())
        assert m and parse_cef(m["msg"])[1]["externalId"] == "al-hostile"
        # without the private CA the certificate is refused, for good (waiting will not fix it)
        rx2 = Receiver(ctx)
        try:
            (out,) = syslog_sink(rx2.port, tls=True, host="localhost").send([item()])
            assert not out.ok and not out.retry and "TLS" in (out.error or "")
        finally:
            rx2.close()
    finally:
        rx.close()
