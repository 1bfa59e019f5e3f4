"""The virtual camera moves the way its name says, measured in the frames it outputs.

A textured scene (smoothed noise, so every patch has features) goes through `apply_camera`;
the motion between consecutive output frames is measured by phase correlation, globally for pans
and on four off-centre patches for zoom (radial flow: outward is zoom in) and roll (tangential
flow). Convention under test: the camera moves, the scene moves the other way on screen.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.spec import Camera
from tests.harness.video import shift
from worker.camera import OVERSCAN, apply_camera, moves, render_size, window_path

WIDTH, HEIGHT, FRAMES = 160, 96, 9


def scene(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A grey textured picture: noise blurred by a few pixels (box filter via FFT)."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height, width))
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]
    blurred = np.fft.ifft2(np.fft.fft2(noise) * np.exp(-((fx**2 + fy**2) * 400))).real
    blurred = (blurred - blurred.min()) / (blurred.max() - blurred.min()) * 255
    return np.repeat(blurred[..., None], 3, axis=2).astype(np.uint8)


def flows(frames: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Per consecutive pair: global (dx, dy), and mean radial and clockwise-tangential flow."""
    grey = frames[..., 0].astype(np.float64)
    h, w = grey.shape[1:]
    p = 32  # patch side
    centres = [(w // 2 + ox, h // 2 + oy) for ox, oy in ((-44, 0), (44, 0), (0, -26), (0, 26))]
    out = []
    for a, b in itertools.pairwise(grey):
        dx, dy = shift(a, b)
        radial = tangential = 0.0
        for cx, cy in centres:
            pa = a[cy - p // 2 : cy + p // 2, cx - p // 2 : cx + p // 2]
            pb = b[cy - p // 2 : cy + p // 2, cx - p // 2 : cx + p // 2]
            sx, sy = shift(pa, pb)
            rx, ry = cx - w / 2, cy - h / 2
            norm = np.hypot(rx, ry)
            radial += (sx * rx + sy * ry) / norm / len(centres)
            # Clockwise as the viewer sees it (y points down): (x, y) turns towards (-y, x).
            tangential += (sx * -ry + sy * rx) / norm / len(centres)
        out.append((dx, dy, radial, tangential))
    return out


def shot(camera: Camera | None, travel: float = 1.0) -> np.ndarray:
    src_w, src_h = render_size(WIDTH, HEIGHT, 16, camera)
    still = scene(src_w, src_h)
    frames = np.repeat(still[None], FRAMES, axis=0)
    return apply_camera(frames, camera, WIDTH, HEIGHT, travel=travel)


# The direction the *scene* moves on screen: the camera's move, reversed.
PANS = {
    "pan left": (1, 0),
    "pan right": (-1, 0),
    "pan up": (0, 1),
    "pan down": (0, -1),
    "pan up left": (1, 1),
    "pan up right": (-1, 1),
    "pan down left": (1, -1),
    "pan down right": (-1, -1),
}


@pytest.mark.parametrize("camera", list(PANS))
def test_a_pan_moves_the_scene_the_other_way(camera: Camera) -> None:
    frames = shot(camera)
    assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3) and frames.dtype == np.uint8
    want_x, want_y = PANS[camera]
    for dx, dy, _, _ in flows(frames):
        for got, want in ((dx, want_x), (dy, want_y)):
            if want:
                assert got * want > 0.8, (camera, dx, dy)  # at least ~1 px a frame that way
            else:
                assert abs(got) < 0.3, (camera, dx, dy)


@pytest.mark.parametrize(("camera", "sign"), [("zoom in", 1), ("zoom out", -1)])
def test_zoom_in_spreads_the_scene_outward_and_zoom_out_draws_it_in(
    camera: Camera, sign: int
) -> None:
    for dx, dy, radial, tangential in flows(shot(camera)):
        assert radial * sign > 1.0, (camera, radial)  # measured: about 1.7-2 px a frame
        # (a global shift is ill-defined for a scaled picture: only "no pan" is checked)
        assert abs(dx) < 1 and abs(dy) < 1 and abs(tangential) < 0.3


@pytest.mark.parametrize(
    ("camera", "sign"), [("rotate clockwise", -1), ("rotate counterclockwise", 1)]
)
def test_a_roll_turns_the_scene_the_other_way(camera: Camera, sign: int) -> None:
    """Camera rolls clockwise -> the scene turns counterclockwise on screen."""
    for dx, dy, radial, tangential in flows(shot(camera)):
        assert tangential * sign > 1.0, (camera, tangential)  # measured: about 1.4-1.5 px
        assert abs(radial) < 0.3 and abs(dx) < 1 and abs(dy) < 1


def test_travel_scales_the_move() -> None:
    far = np.mean([f[0] for f in flows(shot("pan left", travel=1.0))])
    near = np.mean([f[0] for f in flows(shot("pan left", travel=0.5))])
    assert near > 0 and far == pytest.approx(2 * near, rel=0.15)


@pytest.mark.parametrize("camera", [None, "static"])
def test_no_move_renders_at_the_target_and_passes_frames_through(camera: Camera | None) -> None:
    assert render_size(WIDTH, HEIGHT, 16, camera) == (WIDTH, HEIGHT)
    assert not moves(camera)
    frames = np.repeat(scene(WIDTH, HEIGHT)[None], 3, axis=0)
    assert apply_camera(frames, camera, WIDTH, HEIGHT) is frames


def test_render_size_overscans_on_the_grid() -> None:
    width, height = render_size(768, 512, 32, "pan left")
    assert (width, height) == (960, 640)
    assert width % 32 == 0 and height % 32 == 0
    assert render_size(100, 60, 16, "zoom in") == (128, 80)  # rounded up, never less than 1.25x
    assert 100 * OVERSCAN <= 128 and 60 * OVERSCAN <= 80


@pytest.mark.parametrize("camera", [*PANS, "zoom in", "zoom out", "rotate clockwise"])
@pytest.mark.parametrize("aspect", [(16, 9), (9, 16), (5, 2), (2, 5), (1, 1)])
def test_the_window_never_leaves_the_rendered_frame(
    camera: Camera, aspect: tuple[int, int]
) -> None:
    width, height = aspect[0] * 32, aspect[1] * 32
    src_w, src_h = render_size(width, height, 32, camera)
    for cx, cy, scale, angle in window_path(camera, 17, width, height, src_w, src_h):
        c, s = abs(np.cos(angle)), abs(np.sin(angle))
        half_w = (width * scale * c + height * scale * s) / 2
        half_h = (width * scale * s + height * scale * c) / 2
        assert cx - half_w >= -1e-6 and cx + half_w <= src_w + 1e-6
        assert cy - half_h >= -1e-6 and cy + half_h <= src_h + 1e-6


def test_an_unknown_move_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="camera='dolly zoom'"):
        render_size(64, 64, 8, "dolly zoom")
