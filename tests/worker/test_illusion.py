"""Hidden-message clips: the mask a message or picture becomes; it reaches the ControlNet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from core.capabilities import FAMILIES
from core.spec import MAX_ILLUSION_CHARS, IllusionFont, RenderSpec
from worker.backends import load_backend
from worker.backends.animatediff import AnimateDiffBackend
from worker.illusion import (
    FILL,
    IllusionPipelines,
    controlnet_source,
    picture_mask,
    spec_mask,
    text_mask,
)


def lit(mask: Image.Image) -> np.ndarray:
    return np.asarray(mask) > 0


def test_a_message_fills_the_middle_of_the_frame() -> None:
    mask = text_mask("GM", 512, 288)
    pixels = lit(mask)
    assert mask.size == (512, 288) and set(np.unique(np.asarray(mask))) == {0, 255}
    ys, xs = np.nonzero(pixels)
    left, right, top, bottom = xs.min(), xs.max(), ys.min(), ys.max()
    assert abs((left + right) / 2 - 256) <= 8 and abs((top + bottom) / 2 - 144) <= 8  # centred
    assert left > 0 and top > 0 and right < 511 and bottom < 287  # all of it in the frame
    # scaled to fill: the limiting side spans most of FILL of the frame
    assert max((right - left) / 512, (bottom - top) / 288) > FILL * 0.75


def test_different_messages_make_different_masks() -> None:
    assert not np.array_equal(lit(text_mask("GM", 256, 256)), lit(text_mask("GN", 256, 256)))


@pytest.mark.parametrize("font", ["serif", "mono"])
def test_each_shipped_font_draws_its_own_letters_in_the_middle(font: IllusionFont) -> None:
    mask = lit(text_mask("GM", 256, 256, font))
    assert not np.array_equal(mask, lit(text_mask("GM", 256, 256)))
    ys, xs = np.nonzero(mask)
    assert abs((xs.min() + xs.max()) / 2 - 128) <= 6 and abs((ys.min() + ys.max()) / 2 - 128) <= 6


def test_a_long_message_is_refused_with_the_limit() -> None:
    text_mask("x" * MAX_ILLUSION_CHARS, 256, 256)
    with pytest.raises(ValueError, match=r"21 characters; at most 20 can be hidden"):
        text_mask("x" * (MAX_ILLUSION_CHARS + 1), 256, 256)
    with pytest.raises(ValueError, match="the message is empty"):
        text_mask("   ", 256, 256)


def make_spec(**changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "prompt": "a city at night",
        "aspect_ratio": "1:1",
        "width": 64,
        "height": 64,
        "num_frames": 24,  # 8 native frames at 8 fps
        "fps": 24,
        "steps": 2,
        "seed": 7,
        "backend": "animatediff",
    }
    return RenderSpec.model_validate(fields | changes)


def test_the_contract_keeps_older_jobs_and_refuses_half_illusions() -> None:
    plain = make_spec().model_dump()
    assert not {"illusion_text", "illusion_strength", "illusion_font"} & set(plain)
    assert "illusion_font" not in make_spec(mode="illusion", illusion_text="GM").model_dump()
    hidden = make_spec(mode="illusion", illusion_text="GM", illusion_strength=1.5)
    assert RenderSpec.model_validate_json(hidden.model_dump_json()) == hidden
    with pytest.raises(ValidationError, match="need mode 'illusion'"):
        make_spec(illusion_text="GM")
    with pytest.raises(ValidationError, match="either illusion_text or one input picture"):
        make_spec(mode="illusion")
    with pytest.raises(ValidationError, match="either illusion_text or one input picture"):
        make_spec(mode="illusion", illusion_text="GM", input_media=("a/b.png",))
    with pytest.raises(ValidationError, match="at most 20 characters"):
        make_spec(mode="illusion", illusion_text="x" * 21)


def test_a_picture_becomes_a_black_and_white_mask(tmp_path: Path) -> None:
    picture = Image.new("RGB", (200, 200), (240, 240, 240))
    picture.paste((20, 20, 20), (50, 50, 150, 150))  # a dark square logo on white
    path = tmp_path / "logo.png"
    picture.save(path)
    mask = np.asarray(picture_mask(path, 64, 64))
    assert set(np.unique(mask)) == {0, 255}
    assert (mask[20:44, 20:44] == 0).all() and mask[:12].all() and mask[-12:].all()


def test_the_illusion_mode_is_animatediffs() -> None:
    assert [name for name, caps in FAMILIES.items() if "illusion" in caps.modes] == ["animatediff"]


def test_the_controlnet_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert controlnet_source() == ("monster-labs/control_v1p_sd15_qrcode_monster", None)
    monkeypatch.setenv(
        "REELBOT_ILLUSION_CONTROLNET", "monster-labs/control_v1p_sd15_qrcode_monster::v2"
    )
    assert controlnet_source() == ("monster-labs/control_v1p_sd15_qrcode_monster", "v2")
    monkeypatch.setenv("REELBOT_ILLUSION_CONTROLNET", "/models/my-controlnet")
    assert controlnet_source() == ("/models/my-controlnet", None)


@pytest.fixture(scope="module")
def backend() -> AnimateDiffBackend:
    built = load_backend("animatediff", model="builtin:tiny", device="cpu")
    assert isinstance(built, AnimateDiffBackend)
    return built


def render_seeing_the_controlnet(
    backend: AnimateDiffBackend, spec: RenderSpec, inputs: tuple[Path, ...] = ()
) -> tuple[np.ndarray, list[Any]]:
    """The frames, and every conditioning image the ControlNet got."""
    seen: list[Any] = []
    controlnet = backend.illusion.for_(backend.pipe).controlnet

    def hook(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        seen.append(kwargs["controlnet_cond"].detach().clone())

    handle = controlnet.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        return backend.render(spec, lambda s, t: None, inputs=inputs).frames, seen
    finally:
        handle.remove()


def test_the_message_mask_reaches_the_controlnet_under_every_frame(
    backend: AnimateDiffBackend,
) -> None:
    spec = make_spec(mode="illusion", illusion_text="GM")
    frames, seen = render_seeing_the_controlnet(backend, spec)
    assert frames.shape == (8, 64, 64, 3)
    assert len(seen) == spec.steps  # once per step
    want = np.asarray(text_mask("GM", 64, 64), dtype=np.float32) / 255
    for cond in seen:  # (frames × guidance batch, 3, H, W) in [0, 1]
        assert cond.shape[0] % 8 == 0 and cond.shape[1:] == (3, 64, 64)
        for image in cond.numpy():
            for channel in image:
                np.testing.assert_allclose(channel, want, atol=1e-6)


def test_the_message_changes_the_clip_and_a_plain_clip_after_is_unaffected(
    backend: AnimateDiffBackend,
) -> None:
    plain_before = backend.render(make_spec(), lambda s, t: None).frames
    gm, _ = render_seeing_the_controlnet(backend, make_spec(mode="illusion", illusion_text="GM"))
    hi, _ = render_seeing_the_controlnet(backend, make_spec(mode="illusion", illusion_text="HI"))
    plain_after = backend.render(make_spec(), lambda s, t: None).frames
    assert not np.array_equal(gm, hi) and not np.array_equal(gm, plain_before)
    np.testing.assert_array_equal(plain_before, plain_after)


def test_a_picture_illusion_conditions_on_its_picture(
    backend: AnimateDiffBackend, tmp_path: Path
) -> None:
    picture = Image.new("RGB", (64, 64), (255, 255, 255))
    picture.paste((0, 0, 0), (16, 16, 48, 48))
    path = tmp_path / "logo.png"
    picture.save(path)
    spec = make_spec(mode="illusion", input_media=("gid/in.png",))
    _, seen = render_seeing_the_controlnet(backend, spec, (path,))
    want = np.asarray(spec_mask(spec, [path]), dtype=np.float32) / 255
    np.testing.assert_allclose(seen[0].numpy()[0, 0], want, atol=1e-6)
    with pytest.raises(ValueError, match="exactly one input image, got 0"):
        backend.render(spec, lambda s, t: None)


def test_a_controlnet_that_cannot_load_fails_the_clip_and_the_worker_goes_on(
    backend: AnimateDiffBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REELBOT_ILLUSION_CONTROLNET", str(tmp_path))  # no weights in it
    broken = IllusionPipelines(tiny=False)
    with pytest.raises(ValueError, match="hidden messages are off on this server"):
        broken.for_(backend.pipe)
    assert backend.render(make_spec(), lambda s, t: None).frames.shape == (8, 64, 64, 3)
