"""Saved characters end to end: fake Discord ↔ an unmodified discord.py bot ↔ real Redis ↔
SQLite gallery. A member saves a character with a picture, lists it, and `/create … -ref Mira`
queues a clip whose spec carries the stored picture in `reference_media`; every refusal is a
private answer with nothing queued.

The bot's model takes reference pictures through a test-local Capabilities (tiny with
`references=3`): the wan_vace family that takes them for real is another engineer's, and no
worker renders here (what is asserted is what the front end queues).
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from cli.local_redis import LocalRedis
from core.capabilities import capabilities_for
from tests.fakediscord import FakeDiscord
from tests.harness.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def png(width: int = 200, height: int = 240) -> bytes:
    image = Image.new("RGB", (width, height), (200, 60, 90))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def ref_stack(
    redis_server: LocalRedis, redis: object, data_dir: Path
) -> AsyncIterator[Stack]:
    """A stack whose model takes up to 3 reference pictures."""
    takes_refs = capabilities_for("tiny").model_copy(update={"references": 3})
    s = Stack(redis_server.url, data_dir, capabilities=takes_refs)
    yield s
    await s.close()


def specs(stack: Stack) -> list[dict[str, object]]:
    """The stored spec of every generation row (what was queued)."""
    with stack.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT spec FROM generation").scalars()
        return [json.loads(raw) if isinstance(raw, str) else raw for raw in rows]


async def save_mira(fake: FakeDiscord, user: str = "alice", **more: object) -> str:
    picture = fake.upload("mira.png", png())
    ix = await fake.slash_command(
        "character save", {"name": "Mira", "image": picture, **more}, user=user
    )
    reply = await ix.wait_reply()
    assert reply.ephemeral
    return reply.content


async def test_save_list_and_create_with_ref_queues_the_picture(ref_stack: Stack) -> None:
    async with FakeDiscord() as fake, fake.running(await ref_stack.new_bot()):
        said = await save_mira(fake)
        assert "Saved **Mira** as yours" in said and "-ref Mira" in said
        [kept] = list(ref_stack.media.root.rglob("*.char.png"))
        with Image.open(kept) as image:
            assert (image.format, image.size) == ("PNG", (200, 240))

        listed = await (await fake.slash_command("character list", {})).wait_reply()
        assert listed.ephemeral and "• `Mira` — yours" in listed.content
        other = await (await fake.slash_command("character list", {}, user="bob")).wait_reply()
        assert "no characters here yet" in other.content

        ix = await fake.slash_command("create", {"prompt": "a knight in the rain -ref mira"})
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "queued" in queued.content
        [spec] = specs(ref_stack)
        relative = kept.relative_to(ref_stack.media.root).as_posix()
        assert spec["reference_media"] == [relative] and spec["backend"] == "tiny"


async def test_an_unknown_name_lists_the_members_and_queues_nothing(ref_stack: Stack) -> None:
    async with FakeDiscord() as fake, fake.running(await ref_stack.new_bot()):
        await save_mira(fake)
        ix = await fake.slash_command("create", {"prompt": "a knight -ref Mira, Tom"})
        reply = await ix.wait_reply()
        assert reply.ephemeral
        assert "No character named 'Tom' — yours are: `Mira`" in reply.content
        assert "/character save" in reply.content
        assert specs(ref_stack) == []
        assert [m for m in fake.visible_messages() if not m.ephemeral] == []


async def test_a_model_without_reference_pictures_refuses_ref(stack: Stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        await save_mira(fake)
        ix = await fake.slash_command("create", {"prompt": "a knight -ref Mira"})
        reply = await ix.wait_reply()
        assert reply.ephemeral
        assert "needs a model that takes reference pictures" in reply.content
        assert "this server's model (tiny) doesn't" in reply.content
        assert "reference pictures (wan_vace)" in reply.content  # which would, with no worker
        assert specs(stack) == []


@pytest.mark.parametrize(
    "filename, data, words",
    [
        ("cat.png", b"just some text, honest\n" * 40, ["cat.png", "PNG, JPEG, WebP or GIF"]),
        ("dot.png", png(10, 10), ["dot.png", "10×10", "at least 64×64"]),
    ],
)
async def test_a_bad_picture_gets_the_animate_words_and_nothing_is_kept(
    stack: Stack, filename: str, data: bytes, words: list[str]
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        bad = fake.upload(filename, data, content_type="image/png")
        ix = await fake.slash_command("character save", {"name": "Mira", "image": bad})
        reply = await ix.wait_reply()
        assert reply.ephemeral
        for word in words:
            assert word in reply.content
        listed = await (await fake.slash_command("character list", {})).wait_reply()
        assert "no characters here yet" in listed.content
    assert not stack.media.root.exists() or not any(stack.media.root.rglob("*.char.png"))


@pytest.mark.parametrize(
    "name, words",
    [
        ("p0rn star", "Explicit sexual content isn't allowed here"),
        ("Taylor Swift", "Clips of real people are reviewed by a moderator first"),
    ],
)
async def test_a_name_the_policy_blocks_or_flags_is_refused_before_the_picture(
    stack: Stack, name: str, words: str
) -> None:
    """A name is words of every request that uses it: what the policy blocks, or would hold
    for a moderator, is refused at save (and nothing is fetched or kept)."""
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        picture = fake.upload("mira.png", png())
        ix = await fake.slash_command("character save", {"name": name, "image": picture})
        reply = await ix.wait_reply()
        assert reply.ephemeral
        assert f"I can't use the character name `{name}`: {words}" in reply.content
        assert fetches(fake) == []
        listed = await (await fake.slash_command("character list", {})).wait_reply()
        assert "no characters here yet" in listed.content
    assert not stack.media.root.exists() or not any(stack.media.root.rglob("*.char.png"))


async def test_server_wide_characters_are_for_moderators_to_save_and_delete(
    stack: Stack,
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        refused = await save_mira(fake, server_wide=True)
        assert "Only moderators" in refused
        said = await save_mira(fake, user="mod", server_wide=True)
        assert "Saved **Mira** for everyone here" in said

        listed = await (await fake.slash_command("character list", {})).wait_reply()
        assert "`Mira` — everyone here (saved by <@" in listed.content
        ix = await fake.slash_command("character delete", {"name": "mira"})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "only a moderator can delete it" in reply.content
        ix = await fake.slash_command("character delete", {"name": "MIRA"}, user="mod")
        assert "Deleted **Mira**" in (await ix.wait_reply()).content
        ix = await fake.slash_command("character delete", {"name": "Mira"})
        assert "No character named 'Mira' — yours are: none yet" in (await ix.wait_reply()).content
    assert not any(stack.media.root.rglob("*.char.png"))


def fetches(fake: FakeDiscord) -> list[str]:
    """Downloads of uploaded files from the fake's CDN."""
    return [r.path for r in fake.requests if r.path.startswith("/attachments/")]


