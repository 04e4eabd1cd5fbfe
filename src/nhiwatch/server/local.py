"""The server file: how the CLI of the same OS user finds a running ``nhiwatch serve`` and talks to it.

DuckDB lets one process open a store file for writing, and no other process may open it at all while it
is held. So while ``nhiwatch serve`` holds a store, it writes ``<store>.server.json`` beside it (mode
0600, replaced atomically, removed on a clean shutdown) with its pid, the URL it listens on and a fresh
random local credential. The server keeps only the credential's SHA-256 digest in memory, and accepts it
as an admin Bearer token from the loopback interface (or the address it listens on); the file's mode is
what limits it to the same OS user. A file whose pid is dead, that another user owns, or that others may
read is ignored. This module needs no server extra: the CLI imports it to read the file.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil

SUFFIX = ".server.json"
LOCAL_PRINCIPAL = "(local cli)"  # not a valid token name: it cannot collide with a stored token


@dataclass(frozen=True)
class ServerFile:
    pid: int
    url: str
    credential: str


def path_for(db: str | Path) -> Path:
    p = Path(db)
    return p.with_name(p.name + SUFFIX)


def url_for(host: str, port: int) -> str:
    """The URL a local client should use: a wildcard address is reached through loopback."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    return f"http://{host}:{port}"


def write(db: str | Path, url: str) -> str:
    """Write the server file for this process and return the fresh local credential (never logged)."""
    credential = "nhw_local_" + secrets.token_urlsafe(32)
    target = path_for(db)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps({"pid": os.getpid(), "url": url, "credential": credential}))
        os.replace(tmp, target)  # a stale file (a server that died) is replaced whole
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return credential


def remove(db: str | Path) -> None:
    """Remove the server file if it is still this process's."""
    found = _load(path_for(db))
    if found is not None and found.pid == os.getpid():
        path_for(db).unlink(missing_ok=True)


def read(db: str | Path) -> ServerFile | None:
    """The live server's file for ``db``, or None (no file, a dead pid, or a file not safely ours)."""
    found = _load(path_for(db))
    if found is None or not psutil.pid_exists(found.pid):
        return None
    return found


def _load(path: Path) -> ServerFile | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 4096:
            return None
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o077):
            return None  # another user's file, or one others can read: not a credential to trust
        data = orjson.loads(os.read(fd, 4096))
    except (OSError, orjson.JSONDecodeError):
        return None
    finally:
        os.close(fd)
    if not isinstance(data, dict):
        return None
    pid, url, credential = data.get("pid"), data.get("url"), data.get("credential")
    if not isinstance(pid, int) or not isinstance(url, str) or not isinstance(credential, str):
        return None
    if not url.startswith(("http://", "https://")):
        return None
    return ServerFile(pid, url, credential)


def is_local_client(client: str | None, listen_host: str | None) -> bool:
    """Whether a request comes from this machine: loopback, or the address the server listens on."""
    if not client:
        return False
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(client).is_loopback:
            return True
    return listen_host is not None and client == listen_host
