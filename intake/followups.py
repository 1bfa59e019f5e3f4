"""Reading a request for the loaded model, and what a follow-up of an existing clip asks for:
the part of asking that is the same on Discord and through the REST API.

`read_text` reads a `/create` line for the loaded model; `build_spec` resolves it for whoever
asks; `follow_up_spec` makes a child of a clip (reroll, vary, remix, extend, upscale, loop) by
reading the parent's own line back, so a reroll is exactly "that command again".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Literal, Protocol

from pydantic import ValidationError

from core.commandline import to_command_line
from core.defaults import apply_defaults, parse_defaults
from core.errors import FlagError, UserFacingError
from core.flags import ParsedPrompt, loop_refused, parse_flags, random_seed, resolve_request
from core.options import merge_options
from core.rendercaps import Capabilities
from core.speak import SPEAK_CLIP, SPEAKING
from core.spec import DEFAULT_QUALITY, MAX_MOTION, Quality, RenderSpec, StylePreset
from core.storyflags import ShotAsk
from intake.stories import check_story, read_story, story_fields

# What can be asked of an existing clip. "remix" is new text (the Remix form, or the API's).
FollowUp = Literal["reroll", "remix", "vary", "extend", "upscale", "loop"]
FOLLOW_UPS: tuple[FollowUp, ...] = ("reroll", "remix", "vary", "extend", "upscale", "loop")


class Owner(Protocol):
    """Who a new clip belongs to and where it is made: a Discord member in a channel
    (`bot.intake.requests.Asker`) or an API token's member (no channel, no upload cap)."""

    @property
    def owner_id(self) -> str: ...

    @property
    def display_name(self) -> str: ...

    @property
    def guild_id(self) -> int | None: ...

    @property
    def channel_id(self) -> int | None: ...

    @property
    def upload_limit(self) -> int | None: ...


def read_text(
    text: str, capabilities: Capabilities, styles: Mapping[str, StylePreset]
) -> ParsedPrompt:
    """`/create` text read for the loaded model (its length, sound and loop limits)."""
    return parse_flags(
        text,
        styles=styles,
        max_seconds=capabilities.max_seconds,
        sound_supported=capabilities.makes_sound,
        fast_supported=capabilities.fast is not None,
        loop_supported=capabilities.loop,
    )


def read_defaults(
    text: str, capabilities: Capabilities, styles: Mapping[str, StylePreset]
) -> ParsedPrompt | None:
    """A member's saved `/settings` flags read against the model loaded now; None if none.

    Saved defaults that no longer fit (a style removed, a shorter model loaded) are an error
    that says how to fix them, rather than being dropped: a member who asked for `-ar 9:16`
    everywhere must not silently get 16:9."""
    if not text:
        return None
    try:
        return parse_defaults(
            text,
            styles=styles,
            max_seconds=capabilities.max_seconds,
            sound_supported=capabilities.makes_sound,
        )
    except FlagError as exc:
        raise FlagError(
            f"Your default flags `{text}` (from /settings) don't work here right now: {exc} "
            "Change them with `/settings flags:…` or remove them with `/settings clear:True`.",
            token=exc.token,
        ) from None


def merge_settings(
    parsed: ParsedPrompt,
    options: Mapping[str, object],
    *,
    hide: bool | None,
    in_guild: bool,
    defaults: ParsedPrompt | None,
    capabilities: Capabilities,
    styles: Mapping[str, StylePreset],
    decided: tuple[str, ...] = (),
) -> ParsedPrompt:
    """The typed flags with the options merged in (`core.options`), then the member's
    /settings defaults for what is still unset: one order for every way of asking for a clip.
    `decided` names what the request's input settles itself (a picture's aspect ratio), which
    no default fills; clips asked for outside a guild stay private unless asked otherwise
    (`hide` False keeps -hide off)."""
    shown = hide if hide is not None else not in_guild
    parsed = merge_options(
        parsed,
        {**options, "hide": shown},
        styles=styles,
        max_seconds=capabilities.max_seconds,
        fast_supported=capabilities.fast is not None,
        loop_supported=capabilities.loop,
        sound_supported=capabilities.makes_sound,
    )
    given = (*decided, "hidden") if hide is not None else decided
    return apply_defaults(parsed, defaults, given=given)


