"""A malformed gateway event is logged and dropped instead of taking the bot down.

discord.py runs each event's parser inside its websocket loop, and `Client.connect` reconnects
only on connection errors: a KeyError from an event missing a field (a Discord bug, a proxy, a
hostile relay) escapes `Client.start` and the process exits. Wrapping the parsers keeps one bad
event one lost event. The parsers dict is the very one the websocket reads, so wrapping it in
place covers every connection, reconnects included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def guard_parsers(parsers: dict[str, Callable[[Any], None]]) -> None:
    """Wrap every event parser (once) so that what it raises is logged, not fatal."""
    for event, parse in list(parsers.items()):
        if not getattr(parse, "reelbot_guarded", False):
            parsers[event] = _guarded(event, parse)


def _guarded(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
    def guarded(data: Any) -> None:
        try:
            parse(data)
        except Exception as exc:
            keys = sorted(data)[:12] if isinstance(data, dict) else type(data).__name__
            log.warning("dropped a malformed %s event (%r; fields %s)", event, exc, keys)

    guarded.reelbot_guarded = True  # type: ignore[attr-defined]
    return guarded
