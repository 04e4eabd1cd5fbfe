"""Explanations checked against their evidence, over every detector's positive case.

Each positive case of ``tests/detectors/cases`` builds its world; every detector runs over it (so findings of
several detectors meet in one alert, as they do in a deployment), the findings go through grouping, scoring
and explanation, and each alert's text is checked against the findings it was built from: the number of
detections it states is the number of bullets, no bullet repeats, every number in a bullet is one of the
evidence's numbers (in its unit), a measured value is beyond its bound in the direction the detector claims,
every time lies inside the alert's window (and its UTC twin is the same instant), ticket statements agree
with the tickets found, and nouns and articles agree with their numbers and sounds.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from nhiwatch.alerts import explain
from nhiwatch.alerts.build import build_alerts
from nhiwatch.alerts.config import default_config
from nhiwatch.alerts.context import IntegrationInfo
from nhiwatch.alerts.model import Alert, finding_id
from nhiwatch.baseline import learn
from nhiwatch.detectors.base import DetectContext, DetectorMeta, Finding
from nhiwatch.detectors.registry import all_detectors, run_all
from nhiwatch.errors import NhiwatchError
from nhiwatch.store import Store
from tests.detectors.cases import CASES, DAY, SINCE, Case
from tests.detectors.world import World

POSITIVE = [c for c in CASES if c.kind == "positive"]
METAS: dict[str, DetectorMeta] = {k: d.meta for k, d in all_detectors().items()}
# detectors that compare a magnitude with a bound: their findings must say what they compared
MEASURED = {
    "volume_spike",
    "unticketed_burst",
    "fan_out",
    "probing",
    "cadence_change",
    "dormant_reactivation",
}
CONSTANTS = {168.0, 24.0, 7.0}  # hours in a week, in a day; days in a week


def _fan_out_under_its_bound(w: World) -> tuple[datetime, datetime]:
    """Five repositories in an hour where the bound is six but three are new: raised on novelty, and the
    text must not say "5 resources against at most 6 per hour"."""
    from tests.detectors.cases.volume import _ci

    _ci(w)
    for i, repo in enumerate(("acme/api", "acme/web", "acme/secrets", "acme/vault", "acme/keys")):
        w.event(
            "ci-bot",
            SINCE + timedelta(hours=3, minutes=i),
            source="github",
            resource_type="repo",
            resource_name=repo,
            action_class="read",
        )
    return SINCE, SINCE + DAY


EXTRA = [Case("fan_out", "fan_out_under_its_bound", "positive", _fan_out_under_its_bound, bool)]


def _run(c: Case, store: Store) -> tuple[list[Finding], list[Alert]]:
    w = World(store)
    since, until = c.build(w)
    w.flush()
    with contextlib.suppress(NhiwatchError):  # no history at all: detections run on declarations alone
        learn(store, until=since, history_days=35)
    findings = run_all(DetectContext(store, since, until, {c.detector: c.params}))
    built = build_alerts(store, findings, METAS, default_config(), run_id="t", now=until)
    return findings, built.alerts


# ---- reading an explanation back ------------------------------------------------------------------------

NUM = re.compile(
    r"(?<![\w.\-/:@])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?"
    r"(?:\s?(KB|MB|GB|TB|PB|B|×|%)(?![\w]))?"
    r"(?:\s(days?|hours?|minutes?|seconds?|h)\b)?"
    r"(?:\s(\d+)\s(hours?|minutes?|seconds?)\b)?"
    r"(?![\w.\-/@]*\w)"
)
SECONDS = {"day": 86400, "hour": 3600, "h": 3600, "minute": 60, "second": 1}
SIZE = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15}
ZONE = r"(UTC|[A-Z][A-Za-z_]+(?:/[A-Za-z_+\-]+)+)"
SPAN = re.compile(
    rf"(\d{{4}}-\d{{2}}-\d{{2}}) (\d{{2}}:\d{{2}})(?:–(\d{{2}}:\d{{2}}))? {ZONE}"
    r"(?: \((?:(\d{4}-\d{2}-\d{2}) )?(\d{2}:\d{2})(?:–(\d{2}:\d{2}))?(?: UTC to (?:\d{4}-\d{2}-\d{2} )?(\d{2}:\d{2}))? UTC\))?"
)
SINGULAR_NOUNS = (
    "event|record|resource|prefix|address|host|call|destination|scope|hour|day|minute|second|failure|"
    "operation|detection|credential|run|time|object type|user agent|network prefix|ASN|kind of action|"
    "tenant|observed hour|active hour|posture check|source address|write|admin action|unused credential"
)


def _numbers(value: Any) -> Iterator[float]:
    """Every number in a finding's details, and the size of every list and mapping."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, Mapping):
        yield float(len(value))
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list | tuple | set):
        yield float(len(value))
        for v in value:
            yield from _numbers(v)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple | set):
        for v in value:
            yield from _strings(v)


