"""intake.edits, table-driven: which clip a reference names, who may edit it, what the member's
words ask for, and the child spec's size, length and lineage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from core.capabilities import capabilities_for
from core.edits import expand_canvas
from core.errors import FlagError, UserFacingError
from core.spec import RenderSpec
from gallery.models import Generation, GenerationStatus, Moderation
from intake.edits import (
    ADD_PROMPT,
    EditAsk,
    check_parent,
    clip_id_of,
    edit_capabilities,
    edit_spec,
    message_id_of,
    queued_note,
)
from intake.followups import follow_up_spec

GID = "0123456789abcdef0123456789abcdef"
GALLERY = "https://clips.example.org"
VACE = capabilities_for("wan_vace")


@dataclass(frozen=True)
class Member:
    owner_id: str = "discord:2"
    display_name: str = "Bob"
    guild_id: int | None = 10
    channel_id: int | None = 20
    upload_limit: int | None = 8_000_000


PARENT = RenderSpec(
    prompt="a red car on a coast road",
    aspect_ratio="16:9",
    width=512,
    height=288,
    num_frames=24,
    fps=24,
    steps=4,
    seed=7,
    owner_id="discord:1",
)


def row(**changes: object) -> Generation:
    values: dict[str, object] = {
        "id": GID,
        "owner_id": "discord:1",
        "prompt": PARENT.prompt,
        "spec": PARENT.model_dump(mode="json"),
        "seed": 7,
        "width": 512,
        "height": 288,
        "num_frames": 24,
        "fps": 24,
        "status": GenerationStatus.DONE,
        "media_path": f"01/{GID}.mp4",
    }
    return Generation(**(values | changes))


@pytest.mark.parametrize(
    "text",
    [GID, f" <{GALLERY}/clips/{GID}> ", f"{GALLERY}/clips/{GID}?x=1", f"{GALLERY}/media/{GID}.mp4"],
)
def test_a_clip_is_named_by_its_id_or_our_gallery_link(text: str) -> None:
    assert clip_id_of(text, GALLERY) == GID


@pytest.mark.parametrize(
    "text", [f"https://evil.example/clips/{GID}", "the red car", f"ftp://clips.example.org/{GID}"]
)
def test_anything_else_is_not_one_of_our_clips(text: str) -> None:
    with pytest.raises(UserFacingError, match=r"isn't one of this server's clips.*clips\.example"):
        clip_id_of(text, GALLERY)


@pytest.mark.parametrize(
    ("changes", "asker", "moderates", "words"),
    [
        ({"deleted_at": datetime.now(UTC)}, "discord:1", True, "was deleted"),
        ({"hidden": True}, "discord:2", False, "only the person who made it"),
        ({"moderation": Moderation.HIDDEN}, "discord:2", False, "taken down by the moderators"),
        # a clip the moderators took down is nobody's to edit, its owner's and theirs neither:
        # the edit would be a new clip, public where its parent is not
        ({"moderation": Moderation.HIDDEN}, "discord:1", False, "taken down by the moderators"),
        ({"moderation": Moderation.REMOVED}, "discord:1", False, "taken down by the moderators"),
        ({"moderation": Moderation.REMOVED}, "discord:2", True, "taken down by the moderators"),
        ({"moderation": Moderation.HELD}, "discord:1", True, "once it is approved"),
        ({"status": GenerationStatus.RENDERING}, "discord:1", False, "still rendering"),
        ({"status": GenerationStatus.QUEUED}, "discord:1", False, "still rendering"),
        ({"status": GenerationStatus.FAILED}, "discord:1", False, "didn't finish"),
    ],
)
def test_who_may_edit_which_clip(
    changes: dict[str, object], asker: str, moderates: bool, words: str
) -> None:
    with pytest.raises(UserFacingError, match=words):
        check_parent(row(**changes), asker, moderates=moderates)


def test_a_hidden_clip_is_its_owners_and_the_moderators_to_edit() -> None:
    hidden = row(hidden=True)
    assert check_parent(hidden, "discord:1") == f"01/{GID}.mp4"
    assert check_parent(hidden, "discord:2", moderates=True) == f"01/{GID}.mp4"
    with pytest.raises(UserFacingError, match="can't find that clip"):
        check_parent(None, "discord:1")


@pytest.mark.parametrize(
    ("ask", "words"),
    [
        (EditAsk("modify", "make it snow", where="1,2,3"), "names nothing"),
        (EditAsk("modify", "make it snow", where="90,0,20,10"), "not a box inside the frame"),
        (EditAsk("modify", ""), "Say what to change"),
        (EditAsk("modify", "x" * 301), "keep it to 300"),
        (EditAsk("swap", "a bicycle"), "Say what to replace"),
        (EditAsk("expand", expand_to="16:9"), "already 16:9"),
        (EditAsk("expand", expand_to="9:16", where="left"), "leave \\*where\\* out"),
        (EditAsk("add", "on the table"), "needs a picture"),
    ],
)
def test_what_cannot_be_an_edit_says_why(ask: EditAsk, words: str) -> None:
    with pytest.raises(FlagError, match=words):
        edit_spec(PARENT, GID, Member(), ask, VACE, parent_media="p.mp4")


def test_a_modify_is_the_askers_child_at_the_parents_shape_for_the_editing_family() -> None:
    spec = edit_spec(
        PARENT,
        GID,
        Member(),
        EditAsk("modify", "  make it   snow ", where="the sky"),
        VACE,
        parent_media="p.mp4",
        seed_source=iter([7, 8]).__next__,  # the parent's seed is skipped
    )
    assert (spec.mode, spec.prompt, spec.input_media) == ("edit", "make it snow", ("p.mp4",))
    assert spec.edit is not None and (spec.edit.kind, spec.edit.where) == ("modify", "the sky")
    assert (spec.parent_id, spec.owner_id, spec.seed, spec.backend) == (
        GID,
        "discord:2",
        8,
        VACE.name,
    )
    assert (spec.width, spec.height) == VACE.snap_size(512, 288)
    assert (spec.num_frames, spec.fps, spec.aspect_ratio) == (24, 24, "16:9")


def test_an_expand_is_the_canvas_the_worker_computes_and_follows_the_parents_prompt() -> None:
    for ask in (EditAsk("expand", expand_to="9:16"), EditAsk("expand", zoom_out=2.0)):
        spec = edit_spec(PARENT, GID, Member(), ask, VACE, parent_media="p.mp4")
        canvas = expand_canvas(
            512,
            288,
            expand_to=ask.expand_to,
            zoom_out=ask.zoom_out,
            native_pixels=VACE.native_pixels,
            multiple=VACE.size_multiple,
        )
        assert (spec.width, spec.height) == (canvas.width, canvas.height)
        assert spec.prompt == PARENT.prompt


def test_add_and_swap_with_a_picture_carry_it_second() -> None:
    add = edit_spec(
        PARENT, GID, Member(), EditAsk("add"), VACE, parent_media="p.mp4", picture="c.png"
    )
    assert (add.prompt, add.input_media) == (ADD_PROMPT, ("p.mp4", "c.png"))
    swap = EditAsk("swap", "", where="the red car")
    spec = edit_spec(PARENT, GID, Member(), swap, VACE, parent_media="p.mp4", picture="b.png")
    assert spec.edit is not None and spec.edit.where == "the red car"
    assert spec.input_media == ("p.mp4", "b.png")


def test_a_clip_longer_than_the_editor_makes_is_cut_and_the_member_told() -> None:
    long = PARENT.model_copy(update={"num_frames": 24 * 8})
    spec = edit_spec(long, GID, Member(), EditAsk("modify", "snow"), VACE, parent_media="p.mp4")
    assert spec.num_frames == int(VACE.max_seconds * 24)
    assert queued_note(long, VACE) == "This clip is 8 s long; edits are made of its first 5 s."
    assert queued_note(PARENT, VACE) == ""


async def test_the_editing_family_is_the_main_one_when_it_edits_else_vace() -> None:
    assert await edit_capabilities(VACE) is VACE
    assert (await edit_capabilities(capabilities_for("tiny"))).name == "wan_vace"


@pytest.mark.parametrize(
    ("text", "message_id"),
    [
        ("https://discord.com/channels/1/2/345", 345),
        ("<https://ptb.discord.com/channels/@me/2/6>", 6),
        ("https://discordapp.com/channels/1/2/7", 7),
        ("https://discord.com/channels/1/2", None),
        (f"{GALLERY}/clips/{GID}", None),
        ("https://evil.example/channels/1/2/3", None),
    ],
)
def test_a_result_message_link_names_its_message(text: str, message_id: int | None) -> None:
    assert message_id_of(text) == message_id


def test_reroll_vary_and_remix_of_an_edit_are_the_same_edit_again() -> None:
    ask = EditAsk("expand", expand_to="9:16")
    edit = edit_spec(PARENT, GID, Member(), ask, VACE, parent_media="p.mp4")
    reroll = follow_up_spec(edit, "f" * 32, "reroll", Member(), VACE, {})
    remix = follow_up_spec(edit, "f" * 32, "remix", Member(), VACE, {}, text="make it rain")
    for child in (reroll, remix):
        assert (child.mode, child.edit, child.input_media) == ("edit", edit.edit, ("p.mp4",))
        assert (child.width, child.height, child.num_frames) == (edit.width, edit.height, 24)
    assert reroll.seed != edit.seed and remix.prompt == "make it rain"
