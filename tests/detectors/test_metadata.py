"""Every detection's metadata: id = module name, real CSF 2.0 subcategories, ATT&CK and OWASP id formats."""

from __future__ import annotations

import importlib
import re

import pytest

from nhiwatch.detectors._common import CSF_2_DETECT, CSF_2_OTHER
from nhiwatch.detectors.base import Detector
from nhiwatch.detectors.registry import all_detectors

DETECTORS = all_detectors()
EXPECTED = {
    "volume_spike",
    "fan_out",
    "dormant_reactivation",
    "off_hours",
    "cadence_change",
    "unticketed_burst",
    "probing",
    "scope_expansion",
    "new_destination",
    "new_network",
    "new_credential_then_anomaly",
    "consent_chain",
    "posture_ownerless",
    "posture_discovered",
    "posture_overprivileged",
    "posture_stale_credential",
}


def test_the_whole_catalogue_is_registered() -> None:
    assert set(DETECTORS) == EXPECTED


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_metadata(name: str) -> None:
    det = DETECTORS[name]
    module = importlib.import_module(f"nhiwatch.detectors.{name}")
    assert isinstance(module.DETECTOR, Detector) and det.meta.id == name
    assert module.__doc__ and len(module.__doc__) > 200, "module docstring: what, why, parameters, references"
    m = det.meta
    assert m.kind == ("posture" if name.startswith("posture_") else "behaviour")
    assert m.title and m.description
    assert m.owasp_nhi and all(re.fullmatch(r"NHI([1-9]|10):2025", x) for x in m.owasp_nhi)
    assert m.nist_csf and set(m.nist_csf) <= CSF_2_DETECT | CSF_2_OTHER
    assert not {"DE.CM-08", "DE.AE-01", "DE.CM-04", "DE.CM-05", "DE.CM-07", "DE.AE-05"} & set(m.nist_csf)
    if m.kind == "behaviour":
        assert set(m.nist_csf) & CSF_2_DETECT
    assert m.attack and all(re.fullmatch(r"T\d{4}(\.\d{3})?", x) for x in m.attack)
    for p in m.params:
        assert p in module.__doc__, f"parameter {p} is documented"
    assert all(isinstance(v, int | float | str) for v in m.params.values())


def test_registry_rejects_unknown_names(store: object) -> None:
    from datetime import datetime

    from nhiwatch.detectors.base import DetectContext
    from nhiwatch.detectors.registry import run_all
    from nhiwatch.errors import NhiwatchError

    with pytest.raises(NhiwatchError, match="unknown detector"):
        run_all(DetectContext(store, datetime(2026, 1, 1), datetime(2026, 1, 2)), only=["nope"])  # type: ignore[arg-type]
