"""A clip's settings written back as the `/create` line that makes it again.

Shown under every result, in the Remix form, to moderators and on the gallery's clip page; it
must read back (`core.flags.parse_flags`) to the same clip. Pure, like the flag language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.flags import DEFAULT_ASPECT, QUALITY_WORDS, frames_of
from core.flagtext import command_texts, value_text
from core.rendercaps import Capabilities
from core.spec import (
    DEFAULT_FPS,
    DEFAULT_GUIDANCE,
    DEFAULT_MOTION,
    DEFAULT_QUALITY,
    Quality,
    RenderSpec,
)
from core.story import SEPARATOR, shot_lengths, shots
from core.text import without_bidi

__all__ = ["slash_command", "stored_command_line", "to_command_line"]

# The slash command whose line remakes a clip of each mode; the rest are /create's (extend and
# upscale are buttons on a clip; an edit has no line: it is made from its parent in Discord).
SLASH_COMMANDS = {
    "i2v": "/animate",
    "v2v": "/restyle",
    "frames": "/frames",
    "story": "/story",
    "speak": "/speak",
    "speak_clip": "/speak",
}


def slash_command(mode: str) -> str:
    """The command a clip of `mode` is made with (its line alone lacks any picture or voice)."""
    return SLASH_COMMANDS.get(mode, "/create")


def to_command_line(
    spec: RenderSpec,
    *,
    capabilities: Capabilities | None = None,
    default_quality: Quality = DEFAULT_QUALITY,
) -> str:
    """The `/create` text that reproduces `spec`: the prompt, every non-default flag, the seed.

    `-len` is left out only when `capabilities` says the length is that model's default, since
    the default differs between models. `-fast` is always shown; `-hq` when the spec says it
    (it was made where REELBOT_DEFAULT_QUALITY is fast) or `default_quality`, that of the place
    the line is shown, is fast: a line pasted on either kind of server makes the same clip.
    """
    stored = spec.model_dump(mode="json", include={"mode", "prompt", "shot_flags"})
    num_frames = _length_said(spec.num_frames, stored)  # a story's: each shot's
    default_length = num_frames is None or (
        capabilities is not None and num_frames == frames_of(capabilities.default_seconds, spec.fps)
    )
    return _shots_said(
        stored,
        spec.fps,
        _command_line(
            prompt=spec.prompt,
            negative=spec.negative_prompt,
            style=spec.style.name if spec.style is not None else None,
            motion=spec.motion,
            camera=spec.camera,
            aspect=spec.aspect_ratio,
            guidance=spec.guidance_scale,
            fps=spec.fps,
            num_frames=None if default_length else num_frames,
            hidden=spec.hidden,
            sound=spec.sound,
            sound_prompt=spec.sound_prompt,
            loop=spec.loop,
            quality=_stored_quality(spec.model_dump(include={"quality"}), default_quality),
            seed=spec.seed,
        ),
    )


def stored_command_line(
    stored: Mapping[str, Any], *, default_quality: Quality = DEFAULT_QUALITY
) -> str:
    """`to_command_line` for a spec kept as JSON (`RenderSpec.model_dump(mode="json")`).

    The gallery keeps specs this way, and older rows kept fewer keys: a missing setting is its
    default, and a missing length or seed is left out of the line.
    """
    style = stored.get("style")
    fps = int(stored.get("fps", DEFAULT_FPS))
    return _shots_said(
        stored,
        fps,
        _command_line(
            prompt=str(stored.get("prompt", "")),
            negative=str(stored.get("negative_prompt") or ""),
            style=str(style["name"]) if isinstance(style, Mapping) and style.get("name") else None,
            motion=int(stored.get("motion", DEFAULT_MOTION)),
            camera=str(stored["camera"]) if stored.get("camera") else None,
            aspect=str(stored.get("aspect_ratio") or DEFAULT_ASPECT),
            guidance=float(stored.get("guidance_scale", DEFAULT_GUIDANCE)),
            fps=int(stored.get("fps", DEFAULT_FPS)),
            num_frames=_length_said(int(stored["num_frames"]), stored)
            if stored.get("num_frames")
            else None,
            hidden=bool(stored.get("hidden")),
            sound=bool(stored.get("sound")),
            sound_prompt=str(stored.get("sound_prompt") or ""),
            loop=bool(stored.get("loop")),
            quality=_stored_quality(stored, default_quality),
            seed=int(stored["seed"]) if stored.get("seed") is not None else None,
        ),
    )


def _own(stored: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A story's shots' own flags as stored (none for anything else or an older story)."""
    own = stored.get("shot_flags") if stored.get("mode") == "story" else None
    return [shot for shot in own if isinstance(shot, Mapping)] if isinstance(own, list) else []


