"""Screening a request before it is queued: the member's bans, the prompt policy, the abuse
classifier.

    banned?            → MemberBanned
    policy: block      → ContentBlocked (the prompt, or the sound's words, `-sound WORDS`)
    policy: flag       → returned: the caller holds it for a moderator (`ReelBot.hold_for_review`,
                         which is `bot.moderation.gate.hold`)
    allow, classifier ≥ threshold → flagged the same way; the model alone never refuses

Screening decides only; it posts nothing, so intake needs nothing of moderation's review
messages or buttons (moderation, which submits an approved request again, imports intake).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from core.errors import ContentBlocked, MemberBanned
from core.policy import STRENGTH, Policy, PolicyDecision
from core.spec import RenderSpec
from core.story import shots

if TYPE_CHECKING:
    from intake.caches import Bans
    from intake.toxicity import ToxicityCheck


class Requester(Protocol):
    """Who asks, as screening needs it: a Discord member (`bot.intake.requests.Asker`) or an
    API token's member."""

    @property
    def owner_id(self) -> str: ...

    @property
    def guild_id(self) -> int | None: ...


def when(moment: datetime | None) -> str:
    """How long a ban lasts, in a time every member reads in their own zone (Discord's
    timestamp markup)."""
    return "for good" if moment is None else f"until <t:{int(moment.timestamp())}:f>"


def when_utc(moment: datetime | None) -> str:
    """How long a ban lasts, for a reader without Discord's markup (the REST API)."""
    return "for good" if moment is None else f"until {moment:%Y-%m-%d %H:%M} UTC"


async def screen(
    spec: RenderSpec,
    asker: Requester,
    *,
    bans: Bans,
    policy: Policy,
    toxicity: ToxicityCheck | None,
    until: Callable[[datetime | None], str] = when,
) -> PolicyDecision:
    """MemberBanned or ContentBlocked, else the policy's decision (allow or flag).

    Bans are read through `bans` (`intake.caches.Bans`): a ban given through this process
    counts at once, one given through another bot process within its TTL (30 s).

    A prompt the word lists allow is read by the abuse classifier too (`toxicity`, None when
    off): at its threshold the request is flagged, so a moderator decides. It reads the member's
    prompt only (no style suffix, no negative prompt), and runs in a thread: a few milliseconds
    of scikit-learn would stall every other interaction."""
    ban = await bans.active(asker.owner_id, asker.guild_id)
    if ban is not None:
        why = f" ({ban.reason})" if ban.reason else ""
        raise MemberBanned(
            f"A moderator has stopped you making clips here {until(ban.until)}{why}."
        )
    decision = policy.check(spec.prompt, spec.negative_prompt, spec.style)
    if spec.sound_prompt:  # the sound's own words are read like a prompt; the stronger counts
        sound = policy.check(spec.sound_prompt)
        if STRENGTH[sound.decision] > STRENGTH[decision.decision]:
            decision = sound
    if spec.illusion_text:  # /encrypt_text's hidden message is read like a prompt too
        hidden = policy.check(spec.illusion_text)
        if STRENGTH[hidden.decision] > STRENGTH[decision.decision]:
            decision = hidden
    if spec.speak_text:  # /speak's typed line: a voice says it, so it is read like a prompt
        said = policy.check(spec.speak_text)
        if STRENGTH[said.decision] > STRENGTH[decision.decision]:
            decision = said
    # A story's shot may carry its own -neg: read with that shot's words, as the model sees it
    told = shots(spec.prompt) if spec.shot_flags else []  # as many as shot_flags (RenderSpec)
    for text, shot in zip(told, spec.shot_flags, strict=True):
        if shot.negative_prompt:
            own = policy.check(text, shot.negative_prompt, spec.style)
            if STRENGTH[own.decision] > STRENGTH[decision.decision]:
                decision = own
    if spec.edit is not None and spec.edit.where:  # an edit's "the red car" is read too
        named = policy.check(spec.edit.where)
        if STRENGTH[named.decision] > STRENGTH[decision.decision]:
            decision = named
    if decision.decision == "block":
        raise ContentBlocked(f"I can't make this clip: {decision.reason}")
    if decision.decision == "allow" and toxicity is not None:
        flagged = await asyncio.to_thread(toxicity.decide, spec.prompt, decision.normalized)
        if flagged is not None:
            return flagged
    return decision
