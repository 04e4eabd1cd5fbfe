"""Framework references an alert carries: OWASP NHI Top 10 (2025), NIST CSF 2.0 and MITRE ATT&CK.

References are merged from the detectors' metadata. CSF ids are checked against the 2.0 catalogue, so
an id withdrawn in 2.0 (DE.CM-08, DE.AE-01, anything under DE.DP) is dropped rather than reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nhiwatch.detectors.base import DetectorMeta


def _ids(prefix: str, numbers: Iterable[int]) -> set[str]:
    return {f"{prefix}-{n:02d}" for n in numbers}


# NIST CSF 2.0 subcategories (usnistgov/oscal-content NIST_CSF_v2.0_catalog).
CSF2: frozenset[str] = frozenset(
    _ids("GV.OC", range(1, 6))
    | _ids("GV.RM", range(1, 8))
    | _ids("GV.RR", range(1, 5))
    | _ids("GV.PO", range(1, 3))
    | _ids("GV.OV", range(1, 4))
    | _ids("GV.SC", range(1, 11))
    | _ids("ID.AM", (1, 2, 3, 4, 5, 7, 8))
    | _ids("ID.RA", range(1, 11))
    | _ids("ID.IM", range(1, 5))
    | _ids("PR.AA", range(1, 7))
    | _ids("PR.AT", (1, 2))
    | _ids("PR.DS", (1, 2, 10, 11))
    | _ids("PR.PS", range(1, 7))
    | _ids("PR.IR", range(1, 5))
    | _ids("DE.CM", (1, 2, 3, 6, 9))
    | _ids("DE.AE", (2, 3, 4, 6, 7, 8))
    | _ids("RS.MA", range(1, 6))
    | _ids("RS.AN", (3, 6, 7, 8))
    | _ids("RS.CO", (2, 3))
    | _ids("RS.MI", (1, 2))
    | _ids("RC.RP", range(1, 7))
    | _ids("RC.CO", (3, 4))
)

OWASP_NHI: dict[str, str] = {
    "NHI1:2025": "Improper Offboarding",
    "NHI2:2025": "Secret Leakage",
    "NHI3:2025": "Vulnerable Third-Party NHI",
    "NHI4:2025": "Insecure Authentication",
    "NHI5:2025": "Overprivileged NHI",
    "NHI6:2025": "Insecure Cloud Deployment Configurations",
    "NHI7:2025": "Long-Lived Secrets",
    "NHI8:2025": "Environment Isolation",
    "NHI9:2025": "NHI Reuse",
    "NHI10:2025": "Human Use of NHI",
}

ATTACK: dict[str, str] = {
    "T1528": "Steal Application Access Token",
    "T1550": "Use Alternate Authentication Material",
    "T1550.001": "Use Alternate Authentication Material: Application Access Token",
    "T1550.004": "Use Alternate Authentication Material: Web Session Cookie",
    "T1078": "Valid Accounts",
    "T1078.004": "Valid Accounts: Cloud Accounts",
    "T1098": "Account Manipulation",
    "T1098.001": "Account Manipulation: Additional Cloud Credentials",
    "T1098.003": "Account Manipulation: Additional Cloud Roles",
    "T1671": "Cloud Application Integration",
    "T1213": "Data from Information Repositories",
    "T1213.003": "Data from Information Repositories: Code Repositories",
    "T1213.006": "Data from Information Repositories: Databases",
    "T1530": "Data from Cloud Storage",
    "T1567": "Exfiltration Over Web Service",
    "T1567.001": "Exfiltration Over Web Service: Exfiltration to Code Repository",
    "T1537": "Transfer Data to Cloud Account",
    "T1119": "Automated Collection",
    "T1195.001": "Supply Chain Compromise: Compromise Software Dependencies and Development Tools",
    "T1195.002": "Supply Chain Compromise: Compromise Software Supply Chain",
    "T1199": "Trusted Relationship",
    "T1110": "Brute Force",
    "T1110.003": "Brute Force: Password Spraying",
    "T1552.001": "Unsecured Credentials: Credentials In Files",
    "T1538": "Cloud Service Dashboard",
    "T1580": "Cloud Infrastructure Discovery",
    "T1090.003": "Proxy: Multi-hop Proxy",
    "T1070": "Indicator Removal",
    "T1074": "Data Staged",
    "T1539": "Steal Web Session Cookie",
    "T1136.003": "Create Account: Cloud Account",
    "T1485": "Data Destruction",
}


def _norm_owasp(ref: str) -> str:
    r = ref.strip().upper()
    return r if ":" in r else f"{r}:2025"


def merge(metas: Iterable[DetectorMeta]) -> dict[str, Any]:
    """One references object for an alert: ids in first-seen order, CSF restricted to 2.0 subcategories."""
    owasp: list[str] = []
    csf: list[str] = []
    attack: list[str] = []
    for m in metas:
        owasp += [r for r in map(_norm_owasp, m.owasp_nhi) if r not in owasp]
        csf += [r for r in m.nist_csf if r in CSF2 and r not in csf]
        attack += [r for r in m.attack if r not in attack]
    return {
        "owasp_nhi": [{"id": r, "name": OWASP_NHI.get(r, "")} for r in owasp],
        "nist_csf": csf,
        "attack": [{"id": t, "name": ATTACK.get(t, t), "url": attack_url(t)} for t in attack],
    }


def attack_url(technique: str) -> str:
    return "https://attack.mitre.org/techniques/" + technique.replace(".", "/") + "/"
