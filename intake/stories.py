"""Stories (`/story`, `reelbot create --story`): a request read as 2-8 shots, checked the same
way wherever it is asked for.

The shots are the prompt split on `|` (`core.story.shots`); flags after the last shot apply
to every shot (one seed, one shape), and a shot may carry its own `-camera`, `-motion`, `-len`
and `-neg` (`core.storyflags`), kept in the spec's `shot_flags`. The length asked for (or the
family's default) is each shot's unless the shot says its own, within the family's longest
clip; the story is the shots' together. Which families tell stories is
`Capabilities.all_modes` (those with text- and image-to-video).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from core.capabilities import FAMILIES
from core.errors import FlagError, UserFacingError
from core.flags import ParsedPrompt, frames_of, parse_flags
from core.rendercaps import Capabilities
from core.spec import RenderSpec, Shot, StylePreset
from core.story import MAX_SHOTS, STORY, shot_lengths, shots
from core.storyflags import ShotAsk, StoryText, parse_story

MAX_FRAMES = RenderSpec.model_fields["num_frames"].metadata[-1].le  # the contract's longest


def require_story(capabilities: Capabilities) -> None:
    """Refuse a story the loaded family can't render, naming those that can, up front."""
    if STORY not in capabilities.all_modes:
        able = sorted(name for name, caps in FAMILIES.items() if STORY in caps.all_modes)
        raise UserFacingError(
            f"The model loaded right now (`{capabilities.name}`) can't tell a story: each shot "
            f"continues from the last one's picture, which needs image-to-video. Stories work "
            f"with these models: {', '.join(able)}."
        )


def read_story(
    text: str, capabilities: Capabilities, styles: Mapping[str, StylePreset]
) -> StoryText:
    """A story's text read for the loaded model: the story's flags and each shot's own."""
    read = partial(  # as intake.followups.read_text: /create's reader for the loaded model
        parse_flags,
        styles=styles,
        max_seconds=capabilities.max_seconds,
        sound_supported=capabilities.makes_sound,
        fast_supported=capabilities.fast is not None,
        loop_supported=capabilities.loop,
    )
    return parse_story(text, read)


def check_story(parsed: ParsedPrompt) -> list[str]:
    """The shots' texts, or the member is told what is wrong with the story."""
    if parsed.loop:
        raise FlagError(
            "`-loop` can't be used with a story: it ends where its last shot goes. Remove `-loop`.",
            token="-loop",
        )
    try:
        return shots(parsed.prompt)
    except ValueError as exc:
        raise UserFacingError(
            f"{str(exc).capitalize()}. Write each shot's words split by `|`, like "
            f'"a knight rides out | the knight meets a dragon | they share tea" (up to '
            f"{MAX_SHOTS} shots), with any flags after the last shot."
        ) from None


def as_story(
    spec: RenderSpec, picture: str | None = None, own: Sequence[ShotAsk] = ()
) -> RenderSpec:
    """The spec of one clip (`spec`, sized for one shot) as the story of its prompt's shots,
    each with its `own` flags where it has any, starting from the stored `picture` when there
    is one."""
    data = spec.model_dump()
    data.update(mode=STORY, input_media=(picture,) if picture else (), **story_fields(spec, own))
    return RenderSpec.model_validate(data)


def story_fields(spec: RenderSpec, own: Sequence[ShotAsk]) -> dict[str, object]:
    """A story's whole length and its shots' own flags, from `spec` sized for one shot (the
    story's length a shot) and what each shot asked for; too long is the member's error."""
    count = len(shots(spec.prompt))
    flags = shot_flags(own, spec.fps) if any(ask.said for ask in own) else ()
    if flags and len(flags) != count:
        raise ValueError(f"{len(flags)} shots' flags for a story of {count} shots")
    lengths = [spec.num_frames if s.num_frames is None else s.num_frames for s in flags]
    total = sum(lengths) if flags else spec.num_frames * count
    if total > MAX_FRAMES:
        longest = MAX_FRAMES // count / spec.fps
        raise UserFacingError(
            f"A story of {count} shots of {total / spec.fps:g} s in all is longer than a clip "
            f"can be ({MAX_FRAMES // spec.fps} s at {spec.fps} fps): give each shot `-len "
            f"{int(longest)}` or less, or tell it in fewer shots."
        )
    return {"num_frames": total, "shot_flags": flags}


def shot_flags(own: Sequence[ShotAsk], fps: int) -> tuple[Shot, ...]:
    """Each shot's own flags as the spec keeps them: its `-len` in frames at the story's fps."""
    return tuple(
        Shot(
            camera=ask.camera,
            motion=ask.motion,
            num_frames=None if ask.length is None else frames_of(ask.length, fps),
            negative_prompt=ask.negative,
        )
        for ask in own
    )


def story_note(spec: RenderSpec) -> str:
    """The line that tells the member what their story is and what it costs."""
    lengths = story_seconds(spec)
    count = len(lengths)
    each = (
        f"{lengths[0]:g} s each"
        if len(set(lengths)) == 1
        else f"{', '.join(f'{s:g}' for s in lengths[:-1])} and {lengths[-1]:g} s"
    )
    return (
        f"A story of {count} shots, {each}, each continuing from the last; "
        f"it counts as {count} clips today."
    )


def story_seconds(spec: RenderSpec) -> list[float]:
    """Each shot's length in seconds."""
    own = [shot.num_frames for shot in spec.shot_flags]
    return [f / spec.fps for f in shot_lengths(spec.num_frames, len(shots(spec.prompt)), own)]
