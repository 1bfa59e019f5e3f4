"""Files members upload: small real videos made in memory."""

from __future__ import annotations

import io

import av
import numpy as np


def mp4(seconds: float, size: tuple[int, int] = (96, 64), fps: int = 24, fmt: str = "mp4") -> bytes:
    """A small real video: a bright square sliding across a blue field."""
    width, height = size
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream("libx264" if fmt == "mp4" else "libvpx-vp9", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(round(seconds * fps)):
            frame = np.zeros((height, width, 3), np.uint8)
            frame[...] = (30, 90, 200)
            x = i * (width - 16) // max(1, round(seconds * fps) - 1)
            frame[height // 3 : height // 3 + 16, x : x + 16] = (250, 220, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()
