"""Alert text made safe for each target format: Slack mrkdwn, HTML (Teams cards), CEF header and extension.

Every text that leaves is redacted first (:func:`nhiwatch.redact.redact`, a second pass over what the
alert stage already masked) and then escaped, so a log field cannot turn into a Slack mention, a link, a
card element or a forged CEF field.

>>> slack("<!channel> & <https://x|y>")
'&lt;!channel&gt; &amp; &lt;https://x|y&gt;'
>>> cef_header("a|b\\\\c\\nd")
'a\\\\|b\\\\\\\\c d'
>>> cef_value("k=v\\\\x\\r\\n")
'k\\\\=v\\\\\\\\x\\\\r\\\\n'
"""

from __future__ import annotations

import html
import re

from nhiwatch.redact import redact

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def clean(value: object) -> str:
    """Redacted text without control characters other than tab and newlines."""
    return _CONTROL.sub("", redact("" if value is None else str(value)))


def slack(value: object, limit: int = 3000) -> str:
    """Slack mrkdwn: ``&``, ``<`` and ``>`` are the control characters (mentions, links); escaped, nothing
    in the text can ping a channel or hide a link behind other words."""
    text = clean(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return clip(text, limit)


def html_text(value: object, limit: int = 4000) -> str:
    """HTML-escaped text (quotes too) for Teams, whose cards and message previews render HTML entities."""
    return clip(html.escape(clean(value), quote=True), limit)


def cef_header(value: object) -> str:
    """A CEF header field: backslash and pipe escaped; newlines (not allowed in headers) become spaces."""
    text = clean(value).replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"[\r\n]+", " ", text)


def cef_value(value: object) -> str:
    """A CEF extension value: backslash, equals sign and line breaks escaped (pipes need no escape)."""
    text = clean(value).replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r", "\\r").replace("\n", "\\n")
