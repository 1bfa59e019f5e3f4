"""Uploads that are small on disk and huge once decoded, made in code with PyAV, as an outside
probe made them: the worker's decoding budget (`worker.media_budget`) is tested against these.

They are cheap to make: frames are flat grey, so x264 codes a keyframe in a few hundred bytes
and a frame that repeats it in a few dozen, and a long clip repeats one such packet.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def h264_packets(size: tuple[int, int], frames: int, level: int = 90) -> list[bytes]:
    """`frames` flat frames of `size` as H.264 packets, each keyframe carrying its own size
    (SPS) in band, as a stream spliced from two files does."""
    width, height = size
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, 24)
    codec.options = {"preset": "ultrafast", "tune": "zerolatency"}
    picture = np.full((height, width, 3), level, np.uint8)
    packets = []
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = i
        packets += [bytes(p) for p in codec.encode(frame)]
    packets += [bytes(p) for p in codec.encode(None)]
    return packets


def mux_h264(
    path: Path, packets: list[bytes], fps: int, declared: tuple[int, int], keyframes: set[int]
) -> Path:
    """`packets` in an MP4 at `fps`, its header (`stsd`, `tkhd`) saying `declared`."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("h264", rate=fps)
        stream.width, stream.height = declared
        stream.pix_fmt = "yuv420p"
        for i, data in enumerate(packets):
            packet = av.Packet(data)
            packet.stream, packet.time_base = stream, Fraction(1, fps)
            packet.pts = packet.dts = i
            packet.is_keyframe = i in keyframes
            container.mux(packet)
    return path


def repeated_frame(path: Path, size: tuple[int, int], fps: int, frames: int) -> Path:
    """`frames` frames of `size` at `fps`: one keyframe, then one frame that repeats it
    `frames - 1` times (e.g. 768×768 at 240 fps: 5 s in about 30 KB)."""
    first, second = h264_packets(size, 2)[:2]
    return mux_h264(path, [first] + [second] * (frames - 1), fps, size, {0})


def grows_midway(
    path: Path, first: tuple[int, int], then: tuple[int, int], fps: int = 24, seconds: float = 1.5
) -> Path:
    """A clip whose header says `first` (as its first frames are) until a keyframe a third of
    the way in switches to `then`: what the bot reads is `first`."""
    count = round(seconds * fps)
    head = h264_packets(first, count // 3)
    tail = h264_packets(then, 2)
    tail = tail[:1] + [tail[1]] * (count - len(head) - 1)
    return mux_h264(path, head + tail, fps, first, {0, len(head)})


def picture_named_mp4(path: Path) -> Path:
    """A PNG picture saved under a video's name."""
    Image.new("RGB", (320, 200), (200, 40, 40)).save(path, format="PNG")
    return path


def with_empty_packets(source: Path, path: Path, count: int = 5) -> Path:
    """`source` remuxed with `count` more packets that decode to no frame (an H.264
    end-of-sequence unit each): more packets than frames, as the probe's files had."""
    with av.open(str(source)) as given, av.open(str(path), "w") as made:
        old = given.streams.video[0]
        new = made.add_stream_from_template(old)
        last = None
        for packet in given.demux(old):
            if packet.dts is not None:
                packet.stream = new
                made.mux(packet)
                last = packet
        assert last is not None and last.pts is not None
        for i in range(count):
            empty = av.Packet(b"\x00\x00\x00\x01\x0a")  # one NAL unit: end of sequence
            empty.stream, empty.time_base = new, last.time_base
            empty.pts = empty.dts = last.pts + (i + 1) * (last.duration or 1)
            made.mux(empty)
    return path


def jumps_in_time(path: Path, gap_s: float = 1e9, frames: int = 5) -> Path:
    """A Matroska clip of 64×64 frames whose timestamps leap `gap_s` seconds between each two
    (a crafted variable frame rate): a few hundred bytes that span millennia."""
    packets = h264_packets((64, 64), frames)[:frames]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("h264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i, data in enumerate(packets):
            packet = av.Packet(data)
            packet.stream, packet.time_base = stream, Fraction(1, 1000)
            packet.pts = packet.dts = round(i * gap_s * 1000)
            packet.is_keyframe = i == 0
            container.mux(packet)
    return path


def sound_outlasts_picture(path: Path, frames: int = 48, sound_s: float = 10.0) -> Path:
    """`frames` frames at 24 fps, every one a keyframe, each frame's level counting it
    (10 + 5 per frame), with a sound track `sound_s` long: the container's length is the
    sound's, far past the picture's last keyframe (screen and call recorders make these)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.options = {"g": "1", "preset": "ultrafast"}
        sound = container.add_stream("aac", rate=48000)
        for i in range(frames):
            picture = np.full((64, 96, 3), 10 + 5 * i, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        samples = 1024
        for k in range(round(sound_s * 48000 / samples)):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, samples), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 48000, k * samples
            for packet in sound.encode(frame):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    return path
