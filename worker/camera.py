"""A model-agnostic virtual camera: render a little larger, then move a window over the frames.

For backends with no camera control of their own, `-camera` is applied after the render: the
backend renders `render_size(...)` (about `OVERSCAN` times the target on its grid), and
`apply_camera` cuts a moving, scaling or turning window out of each frame and resamples it to
the target size. Pure numpy/PIL on uint8 frames; no torch.

Convention (Pika's, and a film crew's): the camera names what the *camera* does.
- "pan left": the camera moves left, so the scene slides RIGHT across the frame; "pan right"
  the opposite; "pan up": the camera moves up, so the scene slides DOWN; "pan down" the opposite;
  "pan up left" etc. combine the two.
- "zoom in": the view narrows, so the scene grows outward from the centre; "zoom out" shrinks.
- "rotate clockwise": the camera rolls clockwise, so the scene turns COUNTERclockwise on screen
  (as seen by the viewer, y pointing down); "rotate counterclockwise" the opposite.

Each move runs at constant speed over the clip (linear in position, in log-scale for zoom, and in
angle), centred on the middle frame, so consecutive frames all move by about the same amount.
`travel` (0-1, from `worker.motion.camera_travel`) scales how much of the overscan margin it uses.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

OVERSCAN = 1.25
MAX_ROLL_DEG = 10.0

_PAN = {
    "pan left": (-1, 0),
    "pan right": (1, 0),
    "pan up": (0, -1),
    "pan down": (0, 1),
    "pan up left": (-1, -1),
    "pan up right": (1, -1),
    "pan down left": (-1, 1),
    "pan down right": (1, 1),
}
_ZOOM = {"zoom in": -1, "zoom out": 1}  # the sign of the window's growth
_ROLL = {"rotate clockwise": 1, "rotate counterclockwise": -1}
MOVES = frozenset(_PAN) | frozenset(_ZOOM) | frozenset(_ROLL)


def moves(camera: str | None) -> bool:
    """Whether `camera` asks for any movement (None and "static" don't)."""
    if camera is None or camera == "static":
        return False
    if camera not in MOVES:
        raise ValueError(f"camera={camera!r} is not a camera move this backend knows")
    return True


def render_size(width: int, height: int, multiple: int, camera: str | None) -> tuple[int, int]:
    """The size to render at so the window has room to move: the target itself when static."""
    if not moves(camera):
        return width, height

    def up(side: int) -> int:
        return math.ceil(side * OVERSCAN / multiple) * multiple

    return up(width), up(height)


def _roll_limit(window_w: float, window_h: float, src_w: int, src_h: int) -> float:
    """The largest roll (radians, at most MAX_ROLL_DEG) at which the turned window stays inside."""
    best = 0.0
    for tenth in range(int(MAX_ROLL_DEG * 10) + 1):
        a = math.radians(tenth / 10)
        c, s = math.cos(a), math.sin(a)
        if window_w * c + window_h * s <= src_w and window_w * s + window_h * c <= src_h:
            best = a
    return best


def window_path(
    camera: str | None,
    num_frames: int,
    width: int,
    height: int,
    src_w: int,
    src_h: int,
    travel: float = 1.0,
) -> list[tuple[float, float, float, float]]:
    """Per frame (centre x, centre y, scale, angle): the window in source pixels, radians.

    At scale 1 the window has the target's aspect and is OVERSCAN times smaller than the source
    (on its larger side of fit); the path is symmetric about the middle frame.
    """
    k = min(src_w / width, src_h / height) / OVERSCAN  # source pixels per target pixel
    win_w, win_h = width * k, height * k
    margin_x, margin_y = (src_w - win_w) / 2, (src_h - win_h) / 2
    travel = min(max(travel, 0.0), 1.0)
    path = []
    for i in range(num_frames):
        u = (i / (num_frames - 1) - 0.5) * 2 if num_frames > 1 else 0.0  # -1 .. 1
        cx, cy, scale, angle = src_w / 2, src_h / 2, 1.0, 0.0
        if camera in _PAN:
            dx, dy = _PAN[camera]
            cx += dx * u * margin_x * travel
            cy += dy * u * margin_y * travel
        elif camera in _ZOOM:
            # From OVERSCAN wide to 1/OVERSCAN (zoom in), or back: log-linear, so steady.
            scale = OVERSCAN ** (_ZOOM[camera] * u * travel)
        elif camera in _ROLL:
            angle = _ROLL[camera] * u * travel * _roll_limit(win_w, win_h, src_w, src_h)
        path.append((cx, cy, scale * k, angle))
    return path


def apply_camera(
    frames: np.ndarray, camera: str | None, width: int, height: int, *, travel: float = 1.0
) -> np.ndarray:
    """Frames (T, H', W', 3) uint8, rendered at `render_size`, to (T, height, width, 3)."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got shape {frames.shape}")
    src_h, src_w = frames.shape[1:3]
    if not moves(camera):
        if (src_w, src_h) == (width, height):
            return frames
        return np.stack(
            [
                np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.BICUBIC))
                for f in frames
            ]
        )
    out = np.empty((len(frames), height, width, 3), np.uint8)
    path = window_path(camera, len(frames), width, height, src_w, src_h, travel)
    for i, (frame, (cx, cy, scale, angle)) in enumerate(zip(frames, path, strict=True)):
        c, s = math.cos(angle), math.sin(angle)
        # Output pixel (x, y) -> source: centre + scale * R(angle) @ (x - w/2, y - h/2), where
        # R turns the window clockwise on screen for angle > 0 (y points down).
        a, b = scale * c, -scale * s
        d, e = scale * s, scale * c
        ox, oy = width / 2, height / 2
        coeffs = (a, b, cx - a * ox - b * oy, d, e, cy - d * ox - e * oy)
        image = Image.fromarray(frame).transform(
            (width, height), Image.Transform.AFFINE, coeffs, Image.Resampling.BICUBIC
        )
        out[i] = np.asarray(image)
    return out
