"""Small render jobs for the scheduler's tests: a member's n-th clip, with a stable id."""

from __future__ import annotations

import hashlib

from core.spec import RenderJob, RenderSpec


def job(member: str, n: int, guild: int | None = 1) -> RenderJob:
    """Member `member`'s clip number `n` in `guild`; the same arguments give the same id."""
    spec = RenderSpec(
        prompt=f"clip {n} of {member}",
        aspect_ratio="16:9",
        width=256,
        height=144,
        num_frames=8,
        steps=2,
        seed=n,
        owner_id=member,
        guild_id=guild,
    )
    gid = hashlib.md5(f"{member}/{n}/{guild}".encode()).hexdigest()
    return RenderJob(generation_id=gid, spec=spec)