def _length_said(num_frames: int, stored: Mapping[str, Any]) -> int | None:
    """The `-len` after the last shot, in frames: a story's length a shot (that of a shot
    without its own `-len`; None when every shot has one); anything else's whole length."""
    if stored.get("mode") != "story":
        return num_frames
    own = _own(stored)
    frames = [int(s["num_frames"]) if s.get("num_frames") else None for s in own]
    lengths = shot_lengths(num_frames, len(shots(str(stored.get("prompt", "")))), frames)
    kept = [n for n, f in zip(lengths, frames or [None] * len(lengths), strict=True) if f is None]
    return kept[0] if kept else None


def _shots_said(stored: Mapping[str, Any], fps: int, line: str) -> str:
    """`line` with each story shot's own flags typed after its words (`a -camera pan_left |
    b`); the last shot's own flags are followed by `|`, so the flags after are the story's."""
    own = _own(stored)
    prompt = str(stored.get("prompt", ""))
    if not own or not line.startswith(prompt):
        return line
    parts = []
    for text, shot in zip(shots(prompt), own, strict=True):
        words = [text]
        if shot.get("camera"):
            words += ["-camera", str(shot["camera"])]
        if shot.get("motion") is not None:
            words += ["-motion", str(shot["motion"])]
        if shot.get("num_frames"):
            words += ["-len", _seconds(int(shot["num_frames"]), fps)]
        if shot.get("negative_prompt"):
            words += ["-neg", value_text(str(shot["negative_prompt"]))]
        parts.append(" ".join(words))
    told = f" {SEPARATOR} ".join(parts)
    if len(parts[-1]) > len(shots(prompt)[-1]):  # the last shot has flags of its own
        told += f" {SEPARATOR}"
    return told + line[len(prompt) :]


def _stored_quality(stored: Mapping[str, Any], default_quality: Quality) -> Quality | None:
    """The stored clip's quality word, or None: an hq spec that does not say its quality (a row
    older than `-fast`, or made where the default is hq) shown where the default is hq."""
    said = QUALITY_WORDS.get(str(stored.get("quality")))
    if said is not None:
        return said
    return None if default_quality == DEFAULT_QUALITY else DEFAULT_QUALITY


def _command_line(
    *,
    prompt: str,
    negative: str,
    style: str | None,
    motion: int,
    camera: str | None,
    aspect: str,
    guidance: float,
    fps: int,
    num_frames: int | None,
    hidden: bool,
    sound: bool,
    sound_prompt: str,
    loop: bool,
    quality: Quality | None,
    seed: int | None,
) -> str:
    """The line itself, one word per setting that differs from the default, in a fixed order.
    Bidi controls in a clip recorded before prompts were cleaned of them are left out, as
    reading the line would drop them (`clean_text`)."""
    parts = [command_texts(without_bidi(prompt), without_bidi(negative))]
    if style is not None:
        parts += ["-style", style]
    if motion != DEFAULT_MOTION:
        parts += ["-motion", str(motion)]
    if camera is not None:
        parts += ["-camera", camera]
    if aspect != DEFAULT_ASPECT:
        parts += ["-ar", aspect]
    if guidance != DEFAULT_GUIDANCE:
        parts += ["-gs", _number(guidance)]
    if fps != DEFAULT_FPS:
        parts += ["-fps", str(fps)]
    if num_frames is not None:
        parts += ["-len", _seconds(num_frames, fps)]
    if hidden:
        parts.append("-hide")
    if sound:
        parts.append(f"-sound {value_text(sound_prompt)}" if sound_prompt else "-sound")
    if loop:
        parts.append("-loop")
    if quality is not None:
        parts.append(f"-{quality}")
    if seed is not None:
        parts += ["-seed", str(seed)]
    return " ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _seconds(num_frames: int, fps: int) -> str:
    """The shortest decimal length that gives back exactly `num_frames` at `fps`."""
    exact = num_frames / fps
    for places in range(7):
        candidate = round(exact, places)
        if frames_of(candidate, fps) == num_frames:
            return _number(candidate)
    return repr(exact)
