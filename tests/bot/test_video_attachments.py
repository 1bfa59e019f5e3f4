"""Videos for /restyle are judged by their headers, and every refusal says what to fix.

The bot reads containers in pure Python (`intake.media.containers`); the videos here are made
by PyAV (the worker's decoder) so the headers are real ones, in every container a member may send.
"""

from __future__ import annotations

import io
import random
import struct
from dataclasses import dataclass

import numpy as np
import pytest

from core.errors import FlagError
from core.flags import ParsedPrompt
from intake.media.budget import MAX_ENTRIES, Budget
from intake.media.containers import (
    NO_DURATION,
    NOT_VIDEO,
    TOO_COMPLEX,
    ContainerError,
    VideoInfo,
    probe,
    sniff,
)
from intake.media.images import AttachmentTooLarge
from intake.media.videos import (
    MAX_VIDEO_BYTES,
    BrokenVideo,
    NotAVideo,
    VideoCodecUnsupported,
    VideoDimensionsOutOfRange,
    VideoTooComplex,
    VideoTooShort,
    check_video,
    clip_frames,
    download_video,
    length_note,
)
from tests.harness.crafted import CRAFTED

av = pytest.importorskip("av")


class _Pipe:
    """A write-only file: PyAV can't seek back, as when a browser or phone records live."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes) -> int:
        self.data += bytes(chunk)
        return len(chunk)


def video(
    fmt: str = "mp4",
    codec: str = "libx264",
    *,
    seconds: float = 1.5,
    size: tuple[int, int] = (96, 64),
    fps: int = 24,
    options: dict[str, str] | None = None,
    live: bool = False,
    pix_fmt: str = "yuv420p",
) -> bytes:
    out: io.BytesIO | _Pipe = _Pipe() if live else io.BytesIO()
    with av.open(out, "w", format=fmt, options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], pix_fmt
        for i in range(round(seconds * fps)):
            frame = np.full((size[1], size[0], 3), (i * 9) % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return bytes(out.data) if isinstance(out, _Pipe) else out.getvalue()


def turned(mp4: bytes) -> bytes:
    """The same MP4 with a phone's portrait display matrix (a quarter turn clockwise)."""
    data = bytearray(mp4)
    tkhd = data.find(b"tkhd") + 4
    struct.pack_into(
        ">iiiii", data, tkhd + (52 if data[tkhd] == 1 else 40), 0, 1 << 16, 0, -1 << 16, 0
    )
    return bytes(data)


MP4 = video()


@pytest.mark.parametrize(
    "data, expected",
    [
        (MP4, ("MP4", 96, 64, 1.5)),
        (video("mov"), ("MOV", 96, 64, 1.5)),
        (video("webm", "libvpx-vp9"), ("WebM", 96, 64, 1.5)),
        (video("matroska", seconds=2), ("MKV", 96, 64, 2.0)),
        (video(size=(64, 128), seconds=3, fps=30), ("MP4", 64, 128, 3.0)),
        # a browser's live recording: no Duration, clusters of unknown size
        (video("webm", "libvpx-vp9", options={"live": "1"}), ("WebM", 96, 64, 1.5)),
        # ... long enough for several clusters: the first and the last give the length
        (video("webm", "libvpx-vp9", seconds=12, options={"live": "1"}), ("WebM", 96, 64, 12.0)),
        # OBS-style fragmented MP4, written where it can't seek back
        (video(options={"movflags": "frag_keyframe+empty_moov"}, live=True), ("MP4", 96, 64, 1.5)),
        (turned(MP4), ("MP4", 64, 96, 1.5)),  # shown portrait, as a phone recorded it
    ],
)
def test_containers_are_read_from_their_headers(
    data: bytes, expected: tuple[str, int, int, float]
) -> None:
    info = probe(data)
    assert (info.container, info.width, info.height) == expected[:3]
    assert info.duration_s == pytest.approx(expected[3], abs=0.01)


