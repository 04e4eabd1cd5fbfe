"""The source registry finds every declared stream without importing collectors and their HTTP clients."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import nhiwatch.sources as pkg
from nhiwatch.sources import registry


def _declared_by_importing_everything() -> set[str]:
    ids: set[str] = set()
    for info in pkgutil.walk_packages(pkg.__path__, prefix="nhiwatch.sources."):
        module = importlib.import_module(info.name)
        declared = list(getattr(module, "SOURCES", ()))
        if hasattr(module, "SOURCE"):
            declared.append(module.SOURCE)
        ids.update(src.id for src in declared)
    return ids


def test_every_declared_stream_is_found() -> None:
    found = {src.id for src in registry.all_sources()}
    assert found == _declared_by_importing_everything()
    assert {"aws.cloudtrail", "gws.reports", "salesforce.event_log_file", "zeek.ssl"} <= found


def test_finding_the_streams_imports_no_http_client() -> None:
    code = (
        "import sys\n"
        "from nhiwatch.sources import registry\n"
        "assert registry.all_sources()\n"
        "ends = ('.collector', '.s3feed', '.blob_client')\n"
        "print(sorted(m for m in sys.modules if m == 'httpx' or m.endswith(ends)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_module_whose_text_cannot_be_read_is_imported_to_see() -> None:
    class Finder:
        def find_spec(self, name: str, target: object = None) -> None:
            raise OSError("unreadable")

    info = pkgutil.ModuleInfo(Finder(), "nhiwatch.sources.x", False)  # type: ignore[arg-type]
    assert registry._declares(info)
