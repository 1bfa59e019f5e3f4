"""Image-to-video on the tiny backend: the real `LTXImageToVideoPipeline`, same modules as t2v.

With random weights the VAE is no autoencoder, so a decoded frame never looks like the picture
(its pixels are the same coloured noise whatever the input). The conditioning is checked where
it lives instead: LTX keeps the picture's VAE encoding as the first latent frame, untouched by
denoising, so the latents handed to the decoder must start with that picture's encoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.spec import RenderSpec
from gallery.media import LocalMediaStore
from worker.backends import load_backend
from worker.backends.tiny import CAPABILITIES, TinyBackend
from worker.images import fit_image
from worker.render import MissingInput, input_paths

GID = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def backend() -> TinyBackend:
    built = load_backend("tiny", device="cpu")
    assert isinstance(built, TinyBackend)
    return built


def picture(path: Path, kind: str, size: tuple[int, int] = (320, 240)) -> Path:
    """Two very different pictures: red|blue halves, or a green-to-yellow gradient."""
    width, height = size
    pixels = np.zeros((height, width, 3), np.uint8)
    if kind == "halves":
        pixels[:, : width // 2] = (230, 40, 40)
        pixels[:, width // 2 :] = (40, 40, 230)
    else:
        pixels[..., 0] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
        pixels[..., 1] = 220
    Image.fromarray(pixels).save(path)
    return path


def i2v_spec(aspect: tuple[int, int] = (4, 3), **changes: object) -> RenderSpec:
    width, height = CAPABILITIES.snap_size(*aspect)
    fields: dict[str, object] = {
        "prompt": "animate this image",
        "aspect_ratio": f"{aspect[0]}:{aspect[1]}",
        "width": width,
        "height": height,
        "num_frames": int(CAPABILITIES.default_seconds * 24),
        "fps": 24,
        "steps": CAPABILITIES.default_steps,
        "seed": 99,
        "mode": "i2v",
        "input_media": (f"{GID[:2]}/{GID}.png",),
    }
    return RenderSpec(**(fields | changes))


def render(backend: TinyBackend, spec: RenderSpec, image: Path) -> np.ndarray:
    return backend.render(spec, lambda step, total: None, inputs=[image]).frames


def test_i2v_is_offered_and_shares_every_module_with_t2v(backend: TinyBackend) -> None:
    assert "i2v" in CAPABILITIES.modes
    for name in ("vae", "transformer", "text_encoder", "tokenizer", "scheduler"):
        assert getattr(backend.image_pipe, name) is getattr(backend.pipe, name)


@pytest.mark.parametrize("aspect", [(4, 3), (9, 16), (1, 1)])
def test_renders_native_frames_at_the_spec_size(
    backend: TinyBackend, tmp_path: Path, aspect: tuple[int, int]
) -> None:
    spec = i2v_spec(aspect)
    steps: list[tuple[int, int]] = []
    clip = backend.render(
        spec, lambda s, t: steps.append((s, t)), inputs=[picture(tmp_path / "a.png", "halves")]
    )
    assert clip.frames.shape == (17, spec.height, spec.width, 3)
    assert clip.frames.dtype == np.uint8
    assert steps[-1] == (spec.steps, spec.steps)


def test_same_seed_and_picture_give_identical_frames(backend: TinyBackend, tmp_path: Path) -> None:
    image = picture(tmp_path / "a.png", "halves")
    assert np.array_equal(render(backend, i2v_spec(), image), render(backend, i2v_spec(), image))


def test_the_picture_and_the_seed_change_the_clip(backend: TinyBackend, tmp_path: Path) -> None:
    halves = picture(tmp_path / "a.png", "halves")
    gradient = picture(tmp_path / "b.png", "gradient")
    first = render(backend, i2v_spec(), halves)
    assert not np.array_equal(first, render(backend, i2v_spec(), gradient))
    assert not np.array_equal(first, render(backend, i2v_spec(seed=100), halves))


def test_the_first_latent_frame_is_the_pictures_encoding(
    backend: TinyBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exactly the picture's VAE encoding (drawn with the clip's seed), and not the other's."""
    import torch

    spec = i2v_spec()
    pictures = {k: picture(tmp_path / f"{k}.png", k) for k in ("halves", "gradient")}
    pipe = backend.image_pipe
    decoded: list[Any] = []
    decode = pipe.vae.decode

    def spy(latents: Any, *args: Any, **kwargs: Any) -> Any:
        decoded.append(latents)
        return decode(latents, *args, **kwargs)

    monkeypatch.setattr(pipe.vae, "decode", spy)

    def encoding(path: Path) -> Any:
        fitted = fit_image(path, spec.width, spec.height)
        pixels = pipe.video_processor.preprocess(fitted, height=spec.height, width=spec.width)
        with torch.no_grad():
            posterior = pipe.vae.encode(pixels.unsqueeze(2)).latent_dist
        return posterior.sample(torch.Generator("cpu").manual_seed(spec.seed))[:, :, 0]

    expected = {kind: encoding(path) for kind, path in pictures.items()}
    assert not torch.allclose(expected["halves"], expected["gradient"], atol=0.05)
    for kind, path in pictures.items():
        decoded.clear()
        render(backend, spec, path)
        first = decoded[0][:, :, 0]
        other = expected["gradient" if kind == "halves" else "halves"]
        torch.testing.assert_close(first, expected[kind])
        assert (first - expected[kind]).abs().mean() < 0.01 * (first - other).abs().mean()


def test_fit_image_center_crops_to_the_aspect_then_resizes(tmp_path: Path) -> None:
    """A wide picture framed square keeps its middle: the blue edges are cut, nothing stretched."""
    pixels = np.zeros((100, 300, 3), np.uint8)
    pixels[:] = (0, 0, 255)
    pixels[:, 100:200] = (255, 0, 0)
    Image.fromarray(pixels).save(tmp_path / "wide.png")

    fitted = np.asarray(fit_image(tmp_path / "wide.png", 64, 64))

    assert fitted.shape == (64, 64, 3)
    assert fitted[..., 0].min() > 240 and fitted[..., 2].max() < 15


def test_fit_image_reads_the_first_frame_of_an_animation_as_rgb(tmp_path: Path) -> None:
    frames = [Image.new("P", (80, 60), color) for color in (1, 2)]
    frames[0].putpalette([0, 0, 0, 10, 200, 30, 250, 0, 0] + [0] * 759)
    frames[1].putpalette(frames[0].getpalette() or [])
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])

    fitted = fit_image(tmp_path / "anim.gif", 32, 32)

    assert fitted.mode == "RGB" and fitted.size == (32, 32)
    assert fitted.getpixel((16, 16)) == (10, 200, 30)


@pytest.mark.parametrize(
    "spec, inputs, message",
    [
        (i2v_spec(), [], "exactly one input image"),
        (i2v_spec(mode="t2v", input_media=()), ["x.png"], "takes no input media"),
    ],
)
def test_inputs_must_match_the_mode(
    backend: TinyBackend, spec: RenderSpec, inputs: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        backend.render(spec, lambda s, t: None, inputs=[Path(p) for p in inputs])


def test_the_worker_resolves_inputs_only_inside_the_media_store(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path / "media")
    stored, _ = media.save_bytes(GID, b"png bytes", "png")
    (tmp_path / "secret.png").write_bytes(b"not yours")

    assert input_paths(media, [stored]) == (media.root / stored,)
    assert input_paths(media, []) == ()
    for bad in ("../secret.png", "/etc/passwd", f"{GID[:2]}/{'f' * 32}.png"):
        with pytest.raises(MissingInput):
            input_paths(media, [bad])
