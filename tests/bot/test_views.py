"""Result buttons: their custom_ids (the only state a button has across restarts) and what each
button asks for. Pure: no Discord connection, no Redis, no database."""

from __future__ import annotations

import itertools
import uuid

import pytest

from bot.delivery.views import (
    ACTIONS,
    CUSTOM_ID_LIMIT,
    TEMPLATE,
    ClipButton,
    decode,
    encode,
    result_actions,
    result_view,
)
from bot.intake.requests import Asker
from core.capabilities import capabilities_for
from core.commandline import to_command_line
from core.errors import UserFacingError
from core.flags import parse_request
from core.spec import MAX_MOTION, RenderSpec
from core.styles import DEFAULT_STYLES
from intake.followups import follow_up_spec, vary_motion

TINY = capabilities_for("tiny")
WITH_EXTRAS = TINY.model_copy(update={"modes": ("t2v", "extend", "upscale")})
PARENT_ID = "a" * 32
BOB = Asker(user_id=42, display_name="Bob", guild_id=7, channel_id=8)


def gid() -> str:
    return uuid.uuid4().hex


# --- custom ids -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_custom_id_round_trips_and_fits(action) -> None:
    for generation_id in (gid(), "0" * 32, "f" * 32):
        custom_id = encode(action, generation_id)
        assert decode(custom_id) == (action, generation_id)
        assert len(custom_id) <= CUSTOM_ID_LIMIT
        assert TEMPLATE.fullmatch(custom_id)  # what discord.py matches a click against


def test_the_longest_custom_id_is_far_under_discords_bound() -> None:
    longest = max(len(encode(action, gid())) for action in ACTIONS)
    assert longest <= 48 < CUSTOM_ID_LIMIT


@pytest.mark.parametrize(
    "custom_id",
    [
        "",
        f"reelbot:reroll:{'A' * 32}",  # generation ids are lowercase hex
        f"reelbot:reroll:{'a' * 31}",
        f"reelbot:reroll:{'a' * 33}",
        f"reelbot:explode:{'a' * 32}",
        f"otherbot:reroll:{'a' * 32}",
        f"reelbot:reroll:{'a' * 32}:extra",
        f" reelbot:reroll:{'a' * 32}",
        "reelbot:reroll:",
    ],
)
def test_foreign_or_malformed_custom_ids_are_not_ours(custom_id) -> None:
    assert decode(custom_id) is None
    assert TEMPLATE.fullmatch(custom_id) is None


@pytest.mark.parametrize("bad_id", ["", "xyz", "A" * 32, "a" * 33, "a" * 31 + "/"])
def test_encode_refuses_what_would_not_decode(bad_id) -> None:
    with pytest.raises(ValueError):
        encode("reroll", bad_id)


def test_extend_and_upscale_only_with_a_model_that_has_them() -> None:
    assert result_actions(TINY.modes) == ["reroll", "remix", "vary", "delete"]
    assert result_actions(WITH_EXTRAS.modes) == [
        "reroll",
        "remix",
        "vary",
        "extend",
        "upscale",
        "delete",
    ]


async def test_the_view_is_all_dynamic_buttons_for_one_clip() -> None:
    generation_id = gid()
    view = result_view(generation_id, TINY.modes)
    assert view.timeout is None
    assert all(isinstance(item, ClipButton) for item in view.children)
    labels = [item.item.label for item in view.children]  # type: ignore[attr-defined]
    assert labels == ["Reroll", "Remix", "Vary", "Delete"]
    decoded = [decode(item.custom_id) for item in view.children]  # type: ignore[attr-defined]
    assert decoded == [(a, generation_id) for a in ("reroll", "remix", "vary", "delete")]


# --- what the buttons ask for -------------------------------------------------------------------


# What a child takes from whoever asked for it rather than from its parent.
ASKER_FIELDS = {"owner_id", "owner_name", "guild_id", "channel_id", "upload_limit"}


def parent(text: str = "a fox in the snow -camera pan left -ar 9:16 -seed 77") -> RenderSpec:
    return parse_request(text, capabilities=TINY, owner_id="discord:1", owner_name="Alice")


def follow(spec: RenderSpec, action, **kwargs) -> RenderSpec:
    return follow_up_spec(spec, PARENT_ID, action, BOB, TINY, DEFAULT_STYLES, **kwargs)


@pytest.mark.parametrize(
    "motion, varied", [(0, 1), (1, 2), (MAX_MOTION - 1, MAX_MOTION), (MAX_MOTION, MAX_MOTION - 1)]
)
def test_vary_moves_motion_one_step_and_always_changes_it(motion, varied) -> None:
    assert vary_motion(motion) == varied


