"""The flag language of `/create`: a prompt, then Pika-style `-flag value` words.

Parsing is strict and total: any text gives a `RenderSpec` or a `FlagError` that names the token,
says what is allowed and suggests the closest fit. An unknown `-word` is an error, never silently
folded into the prompt. Pure: no discord, redis, torch or database imports.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypedDict, TypeVar

from pydantic import ValidationError

from core.capabilities import families_with
from core.characters import read_references, references_refused
from core.errors import FlagError
from core.flagtext import clean_text, flag_tokens, read_text
from core.flagvalues import ALLOWED, CAMERAS, PROMPT_FIRST, check_length, closest, read_value
from core.rendercaps import Capabilities
from core.spec import (
    DEFAULT_FPS,
    DEFAULT_GUIDANCE,
    DEFAULT_MOTION,
    DEFAULT_QUALITY,
    MAX_SEED,
    Camera,
    Quality,
    RenderSpec,
    StylePreset,
)
from core.styles import DEFAULT_STYLES
from core.text import without_bidi

__all__ = [
    "DEFAULT_ASPECT",
    "FLAG_NAMES",
    "QUALITY_WORDS",
    "ParsedPrompt",
    "frames_of",
    "loop_refused",
    "parse_flags",
    "parse_request",
    "random_seed",
]

DEFAULT_ASPECT = "16:9"
FLAG_NAMES: tuple[str, ...] = tuple(ALLOWED)

_SWITCHES = frozenset({"hide", "sound", "fast", "hq", "loop"})
QUALITY_WORDS: dict[str, Quality] = {"fast": "fast", "hq": "hq"}
# Words people reach for, mapped to the flag they mean; only used to suggest, never accepted.
_LOOKALIKES = {
    "negative": "neg",
    "aspect": "ar",
    "ratio": "ar",
    "guidance": "gs",
    "cfg": "gs",
    "length": "len",
    "duration": "len",
    "seconds": "len",
    "hidden": "hide",
    "private": "hide",
    "speed": "motion",
    "strength": "motion",
    "audio": "sound",
    "framerate": "fps",
    "quick": "fast",
    "turbo": "fast",
    "draft": "fast",
    "quality": "hq",
    "best": "hq",
    "high": "hq",
    "looping": "loop",
    "loops": "loop",
    "seamless": "loop",
    "repeat": "loop",
    "character": "ref",
    "cref": "ref",
    "reference": "ref",
}
_QUOTE_HINT = "If it's part of your prompt, put it in quotes."
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ParsedPrompt:
    """What the member typed, read but not resolved against a model: None means not given."""

    prompt: str
    negative_prompt: str = ""
    motion: int | None = None
    camera: Camera | None = None
    aspect_ratio: str | None = None
    seed: int | None = None
    guidance: float | None = None
    fps: int | None = None
    length: float | None = None
    hidden: bool = False
    style: StylePreset | None = None
    sound: bool = False
    quality: Quality | None = None
    sound_prompt: str = ""  # `-sound WORDS`: what the sound is made from (sound on when given)
    loop: bool = False
    references: tuple[str, ...] = ()  # `-ref`: saved characters' names, resolved by a front end


def random_seed() -> int:
    """A fresh seed for a request that gave none (shown to the member, so it can be reused)."""
    return secrets.randbelow(MAX_SEED + 1)


def parse_request(
    text: str,
    *,
    capabilities: Capabilities,
    styles: Mapping[str, StylePreset] = DEFAULT_STYLES,
    seed_source: Callable[[], int] = random_seed,
    backend: str | None = None,
    owner_id: str = "",
    owner_name: str = "",
    guild_id: int | None = None,
    channel_id: int | None = None,
    parent_id: str | None = None,
    default_quality: Quality = DEFAULT_QUALITY,
    references: tuple[str, ...] = (),
) -> RenderSpec:
    """Read `/create` text into a complete spec for the loaded model, or raise `FlagError`.
    `references` are the stored pictures of the text's `-ref` names, in order, where the caller
    looked them up (`intake.characters`)."""
    parsed = parse_flags(
        text,
        styles=styles,
        max_seconds=capabilities.max_seconds,
        sound_supported=capabilities.makes_sound,
        fast_supported=capabilities.fast is not None,
        loop_supported=capabilities.loop,
    )
    return resolve_request(
        parsed,
        capabilities=capabilities,
        seed_source=seed_source,
        backend=backend,
        owner_id=owner_id,
        owner_name=owner_name,
        guild_id=guild_id,
        channel_id=channel_id,
        parent_id=parent_id,
        default_quality=default_quality,
        references=references,
    )


def resolve_request(
    parsed: ParsedPrompt,
    *,
    capabilities: Capabilities,
    seed_source: Callable[[], int] = random_seed,
    backend: str | None = None,
    owner_id: str = "",
    owner_name: str = "",
    guild_id: int | None = None,
    channel_id: int | None = None,
    parent_id: str | None = None,
    upload_limit: int | None = None,
    default_quality: Quality = DEFAULT_QUALITY,
    references: tuple[str, ...] = (),
) -> RenderSpec:
    """Fill what the member left out with the loaded model's defaults: the complete spec.

    `default_quality` is the operator's `REELBOT_DEFAULT_QUALITY`, for a request with neither
    `-fast` nor `-hq`; a family with no fast recipe renders every clip on its full schedule.
    `references` are the stored pictures of `parsed.references`: `-ref` names nobody looked up
    (a front end without characters) are refused, never dropped."""
    if parsed.references:
        shown = f"-ref {', '.join(parsed.references)}"
        references_refused(capabilities, len(parsed.references), shown)
        if len(references) != len(parsed.references):
            raise FlagError(
                f"`{shown}`: saved characters can be used from /create on Discord and "
                "`reelbot create`, not here. Leave `-ref` out.",
                token=shown,
            )
    aspect = parsed.aspect_ratio or DEFAULT_ASPECT
    aspect_w, aspect_h = (int(part) for part in aspect.split(":"))
    width, height = capabilities.snap_size(aspect_w, aspect_h)
    fps = DEFAULT_FPS if parsed.fps is None else parsed.fps
    length = capabilities.default_seconds if parsed.length is None else parsed.length
    seed = seed_source() if parsed.seed is None else parsed.seed
    quality: Quality = parsed.quality or default_quality
    if capabilities.fast is None:
        quality = "hq"
    try:
        return RenderSpec(
            **_quality_said(quality, default_quality),
            prompt=parsed.prompt,
            negative_prompt=parsed.negative_prompt,
            style=parsed.style,
            aspect_ratio=aspect,
            width=width,
            height=height,
            num_frames=frames_of(length, fps),
            fps=fps,
            steps=capabilities.steps_for(quality),
            guidance_scale=DEFAULT_GUIDANCE if parsed.guidance is None else parsed.guidance,
            seed=seed,
            motion=DEFAULT_MOTION if parsed.motion is None else parsed.motion,
            camera=parsed.camera,
            hidden=parsed.hidden,
            sound=parsed.sound or bool(parsed.sound_prompt),
            sound_prompt=parsed.sound_prompt,
            loop=parsed.loop,
            reference_media=references,
            backend=backend or capabilities.name,
            parent_id=parent_id,
            owner_id=owner_id,
            owner_name=without_bidi(owner_name),  # shown in the gallery beside the clip
            guild_id=guild_id,
            channel_id=channel_id,
            upload_limit=upload_limit,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise FlagError(
            f"These settings can't be rendered by `{backend or capabilities.name}` "
            f"({where}: {first['msg']})."
        ) from None


class _QualityArg(TypedDict, total=False):
    quality: Quality


def _quality_said(quality: Quality, default_quality: Quality) -> _QualityArg:
    """`quality` for the spec, given (so it is kept in the job and the gallery's stored spec,
    and shown in every command line) unless both it and the server's default are the built-in
    default: where the server's default is fast, an hq clip's line says `-hq` wherever it is
    shown or pasted, and a fast clip's always says `-fast`."""
    if quality == DEFAULT_QUALITY and default_quality == DEFAULT_QUALITY:
        return {}
    return {"quality": quality}


