"""Loading the inventory YAML with errors that name the file, the line and the offending key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nhiwatch.errors import ConfigError
from nhiwatch.inventory.model import Inventory

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_inventory(path: str | Path) -> Inventory:
    """Parse and validate an inventory file; raises :class:`ConfigError` listing every problem with its line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the inventory ({exc})") from exc
    try:
        # libyaml when built in (a 100-integration inventory took ~3 s in pure Python); the node tree with
        # line numbers is composed only when there is an error to locate.
        data = yaml.load(text, Loader=_LOADER)  # _LOADER is a safe loader (no Python objects)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{p}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if data is None:
        data = {"integrations": []}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}:1: the inventory must be a mapping with an 'integrations' list")
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        node = yaml.compose(text, Loader=_LOADER)
        dup = _duplicates(p, node, data)
        raise ConfigError(dup or _describe(p, node, exc)) from None
    return inventory


def _duplicates(path: Path, root: Any, data: dict[str, Any]) -> str | None:
    """Duplicate ids and identities claimed twice, located at the second occurrence."""
    items = data.get("integrations")
    if not isinstance(items, list):
        return None
    ids: dict[str, int] = {}
    claims: dict[tuple[Any, ...], tuple[str, int]] = {}
    problems = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        iid = str(item.get("id"))
        line = _line_of(root, ["integrations", i, "id"])
        if iid in ids:
            problems.append(f"  {path}:{line}: duplicate integration id {iid!r} (first at line {ids[iid]})")
        ids.setdefault(iid, line or 0)
        for j, ident in enumerate(item.get("identities") or []):
            if not isinstance(ident, dict):
                continue
            key = tuple(sorted((k, str(v)) for k, v in ident.items()))
            at = _line_of(root, ["integrations", i, "identities", j]) or 0
            if key in claims and claims[key][0] != iid:
                what = ", ".join(f"{k}={v}" for k, v in key)
                problems.append(
                    f"  {path}:{at}: identity {{{what}}} is already claimed by {claims[key][0]!r} (line {claims[key][1]})"
                )
            claims.setdefault(key, (iid, at))
    if not problems:
        return None
    return "\n".join([f"{path}: the inventory is not valid ({len(problems)} problem(s)):", *problems])


def _describe(path: Path, root: Any, exc: ValidationError) -> str:
    lines = [f"{path}: the inventory is not valid ({exc.error_count()} problem(s)):"]
    for err in exc.errors():
        loc = [x for x in err["loc"] if not (isinstance(x, str) and x.startswith(("function-", "literal")))]
        line = _line_of(root, loc)
        where = f"{path}:{line}" if line else str(path)
        field = ".".join(str(x) for x in loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        lines.append(f"  {where}: {field}: {msg}")
    return "\n".join(lines)


def _line_of(node: Any, loc: list[Any]) -> int | None:
    """The YAML line of the deepest node along ``loc`` (keys and list indexes)."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == part:
                    nxt = v if not isinstance(v, yaml.ScalarNode) else k
                    best = k.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
            best = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return best
