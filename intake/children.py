"""What a clip made from another one's video (an edit, a clip made to speak) keeps of it, and
whose it is: one place for the fields both children carry, so they can't drift apart."""

from __future__ import annotations

from typing import Any

from core.rendercaps import Capabilities
from core.spec import DEFAULT_QUALITY, Quality, RenderSpec
from intake.followups import Owner


def child_quality(capabilities: Capabilities, default_quality: Quality) -> Quality:
    """The server's default quality where the child's family has a fast recipe, else hq."""
    return default_quality if capabilities.fast is not None else "hq"


def child_fields(
    parent: RenderSpec,
    parent_id: str,
    asker: Owner,
    capabilities: Capabilities,
    *,
    seed: int,
    quality: Quality,
) -> dict[str, Any]:
    """The parent's look and pace (negative prompt, fps, guidance, motion), the child's family,
    seed and steps, and who asked (the child is theirs, posted where they asked)."""
    return {
        "negative_prompt": parent.negative_prompt,
        "fps": parent.fps,
        "steps": capabilities.steps_for(quality),
        "guidance_scale": parent.guidance_scale,
        "seed": seed,
        "motion": parent.motion,
        "backend": capabilities.name,
        "parent_id": parent_id,
        "upload_limit": asker.upload_limit,
        "owner_id": asker.owner_id,
        "owner_name": asker.display_name[:100],
        "guild_id": asker.guild_id,
        "channel_id": asker.channel_id,
        **({"quality": quality} if quality != DEFAULT_QUALITY else {}),
    }