def parse_flags(
    text: str,
    *,
    styles: Mapping[str, StylePreset] = DEFAULT_STYLES,
    max_seconds: float | None = None,
    sound_supported: bool = True,
    fast_supported: bool = True,
    loop_supported: bool = True,
) -> ParsedPrompt:
    """The syntax layer: split the prompt from its flags and check each value's own bounds."""
    clean = clean_text(text)
    tokens = flag_tokens(clean)
    prompt = read_text(clean[: tokens[0].start if tokens else len(clean)]) or ""
    if not prompt:
        raise FlagError(
            "Describe the clip first, then add flags, like "
            "`a paper boat on a rainy street -motion 2`."
        )
    check_length("Your prompt", prompt, "prompt")

    fields: dict[str, object] = {}
    for index, tok in enumerate(tokens):
        end = tokens[index + 1].start if index + 1 < len(tokens) else len(clean)
        raw = clean[tok.end : end].strip()
        name = tok.name.lower()
        if tok.tail or name not in ALLOWED:
            raise _unknown_flag(tok.word, name, tok.tail)
        if name in fields and name != "ref":  # -ref Mira -ref Tom: characters add up
            raise FlagError(f"`{tok.word}` is given twice; give each flag once.", token=tok.word)
        if name in _SWITCHES:
            if raw and name == "sound":  # -sound "rain on a tin roof": what it is made from
                fields["sound_prompt"] = read_value(name, tok.word, raw, styles, max_seconds)
            elif raw:
                raise FlagError(
                    f"`{tok.word}` takes no value, but `{raw}` follows it. {PROMPT_FIRST}",
                    token=f"{tok.word} {raw}",
                )
            if name == "sound" and not sound_supported:
                raise FlagError(
                    f"`{tok.word}`: the model loaded right now makes no sound.", token=tok.word
                )
            if name == "loop" and not loop_supported:
                raise loop_refused(tok.word)
            if name in QUALITY_WORDS:
                other = "hq" if name == "fast" else "fast"
                if other in fields:
                    raise FlagError(
                        "`-fast` and `-hq` can't both be given: `-fast` renders quickly with "
                        "fewer steps, `-hq` on the full schedule. Keep one of them.",
                        token=tok.word,
                        allowed="-fast or -hq",
                    )
                if name == "fast" and not fast_supported:
                    raise FlagError(
                        f"`{tok.word}`: the model loaded right now has no fast tier; "
                        "leave it out and the clip renders on its full schedule.",
                        token=tok.word,
                    )
            fields[name] = True
            continue
        if not raw:
            raise FlagError(
                f"`{tok.word}` needs a value after it.", token=tok.word, allowed=ALLOWED[name]
            )
        if name == "ref":
            earlier = _get(fields, "ref", tuple) or ()
            value = read_text(raw)
            fields[name] = read_references(
                f"{tok.word} {raw}", raw if value is None else value, earlier
            )
            continue
        fields[name] = read_value(name, tok.word, raw, styles, max_seconds)

    return ParsedPrompt(
        prompt=prompt,
        negative_prompt=_get(fields, "neg", str) or "",
        motion=_get(fields, "motion", int),
        camera=CAMERAS.get(_get(fields, "camera", str) or ""),
        aspect_ratio=_get(fields, "ar", str),
        seed=_get(fields, "seed", int),
        guidance=_get(fields, "gs", float),
        fps=_get(fields, "fps", int),
        length=_get(fields, "len", float),
        hidden=bool(fields.get("hide")),
        style=_get(fields, "style", StylePreset),
        sound=bool(fields.get("sound")),
        sound_prompt=_get(fields, "sound_prompt", str) or "",
        quality=next((QUALITY_WORDS[name] for name in QUALITY_WORDS if name in fields), None),
        loop=bool(fields.get("loop")),
        references=_get(fields, "ref", tuple) or (),
    )


