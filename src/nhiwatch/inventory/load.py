"""Loading the inventory YAML with errors that name the file, the line and the offending key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nhiwatch.errors import ConfigError
from nhiwatch.inventory.model import Inventory


def load_inventory(path: str | Path) -> Inventory:
    """Parse and validate an inventory file; raises :class:`ConfigError` listing every problem with its line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the inventory ({exc})") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{p}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if data is None:
        data = {"integrations": []}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}:1: the inventory must be a mapping with an 'integrations' list")
    try:
        return Inventory.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(p, node, exc)) from None


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