@pytest.mark.parametrize(
    "head, kind",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "a PNG picture"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF"),
        (b"\xff\xd8\xff\xe0" + bytes(40), "a JPEG picture"),
        (b"GIF89a" + bytes(40), "a GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "a WebP picture"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "an AVI video"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(20), "a HEIC or AVIF picture"),
        (b"\x00\x00\x00\x18ftypM4A " + bytes(20), "an M4A audio file"),
        (b"PK\x03\x04" + bytes(40), "a ZIP archive (or an Office document)"),
        ("just words, ünïcode too\n".encode() * 30, "a text file"),
        (bytes(range(256)), "an unknown kind of file"),
        (b"", "an unknown kind of file"),
    ],
)
def test_other_files_are_named_for_what_they_are(head: bytes, kind: str) -> None:
    assert sniff(head) == kind
    with pytest.raises(ContainerError) as caught:
        probe(head)
    assert caught.value.reason == NOT_VIDEO


def test_any_bytes_give_a_video_or_a_container_error() -> None:
    """Probing is total: damaged, cut-off and scrambled files never raise anything else."""
    rng = random.Random(7)
    samples = [MP4, video("webm", "libvpx-vp9"), video("webm", "libvpx-vp9", options={"live": "1"})]
    for _ in range(300):
        data = bytearray(rng.choice(samples))
        if rng.random() < 0.5:
            del data[rng.randrange(8, len(data)) :]
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            info = probe(bytes(data))
        except ContainerError:
            continue
        assert isinstance(info, VideoInfo)


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_a_file_built_to_take_long_to_read_is_refused_as_too_complex(name: str) -> None:
    """Millions of tiny entries behind valid headers once cost up to 12 s of CPU each; now
    reading stops at the budget's bound and the member is told what to do."""
    data = CRAFTED[name]()
    budget = Budget()
    with pytest.raises(ContainerError) as caught:
        probe(data, budget)
    assert caught.value.reason == TOO_COMPLEX
    assert budget.left <= 0  # stopped at the bound, not at the end of the file
    with pytest.raises(VideoTooComplex) as refused:
        check_video(data, name)
    for words in (f"`{name}` is too complex for me to check", "regular MP4", "25 MB"):
        assert words in str(refused.value)


def test_reading_stops_at_the_deadline_too() -> None:
    """The entries bound the work; the deadline is the backstop on a slow or busy host."""
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0  # a second per look: past the deadline at the first look
        return now[0]

    with pytest.raises(ContainerError, match="took too long"):
        probe(CRAFTED["webm-voids.webm"](size=200_000), Budget(entries=10**9, clock=clock))


@pytest.mark.parametrize(
    "data",
    [
        video("webm", "libvpx-vp9", seconds=12, options={"live": "1"}),
        video(options={"movflags": "frag_keyframe+empty_moov"}, live=True, seconds=12),
    ],
)
def test_real_recordings_cost_a_small_part_of_the_budget(data: bytes) -> None:
    budget = Budget()
    probe(data, budget)
    assert MAX_ENTRIES - budget.left < MAX_ENTRIES // 100


@pytest.mark.parametrize(
    "data, error, words",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(100), NotAVideo, ["clip.mp4", "a PNG picture", "/animate"]),
        (b"%PDF-1.4\n" + bytes(100), NotAVideo, ["a PDF", "MP4, MOV, WebM or MKV", "25 MB"]),
        (MP4[: len(MP4) // 2], BrokenVideo, ["damaged or incomplete"]),
        (video(seconds=0.5), VideoTooShort, ["0.5 s", "at least 1 s"]),
        (video(size=(48, 48)), VideoDimensionsOutOfRange, ["48×48", "at least 64×64"]),
        (bytes(MAX_VIDEO_BYTES + 1), AttachmentTooLarge, ["25.0 MB"]),
    ],
)
def test_each_problem_gets_its_own_friendly_error(
    data: bytes, error: type[Exception], words: list[str]
) -> None:
    with pytest.raises(error) as caught:
        check_video(data, "clip.mp4")
    for word in words:
        assert word in str(caught.value)


def test_an_audio_only_file_is_refused_as_such() -> None:
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        sound = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        sound.sample_rate = 8000
        for packet in [*stream.encode(sound), *stream.encode(None)]:
            container.mux(packet)
    with pytest.raises(NotAVideo, match="sound but no picture"):
        check_video(out.getvalue(), "memo.mp4")