def test_reroll_is_the_same_command_with_a_new_seed_for_the_clicker() -> None:
    source = parent()
    seeds = itertools.chain([77, 77], itertools.count(1000))  # the parent's seed is skipped
    child = follow(source, "reroll", seed_source=lambda: next(seeds))
    assert child.seed == 1000
    assert child.parent_id == PARENT_ID
    assert (child.owner_id, child.owner_name, child.guild_id, child.channel_id) == (
        "discord:42",
        "Bob",
        7,
        8,
    )
    same = {"seed", "parent_id", *ASKER_FIELDS}
    assert child.model_dump(exclude=same) == source.model_dump(exclude=same)


def test_vary_keeps_the_seed_and_moves_motion() -> None:
    child = follow(parent("a kite -motion 4 -seed 9"), "vary")
    assert (child.seed, child.motion, child.parent_id) == (9, 3, PARENT_ID)
    assert follow(parent("a kite -seed 9"), "vary").motion == 2


def test_remix_reads_the_edited_text_like_create() -> None:
    child = follow(parent(), "remix", text="a red kite over the sea -motion 2 -seed 5")
    assert (child.prompt, child.motion, child.seed, child.camera) == (
        "a red kite over the sea",
        2,
        5,
        None,
    )
    with pytest.raises(UserFacingError, match="-motion 9"):
        follow(parent(), "remix", text="a red kite -motion 9")


def test_the_prefilled_remix_text_gives_back_the_same_clip() -> None:
    source = parent()
    child = follow(source, "remix", text=to_command_line(source, capabilities=TINY))
    same = {"parent_id", *ASKER_FIELDS}
    assert child.model_dump(exclude=same) == source.model_dump(exclude=same)


def test_a_follow_up_in_dms_is_private() -> None:
    in_dms = Asker(user_id=42, display_name="Bob", guild_id=None, channel_id=9)
    child = follow_up_spec(parent(), PARENT_ID, "reroll", in_dms, TINY, DEFAULT_STYLES)
    assert child.hidden


def test_an_image_to_video_parent_keeps_its_image() -> None:
    source = parent().model_copy(update={"mode": "i2v", "input_media": ("in/photo.png",)})
    child = follow(source, "reroll")
    assert (child.mode, child.input_media) == ("i2v", ("in/photo.png",))


def test_extend_and_upscale_need_the_mode_and_the_finished_clip() -> None:
    with pytest.raises(UserFacingError, match="can't extend"):
        follow(parent(), "extend", parent_media="aa/clip.mp4")
    with pytest.raises(UserFacingError, match="no finished video"):
        follow_up_spec(parent(), PARENT_ID, "upscale", BOB, WITH_EXTRAS, DEFAULT_STYLES)
    child = follow_up_spec(
        parent(), PARENT_ID, "upscale", BOB, WITH_EXTRAS, DEFAULT_STYLES, parent_media="a/b.mp4"
    )
    assert (child.mode, child.input_media, child.seed) == ("upscale", ("a/b.mp4",), 77)


def test_upscale_doubles_the_parents_size_and_drops_its_camera_move() -> None:
    dad = parent()
    child = follow_up_spec(
        dad, PARENT_ID, "upscale", BOB, WITH_EXTRAS, DEFAULT_STYLES, parent_media="a/b.mp4"
    )
    assert (child.width, child.height) == (2 * dad.width, 2 * dad.height)
    assert child.camera is None  # the move is in the parent's frames already


def test_extend_runs_twice_the_parents_length_up_to_the_models_limit() -> None:
    short = parse_request("a fox -len 2", capabilities=WITH_EXTRAS, owner_id="discord:1")
    child = follow_up_spec(
        short, PARENT_ID, "extend", BOB, WITH_EXTRAS, DEFAULT_STYLES, parent_media="a/b.mp4"
    )
    assert child.duration_s == pytest.approx(2 * short.duration_s, abs=0.5)
    longest = f"a fox -len {WITH_EXTRAS.max_seconds:g}"
    full = parse_request(longest, capabilities=WITH_EXTRAS, owner_id="discord:1")
    capped = follow_up_spec(
        full, PARENT_ID, "extend", BOB, WITH_EXTRAS, DEFAULT_STYLES, parent_media="a/b.mp4"
    )
    assert capped.duration_s <= WITH_EXTRAS.max_seconds + 0.5
    assert (capped.mode, capped.parent_id, capped.owner_id) == ("extend", PARENT_ID, BOB.owner_id)
