"""Stories (`/story`, `reelbot create --story`): a request read as 2-8 shots, checked the same
way wherever it is asked for.

The shots are the prompt split on `|` (`core.story.shots`); flags go after the last shot and
apply to every shot (one length a shot, one seed, one shape), since the flag reader takes the
words before the first flag as the prompt. The length asked for (or the family's default) is
each shot's, within the family's longest clip; the story is that times the shots. Which
families tell stories is `Capabilities.all_modes` (those with text- and image-to-video).
"""

from __future__ import annotations

from core.capabilities import FAMILIES
from core.errors import FlagError, UserFacingError
from core.flags import ParsedPrompt
from core.spec import Capabilities, RenderSpec
from core.story import MAX_SHOTS, STORY, shots, story_frames

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


def as_story(spec: RenderSpec, picture: str | None = None) -> RenderSpec:
    """The spec of one clip (`spec`, sized for one shot) as the story of its prompt's shots,
    starting from the stored `picture` when there is one."""
    count = len(shots(spec.prompt))
    if story_frames(spec.num_frames, count) > MAX_FRAMES:
        longest = MAX_FRAMES // count / spec.fps
        raise UserFacingError(
            f"A story of {count} shots of {spec.duration_s:g} s is longer than a clip can be "
            f"({MAX_FRAMES // spec.fps} s at {spec.fps} fps): give each shot `-len "
            f"{int(longest)}` or less, or tell it in fewer shots."
        )
    data = spec.model_dump()
    data.update(
        mode=STORY,
        num_frames=story_frames(spec.num_frames, count),
        input_media=(picture,) if picture else (),
    )
    return RenderSpec.model_validate(data)


def story_note(count: int, seconds: float) -> str:
    """The line that tells the member what their story is and what it costs."""
    return (
        f"A story of {count} shots, {seconds:g} s each, each continuing from the last; "
        f"it counts as {count} clips today."
    )
