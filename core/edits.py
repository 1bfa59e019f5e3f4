"""Editing a finished clip (✏️ Modify, ↔ Expand, /add, /swap): what to change, and where.

An edit is a new clip (mode "edit") made from its parent's video, `input_media[0]`, and for
/add and /swap-with-a-picture a picture, `input_media[1]`. The worker turns `EditSpec` into a
mask per frame (white: generate, black: keep, as `WanVACEPipeline` reads it) and composites the
parent's frames back outside it, so what lies outside the region is the parent's, unchanged.

- modify: the prompt says what to change; `where` names a thing ("the sky", found in every frame
  on the worker) or `box` a region; neither: the whole clip, keeping its motion and layout.
- swap: `where` (or `box`) is the thing to replace, the prompt (or the picture) what replaces it.
- add: the picture's object appears, where the prompt (and `where`/`box`, if given) puts it.
- expand: a new canvas of another shape (`expand_to`) or `zoom_out` times larger, the parent
  unchanged in the middle and new borders generated around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

EditKind = Literal["modify", "add", "swap", "expand"]
MAX_WHERE_CHARS: Final = 100
EXPAND_SHAPES: Final = ("16:9", "9:16", "1:1", "4:5", "21:9")
ZOOM_OUTS: Final = (1.5, 2.0)

# Named regions, in percent of the frame: (x, y, w, h).
NAMED_REGIONS: Final[dict[str, tuple[float, float, float, float]]] = {
    "left": (0, 0, 50, 100),
    "right": (50, 0, 50, 100),
    "top": (0, 0, 100, 50),
    "bottom": (0, 50, 100, 50),
    "center": (25, 25, 50, 50),
    "centre": (25, 25, 50, 50),
}
WHERE_HELP: Final = (
    "left, right, top, bottom, center, a box as x,y,w,h in percent of the frame "
    "(e.g. 10,20,30,40), or words naming a thing in the clip (e.g. the red car)"
)
_NUMBERS = re.compile(r"^\s*[-+0-9.]+\s*(,\s*[-+0-9.]+\s*){3}$")

Percent = Annotated[float, Field(ge=0, le=100)]


class Box(BaseModel):
    """A region in percent of the frame: left edge, top edge, width, height."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    x: Percent
    y: Percent
    w: Annotated[float, Field(gt=0, le=100)]
    h: Annotated[float, Field(gt=0, le=100)]

    @model_validator(mode="after")
    def _inside(self) -> Box:
        if self.x + self.w > 100.0001 or self.y + self.h > 100.0001:
            raise ValueError(f"the box {self.text()} reaches outside the frame (x+w, y+h ≤ 100)")
        return self

    def text(self) -> str:
        return ",".join(f"{v:g}" for v in (self.x, self.y, self.w, self.h))

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in pixels of a width x height frame, at least 1x1."""
        left, top = round(self.x * width / 100), round(self.y * height / 100)
        right = max(left + 1, round((self.x + self.w) * width / 100))
        bottom = max(top + 1, round((self.y + self.h) * height / 100))
        return left, top, min(right, width), min(bottom, height)


class EditSpec(BaseModel):
    """What an edit changes; travels in `RenderSpec.edit` (mode "edit")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EditKind
    where: Annotated[str, StringConstraints(max_length=MAX_WHERE_CHARS)] = ""
    box: Box | None = None
    expand_to: Literal["16:9", "9:16", "1:1", "4:5", "21:9"] | None = None
    zoom_out: float | None = None  # one of ZOOM_OUTS

    @model_validator(mode="after")
    def _consistent(self) -> EditSpec:
        if self.where and self.box is not None:
            raise ValueError("an edit's region is words (where) or a box, not both")
        resized = self.expand_to is not None or self.zoom_out is not None
        if self.zoom_out is not None and self.zoom_out not in ZOOM_OUTS:
            raise ValueError(f"zoom_out is {self.zoom_out:g}; one of {ZOOM_OUTS}")
        if self.kind == "expand":
            if (self.expand_to is None) == (self.zoom_out is None):
                raise ValueError("expand takes one of expand_to or zoom_out")
            if self.where or self.box is not None:
                raise ValueError("expand edits the borders: no where or box")
        elif resized:
            raise ValueError(f"expand_to and zoom_out are for expand, not {self.kind}")
        if self.kind == "swap" and not self.where and self.box is None:
            raise ValueError("swap needs what to replace (where or box)")
        return self

    def describe(self) -> str:
        """A short line for captions and the gallery's lineage ("edited from")."""
        if self.kind == "expand":
            return (
                f"expanded to {self.expand_to}"
                if self.expand_to
                else f"zoomed out {self.zoom_out:g}×"
            )
        region = self.where or (self.box.text() if self.box else "")
        return f"{self.kind} {region}".strip() if region else self.kind