def loop_refused(token: str) -> FlagError:
    """`-loop` (or the Loop button, or the `loop` option) where the loaded family can't loop:
    which families can, so the member knows it is this server's model, not their request."""
    return FlagError(
        f"`{token}`: the model loaded right now can't make a clip that loops. "
        f"Loops are made by these models: {', '.join(families_with('loop'))}.",
        token=token,
    )


# --- helpers ------------------------------------------------------------------------------


def _unknown_flag(word: str, name: str, tail: str) -> FlagError:
    """An error for a flag-looking word that is no flag, pointing at the one probably meant."""
    message = f"`{word}` isn't a flag I know. {_QUOTE_HINT}"
    suggestion: str | None = None
    if name in _SWITCHES:  # -hide. or -sound!
        suggestion = f"-{name}"
    elif name in ALLOWED:  # a known flag glued to its value, like -motion3 or -ar:16:9
        message = f"`{word}`: leave a space between `-{name}` and its value."
        suggestion = f"-{name} {tail.lstrip('=:')}"
    elif guess := _LOOKALIKES.get(name) or closest(name, {n: n for n in ALLOWED} | _LOOKALIKES):
        suggestion = f"-{guess}"
    return FlagError(
        message,
        token=word,
        allowed=", ".join(f"-{n}" for n in FLAG_NAMES),
        suggestion=suggestion,
    )


def _get(fields: Mapping[str, object], name: str, kind: type[_T]) -> _T | None:
    value = fields.get(name)
    return value if isinstance(value, kind) else None


def frames_of(seconds: float, fps: int) -> int:
    """The frame count of `seconds` at `fps` (never 0)."""
    return max(1, round(seconds * fps))