def test_a_fragmented_mp4_that_says_no_durations_is_refused_plainly() -> None:
    data = bytearray(video(options={"movflags": "frag_keyframe+empty_moov"}, live=True))
    at = 0
    while (at := data.find(b"tfhd", at + 1)) > 0:  # no default sample duration any more
        data[at + 7] &= ~0x08
    with pytest.raises(ContainerError) as caught:
        probe(bytes(data))
    assert caught.value.reason == NO_DURATION
    with pytest.raises(BrokenVideo, match="can't tell how long"):
        check_video(bytes(data), "obs.mp4")


def test_a_good_video_is_kept_as_sent_under_its_own_kind() -> None:
    checked = check_video(MP4, "holiday.mp4")
    assert checked.data == MP4 and checked.kind == "input.mp4"
    assert check_video(video("webm", "libvpx-vp9"), "x.mp4").kind == "input.webm"


@dataclass
class FakeAttachment:
    filename: str
    size: int
    data: bytes = b""
    reads: int = 0

    async def read(self) -> bytes:
        self.reads += 1
        return self.data


async def test_a_too_large_video_is_refused_before_downloading() -> None:
    attachment = FakeAttachment("film.mov", 40 * 1024 * 1024)
    with pytest.raises(AttachmentTooLarge, match=r"40\.0 MB.*videos for /restyle.*25\.0 MB"):
        await download_video(attachment)
    assert attachment.reads == 0
    assert await download_video(FakeAttachment("a.mp4", len(MP4), MP4)) == MP4


@pytest.mark.parametrize(
    "video_s, asked, frames, note",
    [
        (3.0, None, 72, ""),
        (8.0, None, 120, "Your video is 8.0 s long; this model restyles at most 5 s"),
        (4.0, 2.0, 48, "Restyling the first 2 s of your 4.0 s video, as asked."),
        (2.0, 4.0, 48, "Your video is 2.0 s long, so the clip is too (not 4 s)."),
        (5.0, None, 120, ""),
    ],
)
def test_the_clip_is_as_long_as_the_video_within_the_models_limit(
    video_s: float, asked: float | None, frames: int, note: str
) -> None:
    made = clip_frames(video_s, 24, asked=asked, max_s=5.0)
    assert made == frames
    said = length_note(video_s, made / 24, asked=asked, max_s=5.0)
    assert said.startswith(note) and bool(said) == bool(note)


@pytest.mark.parametrize("flags", ["-camera zoom in", "-motion 3"])
def test_camera_and_motion_flags_are_refused_for_a_restyle(flags: str) -> None:
    from core.flags import parse_flags
    from intake.modes import refuse_movement

    with pytest.raises(FlagError, match="keeps your video's own camera and motion"):
        refuse_movement(parse_flags(f"a watercolor painting {flags}"))
    refuse_movement(ParsedPrompt(prompt="a watercolor painting"))


@pytest.mark.parametrize(
    ("codec", "fmt", "pix_fmt", "shown"),
    [("mjpeg", "mov", "yuvj420p", "Motion JPEG"), ("mjpeg", "matroska", "yuvj420p", "Motion JPEG")],
)
def test_a_codec_the_worker_cannot_read_is_refused_before_it_is_queued(
    codec: str, fmt: str, pix_fmt: str, shown: str
) -> None:
    """A MOV of Motion JPEG (as some cameras and editors export) passes every header check,
    but the worker decodes only H.264, HEVC, VP8, VP9, AV1 and MPEG-4: the member hears it
    now, with what to export instead, not after waiting in the queue."""
    with pytest.raises(VideoCodecUnsupported) as refused:
        check_video(video(fmt, codec, seconds=2.0, pix_fmt=pix_fmt), "camera.mov")
    assert f"`camera.mov` is encoded as {shown}, which I can't read" in str(refused.value)
    assert "H.264" in str(refused.value)
    check_video(video("mp4", seconds=2.0), "phone.mp4")  # what the worker reads still passes
