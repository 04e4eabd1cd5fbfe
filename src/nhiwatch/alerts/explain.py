"""Turning an alert's findings into words a business owner can act on: a title and an explanation.

The explanation says who owns the integration and what it is for, what each detector observed against
its baseline (with the numbers the detector measured, in human units from :mod:`nhiwatch.alerts.units`),
and what context moved the score. Everything in it is generated from the findings' evidence, and it is
checked against that evidence by a test over every detector's positive case: the number of detections it
states is the number of bullets, no bullet repeats, every bullet's time lies in the alert's window, ticket
statements agree with the tickets found, and nouns agree with their numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from nhiwatch.alerts.context import IntegrationInfo
from nhiwatch.alerts.units import plural, span
from nhiwatch.detectors.base import DetectorMeta, Finding

MAX_BULLETS = 8

# What kind of story a detector tells, most telling first: who holds the access comes before what they did
# with it, so a new credential followed by mailbox reads is headlined as a takeover, not as a burst.
ACCESS = ("new_credential_then_anomaly", "consent_chain", "probing", "new_network", "dormant_reactivation")
REACH = ("scope_expansion", "new_destination", "fan_out")
VOLUME = ("unticketed_burst", "volume_spike")
TIMING = ("cadence_change", "off_hours")
_RANK = {d: i for i, d in enumerate((*ACCESS, *REACH, *VOLUME, *TIMING))}
_MAIL = ("mail", "mailbox", "exchange", "outlook", "gmail", "inbox")


def meta_for(metas: Mapping[str, DetectorMeta], detector: str, kind: str = "behaviour") -> DetectorMeta:
    """The detector's metadata, or a bare stand-in for a detector that is no longer registered."""
    if detector in metas:
        return metas[detector]
    return DetectorMeta(detector, detector.replace("_", " "), kind, "", (), (), ())  # type: ignore[arg-type]


def headline(f: Finding, meta: DetectorMeta) -> str:
    """What this finding is called: the detector's title, unless the finding names itself more exactly
    (a burst near a change ticket is not "unticketed")."""
    own = f.details.get("headline")
    return str(own) if isinstance(own, str) and own else meta.title


def _ordered(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (_RANK.get(f.detector, len(_RANK)), -f.deviation))


def _mentions_mail(findings: Sequence[Finding], info: IntegrationInfo) -> bool:
    text = " ".join([info.purpose or "", *(repr(dict(f.details)) for f in findings)]).lower()
    return any(word in text for word in _MAIL)


def title(info: IntegrationInfo, findings: Sequence[Finding], metas: Mapping[str, DetectorMeta]) -> str:
    names: list[str] = []
    for f in _ordered(findings):
        t = headline(f, meta_for(metas, f.detector, f.kind))
        if t not in names:
            names.append(t)
    access = [f for f in findings if f.detector in ACCESS[:3]]  # a credential, a grant, a guessed secret
    after = [f for f in findings if f.detector not in ACCESS]
    if access and after:
        what = "mailbox takeover" if _mentions_mail(findings, info) else "account takeover"
        first = headline(_ordered(access)[0], meta_for(metas, access[0].detector))
        then = [n for n in names if n != first]
        more = f" (+{len(then) - 1} more)" if len(then) > 1 else ""
        return f"{info.name}: likely {what}: {first}, then {then[0].lower()}{more}"
    more = f" (+{len(names) - 2} more)" if len(names) > 2 else ""
    return f"{info.name}: " + " and ".join(names[:2]) + more


def _body(f: Finding, meta: DetectorMeta) -> str:
    template = meta.explanation or "{observed}, against {expected}"
    try:
        body = template.format(
            observed=f.observed,
            expected=f.expected,
            summary=f.summary,
            integration_id=f.integration_id,
            **{k: v for k, v in f.details.items() if isinstance(k, str)},
        )
    except (KeyError, IndexError, ValueError, AttributeError):
        body = f"{f.observed}, against {f.expected}"
    return body.rstrip(". ")


def _ticket_note(f: Finding, text: str) -> str:
    ticket = f.details.get("ticket_id")
    if ticket and str(ticket) not in text:
        return f" A change ticket, {ticket}, lies near this time."
    return ""


def bullets(
    info: IntegrationInfo, findings: Sequence[Finding], metas: Mapping[str, DetectorMeta]
) -> list[tuple[Finding, str]]:
    """One bullet per distinct observation, in time order: findings that would read the same are one."""
    seen: dict[tuple[str, str], int] = {}
    out: list[tuple[Finding, str]] = []
    for f in sorted(findings, key=lambda f: (f.first_seen, f.detector)):
        meta = meta_for(metas, f.detector, f.kind)
        summary = f"{f.summary.rstrip('. ')}. " if f.summary else ""
        what = f"{summary}Observed {_body(f, meta)}."
        key = (headline(f, meta), what)
        if key in seen:
            continue
        seen[key] = len(out)
        text = f"- {key[0]}, {span(f.first_seen, f.last_seen, info.tz)}: {what}"
        out.append((f, text + _ticket_note(f, text)))
    return out


def _ticket_span(t: Mapping[str, Any]) -> str:
    start, end = t.get("start_time"), t.get("end_time")
    if isinstance(start, datetime) and isinstance(end, datetime):
        return f", {span(start, end)}"
    return ""


def explanation(
    info: IntegrationInfo,
    findings: Sequence[Finding],
    metas: Mapping[str, DetectorMeta],
    factors: Mapping[str, Any],
    tickets: Sequence[Mapping[str, Any]],
) -> str:
    owner = info.owner or "no owner on record"
    purpose = info.purpose or "no declared purpose"
    origin = " It is not in the inventory: it was discovered in the logs." if info.discovered else ""
    start = min(f.first_seen for f in findings)
    end = max(f.last_seen for f in findings)
    when = span(start, end, info.tz)
    items = bullets(info, findings, metas)
    posture = all(f.kind == "posture" for f in findings)
    found = (
        f"{plural(len(items), 'posture check')} found a standing problem"
        if posture
        else f"{plural(len(items), 'detection')} found behaviour outside its baseline"
    )
    strongest = ""
    if len(items) > MAX_BULLETS:
        strongest = f"; the {MAX_BULLETS} strongest"
        keep = {id(f) for f in sorted((f for f, _ in items), key=lambda f: -f.deviation)[:MAX_BULLETS]}
        shown = [(f, t) for f, t in items if id(f) in keep]
    else:
        shown = items
    head = (
        f"{info.name} (owner: {owner}; purpose: {purpose}; risk tier {info.risk_tier}, "
        f"{info.data_sensitivity} data).{origin} {'During' if start != end else 'At'} {when}, "
        f"{found}{strongest}:"
    )
    lines = [head, *(t for _, t in shown)]
    if len(items) > len(shown):
        lines.append(f"- ... and {plural(len(items) - len(shown), 'more detection')} of lesser weight.")
    notes = []
    for t in tickets:
        what = "change ticket" if t.get("integration_id") else "company-wide business event"
        notes.append(
            f"{what} {t['id']} ({t.get('summary') or 'no summary'}{_ticket_span(t)}) overlaps this alert: "
            "score lowered"
        )
    points = factors.get("context_points", {})
    if "no_owner" in points:
        notes.append("nobody owns this integration: score raised")
    if "discovered" in points:
        notes.append("undeclared integration: score raised")
    if "partner_managed" in points:
        notes.append("managed by a partner, outside our control: score raised")
    if notes:
        lines.append("Context: " + "; ".join(notes) + ".")
    return "\n".join(lines)
