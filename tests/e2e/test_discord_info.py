"""/settings, /queue, /info and /gallery end to end: fake Discord ↔ unmodified discord.py bot ↔
real Redis (↔ a real worker process where a clip must render).

Assertions are on what members see: private replies, their buttons, the public "queued"
message, the posted MP4, and on the queue and gallery state a cancel must leave behind.
"""

from __future__ import annotations

import asyncio

import pytest
from arq.constants import in_progress_key_prefix

from core.flags import parse_request
from gallery.community import CommunityStore
from jobs.admission import Admission
from jobs.fleet import read_fleet
from jobs.keys import cancel_key, heartbeat_key
from tests.fakediscord import FakeDiscord
from tests.gallery.factories import add_done
from tests.harness.fleet import DEFAULT_QUEUE, idle_beat
from tests.harness.members import create, labels, user_id
from tests.harness.stack import PUBLIC_URL, probe
from tests.harness.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def run(fake: FakeDiscord, command: str, options: dict | None = None, **where):
    """A member runs a command; the reply they see."""
    ix = await fake.slash_command(command, options or {}, **where)
    return await ix.wait_reply()


async def queue_jobs(fake: FakeDiscord, *requests: tuple[str, str]) -> list:
    """Each (user, prompt) runs /create; the public "queued" messages."""
    return [await run(fake, "create", {"prompt": prompt}, user=user) for user, prompt in requests]


async def test_settings_defaults_shape_later_clips_and_inline_flags_win(
    stack, workers, redis
) -> None:
    workers.start()
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        none = await run(fake, "settings")
        assert none.ephemeral and "no default flags" in none.content

        saved = await run(fake, "settings", {"flags": "-motion 2   -ar 9:16"})
        assert saved.ephemeral and "`-motion 2 -ar 9:16`" in saved.content
        shown = await run(fake, "settings")
        assert "`-motion 2 -ar 9:16`" in shown.content

        queued = await run(fake, "create", {"prompt": "a fox in the snow -seed 7"})
        result = await fake.wait_for_message(
            lambda m: "your clip is ready" in m.content, timeout=60
        )
        assert "288×512" in queued.content
        assert "-motion 2" in result.content and "-ar 9:16" in result.content
        [(_name, data)] = result.files.items()
        assert probe(data)[:2] == (288, 512)

        # An inline flag beats the default; the other default still applies.
        square = await run(fake, "create", {"prompt": "a fox -ar 1:1 -seed 8"}, user="alice")
        assert "384×384" in square.content
        # Bob has no defaults: the model's 16:9.
        wide = await run(fake, "create", {"prompt": "a fox -seed 9"}, user="bob")
        assert "512×288" in wide.content
        rows = [r for r in stack.store.list_unfinished() if r.seed == 8]
        assert rows and rows[0].aspect_ratio == "1:1" and rows[0].motion == 2

        cleared = await run(fake, "settings", {"clear": True})
        assert cleared.ephemeral and "Cleared" in cleared.content
        again = await run(fake, "create", {"prompt": "a fox -seed 10"})
        assert "512×288" in again.content


@pytest.mark.parametrize(
    "flags, mentions",
    [
        ("-motion 9", ["-motion 9", "0 to 4"]),
        ("cinematic -ar 9:16", ["`cinematic`", "flags only"]),
        ("-ar 9:16 -seed 7", ["-seed", "same"]),
        ("-camera pan leftt", ["-camera pan leftt", "pan left"]),
    ],
)
async def test_bad_default_flags_get_a_private_error_and_save_nothing(
    stack, redis, flags, mentions
) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        reply = await run(fake, "settings", {"flags": flags})
        assert reply.ephemeral
        for word in mentions:
            assert word in reply.content
        assert "no default flags" in (await run(fake, "settings")).content
        assert [m for m in fake.visible_messages() if not m.ephemeral] == []