def _pool(f: Finding, params: Mapping[str, Any]) -> list[float]:
    base = [*_numbers(dict(f.details)), *(float(v) for v in params.values() if isinstance(v, int | float))]
    base += [*CONSTANTS, float(len(f.evidence))]
    m = f.details.get("measure")
    if isinstance(m, Mapping) and m.get("bound"):
        base.append(float(m["observed"]) / float(m["bound"]))
    stamps = [f.first_seen, f.last_seen] + [
        datetime.fromisoformat(s)
        for s in _strings(dict(f.details))
        if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+", s)
    ]
    base += [abs((a - b).total_seconds()) for a in stamps for b in stamps]
    out = []
    for v in base:  # the same value read in another unit: a rate as a percentage, hours or days as seconds
        out += [v, v * 100, v * 3600, v * 86400, v * 60]
    return out


def _value(m: re.Match[str]) -> tuple[float, float]:
    """(value in base units, the rounding the text allows)."""
    digits, decimals, unit, span_unit, more, more_unit = m.groups()
    v = float(digits.replace(",", "") + (decimals or ""))
    tol = 0.5 * 10 ** -(len(decimals) - 1 if decimals else 0)
    if unit in SIZE:
        return v * SIZE[unit], max(tol * SIZE[unit], 0.5)
    if span_unit:
        scale = SECONDS[span_unit.rstrip("s") if span_unit != "h" else "h"]
        total, tol = v * scale, scale / 2
        if more:
            small = SECONDS[more_unit.rstrip("s")]
            total, tol = total + int(more) * small, small / 2
        return total, max(tol, 0.5 * scale if not more else tol)
    return v, max(tol, 1e-9)


def _matches(value: float, tol: float, pool: Sequence[float]) -> bool:
    return any(abs(value - p) <= tol + 1e-6 * abs(p) for p in pool)


def _scrub(text: str, f: Finding, info: IntegrationInfo) -> str:
    """The text without times and without names and values quoted from the logs (hosts, IPs, versions)."""
    text = SPAN.sub(" ", text)
    quoted = sorted(
        {*_strings(dict(f.details)), f.integration_id, info.name, info.owner or "", info.purpose or ""},
        key=len,
        reverse=True,
    )
    for q in quoted:
        if q and any(ch.isdigit() for ch in q):
            text = text.replace(q, " ")
    return re.sub(r"\d{4}-\d{2}-\d{2}", " ", text)


def _instants(text: str) -> Iterator[tuple[datetime, datetime]]:
    """Every stretch of time written in the text, in UTC; a local time's UTC twin must be the same."""
    for m in SPAN.finditer(text):
        day, t1, t2, zone, _utc_day, u1, u2, u_to = m.groups()
        tz = ZoneInfo("UTC") if zone == "UTC" else ZoneInfo(zone)
        start = datetime.fromisoformat(f"{day} {t1}").replace(tzinfo=tz).astimezone(UTC)
        end = datetime.fromisoformat(f"{day} {t2 or t1}").replace(tzinfo=tz).astimezone(UTC)
        if zone != "UTC" and u_to:  # "A Zone to B Zone (A' UTC to B' UTC)": this match is B
            assert f"{end:%H:%M}" == u_to, f"local {day} {t1} {zone} is {end:%H:%M} UTC, text says {u_to}"
        elif zone != "UTC" and u1:
            assert f"{start:%H:%M}" == u1, f"local {day} {t1} {zone} is {start:%H:%M} UTC, text says {u1}"
            if u2:
                assert f"{end:%H:%M}" == u2, m.group(0)
        yield start.replace(tzinfo=None), end.replace(tzinfo=None)


