"""Clips that end on a picture (`-loop`, /animate's end image) on the tiny LTX, LTX and Wan models.

With random weights the VAE is no autoencoder, so a conditioned frame never looks like its
picture: the conditioning is checked where it lives (what the pipeline was given, the latents
handed to the decoder), and the delivered frames where the seam pins them (the last frame is
the first, or the end picture, exactly).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.capabilities import FAMILIES, capabilities_for
from core.spec import RenderJob, RenderSpec
from worker.backends import load_backend
from worker.backends.common import check_spec
from worker.backends.keyframes import FADE_S, close_on, last_read
from worker.backends.tiny import CAPABILITIES, TinyBackend
from worker.encode import resample_plan
from worker.images import fit_image
from worker.render import job_render

GID = "0123456789abcdef0123456789abcdef"
START, END = f"{GID[:2]}/{GID}.png", f"{GID[:2]}/{GID}.end.png"


@pytest.fixture(scope="module")
def tiny() -> TinyBackend:
    built = load_backend("tiny", device="cpu")
    assert isinstance(built, TinyBackend)
    return built


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two very different pictures: red|blue halves, and a green-to-yellow gradient."""
    root = tmp_path_factory.mktemp("pictures")
    halves = np.zeros((240, 320, 3), np.uint8)
    halves[:, :160], halves[:, 160:] = (230, 40, 40), (40, 40, 230)
    gradient = np.zeros((240, 320, 3), np.uint8)
    gradient[..., 0] = np.linspace(0, 255, 240, dtype=np.uint8)[:, None]
    gradient[..., 1] = 220
    Image.fromarray(halves).save(root / "start.png")
    Image.fromarray(gradient).save(root / "end.png")
    return {"start": root / "start.png", "end": root / "end.png"}


def tiny_spec(**changes: object) -> RenderSpec:
    width, height = CAPABILITIES.snap_size(4, 3)
    fields: dict[str, object] = {
        "prompt": "a paper boat on a rainy street",
        "aspect_ratio": "4:3",
        "width": width,
        "height": height,
        "num_frames": 48,
        "fps": 24,
        "steps": CAPABILITIES.default_steps,
        "seed": 5,
    }
    return RenderSpec(**(fields | changes))


def end_spec(make: Any = tiny_spec, **changes: object) -> RenderSpec:
    return make(mode="i2v", end_frame=True, input_media=(START, END), **changes)


class Conditions:
    """Records what an LTX condition pipeline's `prepare_latents` is given, then calls it."""

    def __init__(self, pipe: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict[str, Any]] = []
        prepare = pipe.prepare_latents

        def spy(conditions: Any, strength: Any, frame_index: Any, **kwargs: Any) -> Any:
            self.calls.append(
                {"pictures": list(conditions), "frames": list(frame_index or []), **kwargs}
            )
            return prepare(conditions, strength, frame_index, **kwargs)

        monkeypatch.setattr(pipe, "prepare_latents", spy)


def as_condition(pipe: Any, path: Path, width: int, height: int) -> Any:
    """The tensor LTX conditions on for a picture: fitted, then preprocessed as the pipeline."""
    fitted = fit_image(path, width, height)
    return pipe.video_processor.preprocess(fitted, height, width).unsqueeze(2)


# --- the seam, in pixels ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, source_fps, fps, num_frames",
    [(17, 8, 24, 48), (17, 8, 8, 16), (121, 24, 24, 120), (25, 24, 12, 12), (9, 8, 24, 24)],
)
def test_the_held_frames_are_exactly_those_the_encoders_last_frame_reads(
    source: int, source_fps: int, fps: int, num_frames: int
) -> None:
    before, after, _ = resample_plan(source, source_fps, fps, num_frames)[-1]
    hold = last_read(source, source_fps, fps, num_frames)
    assert hold == before and after >= hold

    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (source, 8, 8, 3), np.uint8)
    target = np.full((8, 8, 3), 128, np.uint8)
    out = close_on(frames, target, source_fps=source_fps, fps=fps, num_frames=num_frames)
    assert (out[hold:] == target).all()
    fade = min(max(1, round(FADE_S * source_fps)), hold)
    assert np.array_equal(out[: hold - fade], frames[: hold - fade])  # untouched before
    gaps = [np.abs(out[i].astype(int) - 128).mean() for i in range(hold - fade, hold)]
    assert gaps == sorted(gaps, reverse=True)  # ever nearer the picture


