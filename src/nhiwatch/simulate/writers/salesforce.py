"""Salesforce EventLogFile CSVs: one file per event type per day, every value quoted, ELF headers.

Login (OAuth refresh-token logins of the integration user), RestApi (REST queries and writes, with
the connected app), BulkApi2 (job life cycle with record counts) and ApiTotalUsage (every Bulk API 2.0
HTTP call, carrying the connected app id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from nhiwatch.simulate.model import Ev
from nhiwatch.simulate.writers.common import Ids, by_day, iso_ms, sf_ts, write_bytes

ORG = "00D5e000000AcmeQ"
HEADERS = {
    "Login": (
        "EVENT_TYPE",
        "TIMESTAMP",
        "REQUEST_ID",
        "ORGANIZATION_ID",
        "USER_ID",
        "RUN_TIME",
        "CPU_TIME",
        "URI",
        "SESSION_KEY",
        "LOGIN_KEY",
        "USER_TYPE",
        "REQUEST_STATUS",
        "DB_TOTAL_TIME",
        "LOGIN_TYPE",
        "BROWSER_TYPE",
        "API_TYPE",
        "API_VERSION",
        "USER_NAME",
        "TLS_PROTOCOL",
        "CIPHER_SUITE",
        "AUTHENTICATION_METHOD_REFERENCE",
        "LOGIN_SUB_TYPE",
        "TIMESTAMP_DERIVED",
        "USER_ID_DERIVED",
        "CLIENT_IP",
        "URI_ID_DERIVED",
        "LOGIN_STATUS",
        "SOURCE_IP",
    ),
    "RestApi": (
        "EVENT_TYPE",
        "TIMESTAMP",
        "REQUEST_ID",
        "ORGANIZATION_ID",
        "USER_ID",
        "RUN_TIME",
        "CPU_TIME",
        "URI",
        "SESSION_KEY",
        "LOGIN_KEY",
        "USER_TYPE",
        "REQUEST_STATUS",
        "DB_TOTAL_TIME",
        "ENTITY_NAME",
        "MEDIA_TYPE",
        "METHOD",
        "NUMBER_FIELDS",
        "ROWS_PROCESSED",
        "REQUEST_SIZE",
        "RESPONSE_SIZE",
        "STATUS_CODE",
        "DB_BLOCKS",
        "DB_CPU_TIME",
        "CLIENT_NAME",
        "CONNECTED_APP_ID",
        "USER_AGENT",
        "TIMESTAMP_DERIVED",
        "USER_ID_DERIVED",
        "CLIENT_IP",
        "URI_ID_DERIVED",
    ),
    "BulkApi2": (
        "EVENT_TYPE",
        "TIMESTAMP",
        "REQUEST_ID",
        "ORGANIZATION_ID",
        "USER_ID",
        "RUN_TIME",
        "CPU_TIME",
        "SESSION_KEY",
        "LOGIN_KEY",
        "JOB_ID",
        "JOB_STATUS",
        "OPERATION_TYPE",
        "ENTITY_TYPE",
        "RECORDS_PROCESSED",
        "RECORDS_FAILED",
        "ERROR_MESSAGE",
        "TIMESTAMP_DERIVED",
        "USER_ID_DERIVED",
        "CLIENT_IP",
    ),
    "UniqueQuery": (
        "EVENT_TYPE",
        "TIMESTAMP",
        "REQUEST_ID",
        "ORGANIZATION_ID",
        "USER_ID",
        "RUN_TIME",
        "CPU_TIME",
        "URI",
        "SESSION_KEY",
        "LOGIN_KEY",
        "QUERY_IDENTIFIER",
        "QUERY_TYPE",
        "SQL_ID",
        "BOT_IDENTIFIER",
        "BOT_SESSION_IDENTIFIER",
        "PLANNER_IDENTIFIER",
        "TIMESTAMP_DERIVED",
        "USER_ID_DERIVED",
        "CLIENT_IP",
        "URI_ID_DERIVED",
    ),
    "ApiTotalUsage": (
        "EVENT_TYPE",
        "TIMESTAMP",
        "REQUEST_ID",
        "ORGANIZATION_ID",
        "USER_ID",
        "API_FAMILY",
        "API_VERSION",
        "API_RESOURCE",
        "CLIENT_NAME",
        "CONNECTED_APP_ID",
        "COUNTS_AGAINST_API_LIMIT",
        "ENTITY_NAME",
        "HTTP_METHOD",
        "STATUS_CODE",
        "TIMESTAMP_DERIVED",
        "USER_ID_DERIVED",
        "CLIENT_IP",
    ),
}


def _q(v: object) -> str:
    s = str(v)
    return '"' + (s.replace('"', '""') if '"' in s else s) + '"'


class _Rows:
    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        self.rows: dict[str, list[tuple[float, str]]] = defaultdict(list)

    def add(self, etype: str, ts: float, values: dict[str, object]) -> None:
        values["EVENT_TYPE"] = etype
        values["TIMESTAMP"] = sf_ts(ts)
        values["TIMESTAMP_DERIVED"] = iso_ms(ts)
        values["ORGANIZATION_ID"] = ORG
        values["REQUEST_ID"] = "4" + self.ids.b62(12) + "-l1cJIQk-"
        body = '","'.join([str(values.get(h, "")) for h in HEADERS[etype]])
        line = f'"{body}"' if '"' not in body else ",".join(_q(values.get(h, "")) for h in HEADERS[etype])
        self.rows[etype].append((ts, line))


def _ri(r: _Rows, lo: int, hi: int) -> int:
    return lo + int(r.ids.rng.random() * (hi - lo + 1))


def _user(e: Ev) -> tuple[str, str]:
    uid = e.integ.extra.get("user_id", "0055e00000Int01")
    return uid, uid + "AAQ"


def _login(e: Ev, r: _Rows) -> None:
    uid, uid18 = _user(e)
    ok = e.status < 400
    r.add(
        "Login",
        e.ts,
        {
            "USER_ID": uid,
            "USER_ID_DERIVED": uid18,
            "RUN_TIME": _ri(r, 40, 300),
            "CPU_TIME": _ri(r, 5, 60),
            "URI": (e.extra or {}).get("uri", "/services/oauth2/token"),
            "LOGIN_KEY": (e.extra or {}).get("login_key", r.ids.b62(16)),
            "USER_TYPE": "Standard",
            "DB_TOTAL_TIME": _ri(r, 10**7, 9 * 10**7),
            "LOGIN_TYPE": (e.extra or {}).get("login_type", "i"),
            "BROWSER_TYPE": e.ua,
            "API_VERSION": "9998.0",
            "USER_NAME": e.integ.extra.get("user_name", ""),
            "TLS_PROTOCOL": "TLSv1.3",
            "CIPHER_SUITE": "TLS_AES_256_GCM_SHA384",
            "CLIENT_IP": e.ip,
            "SOURCE_IP": e.ip,
            "LOGIN_STATUS": "LOGIN_NO_ERROR"
            if ok
            else (e.extra or {}).get("login_status", "LOGIN_ERROR_INVALID_GATEWAY"),
        },
    )


def _rest(e: Ev, r: _Rows) -> None:
    uid, uid18 = _user(e)
    x = e.extra or {}
    method = x.get("method", "GET")
    uri = x.get("uri") or (
        "/services/data/v60.0/query" if method == "GET" else f"/services/data/v60.0/sobjects/{e.target}"
    )
    r.add(
        "RestApi",
        e.ts,
        {
            "USER_ID": uid,
            "USER_ID_DERIVED": uid18,
            "RUN_TIME": _ri(r, 20, 900),
            "CPU_TIME": _ri(r, 2, 200),
            "URI": uri,
            "LOGIN_KEY": x.get("login_key", ""),
            "USER_TYPE": "Standard",
            "REQUEST_STATUS": "S" if e.status < 400 else "F",
            "DB_TOTAL_TIME": _ri(r, 10**6, 5 * 10**7),
            "ENTITY_NAME": e.target,
            "MEDIA_TYPE": "application/json",
            "METHOD": method,
            "ROWS_PROCESSED": e.n,
            "REQUEST_SIZE": 0 if method == "GET" else 600,
            "RESPONSE_SIZE": e.size,
            "STATUS_CODE": e.status,
            "CLIENT_NAME": e.integ.ids.get("app_name", ""),
            "CONNECTED_APP_ID": e.integ.ids.get("client_id", ""),
            "USER_AGENT": e.ua,
            "CLIENT_IP": e.ip,
        },
    )
    if method == "GET" and uri.endswith("/query") and e.status < 400:
        soql = x.get("soql") or (
            f"SELECT Id, Name, LastModifiedDate FROM {e.target} WHERE LastModifiedDate > {_soql_time(e.ts - 3600)}"
        )
        r.add(
            "UniqueQuery",
            e.ts + 0.001,
            {
                "USER_ID": uid,
                "USER_ID_DERIVED": uid18,
                "RUN_TIME": _ri(r, 5, 400),
                "CPU_TIME": _ri(r, 1, 90),
                "URI": uri,
                "LOGIN_KEY": x.get("login_key", ""),
                "QUERY_IDENTIFIER": soql,
                "QUERY_TYPE": "soql",
                "SQL_ID": r.ids.hexs(16),
                "CLIENT_IP": e.ip,
            },
        )


def _soql_time(ts: float) -> str:
    return iso_ms(ts)[:19] + "Z"


def _usage(e: Ev, r: _Rows, ts: float, method: str, resource: str, status: int = 200) -> None:
    uid, uid18 = _user(e)
    r.add(
        "ApiTotalUsage",
        ts,
        {
            "USER_ID": uid,
            "USER_ID_DERIVED": uid18,
            "API_FAMILY": "BulkApi2",
            "API_VERSION": "60.0",
            "API_RESOURCE": resource,
            "CLIENT_NAME": e.integ.ids.get("app_name", ""),
            "CONNECTED_APP_ID": e.integ.ids.get("client_id", ""),
            "COUNTS_AGAINST_API_LIMIT": "true",
            "ENTITY_NAME": e.target,
            "HTTP_METHOD": method,
            "STATUS_CODE": status,
            "CLIENT_IP": e.ip,
        },
    )


def _bulk(e: Ev, r: _Rows) -> None:
    """A Bulk API 2.0 query job: created, in progress, complete (optionally deleted), with its HTTP calls."""
    uid, uid18 = _user(e)
    x = e.extra or {}
    job = "750" + r.ids.b62(12)
    duration = max(5.0, e.n / 4000)
    steps = [("UploadComplete", 0.0, ""), ("InProgress", 1.5, ""), ("JobComplete", duration, e.n)]
    if x.get("delete_after"):
        steps.append(("Deleted", duration + float(x["delete_after"]), ""))
    for status, dt, records in steps:
        r.add(
            "BulkApi2",
            e.ts + dt,
            {
                "USER_ID": uid,
                "USER_ID_DERIVED": uid18,
                "RUN_TIME": _ri(r, 5, 3000),
                "CPU_TIME": _ri(r, 1, 900),
                "LOGIN_KEY": x.get("login_key", ""),
                "JOB_ID": job,
                "JOB_STATUS": status,
                "OPERATION_TYPE": "query",
                "ENTITY_TYPE": e.target,
                "RECORDS_PROCESSED": records,
                "CLIENT_IP": e.ip,
            },
        )
    _usage(e, r, e.ts, "POST", "/jobs/query")
    _usage(e, r, e.ts + duration + 1, "GET", f"/jobs/query/{job}/results")
    if x.get("delete_after"):
        _usage(e, r, e.ts + duration + float(x["delete_after"]), "DELETE", f"/jobs/query/{job}")


RENDER: dict[str, Callable[[Ev, _Rows], None]] = {"login": _login, "rest": _rest, "bulk": _bulk}


def write(events: list[Ev], root: Path, ids: Ids, gzip: bool) -> int:
    n = 0
    for day, evs in by_day(events):
        rows = _Rows(ids)
        for e in evs:
            RENDER.get(e.op, _rest)(e, rows)
        for etype, lines in sorted(rows.rows.items()):
            lines.sort(key=lambda t: t[0])
            body = (
                ",".join(_q(h) for h in HEADERS[etype]) + "\n" + "\n".join(line for _, line in lines) + "\n"
            )
            write_bytes(root / "salesforce" / etype / f"{day}.csv", body.encode(), gzip)
            ids.records += len(lines)
            n += 1
    return n
