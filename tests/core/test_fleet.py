"""Which family makes a request in a fleet of several (core.fleet.choose_family), table-driven."""

from __future__ import annotations

import pytest

from core.fleet import choose_family, parse_workers

CREATE = ("t2v", "i2v", "extend")
EDITS = ("edit", "v2v")


@pytest.mark.parametrize(
    "mode, offered, live, expected",
    [
        # nothing known (no worker ever seen): the main family, and the job waits, as before
        ("edit", {}, {}, "ltx"),
        ("t2v", {}, {}, "ltx"),
        # the main family makes what it offers, even with more workers elsewhere
        ("t2v", {"ltx": CREATE, "wan": CREATE}, {"ltx": 1, "wan": 5}, "ltx"),
        # ... even when it was only seen lately (restarting): it is still offered
        ("t2v", {"ltx": CREATE, "wan": CREATE}, {"wan": 2}, "ltx"),
        # a mode the main family lacks goes to a family that has it
        ("edit", {"ltx": CREATE, "wan_vace": EDITS}, {"ltx": 1, "wan_vace": 1}, "wan_vace"),
        # seen lately with no live worker now: still offered (its jobs wait for it)
        ("edit", {"ltx": CREATE, "wan_vace": EDITS}, {"ltx": 1}, "wan_vace"),
        # most live workers wins; ties by name
        ("v2v", {"ltx": CREATE, "b": EDITS, "a": EDITS}, {"a": 1, "b": 2}, "b"),
        ("v2v", {"ltx": CREATE, "b": EDITS, "a": EDITS}, {"a": 2, "b": 2}, "a"),
        ("v2v", {"ltx": CREATE, "b": EDITS, "a": EDITS}, {}, "a"),
        # nobody offers it: None (the front end refuses, saying how to start one)
        ("edit", {"ltx": CREATE}, {"ltx": 3}, None),
        ("edit", {"ltx": CREATE, "wan": CREATE}, {}, None),
        # the main family is unknown to the fleet, others are known: they decide
        ("t2v", {"wan": CREATE}, {"wan": 1}, "wan"),
        ("edit", {"wan": CREATE}, {"wan": 1}, None),
    ],
)
def test_choose_family(mode, offered, live, expected) -> None:
    assert choose_family(mode, main="ltx", offered=offered, live=live) == expected


def test_live_workers_are_optional() -> None:
    assert choose_family("edit", main="ltx", offered={"wan_vace": EDITS}) == "wan_vace"


@pytest.mark.parametrize(
    "value, expected",
    [
        (1, (("ltx", 1),)),  # today's REELBOT_WORKERS: a count of REELBOT_BACKEND's
        ("2", (("ltx", 2),)),
        (0, ()),
        ("ltx:1,wan_vace:1", (("ltx", 1), ("wan_vace", 1))),
        (" ltx : 2 , wan_vace:1 ", (("ltx", 2), ("wan_vace", 1))),
        ("ltx:1,ltx:2,wan:0", (("ltx", 3),)),
        ("my_pkg.backend:1", (("my_pkg.backend", 1),)),
    ],
)
def test_parse_workers(value, expected) -> None:
    assert parse_workers(value, "ltx") == expected


@pytest.mark.parametrize(
    "value, words",
    [
        ("ltx", "'ltx' is not family:count"),
        ("ltx:one", "'ltx:one' is not family:count"),
        ("LTX:1", "'LTX:1' is not family:count"),
        ("ltx:40,wan:40", "at most 64 workers in all"),
    ],
)
def test_a_bad_worker_plan_says_what_to_write(value, words) -> None:
    with pytest.raises(ValueError) as bad:
        parse_workers(value, "ltx")
    assert words in str(bad.value) and "(ltx:1,wan_vace:1)" in str(bad.value)


def test_the_main_family_takes_its_modes_before_its_first_worker_beats() -> None:
    """An editor that beat first must not make /create refused while the main worker loads;
    a main family whose workers announced fewer modes is taken at their word."""
    editor = {"wan_vace": ("t2v", "edit")}
    frames = ("t2v", "frames")
    assert choose_family("frames", main="tiny", offered=editor, main_modes=frames) == "tiny"
    assert choose_family("frames", main="tiny", offered=editor) is None
    announced = {**editor, "tiny": ("t2v",)}
    assert choose_family("frames", main="tiny", offered=announced, main_modes=frames) is None


@pytest.mark.parametrize(
    "update, joint_audio, needed",
    [
        ({}, False, ()),
        ({"sound": True}, False, ("sound",)),
        ({"sound": True}, True, ()),  # LTX-2's joint audio: no sound model
        ({"mode": "sound", "sound": True, "input_media": ("ab/x.mp4",)}, True, ("sound",)),
        ({"mode": "speak", "input_media": ("ab/x.png",), "speak_text": "hi"}, False, ("voice",)),
        ({"mode": "speak", "input_media": ("ab/x.png", "ab/x.voice.wav")}, False, ()),
    ],
)
def test_extras_needed(update, joint_audio, needed) -> None:
    from core.fleet import extras_needed
    from core.spec import RenderSpec

    base = dict(prompt="a", aspect_ratio="1:1", width=256, height=256, num_frames=8, steps=2)
    spec = RenderSpec(**base, seed=1, **update)
    assert extras_needed(spec, joint_audio=joint_audio) == needed


def test_a_family_lacks_an_extra_only_when_its_workers_said_so() -> None:
    from core.fleet import lacks

    assert lacks("sound", "tiny", {"tiny": ("voice",)})
    assert not lacks("sound", "tiny", {"tiny": ("sound",)})
    assert not lacks("sound", "tiny", {"ltx": ()})  # tiny said nothing: it makes it
