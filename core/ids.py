"""The generation id: 32 lowercase hex characters (a uuid4's hex), written here once.

Every layer keys on it: Redis names, database rows, media paths, URLs, log lines and the custom
ids of Discord buttons. Patterns that embed it (a route, a button template, a page cursor) build
on `GENERATION_ID_PATTERN`, so the text they match never drifts from the id itself.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["GENERATION_ID", "GENERATION_ID_PATTERN", "is_generation_id"]

# Regex text without anchors or groups, to embed in larger patterns.
GENERATION_ID_PATTERN: Final = "[0-9a-f]{32}"
# Compiled; use `.fullmatch` (or `is_generation_id`) to test a whole string.
GENERATION_ID: Final = re.compile(GENERATION_ID_PATTERN)


def is_generation_id(value: object) -> bool:
    """True for a string that is exactly a generation id, nothing before or after it."""
    return isinstance(value, str) and GENERATION_ID.fullmatch(value) is not None