def test_an_end_picture_of_another_size_is_refused() -> None:
    frames = np.zeros((9, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="end picture"):
        close_on(frames, np.zeros((8, 4, 3), np.uint8), source_fps=8, fps=8, num_frames=8)


# --- the tiny model (LTX's pipelines) -----------------------------------------------------------


def test_a_text_to_video_loop_renders_its_first_frame_then_the_clip_between_it_and_itself(
    tiny: TinyBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Conditions(tiny.condition_pipe, monkeypatch)
    steps: list[tuple[int, int]] = []
    spec = tiny_spec(loop=True)

    frames = tiny.render(spec, lambda s, t: steps.append((s, t))).frames

    first, clip = spy.calls
    assert first["num_frames"] == 1 and first["pictures"] == []
    assert clip["num_frames"] == 17 and clip["frames"] == [0, 16]
    start, end = clip["pictures"]
    assert start.shape[2] == 1 and (start == end).all()  # the same picture at both ends
    assert np.array_equal(frames[0], frames[-1])
    # the first frame's steps report as the clip's step 0, then the clip's own steps
    assert steps == [(0, spec.steps)] * spec.steps + [(i, spec.steps) for i in range(1, 5)]


def test_a_loop_is_deterministic_and_unlike_the_same_clip_unlooped(tiny: TinyBackend) -> None:
    loop = tiny.render(tiny_spec(loop=True), lambda s, t: None).frames
    again = tiny.render(tiny_spec(loop=True), lambda s, t: None).frames
    plain = tiny.render(tiny_spec(), lambda s, t: None).frames
    assert np.array_equal(loop, again)
    assert not np.array_equal(plain[0], plain[-1])
    assert np.abs(plain[-1].astype(int) - plain[0].astype(int)).mean() > 20


def test_an_image_loop_conditions_both_ends_on_the_picture(
    tiny: TinyBackend, pictures: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Conditions(tiny.condition_pipe, monkeypatch)
    spec = tiny_spec(mode="i2v", loop=True, input_media=(START,))

    frames = tiny.render(spec, lambda s, t: None, inputs=[pictures["start"]]).frames

    [clip] = spy.calls  # no first-frame render: the picture is the start
    expected = as_condition(tiny.condition_pipe, pictures["start"], spec.width, spec.height)
    assert clip["frames"] == [0, 16]
    for given in clip["pictures"]:
        assert given.shape == expected.shape and (given == expected).all()
    assert np.array_equal(frames[0], frames[-1])


def test_an_end_picture_is_the_last_keyframe_and_the_last_frame(
    tiny: TinyBackend, pictures: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Conditions(tiny.condition_pipe, monkeypatch)
    spec = end_spec()

    frames = tiny.render(spec, lambda s, t: None, inputs=[pictures["start"], pictures["end"]])

    [clip] = spy.calls
    start, end = clip["pictures"]
    size = (spec.width, spec.height)
    assert (start == as_condition(tiny.condition_pipe, pictures["start"], *size)).all()
    assert (end == as_condition(tiny.condition_pipe, pictures["end"], *size)).all()
    assert clip["frames"] == [0, 16]
    fitted = np.asarray(fit_image(pictures["end"], *size))
    assert np.array_equal(frames.frames[-1], fitted)
    assert not np.array_equal(frames.frames[0], fitted)


def test_an_end_picture_needs_both_pictures(tiny: TinyBackend, pictures: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="exactly two input images"):
        tiny.render(end_spec(), lambda s, t: None, inputs=[pictures["start"]])


# --- the real families' backends, on their tiny builds ---------------------------------------


def family_spec(family: str, **changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "prompt": "a red fox running through snow",
        "aspect_ratio": "2:1",
        "width": 128,
        "height": 64,
        "num_frames": 24,
        "fps": 24,
        "steps": 2,
        "seed": 7,
        "backend": family,
    }
    return RenderSpec(**(fields | changes))


@pytest.fixture(scope="module")
def wan() -> Any:
    return load_backend("wan", model="builtin:tiny", device="cpu")


@pytest.fixture(scope="module")
def ltx() -> Any:
    return load_backend("ltx", model="builtin:tiny", device="cpu")


def test_ltx_keyframes_at_the_first_and_last_frame(
    ltx: Any, pictures: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Conditions(ltx.condition_pipe, monkeypatch)
    spec = family_spec("ltx", width=256, height=128)
    spec = spec.model_copy(update={"mode": "i2v", "end_frame": True, "input_media": (START, END)})

    frames = ltx.render(spec, lambda s, t: None, inputs=[pictures["start"], pictures["end"]])

    [clip] = spy.calls
    assert clip["frames"] == [0, 24]  # 25 native frames at 24 fps
    end = as_condition(ltx.condition_pipe, pictures["end"], 256, 128)
    assert (clip["pictures"][1] == end).all()
    assert np.array_equal(frames.frames[-1], np.asarray(fit_image(pictures["end"], 256, 128)))

    spy.calls.clear()
    looped = ltx.render(family_spec("ltx", width=256, height=128, loop=True), lambda s, t: None)
    assert [call["num_frames"] for call in spy.calls] == [1, 25]
    assert np.array_equal(looped.frames[0], looped.frames[-1])


def test_wan_pins_the_last_latent_frame_to_the_end_picture(
    wan: Any, pictures: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """TI2V keeps the start picture's latent as the first frame; the end picture's encoding
    (after a still start) is handed to the decoder as the last latent frame, untouched."""
    import torch
    from diffusers.pipelines.wan.pipeline_wan_i2v import retrieve_latents

    pipe = wan.image_pipe
    decoded: list[Any] = []
    decode = pipe.vae.decode
    monkeypatch.setattr(
        pipe.vae, "decode", lambda z, *a, **k: (decoded.append(z), decode(z, *a, **k))[1]
    )

    def end_latent(path: Path) -> Any:
        start = pipe.video_processor.preprocess(fit_image(pictures["start"], 128, 64), 64, 128)
        end = pipe.video_processor.preprocess(fit_image(path, 128, 64), 64, 128)
        video = torch.cat([start.unsqueeze(2), end.unsqueeze(2).expand(-1, -1, 4, -1, -1)], 2)
        with torch.no_grad():
            return retrieve_latents(pipe.vae.encode(video), sample_mode="argmax")[:, :, 1]

    spec = end_spec(lambda **c: family_spec("wan", **c))
    for end in ("end", "start"):
        decoded.clear()
        frames = wan.render(spec, lambda s, t: None, inputs=[pictures["start"], pictures[end]])
        torch.testing.assert_close(decoded[0][:, :, -1], end_latent(pictures[end]))
        fitted = np.asarray(fit_image(pictures[end], 128, 64))
        assert np.array_equal(frames.frames[-1], fitted)
    assert not torch.allclose(end_latent(pictures["end"]), end_latent(pictures["start"]))


def test_a_wan_loop_ends_on_the_picture_it_starts_from(
    wan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: list[dict[str, Any]] = []
    call = type(wan.image_pipe).__call__
    monkeypatch.setattr(
        type(wan.image_pipe), "__call__", lambda self, **k: (given.append(k), call(self, **k))[1]
    )

    frames = wan.render(family_spec("wan", loop=True), lambda s, t: None).frames

    [kwargs] = given
    assert kwargs["last_image"] is kwargs["image"]  # the first frame, rendered first
    assert np.array_equal(frames[0], frames[-1])


# --- families that can't ----------------------------------------------------------------------


@pytest.mark.parametrize("family", sorted(n for n, c in FAMILIES.items() if not c.loop))
def test_a_family_without_loops_refuses_them(family: str) -> None:
    caps = capabilities_for(family)
    mode = caps.modes[0]  # svd animates pictures only
    inputs = (START,) if mode == "i2v" else ()
    spec = family_spec(family, loop=True, mode=mode, input_media=inputs)
    with pytest.raises(ValueError, match=f"loop=True is not supported by the {family} backend"):
        check_spec(caps, spec, [Path(p) for p in inputs])


def test_the_worker_refuses_a_loop_a_backend_can_not_make() -> None:
    class Silent:
        capabilities = FAMILIES["svd"]

        def render(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("never rendered")

    job = RenderJob(generation_id=GID, spec=family_spec("svd", loop=True))
    with pytest.raises(ValueError, match="svd backend can't end a clip on a picture"):
        job_render(Silent(), job, lambda s, t: None)  # type: ignore[arg-type]