def _bullets(text: str) -> tuple[list[str], int]:
    lines = text.splitlines()
    more = 0
    bullets = []
    for line in lines:
        if line.startswith("- ... and "):
            more = int(re.search(r"and (\d+) more", line).group(1))  # type: ignore[union-attr]
        elif line.startswith("- "):
            bullets.append(line)
    return bullets, more


def _grammar(text: str) -> list[str]:
    problems = []
    if "(s)" in text or "(es)" in text:
        problems.append("a noun with (s)")
    for m in re.finditer(rf"(?<![\d.,])\b1 ((?:{SINGULAR_NOUNS})e?s)\b", text):
        problems.append(f"'1 {m.group(1)}'")
    for m in re.finditer(
        rf"(?<![\d.,:])\b(0|[2-9]|\d{{2,}}|\d{{1,3}}(?:,\d{{3}})+) ({SINGULAR_NOUNS})\b(?![a-z])", text
    ):
        problems.append(f"'{m.group(0)}'")
    for m in re.finditer(r"\ba ([aeiouAEIOU]\w*)", text):
        if not m.group(1).lower().startswith(("u", "one", "eu")):
            problems.append(f"'{m.group(0)}'")
    for m in re.finditer(r"\ban ([b-df-hj-np-tv-z]\w*)", text):
        if not m.group(1).startswith(("hour", "honest")):
            problems.append(f"'{m.group(0)}'")
    return problems


