"""/frames (keyframes) on the tiny LTX and LTX models: K pictures, K conditions at evenly spaced
frame indices, the transitions' prompt segments joined into the one prompt, and each picture
held in the delivered frames where the clip shows it (random weights never draw it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.capabilities import capabilities_for, families_with
from core.frames import frame_indices, joined, picture_kind, segments
from core.spec import RenderSpec
from tests.worker.test_keyframes import Conditions, as_condition, family_spec, tiny_spec
from worker.backends import load_backend
from worker.backends.common import check_spec
from worker.backends.frames import held_frames
from worker.backends.tiny import CAPABILITIES, TinyBackend
from worker.images import fit_image

GID = "0123456789abcdef0123456789abcdef"
COLOURS = [(230, 40, 40), (40, 200, 60), (40, 40, 230), (240, 240, 60), (20, 20, 20)]


def stored(k: int) -> str:
    return f"{GID[:2]}/{GID}.{picture_kind(k)}"


@pytest.fixture(scope="module")
def tiny() -> TinyBackend:
    built = load_backend("tiny", device="cpu")
    assert isinstance(built, TinyBackend)
    return built


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Five flat, very different pictures (with a stripe, so fitting shows)."""
    root = tmp_path_factory.mktemp("keyframes")
    paths = []
    for k, colour in enumerate(COLOURS):
        pixels = np.full((240, 320, 3), colour, np.uint8)
        pixels[:, 40 * k : 40 * k + 20] = 255
        Image.fromarray(pixels).save(root / f"{k}.png")
        paths.append(root / f"{k}.png")
    return paths


def frames_spec(count: int, prompt: str = "dawn | noon", **changes: object) -> RenderSpec:
    media = tuple(stored(k) for k in range(count))
    return tiny_spec(prompt=prompt, mode="frames", input_media=media, **changes)


def test_segments_one_per_transition_or_one_for_all() -> None:
    assert segments("dawn | noon | dusk", 4) == ["dawn", "noon", "dusk"]
    assert segments("a fox", 3) == ["a fox", "a fox"]
    assert joined(["dawn", "noon", "dusk"]) == "dawn, then noon, then dusk"
    assert joined(["a fox", "a fox"]) == "a fox"
    with pytest.raises(ValueError, match="has 2 segments for 4 pictures; give 3"):
        segments("dawn | noon", 4)
    with pytest.raises(ValueError, match="2 to 5 pictures, got 1"):
        segments("dawn", 1)
    with pytest.raises(ValueError, match="empty segment"):
        segments("dawn | | dusk", 4)
    assert frame_indices(3, 17) == [0, 8, 16] and frame_indices(5, 25) == [0, 6, 12, 18, 24]


def test_the_contract_checks_pictures_and_segments_and_old_specs_are_unchanged() -> None:
    spec = frames_spec(3, "dawn | noon")
    assert RenderSpec.model_validate_json(spec.model_dump_json()) == spec
    with pytest.raises(ValueError, match="has 3 segments for 2 pictures"):
        frames_spec(2, "a | b | c")
    with pytest.raises(ValueError, match="got 6"):
        tiny_spec(mode="frames", input_media=tuple(stored(0) for _ in range(6)))
    plain = tiny_spec()
    assert "frames" not in plain.model_dump()  # no new field: other clips read as before
    assert families_with("frames") == ["ltx", "tiny"]
    assert not capabilities_for("wan").frames and capabilities_for("tiny").frames


@pytest.mark.parametrize("count", [2, 3, 5])
def test_each_picture_is_a_condition_at_its_frame_and_held_where_the_clip_shows_it(
    tiny: TinyBackend, pictures: list[Path], monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    spy = Conditions(tiny.condition_pipe, monkeypatch)
    prompt = " | ".join(["dawn", "noon", "dusk", "night"][: count - 1])
    spec = frames_spec(count, prompt)
    seen: list[str] = []
    encode = tiny.condition_pipe.encode_prompt

    def prompts(prompt: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(prompt)
        return encode(prompt, *args, **kwargs)

    monkeypatch.setattr(tiny.condition_pipe, "encode_prompt", prompts)

    clip = tiny.render(spec, lambda s, t: None, inputs=pictures[:count])

    [call] = spy.calls
    size = (spec.width, spec.height)
    assert call["frames"] == frame_indices(count, 17)  # 17 native frames at 8 fps
    for k, condition in enumerate(call["pictures"]):
        assert (condition == as_condition(tiny.condition_pipe, pictures[k], *size)).all()
    assert seen == [", then ".join(prompt.split(" | "))]
    fitted = [np.asarray(fit_image(p, *size)) for p in pictures[:count]]
    for k, (first, last) in enumerate(held_frames(count, len(clip.frames), 8, spec)):
        for index in (first, last):
            assert np.array_equal(clip.frames[index], fitted[k])


def test_ltx_conditions_every_picture(
    pictures: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ltx: Any = load_backend("ltx", model="builtin:tiny", device="cpu")
    spy = Conditions(ltx.condition_pipe, monkeypatch)
    media = tuple(stored(k) for k in range(3))
    spec = family_spec("ltx", width=256, height=128, mode="frames", input_media=media)

    ltx.render(spec, lambda s, t: None, inputs=pictures[:3])

    [call] = spy.calls
    assert call["frames"] == [0, 12, 24]  # 25 native frames at 24 fps
    end = as_condition(ltx.condition_pipe, pictures[2], 256, 128)
    assert (call["pictures"][2] == end).all()


@pytest.mark.parametrize("family", ["wan", "svd", "animatediff", "ltx2"])
def test_a_family_without_keyframes_refuses_them(family: str) -> None:
    caps = capabilities_for(family)
    assert not caps.frames
    spec = tiny_spec(mode="frames", input_media=(stored(0), stored(1)))
    with pytest.raises(ValueError, match="mode='frames' is not supported"):
        check_spec(caps, spec, [Path("a.png"), Path("b.png")])


def test_tiny_needs_every_picture(tiny: TinyBackend, pictures: list[Path]) -> None:
    with pytest.raises(ValueError, match="takes 3 input images"):
        tiny.render(frames_spec(3), lambda s, t: None, inputs=pictures[:2])
    assert CAPABILITIES.frames


def test_the_front_ends_refuse_a_wrong_count_before_anything_is_fetched() -> None:
    from core.errors import UserFacingError
    from core.flags import ParsedPrompt
    from intake.keyframes import check_request, require_frames

    with pytest.raises(UserFacingError, match="2 to 5 pictures; you gave 1"):
        check_request(ParsedPrompt(prompt="dawn"), 1)
    with pytest.raises(UserFacingError, match="2 to 5 pictures; you gave 6"):
        check_request(ParsedPrompt(prompt="dawn"), 6)
    with pytest.raises(
        UserFacingError, match=re.escape("2 parts split by `|` for 4 pictures. Give 3")
    ):
        check_request(ParsedPrompt(prompt="dawn | dusk"), 4)
    assert check_request(ParsedPrompt(prompt="dawn | dusk"), 3) == ["dawn", "dusk"]
    with pytest.raises(UserFacingError, match="Keyframes work with these models: ltx, tiny"):
        require_frames(capabilities_for("svd"))