async def test_saved_defaults_the_loaded_model_cannot_render_are_an_error_not_ignored(
    stack, redis
) -> None:
    """Saved under a model that allowed 8 s clips; the tiny model stops at 4 s."""
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        alice = f"discord:{fake.users['alice'].id}"
        CommunityStore(stack.engine).set_default_flags(alice, "-len 8 -ar 9:16")
        reply = await run(fake, "create", {"prompt": "a red kite"})
        assert reply.ephemeral
        for words in ("`-len 8 -ar 9:16`", "/settings", "-len 8", "1 to 4"):
            assert words in reply.content
        assert await redis.zcard(DEFAULT_QUEUE) == 0
        # Giving the setting inline does not help: the saved defaults are read as a whole.
        inline = await run(fake, "create", {"prompt": "a red kite -len 2"})
        assert inline.ephemeral and "/settings" in inline.content
        fixed = await run(fake, "settings", {"flags": "-len 3 -ar 9:16"})
        assert "`-ar 9:16 -len 3`" in fixed.content
        queued = await run(fake, "create", {"prompt": "a red kite"})
        assert not queued.ephemeral and "288×512" in queued.content and "3 s" in queued.content


async def test_queue_lists_positions_and_only_the_owner_cancels(stack, redis) -> None:
    """No worker runs, so everything stays queued."""
    # One live worker (its heartbeat) and a clip of this size delivered before, after 30 s of
    # work, make an ETA possible.
    await redis.set(heartbeat_key("test-worker"), idle_beat())
    timed = parse_request("a red kite", capabilities=stack.capabilities)
    await Admission(redis).record_render(timed, 30.0)
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        first, _bobs, second = await queue_jobs(
            fake, ("alice", "a red kite"), ("bob", "a blue boat"), ("alice", "a green hill")
        )
        listing = await run(fake, "queue")
        assert listing.ephemeral
        lines = listing.content.splitlines()
        assert "Your requests (2)" in lines[0]
        assert "next up" in lines[1] and "about 30 s" in lines[1] and "a red kite" in lines[1]
        assert "#3 in the queue" in lines[2] and "about 2 min" in lines[2]  # 3 × 30 s
        assert "a blue boat" not in listing.content
        row_ids = [r.id for r in stack.store.list_unfinished()]
        kite, _boat, hill = row_ids
        assert listing.custom_ids == [f"reelbot:cancel:{kite}", f"reelbot:cancel:{hill}"]

        # Bob never sees Alice's private list, but custom_ids can be forged: still refused.
        forged = await fake._interact(  # the fake refuses clicks on others' ephemerals
            3,
            "bob",
            fake.channel,
            {"custom_id": f"reelbot:cancel:{kite}", "component_type": 2},
            message=listing,
        )
        refusal = await forged.wait_reply()
        assert refusal.ephemeral and "Only the member who asked" in refusal.content
        # The scheduler hands arq one job per live worker plus one, in fair order (the kite,
        # then Bob's boat); Alice's second clip waits for her next turn.
        assert await redis.zcard(DEFAULT_QUEUE) == 2
        assert await redis.zscore(DEFAULT_QUEUE, hill) is None

        click = await fake.click_button(listing, label="Cancel 2")
        updated = await click.wait_reply(lambda m: "Cancelled" in m.content)
        assert updated.id == listing.id and "a green hill" not in updated.content
        assert "a red kite" in updated.content
        row = stack.store.get(hill)
        assert row.status == "failed" and row.error == "cancelled by owner"
        # The channel sees it too: the public "queued" message says so.
        public = await fake.wait_for_message(
            lambda m: m.id == second.id and "cancelled" in m.content
        )
        assert not public.ephemeral and second.id != first.id

        # A worker has taken the kite: cancelling asks it to stop at its next step.
        await redis.set(in_progress_key_prefix + kite, b"1")
        stopping = await (await fake.click_button(updated, label="Cancel 1")).wait_reply(
            lambda m: "Stopping" in m.content
        )
        assert stopping.ephemeral and "frees the GPU" in stopping.content
        assert await redis.exists(cancel_key(kite))
        assert await redis.zscore(DEFAULT_QUEUE, kite) is not None
        assert stack.store.get(kite).status == "queued"  # until its worker reports back


