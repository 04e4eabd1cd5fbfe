"""Syslog (RFC 5424) over TCP or TLS (RFC 5425), one message per alert update with a CEF payload.

Messages are framed by octet counting (RFC 6587 §3.4.1: ``MSG-LEN SP SYSLOG-MSG``), the framing RFC 5425
requires for TLS, so a message may hold any byte without splitting the stream. The header is
``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA``: PRI = facility × 8 + severity
(critical 2, high 3, medium 4, low 5), MSGID ``alert`` (``resolved`` for a closed alert), no structured
data. TLS verifies the receiver's certificate (``ca_file`` for a private CA).
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Sequence
from datetime import UTC

from nhiwatch.outputs.sinks.base import Item, Outcome, Sink
from nhiwatch.outputs.sinks.cef import cef_line
from nhiwatch.outputs.sinks.config import SyslogSink as SyslogConfig
from nhiwatch.outputs.sinks.http import tls_context

SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5}


def rfc5424(
    item: Item, *, facility: int, hostname: str, app_name: str, link: str | None = None, procid: str = "-"
) -> bytes:
    a = item.alert
    pri = facility * 8 + SEVERITY.get(a.severity, 5)
    ts = a.last_seen.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    msgid = "resolved" if item.resolved else "alert"
    return f"<{pri}>1 {ts} {hostname} {app_name} {procid} {msgid} - {cef_line(item, link)}".encode()


def frame(message: bytes) -> bytes:
    """Octet-counting framing: the message's length in bytes, a space, the message."""
    return str(len(message)).encode() + b" " + message


def _hostname(configured: str | None) -> str:
    name = configured or socket.gethostname() or "-"
    return "".join(c for c in name if "!" <= c <= "~")[:255] or "-"


class SyslogSink(Sink):
    config: SyslogConfig

    def __init__(self, config: SyslogConfig, console_url: str | None = None) -> None:
        super().__init__(config, console_url)
        self.hostname = _hostname(config.hostname)
        self.context = tls_context(config.ca_file) if config.tls else None

    def message(self, item: Item) -> bytes:
        return rfc5424(
            item,
            facility=self.config.facility,
            hostname=self.hostname,
            app_name=self.config.app_name,
            link=self.link(item.alert),
            procid=str(os.getpid()),
        )

    def send(self, items: Sequence[Item]) -> list[Outcome]:
        if not items:
            return []
        cfg = self.config
        out: list[Outcome] = []
        try:
            with socket.create_connection((cfg.host, cfg.port), timeout=cfg.timeout_seconds) as raw:
                sock: socket.socket = (
                    self.context.wrap_socket(raw, server_hostname=cfg.host) if self.context else raw
                )
                with sock:
                    for it in items:
                        sock.sendall(frame(self.message(it)))
                        out.append(Outcome.done())
        except ssl.SSLCertVerificationError as exc:
            # a certificate the receiver cannot prove is not fixed by waiting
            return out + [Outcome.failed(self.scrub(f"TLS: {exc.verify_message or exc.reason or exc}"))] * (
                len(items) - len(out)
            )
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            return out + [Outcome.again(self.scrub(f"{cfg.host}:{cfg.port}: {why}"))] * (
                len(items) - len(out)
            )
        return out
