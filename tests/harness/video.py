"""Reading and measuring clips in tests: decode, compare, find motion, copy as a stranger would."""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def decoded(source: Path | bytes) -> tuple[np.ndarray, float]:
    """An MP4 (a file, or bytes as posted) as (frames, height, width, 3) uint8 RGB, and its rate."""
    with av.open(str(source) if isinstance(source, Path) else io.BytesIO(source)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.average_rate)


def decoded_means(path: Path) -> list[float]:
    """Each decoded frame's mean level, in order."""
    with av.open(str(path)) as container:
        return [float(f.to_ndarray(format="rgb24").mean()) for f in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two pictures (or clips) in dB; inf when identical."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """How far the content moved from `a` to `b`, (dx, dy) in pixels, by phase correlation."""
    window = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa = np.fft.fft2((a - a.mean()) * window)
    fb = np.fft.fft2((b - b.mean()) * window)
    cross = fb * np.conj(fa)
    corr = np.fft.ifft2(cross / (np.abs(cross) + 1e-9)).real
    py, px = np.unravel_index(np.argmax(corr), corr.shape)

    def refine(c_m: float, c_0: float, c_p: float) -> float:  # parabola through the peak
        denom = c_m - 2 * c_0 + c_p
        return 0.0 if abs(denom) < 1e-12 else 0.5 * (c_m - c_p) / denom

    h, w = corr.shape
    dy = py + refine(corr[py - 1, px], corr[py, px], corr[(py + 1) % h, px])
    dx = px + refine(corr[py, px - 1], corr[py, px], corr[py, (px + 1) % w])
    return (dx - w if dx > w / 2 else dx), (dy - h if dy > h / 2 else dy)


def gray_frames(levels: list[int], height: int = 48, width: int = 64) -> np.ndarray:
    """One flat gray frame per level, so each decoded frame tells which source frame it shows."""
    return np.stack([np.full((height, width, 3), level, np.uint8) for level in levels])


def gradient_scene(num_frames: int = 17, height: int = 288, width: int = 512) -> np.ndarray:
    """Smooth content, where a watermark shows first: a sky gradient with a soft sun and a hard
    dark disc moving across it (uint8 RGB, 8 fps like the tiny model)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    sky = np.stack(
        [60 + 120 * yy / height, 110 + 90 * yy / height + 20 * xx / width, 220 - 30 * yy / height],
        -1,
    )
    frames = []
    for t in range(num_frames):
        sun = np.exp(-(((xx - 80 - 14 * t) ** 2 + (yy - 90) ** 2) / (2 * 30.0**2)))
        disc = ((xx - 420 + 9 * t) ** 2 + (yy - 200 - 2 * t) ** 2) < 40**2
        picture = sky + sun[..., None] * np.array([195, 120, 20]) * 0.8
        picture[disc] = (40, 45, 60)
        frames.append(picture)
    return np.clip(np.round(np.stack(frames)), 0, 255).astype(np.uint8)


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types, in file order."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
        elif size == 0:
            size = len(data) - offset
        boxes.append(kind.decode("ascii"))
        offset += size
    return boxes


def reencode(src: Path, dst: Path, bit_rate: int) -> None:
    """A stranger's lossy copy: new encoder, lower bit rate, no tags copied."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        size = inp.streams.video[0].codec_context
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = size.width, size.height, "yuv420p"
        stream.bit_rate = bit_rate
        stream.codec_context.time_base = Fraction(1, 24)
        for index, frame in enumerate(inp.decode(video=0)):
            frame.pts, frame.time_base = index, Fraction(1, 24)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
