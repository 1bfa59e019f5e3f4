"""`-ref NAME` taken by a front end: the names screened, looked up, and the request sent to a
family that takes reference pictures, the same on Discord and from the terminal.

The order is the member's: what the loaded fleet can do is settled first (a family whose
`Capabilities.references` covers the count: the main one, else one a worker of the fleet offers
for prompts, else a refusal naming the families that would), then the names go through the
prompt policy as part of the request, then each is looked up (the member's own first, then the
server's; `gallery.characters`). An unknown name lists the member's names. The stored pictures
become `RenderSpec.reference_media`, in the order given.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.capabilities import UnknownBackend, capabilities_for
from core.characters import references_refused
from core.errors import ContentBlocked, FlagError, UserFacingError
from core.flags import ParsedPrompt
from core.rendercaps import Capabilities
from core.spec import MAX_REFERENCES, RenderSpec

if TYPE_CHECKING:
    from core.policy import Policy
    from gallery.characters import CharacterStore
    from intake.fleet import FleetChoice

REF_MODE = "t2v"  # a clip from a prompt, showing the characters
REF_IMAGE_KIND = "ref.png"  # /create's ref_image, stored under the clip's id


async def family_for_references(
    main: Capabilities, count: int, fleet: FleetChoice | None, token: str = "-ref"
) -> Capabilities:
    """The capabilities to size a `-ref` request with: the main family's when it takes
    `count` reference pictures, else those of a family the fleet offers prompts on that does
    (most live workers first), else FlagError naming the families that take them."""
    if count == 0 or count <= main.references:
        return main
    if fleet is not None:
        seen = await fleet.fleet()
        live = seen.workers()
        able = [
            caps
            for family, modes in sorted(seen.offered().items())
            if REF_MODE in modes and (caps := _known(family)) and caps.references >= count
        ]
        if able:
            return min(able, key=lambda caps: -live.get(caps.name, 0))
    references_refused(main, count, token)
    return main  # not reached: refused above


def _known(family: str) -> Capabilities | None:
    try:
        return capabilities_for(family)
    except (UnknownBackend, ImportError):  # an operator's module this process can't import
        return None


def screen_names(policy: Policy, names: Sequence[str]) -> None:
    """The names are words of the request: what the policy blocks is refused, and what it
    would hold for a moderator is refused too (a name is no place for such words)."""
    if not names:
        return
    decision = policy.check(", ".join(names))
    shown = ", ".join(f"`{n}`" for n in names)
    if decision.decision == "block":
        raise ContentBlocked(f"I can't use the character name {shown}: {decision.reason}")
    if decision.decision == "flag":
        raise UserFacingError(
            f"I can't use the character name {shown}: {decision.reason}. "
            "Pick another name (or leave `-ref` out)."
        )


def known_names(store: CharacterStore, member_id: str, guild_id: int | None) -> str:
    """The names a member may use, for an answer (or how to save one when there are none)."""
    names = [c.name for c in store.list_for(member_id, guild_id)]
    return ", ".join(f"`{n}`" for n in names) if names else "none yet"


def look_up(
    store: CharacterStore, member_id: str, guild_id: int | None, names: Sequence[str]
) -> tuple[str, ...]:
    """The stored pictures of `names`, in order; UserFacingError for the first unknown one,
    listing the member's names. Blocking: run it in a thread."""
    found = store.get_many(member_id, guild_id, names)
    for name, character in zip(names, found, strict=True):
        if character is None:
            raise UserFacingError(
                f"No character named '{name}' — yours are: "
                f"{known_names(store, member_id, guild_id)}; save one with /character save."
            )
    return tuple(c.picture for c in found if c is not None)


def with_references(spec: RenderSpec, pictures: Sequence[str]) -> RenderSpec:
    """`spec` showing these stored pictures (its other settings as they are)."""
    if not pictures:
        return spec
    return RenderSpec.model_validate({**spec.model_dump(), "reference_media": tuple(pictures)})


def without_references(parsed: ParsedPrompt) -> ParsedPrompt:
    """`parsed` with its `-ref` names taken out, once they are looked up (`with_references`
    puts their pictures back in the spec)."""
    return dataclasses.replace(parsed, references=())


async def take_references(
    parsed: ParsedPrompt,
    *,
    main: Capabilities,
    member_id: str,
    guild_id: int | None,
    store: CharacterStore,
    policy: Policy,
    fleet: FleetChoice | None,
    attached: int = 0,
) -> tuple[ParsedPrompt, Capabilities, tuple[str, ...]]:
    """`parsed` without its `-ref` names, the capabilities to size the request with, and the
    names' stored pictures in order (for `with_references`); a request without `-ref` comes
    back as it is, with `main`. `attached`: reference pictures given as files besides the
    names (/create's `ref_image`), counted against the family's and the clip's limit."""
    names = parsed.references
    count = len(names) + attached
    if not count:
        return parsed, main, ()
    if count > MAX_REFERENCES:
        raise FlagError(
            f"`-ref {', '.join(names)}` and `ref_image` make {count} pictures; a clip can show "
            f"at most {MAX_REFERENCES}. Leave one out.",
            token="ref_image:",
        )
    capabilities = await family_for_references(
        main, count, fleet, "-ref" if names else "ref_image:"
    )
    screen_names(policy, names)
    pictures = await asyncio.to_thread(look_up, store, member_id, guild_id, names)
    return without_references(parsed), capabilities, pictures
