"""Writes ``docs/sources.md`` from the schema and the source registry, so the docs cannot drift from the code.

Run ``python -m nhiwatch.sources.doc docs/sources.md``; a test fails when the committed file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nhiwatch.schema import ACTION_CLASSES, ACTOR_TYPES, EVENT_COLUMNS
from nhiwatch.sources.registry import all_sources

INTRO = """# Sources and the normalized event

nhiwatch reads each vendor's logs in the vendor's own format and maps every record to one row of the
`events` table. Column names are flattened OCSF attribute paths where OCSF has a name (`src_endpoint.ip` →
`src_endpoint_ip`); the few columns OCSF has no name for say so. The raw record is not copied into the row:
the row keeps the file and line it came from and a hash of it, and evidence re-reads and checks it
(`nhiwatch.evidence`; pushed bodies are read from a compressed copy kept next to the store).

Formats are recognised by content (the first records that parse, so one bad record at the top does not
decide), plain or gzip, in files or folders; `nhiwatch ingest --source NAME` forces one, and records that do
not fit it are quarantined one by one. A record that cannot be read or mapped (malformed, nested deeper than
100 levels, larger than 4 MiB, a damaged CSV quote) goes to the `quarantine` table with its file, line and
reason (`nhiwatch quarantine` shows them); the rest of its file is kept. A file that cannot be read at all
(pipes and devices, links out of the folder or in a loop, a format nothing recognises) is quarantined whole
and named in the `nhiwatch ingest` summary; the rest of the folder is ingested.
"""

NOTES = """
Timestamps: ISO 8601 with any offset, epoch seconds or milliseconds, Salesforce `yyyyMMddHHmmss.SSS`,
RFC 2822 and Apache/Squid styles are all converted to UTC; anything else, or a time outside 1990–2100, is
quarantined as *missing or unparseable timestamp*. A time without an offset is read as UTC.

`metadata_uid` is `<source>:<vendor event id>` when the vendor has one (GitHub `_document_id`, Okta `uuid`,
CloudTrail `eventID`, ...), else `<source>:<md5 of the raw record>`: ingesting the same events twice — or the
same events from a streaming copy and an export — stores them once.
"""


def render(docs_dir: Path) -> str:
    cols = "\n".join(f"| `{c.name}` | {c.sql_type} | `{c.ocsf}` | {c.doc} |" for c in EVENT_COLUMNS)
    srcs = "\n".join(
        f"| `{s.id}` | {s.title} | {s.layout} | "
        + "; ".join(f"{k} → {v}" for k, v in s.ocsf_classes.items())
        + " |"
        for s in all_sources()
    )
    links = "\n".join(f"- [{p.stem}](sources/{p.name})" for p in sorted((docs_dir / "sources").glob("*.md")))
    return (
        f"{INTRO}\n## The normalized event\n\n| column | type | OCSF | meaning |\n|---|---|---|---|\n{cols}\n\n"
        f"`action_class` is one of: {', '.join(f'`{a}`' for a in ACTION_CLASSES)}.\n"
        f"`actor_user_type` is one of: {', '.join(f'`{a}`' for a in ACTOR_TYPES)}.\n"
        "`status` is `Success`, `Failure` or `Unknown` (OCSF's captions).\n"
        f"{NOTES}\n## Sources\n\n| stream | title | layout | OCSF classes |\n|---|---|---|---|\n{srcs}\n\n"
        f"Per-vendor field mappings, event families and caveats:\n\n{links}\n"
    )


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/sources.md")
    target.write_text(render(target.parent), encoding="utf-8")
