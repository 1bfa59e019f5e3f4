"""Uploads built to make the worker's bounded reading cost the most, or leave something behind:
each one costs about what the model's input does, is read as the member meant it, and leaves
no process or file after it, whatever happens to the worker."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.harness.bombs import grows_midway, jumps_in_time, repeated_frame, sound_outlasts_picture
from tests.harness.waiting import eventually
from worker import media_sandbox
from worker.media_budget import DAMAGED, MediaBudget, UnreadableVideo
from worker.media_decode import ClipPlan
from worker.media_sandbox import read_clip, run

MiB = 1024 * 1024


@pytest.mark.parametrize("from_end", [False, True])
def test_a_leap_of_years_between_two_frames_costs_the_clip_not_the_leap(
    tmp_path: Path, from_end: bool
) -> None:
    """A 1.4 KB clip whose frames are 30 years apart: every output time in the gap was a
    list entry, until the child ran out of memory (a minute of a worker's time, then "took
    more than this server allows"). Now a gap yields at most the frames the clip keeps."""
    clip = jumps_in_time(tmp_path / "leap.mkv", gap_s=1e9)
    plan = ClipPlan(128, 96, 16, 33, from_end=from_end)
    frames = read_clip(clip, plan, MediaBudget(memory_bytes=512 * MiB, cpu_s=20))
    assert frames.shape == (33, 96, 128, 3)


@pytest.mark.parametrize("strip", [(8192, 16), (16384, 16), (16, 16384)])
def test_a_strip_shaped_frame_is_cropped_before_it_is_scaled(
    tmp_path: Path, strip: tuple[int, int]
) -> None:
    """A 4 KB clip whose header says 96×64 while its frames are a 8192×16 strip: scaled to
    cover an 832×480 clip first, each frame was 245,760×480 (350 MB, and 60 s of CPU for a
    second of video); a 16384×16 one was too large for swscale, refused as damaged. The
    strip's middle is cropped at its own size now, then scaled."""
    clip = grows_midway(tmp_path / "strip.mp4", (96, 64), strip, fps=24, seconds=1.0)
    plan = ClipPlan(832, 480, 16, 12)  # frames 8 to 23 are the strip: 6 of these 12
    result, arrays = run("clip", clip, dataclasses.asdict(plan), MediaBudget(), keeps=plan.nbytes)
    assert arrays["frames"].shape == (12, 480, 832, 3)
    assert result["peak_mb"] < 300  # twelve 832×480 frames and the decoder, not a 350 MB one


def test_a_video_whose_sound_outlasts_its_picture_gives_its_last_frames(tmp_path: Path) -> None:
    """`extend` reads a video's last frames after a seek near the container's end; that end
    is the sound's, here 8 s past the picture's last keyframe. The seek found 1 frame of 9
    ("needs at least 9 frames, got 1"); now the video is read from its start instead."""
    clip = sound_outlasts_picture(tmp_path / "call.mp4", frames=48, sound_s=10.0)
    frames = read_clip(clip, ClipPlan(96, 64, 24, 9, from_end=True))
    assert frames.shape == (9, 64, 96, 3)
    levels = [round((float(frame.mean()) - 10) / 5) for frame in frames]
    assert levels == list(range(39, 48))  # the last nine, in order


def test_a_decoder_failing_at_the_memory_limit_is_over_budget_not_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """At its address-space limit FFmpeg often says EAGAIN (a thread it could not start) or
    "invalid data" (a buffer it could not get), which `checked_frames` reads as a damaged
    file: the member was told their video was damaged, one run in three of the same file.
    The child's verdict is the limit when its peak is at the limit."""

    def fails(path: Path, budget: MediaBudget, **plan: object) -> None:
        raise UnreadableVideo(DAMAGED)

    budget = MediaBudget(memory_bytes=300 * MiB)
    request = {"task": "clip", "path": "x.mp4", "args": {}, "budget": dataclasses.asdict(budget)}
    request |= {"keeps": 0, "out": -1, "parent": os.getpid()}
    monkeypatch.setattr(media_sandbox, "limit", lambda budget, keeps: budget.memory_bytes)
    monkeypatch.setitem(media_sandbox.TASKS, "clip", fails)
    monkeypatch.setattr(media_sandbox, "_die_with", lambda parent: None)
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(request)))

    monkeypatch.setattr(media_sandbox, "_peak_address_space", lambda: 299 * MiB)
    media_sandbox.main()
    reply = json.loads(capsys.readouterr().out)
    assert reply["error"] == "OverBudget" and "(300 MB of memory)" in reply["reason"]

    monkeypatch.setattr(media_sandbox, "_peak_address_space", lambda: 120 * MiB)
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(request)))
    media_sandbox.main()
    reply = json.loads(capsys.readouterr().out)
    assert reply["error"] == "UnreadableVideo" and reply["reason"].startswith("your video couldn")


def test_the_childs_peak_is_its_own_not_the_workers(tmp_path: Path) -> None:
    """The child's peak was getrusage's ru_maxrss, which Linux carries over from the parent
    across fork and exec: read from a worker holding 600 MB (a model), a 96×64 clip "peaked"
    at 600 MB, and the tests' bounds on the peak held only in a small test process."""
    clip = repeated_frame(tmp_path / "small.mp4", (96, 64), fps=24, frames=24)
    held = np.ones(600 * MiB // 8)  # resident: every page written
    plan = ClipPlan(96, 64, 24, 24)
    result, _ = run("clip", clip, dataclasses.asdict(plan), MediaBudget(), keeps=plan.nbytes)
    assert held.sum() == len(held)
    assert result["peak_mb"] < 300  # PyAV, numpy and one small clip


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


async def test_a_worker_killed_mid_read_leaves_no_decoding_child_and_no_file(
    tmp_path: Path,
) -> None:
    """A worker killed (OOM, a deploy) while its child decodes: the child decoded on for up to
    its minute of CPU, and the arrays' temporary folder stayed in /tmp for good. The child
    dies with its worker now, and the arrays' file never had a name."""
    heavy = repeated_frame(tmp_path / "heavy.mp4", (4096, 4096), fps=240, frames=3600)
    temp = tmp_path / "tmp"
    temp.mkdir()
    read = (
        "import sys; from pathlib import Path; from worker.media_decode import ClipPlan; "
        "from worker.media_sandbox import read_clip; "
        "read_clip(Path(sys.argv[1]), ClipPlan(96, 64, 16, 20, from_end=True))"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", read, str(heavy)], env=os.environ | {"TMPDIR": str(temp)}
    )
    try:
        children = await eventually(lambda: _children(worker.pid), timeout=30)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        await eventually(lambda: not any(_running(pid) for pid in children), timeout=10)
    finally:
        worker.kill()
        worker.wait()
    assert list(temp.iterdir()) == []
