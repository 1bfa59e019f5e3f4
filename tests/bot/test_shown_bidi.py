"""Member text the bot shows outside the clip messages (moderators' lines, lists, the moderation
log, private errors) carries no bidi control that could reorder it on screen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.cogs.gallery import clip_line
from bot.cogs.info import excerpt
from bot.cogs.moderation import log_line
from bot.moderation.decisions import plain
from core.text import BIDI_CONTROLS
from gallery.models import Generation, ModerationAction

SPOOF = "a fox \u202enur\u2066s\u2069 \u200fhere"


@pytest.mark.parametrize(
    "shown",
    [
        plain(SPOOF),
        excerpt(SPOOF),
        clip_line(1, Generation(id="0" * 32, prompt=SPOOF), "http://gallery.test"),
        log_line(
            ModerationAction(
                action="ban",
                moderator_id="discord:1",
                target_member_id="discord:2",
                reason=SPOOF,
                created_at=datetime.now(UTC),
            )
        ),
    ],
    ids=["plain", "excerpt", "clip_line", "log_line"],
)
def test_no_bidi_control_survives(shown: str) -> None:
    assert not BIDI_CONTROLS & set(shown)
    assert "nurs" in shown
