"""Which model family makes a request, as a front end sees the fleet (cached for a moment).

A fleet may run several families (ltx for /create, wan_vace for clip edits). The workers
announce theirs (`jobs.fleet`); `core.fleet.choose_family` decides. A front end asks
`family_for(mode, main)` for the Capabilities to size a request with, and the `Submitter` has
every spec `routed` before it holds a place: a mode no worker offers is refused then, with what
an operator would start, before anything is queued or counted against the member's caps; so is
a request needing an extra (sound, a typed line's voice) that the family rendering it announced
it lacks, naming the setting that turns it on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from redis.asyncio import Redis

from core.capabilities import FAMILIES, capabilities_for, with_limits
from core.errors import UserFacingError
from core.fleet import choose_family, extras_needed, lacks
from core.rendercaps import Capabilities
from core.spec import RenderSpec
from jobs.fleet import Fleet, read_fleet

__all__ = ["DOING", "FleetChoice", "no_extra", "no_worker"]

# What a member asked for, in words: "No worker here can <doing> right now".
DOING = {
    "t2v": "make clips from a prompt",
    "i2v": "animate pictures",
    "v2v": "restyle videos",
    "extend": "extend clips",
    "upscale": "upscale clips",
    "sound": "add sound to clips",
    "illusion": "hide words in clips",
    "frames": "make clips through pictures",
    "edit": "edit clips",
    "speak": "make pictures speak",
    "speak_clip": "make clips speak",
}


def no_worker(mode: str) -> UserFacingError:
    """The refusal for a mode no live or recently seen worker offers, naming a family that
    would (a built-in one, the tiny test model last)."""
    able = sorted((f for f, c in FAMILIES.items() if mode in c.all_modes), key=_real_first)
    start = f" (REELBOT_WORKERS=…{able[0]}:1)" if able else ""
    doing = DOING.get(mode, f"make {mode} clips")
    return UserFacingError(
        f"No worker here can {doing} right now — ask a server admin to start one{start}."
    )


# A core.fleet.EXTRAS no worker makes: what it is in words, and what would make it.
EXTRA_REFUSALS = {
    "sound": (
        "No worker here makes sound right now — ask a server admin to set REELBOT_SOUND_MODEL "
        "on a worker (it is off)."
    ),
    "voice": (
        "No worker here can voice a typed line right now — attach a voice file instead, or ask "
        "a server admin to set REELBOT_TTS_MODEL on a worker (it is off)."
    ),
}


def no_extra(extra: str) -> UserFacingError:
    """The refusal for a request needing an extra the family that renders it lacks."""
    return UserFacingError(
        EXTRA_REFUSALS.get(extra, f"No worker here makes {extra} right now — ask a server admin.")
    )


def _joint_audio(family: str) -> bool:
    """Whether a family makes -sound with the picture (no sound model needed); False for a
    name nobody knows, so its sound is checked."""
    try:
        return capabilities_for(family).sound
    except (ValueError, ImportError):
        return False


def _modes_of(family: str) -> tuple[str, ...]:
    """A family's modes by its capabilities; none for a name nobody knows."""
    try:
        return capabilities_for(family).all_modes
    except (ValueError, ImportError):
        return ()


def _real_first(family: str) -> tuple[bool, str]:
    return (family == "tiny", family)


class FleetChoice:
    """The fleet read from Redis at most once every `cache_s` (one read at a time: in a burst
    every request would otherwise scan the heartbeats at once)."""

    def __init__(
        self,
        redis: Redis,
        *,
        cache_s: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.cache_s = cache_s
        self.clock = clock
        self._fleet = Fleet()
        self._read_at: float | None = None
        self._reading: asyncio.Future[Fleet] | None = None

    async def fleet(self) -> Fleet:
        if self._read_at is not None and self.clock() - self._read_at < self.cache_s:
            return self._fleet
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read())
        return await asyncio.shield(self._reading)

    async def _read(self) -> Fleet:
        fleet = await read_fleet(self.redis)
        self._fleet, self._read_at = fleet, self.clock()
        return fleet

    async def family_for(self, mode: str, main: Capabilities) -> Capabilities:
        """The Capabilities to size a `mode` request with: the main family's (the front end's
        REELBOT_BACKEND) when it offers the mode or no worker was ever seen, else those of the
        family that offers it; a UserFacingError when none does."""
        fleet = await self.fleet()
        family = choose_family(
            mode,
            main=main.name,
            offered=fleet.offered(),
            live=fleet.workers(),
            main_modes=main.all_modes,
        )
        if family is None:
            raise no_worker(mode)
        if family == main.name:
            return main
        # sized as its workers announced (a tiny editor's smaller frames), else as built in
        return with_limits(capabilities_for(family), fleet.limits.get(family, {}))

    async def routed(self, spec: RenderSpec) -> RenderSpec:
        """`spec` for the family that renders its mode: as it is when its own family offers it
        (a front end chose it already, or nothing is known), else moved to the family that
        does; a UserFacingError when no live or recently seen worker offers the mode, or when
        that family's workers announced they lack an extra it needs (`no_extra`)."""
        fleet = await self.fleet()
        family = choose_family(
            spec.mode,
            main=spec.backend,
            offered=fleet.offered(),
            live=fleet.workers(),
            main_modes=_modes_of(spec.backend),
        )
        if family is None:
            raise no_worker(spec.mode)
        for extra in extras_needed(spec, joint_audio=_joint_audio(family)):
            if lacks(extra, family, fleet.extras):
                raise no_extra(extra)
        return spec if family == spec.backend else spec.model_copy(update={"backend": family})

    async def adds_sound(self, main: str) -> bool:
        """Whether 🔊 Add sound can be offered now: the family that would render it (`main`,
        the bot's own, first) didn't announce that it lacks a sound model."""
        fleet = await self.fleet()
        family = choose_family(
            "sound",
            main=main,
            offered=fleet.offered(),
            live=fleet.workers(),
            main_modes=_modes_of(main),
        )
        return family is not None and not lacks("sound", family, fleet.extras)
