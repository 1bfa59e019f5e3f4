"""Member text made safe to show: bidirectional controls taken out of its way.

A right-to-left override (U+202E) and the other explicit bidi controls reorder the characters
after them on screen, so a prompt or a name can make displayed text read as something else
(`…exe.mp4` shown as `…4pm.exe`, or a spoofed command line). Nothing a member types needs them
to be shown correctly: Unicode's own algorithm orders Arabic or Hebrew text without them. Pure.
"""

from __future__ import annotations

from typing import Final

# Embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069), the marks (U+200E LRM,
# U+200F RLM, U+061C ALM).
BIDI_CONTROLS: Final = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
_DROPPED: Final = dict.fromkeys(map(ord, BIDI_CONTROLS))
_ESCAPED: Final = {ord(ch): f"\\u{ord(ch):04x}" for ch in BIDI_CONTROLS}


def without_bidi(text: str) -> str:
    """`text` with every bidi control removed: for what members and visitors read."""
    return text.translate(_DROPPED) if not text.isascii() else text


def escape_bidi(text: str) -> str:
    """`text` with each bidi control written as `\\u202e`: for logs, where an operator should
    see that one was there (and JSON reads the escape back as the character)."""
    return text.translate(_ESCAPED) if not text.isascii() else text