async def test_the_queued_answer_says_when_a_small_and_a_big_clip_will_be_ready(
    stack, redis
) -> None:
    """The ETA is the average work time of clips of the same model and size, times the rounds
    of jobs ahead; /queue says the same later."""
    for name in ("w-0", "w-1"):  # two live workers, none rendering (no worker process runs)
        await redis.set(heartbeat_key(name), idle_beat())
    admission = Admission(redis)
    small = parse_request("a red kite", capabilities=stack.capabilities)
    big = parse_request("a red kite -len 4 -ar 1:1", capabilities=stack.capabilities)
    await admission.record_render(small, 10.0)
    await admission.record_render(big, 120.0)
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        answers = []
        for user, prompt in [
            ("alice", "a red kite"),
            ("bob", "a red kite -len 4 -ar 1:1"),
            ("alice", "a green hill"),
        ]:
            answers += await queue_jobs(fake, (user, prompt))
            # The answer goes out just before its job is queued; the next place depends on it.
            async with asyncio.timeout(10):  # two workers: all three go on to arq
                while await redis.zcard(DEFAULT_QUEUE) < len(answers):
                    await asyncio.sleep(0.05)
        first, second, third = answers
        assert "queued (next up, ready in about 10 s)" in first.content
        assert "queued (#2 in the queue, ready in about 2 min)" in second.content
        # Two clips ahead, two workers: it starts when the first one ends.
        assert "queued (#3 in the queue, ready in about 20 s)" in third.content

        alice = await run(fake, "queue", user="alice")
        assert "next up · ready in about 10 s" in alice.content
        assert "#3 in the queue · ready in about 20 s" in alice.content
        bob = await run(fake, "queue", user="bob")
        assert "#2 in the queue · ready in about 2 min" in bob.content


