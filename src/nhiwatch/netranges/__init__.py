"""Cloud and hosting providers' published address ranges: which provider and region an address is in.

A snapshot of AWS ``ip-ranges.json``, Google Cloud ``cloud.json``, Azure Service Tags and DigitalOcean's
geofeed ships with the package (``cloud_ranges.csv.gz``, see ``docs/netranges.md`` for its date and
sources); ``nhiwatch netranges refresh`` writes a newer copy next to the store, which then takes precedence.
Detections use it to tell "the same provider, a new region" from "a provider never seen".
"""

from __future__ import annotations

from nhiwatch.netranges.parse import Range, parse, read_table, write_table
from nhiwatch.netranges.table import ensure, load_ranges, lookup_sql, override_path

__all__ = [
    "Range",
    "ensure",
    "load_ranges",
    "lookup_sql",
    "override_path",
    "parse",
    "read_table",
    "write_table",
]
