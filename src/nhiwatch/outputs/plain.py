"""Text from logs made safe for a terminal: printed as it is (no Rich markup), control characters shown
escaped (a NUL or an ANSI escape sequence in a log field must not reach the terminal), secrets masked.

>>> plain("a[/red]b\\x00c\\x1b[2J").plain
'a[/red]b\\\\x00c\\\\x1b[2J'
"""

from __future__ import annotations

import re

from rich.text import Text

from nhiwatch.redact import redact

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain_str(value: object) -> str:
    """``value`` as text with secrets masked and control characters written as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", redact(str(value)))


def plain(value: object) -> Text:
    """A Rich ``Text`` of :func:`plain_str`: square brackets in it are printed, never read as markup."""
    return Text(plain_str(value))


__all__ = ["plain", "plain_str"]