def check(
    alert: Alert, findings: Sequence[Finding], info: IntegrationInfo, store: Store, params: Mapping[str, Any]
) -> None:
    text = alert.explanation
    bullets, more = _bullets(text)
    stated = re.search(r"(\d+) (?:detections?|posture checks?) found", text)
    assert stated, text
    assert int(stated.group(1)) == len(bullets) + more, text
    assert len(set(bullets)) == len(bullets), text
    assert not _grammar(text), (_grammar(text), text)
    assert not _grammar(alert.title), (_grammar(alert.title), alert.title)

    lo = min(f.first_seen for f in findings).replace(second=0, microsecond=0)
    hi = max(f.last_seen for f in findings)
    context_line = next((ln for ln in text.splitlines() if ln.startswith("Context:")), "")
    for a, b in _instants(text.replace(context_line, "")):
        assert lo <= a and b <= hi, f"{a}–{b} outside the alert's window {lo}–{hi}:\n{text}"
    tickets = {r[0]: (r[1], r[2]) for r in store.fetchall("SELECT id, start_time, end_time FROM tickets")}
    for tid in re.findall(r"(?:ticket|event) ([A-Z][\w-]+)", context_line):
        start, end = tickets[tid]
        assert start <= hi and end >= lo, f"{tid} does not overlap the alert:\n{text}"

    by_text = {t: f for f, t in explain.bullets(info, findings, METAS)}
    for bullet in bullets:
        f = by_text.get(bullet) or next(f for t, f in by_text.items() if bullet.startswith(t[: len(t) // 2]))
        ticket = f.details.get("ticket_id")
        if ticket:
            assert str(ticket) in bullet, bullet
            assert "no change ticket" not in bullet and "Unticketed" not in bullet, bullet
        else:
            assert "covered by" not in bullet and "near ticket" not in bullet, bullet
        if f.detector == "unticketed_burst" and ticket:
            assert "Unticketed" not in alert.title, alert.title
        pool = _pool(f, {**METAS[f.detector].params, **params})
        body = _scrub(bullet, f, info)
        for m in NUM.finditer(body):
            value, tol = _value(m)
            assert _matches(value, tol, pool), (
                f"{m.group(0)!r} is not in the evidence of {f.detector}: {bullet}"
            )
        measure = f.details.get("measure")
        if f.detector in MEASURED:
            assert isinstance(measure, Mapping), f"{f.detector} does not say what it measured"
        if isinstance(measure, Mapping):
            obs, bound = float(measure["observed"]), float(measure["bound"])
            assert (obs > bound) if measure["direction"] == "above" else (obs < bound), (measure, bullet)
            values = [_value(m) for m in NUM.finditer(body)]
            scale = {"day": 86400.0, "hour": 3600.0, "minute": 60.0}.get(
                str(measure["unit"]).split()[-1], 1.0
            )
            for want in (obs, bound):  # written as a count ("2 active hours") or a duration ("22 hours")
                found = any(_matches(v, tol, [want, want * scale]) for v, tol in values)
                assert found or bound == 0, (want, bullet)


@pytest.mark.parametrize("c", POSITIVE + EXTRA, ids=[f"{c.detector}-{c.name}" for c in POSITIVE + EXTRA])
def test_explanations_agree_with_their_evidence(c: Case, store: Store) -> None:
    from nhiwatch.alerts.context import integrations

    findings, alerts = _run(c, store)
    assert any(f.detector == c.detector for f in findings), "the case's detector did not fire"
    by_id = {finding_id(f): f for f in findings}
    infos = integrations(store, {a.integration_id for a in alerts})
    for alert in alerts:
        group = [by_id[i] for i in alert.finding_ids]
        check(alert, group, infos[alert.integration_id], store, c.params)


def _all_positive_findings(tmp: Path, cases: Sequence[Case] = POSITIVE[:12]) -> list[Finding]:
    out: list[Finding] = []
    for i, c in enumerate(cases):
        store = Store(tmp / f"case-{i}.duckdb")
        try:
            out += _run(c, store)[0]
        finally:
            store.close()
    return out


def test_many_findings_in_one_alert_state_their_number_and_never_repeat(tmp_path: Path) -> None:
    """Findings of many detectors (and the same finding twice) in one alert of one integration."""
    findings = _all_positive_findings(tmp_path)
    t = datetime(2026, 10, 6, 3, 0)
    one = [
        replace(
            f, integration_id="x", first_seen=t + timedelta(minutes=i), last_seen=t + timedelta(minutes=i)
        )
        for i, f in enumerate(findings)
    ]
    one.append(replace(one[0]))  # the same observation twice: one bullet
    info = IntegrationInfo("x", "x", "o@x.io", "sync", "medium", "internal", False, False, "Europe/Berlin")
    text = explain.explanation(info, one, METAS, {}, [])
    bullets, more = _bullets(text)
    stated = int(re.search(r"(\d+) detections? found", text).group(1))  # type: ignore[union-attr]
    assert len(bullets) == explain.MAX_BULLETS and stated == len(bullets) + more, text
    assert more > 0 and stated <= len(one) - 1
    assert len(set(bullets)) == len(bullets)
    assert not _grammar(text), _grammar(text)


def test_a_new_credential_then_a_burst_is_a_takeover_not_a_burst(tmp_path: Path) -> None:
    wanted = ("secret_added_then_mailboxes_read", "export_burst_without_ticket")
    findings = _all_positive_findings(tmp_path, [c for c in POSITIVE if c.name in wanted])
    cred = next(f for f in findings if f.detector == "new_credential_then_anomaly")
    burst = next(f for f in findings if f.detector == "unticketed_burst" and not f.details.get("ticket_id"))
    burst = replace(burst, integration_id=cred.integration_id, deviation=1.0)
    info = IntegrationInfo(
        cred.integration_id, "mail-archiver", "o", "archive mailboxes", "high", "restricted", False, False
    )
    headline = explain.title(info, [burst, cred], METAS)
    assert headline.startswith(
        "mail-archiver: likely mailbox takeover: New credential, then unusual activity"
    )
    assert "burst" not in headline.split(":")[1]
    one = explain.explanation(info, [cred], METAS, {}, [])
    assert "1 detection found" in one and "detection(s)" not in one
