"""Egress as the network sees it: Zeek conn/ssl/http JSON logs, VPC flow logs v2 and Squid access.log.

Each self-hosted worker sits behind one sensor (its ``Egress.sensor``): Zeek in the data centre, VPC
flow logs in AWS, the Squid proxy for the office network. A flow carries no identity, only the
worker's address, which the inventory lists as ``{source: egress, src_ip}``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nhiwatch.simulate.model import Ev
from nhiwatch.simulate.writers.common import Ids, by_day, by_hour, jsonl, write_bytes

ACCOUNT = "111122223333"
FLOW_LOG_ID = "fl-0a1b2c3d4e5f60718"
VPC_FIELDS = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
)


def _zeek(evs: list[Ev], ids: Ids) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in evs:
        x = e.extra or {}
        uid = "C" + ids.b62(17)
        port = int(x.get("port", 443))
        sport = ids.rng.randint(32768, 60999)
        base = {
            "ts": round(e.ts, 6),
            "uid": uid,
            "id.orig_h": e.ip,
            "id.orig_p": sport,
            "id.resp_h": x.get("dst", "0.0.0.0"),
            "id.resp_p": port,
        }
        dur = float(x.get("dur", 1.0))
        out["conn"].append(
            {
                **base,
                "proto": "tcp",
                "service": "ssl" if port == 443 else "http",
                "duration": round(dur, 6),
                "orig_bytes": e.n,
                "resp_bytes": e.size,
                "conn_state": "SF",
                "local_orig": True,
                "local_resp": False,
                "missed_bytes": 0,
                "history": "ShADadfF",
                "orig_pkts": e.n // 1400 + 4,
                "orig_ip_bytes": e.n + 40 * (e.n // 1400 + 4),
                "resp_pkts": e.size // 1400 + 4,
                "resp_ip_bytes": e.size + 40 * (e.size // 1400 + 4),
            }
        )
        if port == 443:
            out["ssl"].append(
                {
                    **base,
                    "version": "TLSv13",
                    "cipher": "TLS_AES_128_GCM_SHA256",
                    "curve": "x25519",
                    "server_name": e.target,
                    "resumed": False,
                    "established": True,
                    "ssl_history": "CsiI",
                }
            )
        else:
            out["http"].append(
                {
                    **base,
                    "trans_depth": 1,
                    "method": x.get("method", "GET"),
                    "host": e.target,
                    "uri": x.get("uri", "/"),
                    "version": "1.1",
                    "user_agent": e.ua or "curl/8.5.0",
                    "request_body_len": 0 if x.get("method", "GET") == "GET" else e.n,
                    "response_body_len": e.size,
                    "status_code": int(x.get("status", 200)),
                    "status_msg": "OK",
                    "tags": [],
                    "resp_mime_types": ["text/plain"],
                }
            )
    return out


def _vpcflow(e: Ev, ids: Ids) -> list[str]:
    x = e.extra or {}
    eni = e.integ.egress.eni if e.integ.egress else "eni-0000000000000000"
    port = int(x.get("port", 443))
    sport = ids.rng.randint(32768, 60999)
    start = int(e.ts)
    end = start + max(1, int(float(x.get("dur", 1)))) + 5
    dst = x.get("dst", "0.0.0.0")
    out_pk, in_pk = e.n // 1400 + 4, e.size // 1400 + 4
    out_b, in_b = e.n + 40 * out_pk, e.size + 40 * in_pk
    return [
        f"2 {ACCOUNT} {eni} {e.ip} {dst} {sport} {port} 6 {out_pk} {out_b} {start} {end} ACCEPT OK",
        f"2 {ACCOUNT} {eni} {dst} {e.ip} {port} {sport} 6 {in_pk} {in_b} {start} {end} ACCEPT OK",
    ]


def _squid(e: Ev, ids: Ids) -> str:
    x = e.extra or {}
    port = int(x.get("port", 443))
    elapsed = int(float(x.get("dur", 1)) * 1000)
    ms = int(e.ts * 1000)
    if port == 443:
        return (
            f"{ms // 1000}.{ms % 1000:03d} {elapsed:6d} {e.ip} TCP_TUNNEL/200 {e.size + e.n} CONNECT "
            f"{e.target}:443 - HIER_DIRECT/{x.get('dst', '-')} -"
        )
    status = int(x.get("status", 200))
    method = x.get("method", "GET")
    return (
        f"{ms // 1000}.{ms % 1000:03d} {elapsed:6d} {e.ip} TCP_MISS/{status} {e.size} {method} "
        f"http://{e.target}{x.get('uri', '/')} - HIER_DIRECT/{x.get('dst', '-')} text/plain"
    )


def write(events: list[Ev], root: Path, ids: Ids, gzip: bool) -> int:
    sensors: dict[str, list[Ev]] = defaultdict(list)
    for e in events:
        eg = e.integ.egress
        sensors[(e.extra or {}).get("sensor") or (eg.sensor if eg else "zeek")].append(e)
    n = 0
    for day, evs in by_day(sensors.get("zeek", [])):
        for log, recs in sorted(_zeek(evs, ids).items()):
            write_bytes(root / "zeek" / day / f"{log}.log", jsonl(recs), gzip)
            ids.records += len(recs)
            n += 1
    header = " ".join(VPC_FIELDS)
    for hour, evs in by_hour(sensors.get("vpcflow", [])):
        dt = datetime.fromtimestamp(hour * 3600, UTC)
        lines = [header] + [line for e in evs for line in _vpcflow(e, ids)]
        name = (
            f"{ACCOUNT}_vpcflowlogs_us-east-1_{FLOW_LOG_ID}_{dt.strftime('%Y%m%dT%H%MZ')}_{ids.hexs(8)}.log"
        )
        write_bytes(
            root / "vpcflow" / dt.strftime("%Y/%m/%d") / name, ("\n".join(lines) + "\n").encode(), True
        )
        ids.records += len(lines) - 1
        n += 1
    for day, evs in by_day(sensors.get("squid", [])):
        write_bytes(
            root / "squid" / f"access-{day}.log",
            ("\n".join(_squid(e, ids) for e in evs) + "\n").encode(),
            gzip,
        )
        ids.records += len(evs)
        n += 1
    return n