async def test_queue_is_empty_for_a_member_with_nothing_waiting(stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        await queue_jobs(fake, ("alice", "a red kite"))
        reply = await run(fake, "queue", user="bob")
        assert reply.ephemeral and "Nothing of yours" in reply.content
        assert reply.custom_ids == []
        # No worker heartbeat: said plainly instead of an ETA.
        alice = await run(fake, "queue", user="alice")
        assert "No worker is running" in alice.content and "ready in" not in alice.content


async def test_info_shows_todays_usage_defaults_and_the_model(stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        await queue_jobs(fake, ("alice", "a red kite"), ("alice", "a blue kite"))
        await queue_jobs(fake, ("bob", "a green kite"))
        await run(fake, "settings", {"flags": "-ar 9:16"})
        info = await run(fake, "info")
        assert info.ephemeral
        assert "2 of 50 clips" in info.content and "2 of 4 waiting or rendering" in info.content
        assert "`-ar 9:16`" in info.content
        assert "Model `tiny`" in info.content and "9:16 → 288×512" in info.content
        assert "up to 4 s" in info.content
        bob = await run(fake, "info", user="bob")
        assert "1 of 50 clips" in bob.content and "none" in bob.content


async def test_queue_info_and_settings_work_in_dms(stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        dm = fake.world.dm_channel(fake.users["alice"])
        saved = await run(fake, "settings", {"flags": "-motion 3"}, channel=dm)
        assert saved.ephemeral and "`-motion 3`" in saved.content
        queued = await run(fake, "create", {"prompt": "a quiet pond"}, channel=dm)
        assert queued.channel_id == dm.id
        [row] = stack.store.list_unfinished()
        assert row.hidden and row.motion == 3 and row.guild_id is None
        listing = await run(fake, "queue", channel=dm)
        assert "a quiet pond" in listing.content and listing.custom_ids
        info = await run(fake, "info", channel=dm)
        assert "1 of 50 clips" in info.content and "`-motion 3`" in info.content
        cancelled = await (await fake.click_button(listing, label="Cancel 1")).wait_reply(
            lambda m: "Cancelled" in m.content
        )
        assert "Nothing of yours" in cancelled.content and cancelled.custom_ids == []
        gallery = await run(fake, "gallery", channel=dm)
        assert gallery.ephemeral and "in a server" in gallery.content


async def test_gallery_pages_through_this_servers_public_clips(stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        guild_id = fake.world.guild.id
        ids = [
            add_done(stack.store, prompt=f"clip number {n}", guild_id=guild_id) for n in range(7)
        ]
        add_done(stack.store, prompt="a hidden clip", guild_id=guild_id, hidden=True)
        add_done(stack.store, prompt="another server's clip", guild_id=guild_id + 1)
        CommunityStore(stack.engine).like(ids[2], "cli:bob")

        page1 = await run(fake, "gallery")
        assert page1.ephemeral and "page 1" in page1.content
        listed = [line for line in page1.content.splitlines() if "/clips/" in line]
        assert len(listed) == 5
        assert "clip number 6" in listed[0] and f"{PUBLIC_URL}/clips/{ids[6]}" in listed[0]
        assert "clip number 2" in listed[4] and "❤️ 1" in listed[4]
        assert page1.component(label="◀ Previous")["disabled"]

        page2 = await (await fake.click_button(page1, label="Next ▶")).wait_reply(
            lambda m: "page 2" in m.content
        )
        assert page2.id == page1.id
        assert "clip number 1" in page2.content and "clip number 0" in page2.content
        assert "clip number 6" not in page2.content
        assert "hidden" not in page2.content and "another server" not in page2.content
        assert page2.component(label="Next ▶")["disabled"]
        back = await (await fake.click_button(page2, label="◀ Previous")).wait_reply(
            lambda m: "page 1" in m.content
        )
        assert "clip number 6" in back.content

        top = await run(fake, "gallery", {"order": "top"})
        first_line = next(line for line in top.content.splitlines() if "/clips/" in line)
        assert "Most liked" in top.content and "clip number 2" in first_line


async def test_gallery_says_so_when_the_server_has_no_clips(stack, redis) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        reply = await run(fake, "gallery")
        assert reply.ephemeral and "No public clips" in reply.content
        assert reply.custom_ids == []


async def test_every_clip_command_autocompletes_its_style_option(stack) -> None:
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        for command, typed in (("create", {"prompt": "a fox"}), ("animate", {}), ("restyle", {})):
            ix = await fake.autocomplete(command, {**typed, "style": "A"}, focused="style")
            choices = [c["value"] for c in await ix.wait_choices()]
            assert choices == [
                "anime",
                "cinematic",
                "claymation",
                "pixel-art",
                "vintage",
                "watercolor",
            ], command


async def test_info_lists_each_model_family_live_now(stack, redis) -> None:
    ltx = {"family": "ltx", "queue": "reelbot:queue:fast@ltx", "modes": ["t2v", "i2v"]}
    await redis.set(heartbeat_key("ltx-0"), idle_beat(**ltx))
    await redis.set(heartbeat_key("ltx-1"), idle_beat(**ltx))
    vace = {"family": "wan_vace", "queue": "reelbot:queue:fast@wan_vace", "modes": ["edit"]}
    await redis.set(heartbeat_key("vace-0"), idle_beat(**vace))
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        info = await run(fake, "info")
        assert "Workers: `ltx` ×2 (t2v, i2v); `wan_vace` ×1 (edit)." in info.content


def png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (96, 96), (40, 90, 200)).save(out, format="PNG")
    return out.getvalue()


async def test_sound_and_typed_lines_a_worker_turned_off_are_refused_up_front(
    stack, workers, redis
) -> None:
    """A worker started with REELBOT_SOUND_MODEL=off and REELBOT_TTS_MODEL=off says so in its
    beat: its clips are posted without 🔊 Add sound, and -sound or /speak's typed line is
    refused privately, naming the setting, with nothing queued (they used to queue and fail)."""
    workers.env |= {"REELBOT_SOUND_MODEL": "off", "REELBOT_TTS_MODEL": "off"}
    workers.start()
    await eventually(lambda: read_fleet(redis), lambda f: f.extras.get("tiny") == (), timeout=60)
    async with FakeDiscord() as fake, fake.running(await stack.new_bot()):
        result = await create(fake, "a lighthouse at dusk -len 1 -seed 4")
        assert "Add sound" not in labels(result) and labels(result)[-1] == "Delete"

        face = fake.upload("me.png", png())
        for command, options, setting in (
            ("create", {"prompt": "a lighthouse -sound waves"}, "REELBOT_SOUND_MODEL"),
            ("speak", {"image": face, "text": "Hello there!"}, "REELBOT_TTS_MODEL"),
        ):
            refusal = await run(fake, command, options, user="bob")
            assert refusal.ephemeral and "No worker here" in refusal.content, refusal.content
            assert f"set {setting} on a worker" in refusal.content
        assert [m for m in fake.messages if not m.ephemeral and "queued" in m.content][1:] == []
        assert await Admission(redis).usage(user_id(fake, "bob")) == (0, 0)
        info = await run(fake, "info", user="bob")
        assert "; no sound; no voice for typed lines)." in info.content