def build_spec(
    parsed: ParsedPrompt,
    asker: Owner,
    capabilities: Capabilities,
    *,
    parent_id: str | None = None,
    seed_source: Callable[[], int] = random_seed,
    default_quality: Quality = DEFAULT_QUALITY,
) -> RenderSpec:
    """The complete spec for `asker`, made where they asked; `default_quality` is the server's
    REELBOT_DEFAULT_QUALITY, for neither -fast nor -hq."""
    return resolve_request(
        parsed,
        capabilities=capabilities,
        seed_source=seed_source,
        owner_id=asker.owner_id,
        owner_name=asker.display_name,
        guild_id=asker.guild_id,
        channel_id=asker.channel_id,
        parent_id=parent_id,
        upload_limit=asker.upload_limit,
        default_quality=default_quality,
    )


def vary_motion(motion: int) -> int:
    """Vary nudges motion one step up, or one step down from the top (a change is guaranteed)."""
    return motion + 1 if motion < MAX_MOTION else motion - 1


def follow_up_spec(
    parent: RenderSpec,
    parent_id: str,
    action: FollowUp,
    asker: Owner,
    capabilities: Capabilities,
    styles: Mapping[str, StylePreset],
    *,
    text: str | None = None,
    parent_media: str | None = None,
    seed_source: Callable[[], int] = random_seed,
    default_quality: Quality = DEFAULT_QUALITY,
) -> RenderSpec:
    """A child of `parent`, owned by `asker`, read through the `/create` path.

    reroll: the same command with a new seed (never the parent's); vary: the same seed, motion
    moved by `vary_motion`; remix: `text` as typed in the Remix form; extend/upscale: the same
    command on the parent's finished clip, without its camera move (the parent's frames already
    carry it). Extend opens on the parent's last moment and runs twice its length (capped at the
    model's), so it always goes on past where the parent stopped; upscale is the parent at twice
    its width and height. loop: the same command with `-loop` and the same seed, so it is this
    clip made to loop (an end picture gives way to the clip's own first frame). An
    image-to-video parent keeps its input image (and end picture), which no command text
    can carry. The parent's line is read as shown on this server (`default_quality`), so a
    child keeps the parent's quality unless remix text says otherwise.
    """
    source = text if action == "remix" and text is not None else None
    line = source or to_command_line(
        parent, capabilities=capabilities, default_quality=default_quality
    )
    own: tuple[ShotAsk, ...] = ()
    if parent.mode == "story":  # its shots may carry their own flags
        told = read_story(line, capabilities, styles)
        parsed, own = told.story, told.shots
        if source is not None:  # new text: 2 to 8 shots, or the member is told why
            check_story(parsed)
    else:
        parsed = read_text(line, capabilities, styles)
    if action == "reroll":
        parsed = dataclasses.replace(parsed, seed=None)
        seed_source = other_seed(parent.seed, seed_source)
    elif action == "vary":
        parsed = dataclasses.replace(parsed, seed=parent.seed, motion=vary_motion(parent.motion))
    elif action == "loop":
        if not capabilities.loop:
            raise loop_refused("🔁 Loop")
        if parent.loop:
            raise UserFacingError("This clip loops already.")
        if parent.mode == "frames":
            raise UserFacingError(
                "This clip ends on its last picture (/frames), so it can't loop. Make a clip "
                "with /animate or /create and `-loop` instead."
            )
        if parent.mode in SPEAKING:
            raise UserFacingError(
                "A speaking clip follows its voice, so it can't loop. Make a clip with "
                "/animate and `-loop` instead."
            )
        if parent.mode == "story":
            raise UserFacingError(
                "A story ends where its last shot goes, so it can't loop. Loop a clip made "
                "with /create or /animate instead."
            )
        if parent.mode not in ("t2v", "i2v"):
            raise UserFacingError(
                "Only clips made from a prompt or a picture can loop; this one was made from a "
                "video. Loop the clip it came from, or use /create with `-loop`."
            )
        parsed = dataclasses.replace(parsed, seed=parent.seed, loop=True)
    elif action in ("extend", "upscale"):
        parsed = dataclasses.replace(parsed, camera=None, loop=False)
        if action == "extend":
            length = min(2 * parent.duration_s, capabilities.max_seconds)
            parsed = dataclasses.replace(parsed, length=length)
    if asker.guild_id is None:  # made in DMs: private, as /create there
        parsed = dataclasses.replace(parsed, hidden=True)
    spec = build_spec(
        parsed,
        asker,
        capabilities,
        parent_id=parent_id,
        seed_source=seed_source,
        default_quality=default_quality,
    )
    if parent.reference_media and action in ("reroll", "vary"):
        # -ref's characters, which no command line carries, on the family that drew them
        return _with_characters(spec, parent)
    if parent.reference_media and action in ("loop", "remix"):
        raise UserFacingError(
            f"This clip shows saved characters (-ref), which {action} can't keep yet. Use 🎲 "
            "Reroll or 🌀 Vary, or /create again with -ref."
        )
    mode, inputs, end_frame = parent.mode, parent.input_media, parent.end_frame
    if action == "loop" and end_frame:  # it ends on its own first frame now
        inputs, end_frame = inputs[:1], False
    if action in ("extend", "upscale"):
        if action not in capabilities.modes:
            raise UserFacingError(f"The model loaded right now can't {action} clips.")
        if not parent_media:
            raise UserFacingError(f"This clip has no finished video to {action} yet.")
        mode, inputs, end_frame = action, (parent_media,), False
    size = {"width": 2 * parent.width, "height": 2 * parent.height} if action == "upscale" else {}
    if (mode, inputs, end_frame) == (spec.mode, spec.input_media, spec.end_frame) and not size:
        return spec
    try:
        ends = {"end_frame": True} if end_frame else {}
        changes: dict[str, object] = {"mode": mode, "input_media": inputs, **ends, **size}
        if mode == "edit":  # what was edited, on the parent's video at the edit's own canvas
            changes |= {"edit": parent.edit, "aspect_ratio": parent.aspect_ratio}
            changes |= {"width": parent.width, "height": parent.height}
            changes |= {"num_frames": parent.num_frames, "fps": parent.fps}
        if mode == "story":  # the line says each shot's length: the story is all of them
            changes |= story_fields(spec, own)
        if mode in SPEAKING:  # the typed line the voice says (none: the stored voice is input 2)
            changes |= {"speak_text": parent.speak_text}
        if mode == SPEAK_CLIP:  # the clip it re-renders, at the length its voice made it
            changes |= {"width": parent.width, "height": parent.height}
            changes |= {"num_frames": parent.num_frames, "fps": parent.fps}
            changes |= {"aspect_ratio": parent.aspect_ratio}
        if mode == "illusion":  # what it hides, which no command text carries
            changes |= {"illusion_text": parent.illusion_text}
            changes |= {"illusion_strength": parent.illusion_strength}
            changes |= {"illusion_font": parent.illusion_font}
        return RenderSpec.model_validate({**spec.model_dump(), **changes})
    except ValidationError as exc:
        raise FlagError(f"These settings can't be rendered ({exc.errors()[0]['msg']}).") from None


def _with_characters(spec: RenderSpec, parent: RenderSpec) -> RenderSpec:
    """A reroll or vary of a -ref clip: its characters' pictures, on the parent's family at the
    parent's size, length and steps (what that family's workers were sized for)."""
    keep = ("reference_media", "backend", "width", "height", "num_frames", "fps", "steps")
    keep += ("mode", "input_media", "end_frame")  # an i2v parent's picture, as below
    return spec.model_copy(update={field: getattr(parent, field) for field in keep})


def other_seed(avoid: int, source: Callable[[], int]) -> Callable[[], int]:
    """`source`, drawn again whenever it gives `avoid` (a child never repeats its parent's seed)."""

    def pick() -> int:
        seed = source()
        while seed == avoid:
            seed = source()
        return seed

    return pick
