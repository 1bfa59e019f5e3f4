"""`reelbot create TEXT --image PICTURE [--end PICTURE]`: /animate from the terminal.

The files are judged as Discord attachments are (`intake.media.images.check_image`: by their
content, size and dimensions, re-encoded as PNG), the clip takes the first picture's shape
(`intake.modes`), and `--end` ends it on the second (`intake.endings`), refused before anything
starts where the loaded model can't, or with `-loop`. `--frames A B [C…]` is /frames: one
clip through 2-5 pictures (`intake.keyframes`). `--effect NAME` is /effect: the styles file's
effect on the picture, the text saying what the picture shows (`bot.intake.effects`). The
pictures are stored under the new clip's id before its job exists, as the bot stores attachments.
`--encrypt-image PICTURE` is /encrypt_image: the picture hidden in a clip made from the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserFacingError
from core.flags import ParsedPrompt, resolve_request
from core.frames import picture_kind
from core.rendercaps import Capabilities
from core.spec import Quality, RenderSpec, StylePreset
from gallery.media import LocalMediaStore
from intake.endings import END_KIND, end_note, refuse_loop_with_end, require_end_frame, with_end
from intake.followups import read_text
from intake.illusions import require_illusion, with_hidden
from intake.keyframes import check_request, frames_note, require_frames, with_frames
from intake.media.images import CheckedImage, check_declared_size, check_image
from intake.modes import animate_prompt, framed_for_picture, require_mode


@dataclass(frozen=True)
class Pictures:
    """The checked pictures of a terminal request: the one it starts from, and perhaps its end."""

    start: CheckedImage
    end: CheckedImage | None = None
    keyframes: tuple[CheckedImage, ...] = ()  # --frames: every picture, `start` first


def read_pictures(
    image: Path | None,
    end: Path | None,
    capabilities: Capabilities,
    frames: Sequence[Path] = (),
) -> Pictures | None:
    """The checked pictures, or None without `--image` or `--frames`; UserFacingError in
    /animate's (or /frames') words."""
    if frames:
        if image is not None or end is not None:
            raise UserFacingError(
                "`--frames` takes every picture itself: leave out `--image` and `--end`."
            )
        require_frames(capabilities)
        check_request(ParsedPrompt(prompt="-"), len(frames))  # 2-5 pictures, before reading
        checked = tuple(_checked(path) for path in frames)
        return Pictures(checked[0], keyframes=checked)
    if image is None:
        if end is not None:
            raise UserFacingError(
                "`--end` needs `--image`: a clip ends on a picture after starting from one, "
                "as /animate's end_image does."
            )
        return None
    require_mode(capabilities, "i2v", "animate pictures")
    if end is not None:
        require_end_frame(capabilities.name, capabilities.end_frame)
    return Pictures(_checked(image), _checked(end) if end is not None else None)


def check_picture(path: Path) -> CheckedImage:
    """The picture at `path` judged as a Discord attachment is; UserFacingError otherwise."""
    return _checked(path)


def _checked(path: Path) -> CheckedImage:
    try:
        check_declared_size(path.name, path.stat().st_size)  # before reading a byte of it
        data = path.read_bytes()
    except OSError as exc:
        raise UserFacingError(f"Can't read `{path}`: {exc.strerror or exc}.") from None
    return check_image(data, path.name)


def animate_spec(
    text: str,
    pictures: Pictures,
    capabilities: Capabilities,
    styles: Mapping[str, StylePreset],
    *,
    owner: str,
    default_quality: Quality,
    effect: str = "",
) -> tuple[RenderSpec, str]:
    """The request in the first picture's shape (before its pictures are stored), and the
    lines saying how each picture is framed. `effect`: the text is the effect's subject."""
    if effect:  # /effect: the effect's template filled with the text, never read for flags
        if pictures.keyframes or pictures.end is not None:
            raise UserFacingError("`--effect` animates one picture: leave out `--end`/`--frames`.")
        from bot.intake.effects import effect_prompt

        parsed = effect_prompt(styles, effect, text, capabilities.name)
    elif pictures.keyframes:  # /frames: the prompt's segments fit the pictures, no -loop
        parsed = read_text(text, capabilities, styles)
        check_request(parsed, len(pictures.keyframes))
    else:
        parsed = read_text(animate_prompt(text), capabilities, styles)
    if pictures.end is not None:
        refuse_loop_with_end(parsed, "--end")
    start = pictures.start
    framed, note = framed_for_picture(parsed, start.source_width, start.source_height)
    spec = resolve_request(
        framed,
        capabilities=capabilities,
        owner_id=owner,
        owner_name=owner,
        default_quality=default_quality,
    )
    if pictures.end is not None:
        end = pictures.end
        line = end_note(end.source_width, end.source_height, spec.aspect_ratio)
        note = f"{note}\n{line}" if note else line
    if pictures.keyframes:
        line = frames_note(len(pictures.keyframes))
        note = f"{note}\n{line}" if note else line
    return spec, note


def store_pictures(
    media: LocalMediaStore, generation_id: str, pictures: Pictures, spec: RenderSpec
) -> RenderSpec:
    """The pictures kept under the clip's id, and the spec that animates them. Blocking."""
    if pictures.keyframes:
        stored = [
            media.save_bytes(generation_id, picture.png, picture_kind(k))[0]
            for k, picture in enumerate(pictures.keyframes)
        ]
        return with_frames(spec, stored)
    start, _size = media.save_bytes(generation_id, pictures.start.png, "png")
    if pictures.end is None:
        return spec.model_copy(update={"mode": "i2v", "input_media": (start,)})
    end, _size = media.save_bytes(generation_id, pictures.end.png, END_KIND)
    return with_end(spec, start, end)


def hidden_picture_spec(
    text: str,
    picture: CheckedImage,
    capabilities: Capabilities,
    styles: Mapping[str, StylePreset],
    *,
    owner: str,
    default_quality: Quality,
) -> tuple[RenderSpec, str]:
    """/encrypt_image's request from the terminal, in the picture's shape, refused now where it
    can't hide a picture (`store_hidden` keeps the picture once the clip has an id)."""
    require_illusion(capabilities)
    parsed = read_text(text, capabilities, styles)
    framed, note = framed_for_picture(parsed, picture.source_width, picture.source_height)
    spec = resolve_request(
        framed,
        capabilities=capabilities,
        owner_id=owner,
        owner_name=owner,
        default_quality=default_quality,
    )
    with_hidden(spec, picture="draft.png")  # refused now, not after the picture is stored
    return spec, note


def store_hidden(
    media: LocalMediaStore, generation_id: str, picture: CheckedImage, spec: RenderSpec
) -> RenderSpec:
    """The picture to hide kept under the clip's id (as /encrypt_image keeps it). Blocking."""
    stored, _size = media.save_bytes(generation_id, picture.png, "png")
    return with_hidden(spec, picture=stored)