def parse_where(text: str) -> Box | str:
    """A member's *where*: a named region or a box (a `Box`), or words naming a thing (str).
    ValueError saying what was given and what is allowed when it is none of these."""
    value = " ".join(text.split())
    if not value:
        raise ValueError(f"where is empty; use {WHERE_HELP}")
    named = NAMED_REGIONS.get(value.lower())
    if named is not None:
        return Box(x=named[0], y=named[1], w=named[2], h=named[3])
    if _NUMBERS.match(value):
        try:
            x, y, w, h = (float(part) for part in value.split(","))
            return Box(x=x, y=y, w=w, h=h)
        except ValueError:
            raise ValueError(
                f"where {value!r} is not a box inside the frame: x,y,w,h are percent "
                "(0-100), w and h above 0, x+w and y+h at most 100"
            ) from None
    if len(value) > MAX_WHERE_CHARS:
        raise ValueError(f"where is {len(value)} characters; at most {MAX_WHERE_CHARS}")
    if not any(ch.isalpha() for ch in value):
        raise ValueError(f"where {value!r} names nothing; use {WHERE_HELP}")
    return value


@dataclass(frozen=True)
class Canvas:
    """An expanded clip's size, and where the parent's frames sit in it (pixels)."""

    width: int
    height: int
    inner: tuple[int, int, int, int]  # left, top, width, height of the parent inside


def _ratio(shape: str) -> float:
    w, h = (int(part) for part in shape.split(":"))
    return w / h


def _snap(value: float, multiple: int) -> int:
    return max(multiple, round(value / multiple) * multiple)


def expand_canvas(
    width: int,
    height: int,
    *,
    expand_to: str | None = None,
    zoom_out: float | None = None,
    native_pixels: int,
    multiple: int,
) -> Canvas:
    """The canvas an expand renders at (about `native_pixels`, sides multiples of `multiple`)
    and the parent's place in it: centred, as large as fits for a new shape, 1/zoom of each
    side for a zoom out. ValueError when the new shape is the clip's own."""
    src = width / height
    if expand_to is not None:
        target = _ratio(expand_to)
        if abs(target - src) / src < 0.02:
            raise ValueError(
                f"the clip is already {expand_to}; pick another shape ({', '.join(EXPAND_SHAPES)}) "
                "or zoom out"
            )
    elif zoom_out is not None:
        target = src
    else:
        raise ValueError("expand takes a shape or a zoom out")
    canvas_h = (native_pixels / target) ** 0.5
    cw, ch = _snap(canvas_h * target, multiple), _snap(canvas_h, multiple)
    if zoom_out is not None:
        iw, ih = cw / zoom_out, ch / zoom_out
    elif target > src:  # wider canvas: the parent fills its height
        iw, ih = ch * src, ch
    else:  # taller canvas: the parent fills its width
        iw, ih = cw, cw / src
    inner_w, inner_h = min(cw, max(2, round(iw / 2) * 2)), min(ch, max(2, round(ih / 2) * 2))
    return Canvas(cw, ch, ((cw - inner_w) // 2, (ch - inner_h) // 2, inner_w, inner_h))
