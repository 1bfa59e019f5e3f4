"""`reelbot scan FILE` as a moderator runs it: per-frame scores and the decision as JSON, exit 0
allow, 1 hold or block, 2 unreadable, 3 no classifier."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from tests.harness.bombs import grows_midway, picture_named_mp4, with_empty_packets
from tests.harness.cli import reelbot
from worker.contact_sheet import GRID_KEY
from worker.scan import sample_indices


def scan(path: Path, tmp_path: Path, *args: str, **env: str):
    result = reelbot(
        "scan",
        str(path),
        "--json",
        *args,
        env={"REELBOT_DATA_DIR": str(tmp_path), "REELBOT_SCAN_CLASSIFIERS": "nudenet", **env},
    )
    report = json.loads(result.stdout) if result.stdout.strip() else None
    return result.returncode, report, result.stderr


def said(stderr: str) -> list[str]:
    """The command's own lines (the scan's set-up logs its warnings too); never a traceback."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("reelbot:")]


def test_a_generated_clip_is_allowed_with_its_eight_frames_scored(clips, tmp_path) -> None:
    code, report, stderr = scan(clips["ours"], tmp_path)
    assert code == 0, stderr
    assert report["decision"] == "allow" and report["reasons"] == []
    assert report["classifiers"] == ["nudenet"]
    assert [f["index"] for f in report["frames"]] == [0, 7, 13, 20, 27, 34, 40, 47]
    assert all(set(f["scores"]) == {"nudity", "suggestive"} for f in report["frames"])
    assert report["highest"]["nudity"] < 0.2


def test_over_a_threshold_exits_1_and_writes_the_contact_sheet(clips, tmp_path) -> None:
    sheet = tmp_path / "sheet.png"
    code, report, stderr = scan(
        clips["ours"], tmp_path, "--sheet", str(sheet), REELBOT_SCAN_BLOCK='{"nudity": 0}'
    )
    assert code == 1, stderr
    assert report["decision"] == "block" and report["reasons"][0].startswith("nudity")
    assert Image.open(io.BytesIO(sheet.read_bytes())).text[GRID_KEY] == "4x2"


def test_an_unreadable_file_or_no_classifier_says_so(clips, tmp_path) -> None:
    code, report, stderr = scan(clips["garbage"], tmp_path)
    assert (code, report) == (2, None) and "can't read garbage.mp4 as a video" in stderr
    code, _, stderr = scan(clips["ours"], tmp_path, REELBOT_SCAN_CLASSIFIERS="none")
    assert code == 3 and "no frame classifier is configured" in stderr
    code, _, stderr = scan(clips["ours"], tmp_path, REELBOT_SCAN_CLASSIFIERS="nsfw")
    assert code == 3 and "unknown frame classifier 'nsfw'" in stderr


def test_a_clip_with_more_packets_than_frames_is_scanned_by_its_frames(clips, tmp_path) -> None:
    """Five packets that decode to nothing: the frames sampled are picked from the 48 that
    decode (this was a KeyError for frame 52 of 53 packets)."""
    padded = with_empty_packets(clips["ours"], tmp_path / "padded.mp4")
    code, report, stderr = scan(padded, tmp_path)
    assert code == 0, stderr
    assert [f["index"] for f in report["frames"]] == sample_indices(48, 6)


def test_a_picture_or_an_upload_bomb_is_one_line_and_exit_2(tmp_path) -> None:
    """A PNG named .mp4 is not read as a video; a clip whose frames grow to 4352×4352 after
    a 96×64 header is refused by its decoded frames' size, in the bounded child."""
    picture = picture_named_mp4(tmp_path / "holiday.mp4")
    code, report, stderr = scan(picture, tmp_path)
    assert (code, report) == (2, None), stderr
    assert said(stderr) == [
        "reelbot: can't read holiday.mp4 as a video: your file is a PNG picture, not a video, "
        "whatever its name says"
    ]
    bomb = grows_midway(tmp_path / "bomb.mp4", (96, 64), (4352, 4352))
    code, report, stderr = scan(bomb, tmp_path)
    assert (code, report) == (2, None), stderr
    [line] = said(stderr)
    assert "bomb.mp4 as a video: your video's frames are 4352×4352 pixels" in line