async def test_ref_image_joins_the_named_characters(ref_stack: Stack) -> None:
    async with FakeDiscord() as fake, fake.running(await ref_stack.new_bot()):
        await save_mira(fake)
        [kept] = list(ref_stack.media.root.rglob("*.char.png"))
        extra = fake.upload("hat.png", png(300, 300))
        ix = await fake.slash_command(
            "create", {"prompt": "a knight in a hat -ref Mira", "ref_image": extra}
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "queued" in queued.content
        [spec] = specs(ref_stack)
        [gid] = [p.name.split(".")[0] for p in ref_stack.media.root.rglob("*.ref.png")]
        assert spec["reference_media"] == [
            kept.relative_to(ref_stack.media.root).as_posix(),
            f"{gid[:2]}/{gid}.ref.png",
        ]

        extra = fake.upload("hat.png", png(300, 300))
        ix = await fake.slash_command(
            "create", {"prompt": "a knight -ref Mira, B, C", "ref_image": extra}
        )
        reply = await ix.wait_reply()
        assert reply.ephemeral and "make 4 pictures; a clip can show at most 3" in reply.content
        assert len(specs(ref_stack)) == 1


async def test_ref_image_is_refused_before_the_download_without_references(stack: Stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        extra = fake.upload("hat.png", png(300, 300))
        ix = await fake.slash_command("create", {"prompt": "a knight", "ref_image": extra})
        reply = await ix.wait_reply()
        assert reply.ephemeral
        assert "`ref_image:` needs a model that takes reference pictures" in reply.content
        assert fetches(fake) == [] and specs(stack) == []
