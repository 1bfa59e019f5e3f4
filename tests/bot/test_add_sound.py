"""🔊 Add sound and sound words, before anything is queued: what the child clip asks for, which
results offer the button, and the policy reading the sound's words as it reads a prompt. Pure:
no Discord connection, no Redis, no database."""

from __future__ import annotations

import itertools

import pytest

from bot.delivery.views import result_actions, result_view
from bot.intake.requests import Asker
from core.capabilities import FAMILIES, capabilities_for
from core.commandline import to_command_line
from core.errors import ContentBlocked, FlagError, UserFacingError
from core.flags import parse_request
from core.policy import default_policy
from core.spec import RenderSpec
from core.styles import DEFAULT_STYLES
from intake.addsound import add_sound_spec
from intake.screening import screen

TINY = capabilities_for("tiny")
PARENT_ID = "a" * 32
PARENT_MP4 = f"{PARENT_ID[:2]}/{PARENT_ID}.mp4"
BOB = Asker(user_id=42, display_name="Bob", guild_id=7, channel_id=8)


def parent(text: str = "a fox in the snow -camera pan left -len 3 -ar 9:16 -seed 77") -> RenderSpec:
    return parse_request(text, capabilities=TINY, owner_id="discord:1", owner_name="Alice")


def add_sound(spec: RenderSpec, words: str = "", **kwargs) -> RenderSpec:
    kwargs.setdefault("parent_media", PARENT_MP4)
    return add_sound_spec(spec, PARENT_ID, BOB, TINY, DEFAULT_STYLES, words=words, **kwargs)


def test_add_sound_is_the_parents_video_with_a_new_sound_for_the_clicker() -> None:
    source = parent()
    seeds = itertools.chain([77], itertools.count(500))  # never the parent's seed
    child = add_sound(source, "  wind   howling ", seed_source=lambda: next(seeds))

    assert (child.mode, child.input_media, child.parent_id) == ("sound", (PARENT_MP4,), PARENT_ID)
    assert (child.sound, child.sound_prompt, child.seed) == (True, "wind howling", 500)
    assert (child.owner_id, child.guild_id, child.channel_id) == ("discord:42", 7, 8)
    kept = ("prompt", "width", "height", "num_frames", "fps", "aspect_ratio", "backend")
    assert [getattr(child, k) for k in kept] == [getattr(source, k) for k in kept]
    assert child.camera is None  # the move is in the parent's frames already
    line = to_command_line(child, capabilities=TINY)
    assert '-sound "wind howling"' in line and "-seed 500" in line


def test_without_words_the_sound_comes_from_the_prompt_and_in_dms_it_is_private() -> None:
    in_dms = Asker(user_id=42, display_name="Bob", guild_id=None, channel_id=9)
    child = add_sound_spec(
        parent(), PARENT_ID, in_dms, TINY, DEFAULT_STYLES, parent_media=PARENT_MP4
    )
    assert (child.sound, child.sound_prompt, child.hidden) == (True, "", True)


def test_an_upscaled_parent_keeps_its_own_size() -> None:
    big = parent().model_copy(update={"width": 2 * 288, "height": 2 * 512, "mode": "upscale"})
    child = add_sound(big)
    assert (child.width, child.height) == (576, 1024)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"parent_media": None}, "no finished video"),
        ({"words": "drip " * 80}, "300"),
    ],
)
def test_what_add_sound_refuses(change: dict, message: str) -> None:
    with pytest.raises((UserFacingError, FlagError), match=message):
        add_sound(parent(), **change)


def test_a_family_the_worker_adds_no_sound_to_has_no_button_and_refuses() -> None:
    silent = TINY.model_copy(update={"adds_sound": False})
    with pytest.raises(UserFacingError, match="can't add sound"):
        add_sound_spec(parent(), PARENT_ID, BOB, silent, DEFAULT_STYLES, parent_media=PARENT_MP4)
    assert "sound" not in result_actions(silent.all_modes)


def test_every_family_offers_add_sound_before_delete() -> None:
    for caps in FAMILIES.values():
        assert caps.makes_sound and result_actions(caps.all_modes)[-2:] == ["sound", "delete"]
    view = result_view(PARENT_ID, TINY.all_modes)
    labels = [item.item.label for item in view.children]  # type: ignore[attr-defined]
    assert labels == ["Reroll", "Remix", "Vary", "Add sound", "Delete"]


# --- the policy reads the sound's words -------------------------------------------------------


class NoBans:
    async def active(self, owner_id: str, guild_id: int | None) -> None:
        return None


async def screened(spec: RenderSpec):
    return await screen(spec, BOB, bans=NoBans(), policy=default_policy(), toxicity=None)


async def test_a_blocked_sound_word_blocks_the_clip_in_the_policys_words() -> None:
    for spec in (
        parse_request("a quiet beach at dawn -sound xxx moaning", capabilities=TINY),
        add_sound(parent(), "xxx moaning"),
    ):
        with pytest.raises(ContentBlocked, match="Explicit sexual content isn't allowed here"):
            await screened(spec)


async def test_flagged_sound_words_hold_the_clip_and_plain_ones_pass() -> None:
    held = await screened(add_sound(parent(), "a nude model breathing"))
    assert held.decision == "flag" and held.category == "sexual"
    assert (await screened(add_sound(parent(), "rain on a tin roof"))).decision == "allow"
