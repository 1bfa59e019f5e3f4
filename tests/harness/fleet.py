"""Where the test stack's jobs go: the tiny family's arq queues, and a fake worker's beat there."""

from __future__ import annotations

import json
from typing import Any

from core.capabilities import capabilities_for
from core.fairshare import queue_of

FAMILY = "tiny"  # the test stack's model family (REELBOT_BACKEND=tiny)
DEFAULT_QUEUE = queue_of("fast", FAMILY)
RELAX_QUEUE = queue_of("relax", FAMILY)


def idle_beat(**more: Any) -> str:
    """A live tiny worker's heartbeat with no job (for tests that fake one)."""
    modes = list(capabilities_for(FAMILY).all_modes)
    beat = {"job": None, "queue": DEFAULT_QUEUE, "family": FAMILY, "modes": modes}
    return json.dumps({**beat, **more})
