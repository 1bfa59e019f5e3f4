"""Edits' pure parts: a member's *where*, an edit's consistency, and an expand's canvas."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.edits import Box, EditSpec, expand_canvas, parse_where
from core.spec import RenderSpec

GID = "a" * 32


@pytest.mark.parametrize(
    ("text", "box"),
    [
        ("left", (0, 0, 50, 100)),
        ("  Right ", (50, 0, 50, 100)),
        ("top", (0, 0, 100, 50)),
        ("bottom", (0, 50, 100, 50)),
        ("center", (25, 25, 50, 50)),
        ("10,20,30,40", (10, 20, 30, 40)),
        (" 0, 0 ,100,100", (0, 0, 100, 100)),
    ],
)
def test_named_regions_and_boxes_read_as_boxes(text: str, box: tuple[float, ...]) -> None:
    where = parse_where(text)
    assert isinstance(where, Box)
    assert (where.x, where.y, where.w, where.h) == box


def test_words_name_a_thing() -> None:
    assert parse_where("the  red car") == "the red car"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "where is empty"),
        ("60,0,50,10", "not a box inside the frame"),
        ("10,10,0,10", "not a box inside the frame"),
        ("1,2,3", "names nothing"),
        ("x" * 101, "at most 100"),
    ],
)
def test_bad_where_says_what_is_allowed(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_where(text)


def test_box_pixels_cover_at_least_one_pixel() -> None:
    assert Box(x=50, y=0, w=50, h=100).pixels(64, 48) == (32, 0, 64, 48)
    assert Box(x=0, y=0, w=0.1, h=0.1).pixels(64, 48) == (0, 0, 1, 1)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"kind": "expand"}, "one of expand_to or zoom_out"),
        ({"kind": "expand", "expand_to": "9:16", "zoom_out": 2.0}, "one of expand_to"),
        ({"kind": "expand", "zoom_out": 2.0, "where": "sky"}, "no where or box"),
        ({"kind": "modify", "expand_to": "9:16"}, "are for expand"),
        ({"kind": "swap"}, "needs what to replace"),
        ({"kind": "modify", "where": "sky", "box": {"x": 0, "y": 0, "w": 1, "h": 1}}, "not both"),
    ],
)
def test_inconsistent_edits_are_refused(fields: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        EditSpec.model_validate(fields)


def _spec(**fields: object) -> RenderSpec:
    base: dict[str, object] = dict(
        prompt="make it snow",
        aspect_ratio="16:9",
        width=512,
        height=288,
        num_frames=17,
        steps=4,
        seed=1,
    )
    return RenderSpec.model_validate(base | fields)


def test_an_edit_spec_rides_the_job_contract_and_plain_specs_stay_as_they_were() -> None:
    spec = _spec(
        mode="edit",
        input_media=("parent.mp4",),
        parent_id=GID,
        edit={"kind": "modify", "where": "the sky"},
    )
    assert RenderSpec.model_validate_json(spec.model_dump_json()) == spec
    assert "edit" not in _spec().model_dump(mode="json")


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"mode": "edit", "input_media": ("p.mp4",)}, "go together"),
        ({"edit": {"kind": "modify"}}, "go together"),
        ({"mode": "edit", "input_media": ("p.mp4",), "edit": {"kind": "add"}}, "picture"),
        (
            {"mode": "edit", "input_media": ("p.mp4", "x.png"), "edit": {"kind": "modify"}},
            "picture",
        ),
    ],
)
def test_an_edit_needs_its_mode_and_its_inputs(fields: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        _spec(**fields)


def test_expand_to_a_taller_shape_keeps_the_parent_whole_in_the_middle() -> None:
    canvas = expand_canvas(512, 288, expand_to="9:16", native_pixels=512 * 288, multiple=32)
    assert canvas.height > canvas.width
    left, top, w, h = canvas.inner
    assert w == canvas.width and abs(w / h - 512 / 288) < 0.05
    assert top == (canvas.height - h) // 2 and left == 0


def test_zoom_out_keeps_the_shape_and_puts_the_parent_at_half_size() -> None:
    canvas = expand_canvas(512, 288, zoom_out=2.0, native_pixels=512 * 288, multiple=32)
    left, top, w, h = canvas.inner
    assert abs(canvas.width / canvas.height - 512 / 288) < 0.1
    assert (w, h) == (canvas.width // 2, canvas.height // 2)
    assert (left, top) == ((canvas.width - w) // 2, (canvas.height - h) // 2)


def test_expanding_to_the_same_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="already 16:9"):
        expand_canvas(512, 288, expand_to="16:9", native_pixels=512 * 288, multiple=32)
