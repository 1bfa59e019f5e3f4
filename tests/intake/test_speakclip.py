"""/speak clip:…'s checks before a job exists: a voice longer than the clip (both lengths said)
or than the family's speaking clips, flags and an over-long prompt are refused with what to do;
the child keeps the clip's shape, rate and words, is cut to the voice, and belongs to whoever
asked; a fleet whose workers make pictures speak but not clips refuses it up front."""

from __future__ import annotations

from typing import Any

import pytest

from core.capabilities import FAMILIES
from core.errors import FlagError, UserFacingError
from core.fairshare import queue_of
from core.spec import RenderSpec
from intake.fleet import FleetChoice
from intake.modes import serving_family
from intake.speakclip import clip_frames, speak_clip_note, speak_clip_spec
from jobs.liveness import Liveness

PARENT = "a" * 32
MEDIA = f"aa/{PARENT}.mp4"
VOICE = "bb/" + "b" * 32 + ".voice.wav"


class _Member:
    owner_id = "discord:2"
    display_name = "bob"
    guild_id: int | None = 1
    channel_id = 2
    upload_limit = None


def parent(**changes: Any) -> RenderSpec:
    fields: dict[str, Any] = dict(
        prompt="a news anchor at a desk",
        aspect_ratio="16:9",
        width=512,
        height=288,
        num_frames=48,
        fps=24,
        steps=4,
        seed=5,
        owner_id="discord:1",
    )
    return RenderSpec(**(fields | changes))


def make(**kwargs: Any) -> RenderSpec:
    args: dict[str, Any] = {"parent_media": MEDIA, "voice": VOICE, "voice_seconds": 1.2}
    return speak_clip_spec(parent(), PARENT, _Member(), FAMILIES["tiny"], **(args | kwargs))  # type: ignore[arg-type]


def test_a_voice_longer_than_the_clip_is_refused_with_both_lengths() -> None:
    with pytest.raises(UserFacingError, match=r"voice is 2\.5 s but the clip is 2\.0 s"):
        make(voice_seconds=2.5)
    long_clip = parent(num_frames=24 * 12)  # 12 s, longer than ltx2 speaks (10 s)
    with pytest.raises(UserFacingError, match=r"`ltx2`\) makes speaking clips of at most 10 s"):
        clip_frames(long_clip, FAMILIES["ltx2"], 11.0)


def test_the_clip_is_cut_to_the_voice_and_a_line_gets_all_of_it() -> None:
    spec = make()
    assert spec.num_frames == 29 and spec.fps == 24  # 1.2 s to the next frame
    assert (spec.mode, spec.parent_id, spec.input_media) == ("speak_clip", PARENT, (MEDIA, VOICE))
    assert spec.owner_id == "discord:2" and spec.seed != 5 and spec.backend == "tiny"
    assert spec.prompt == "a news anchor at a desk" and spec.aspect_ratio == "16:9"
    assert "first 1.2 s of 2.0 s" in speak_clip_note(parent(), spec, 1.2)
    typed = make(voice=None, line="Good evening.")
    assert typed.num_frames == 48 and typed.speak_text == "Good evening."
    assert typed.input_media == (MEDIA,)
    assert clip_frames(parent(num_frames=24 * 6), FAMILIES["tiny"], None) == 24 * 4  # tiny: 4 s


def test_words_replace_the_clips_and_flags_are_refused() -> None:
    assert make(prompt="  a smiling anchor ").prompt == "a smiling anchor"
    with pytest.raises(FlagError, match=r"takes words only.*-seed"):
        make(prompt="a smiling anchor -seed 4")
    with pytest.raises(FlagError, match="keep it to 300"):
        make(prompt="a" * 301)


def test_a_clip_made_in_dms_or_hidden_stays_hidden() -> None:
    dm = _Member()
    dm.guild_id = None
    spec = speak_clip_spec(parent(), PARENT, dm, FAMILIES["tiny"], parent_media=MEDIA, line="hi")  # type: ignore[arg-type]
    assert spec.hidden
    assert make(hide=True).hidden and not make().hidden


async def test_a_fleet_that_speaks_pictures_but_not_clips_refuses_it_up_front(redis: Any) -> None:
    """Workers of a family announcing "speak" alone (an older ltx2 worker, an operator's own
    family) are not sent a clip to speak: refused naming the family to start."""
    await Liveness(
        redis,
        "ltx2-0",
        interval_s=1,
        lease_s=15,
        queue=queue_of("fast", "ltx2"),
        family="ltx2",
        modes=("t2v", "i2v", "speak"),
    ).beat()
    fleet = FleetChoice(redis)
    with pytest.raises(UserFacingError, match=r"No worker here can make clips speak.*ltx2:1"):
        await serving_family(fleet, FAMILIES["ltx"], "speak_clip", "make clips speak")
    assert (await serving_family(fleet, FAMILIES["ltx"], "speak", "x")).name == "ltx2"


def test_a_reroll_speaks_the_same_voice_on_the_same_clip_and_loop_is_refused() -> None:
    from intake.followups import follow_up_spec

    spoken = make()
    child = follow_up_spec(spoken, "c" * 32, "reroll", _Member(), FAMILIES["tiny"], {})  # type: ignore[arg-type]
    assert (child.mode, child.input_media) == ("speak_clip", (MEDIA, VOICE))
    assert (child.num_frames, child.fps, child.width) == (29, 24, spoken.width)
    assert child.seed != spoken.seed
    with pytest.raises(UserFacingError, match="follows its voice"):
        follow_up_spec(spoken, "c" * 32, "loop", _Member(), FAMILIES["tiny"], {})  # type: ignore[arg-type]


def test_its_result_line_names_the_clip_and_the_gallery_offers_no_remix_line() -> None:
    from bot.messages import result_text
    from gallery.models import Generation
    from gallery.webkit import remix_command

    spec = make(voice=None, line="Good evening.")
    text = result_text(1, spec, "https://gallery.example/clips/x")
    assert f"`/speak clip:{PARENT} text:Good evening. prompt:a news anchor at a desk" in text
    row = Generation(
        id="c" * 32,
        owner_id="discord:2",
        prompt=spec.prompt,
        seed=spec.seed,
        width=spec.width,
        height=spec.height,
        num_frames=spec.num_frames,
        fps=spec.fps,
        spec=spec.model_dump(mode="json"),
    )
    assert remix_command(row) is None


def test_a_rerolls_result_line_names_the_clip_it_spoke_on() -> None:
    """A Reroll of a speaking clip is its child, but speaks on the same original: pasting the
    line must speak on that one, not re-render the speaking clip again."""
    from bot.messages import result_text

    reroll = make(voice=None, line="Good evening.").model_copy(update={"parent_id": "d" * 32})
    text = result_text(1, reroll, "https://gallery.example/clips/x")
    assert f"`/speak clip:{PARENT} text:Good evening." in text and "d" * 32 not in text
