"""Styles and effects end to end: fake Discord ↔ unmodified discord.py bot ↔ real Redis ↔ a real
`python -m worker` running the tiny family (text- and image-to-video) ↔ SQLite gallery, with a
styles file (REELBOT_STYLES_FILE) pointing at tiny random LoRAs the test writes as safetensors.

The worker is started without its watermark, so two clips of the same settings decode to the
same frames: a plain clip made after a styled one is compared with the plain clip made before
any LoRA was loaded. That the LoRA, not the words, made the styled clip differ is shown by a
style with no words at all.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli.local_redis import LocalRedis
from core.stylefile import StyleFile
from gallery.previews import PREVIEW_OWNER, latest_previews
from tests.fakediscord import FakeDiscord, Message
from tests.harness.fleet import DEFAULT_QUEUE
from tests.harness.loras import save_tiny_lora
from tests.harness.members import child_clip, create
from tests.harness.paths import ROOT
from tests.harness.stack import PUBLIC_URL, READY, Stack, clip_id
from tests.harness.video import decoded
from tests.harness.waiting import eventually
from tests.harness.workers import WorkerProcesses, reelbot_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def styles_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("styles")
    anime = save_tiny_lora(root / "anime", seed=1)
    squish = save_tiny_lora(root / "squish", seed=2)
    wan = save_tiny_lora(root / "wan", family="wan")
    path = root / "styles.toml"
    path.write_text(
        "[styles.anime]\n"  # no words: whatever the clip shows differently is the LoRA's doing
        'description = "Anime: line art and cel shading"\n'
        f'[styles.anime.lora.tiny]\nlora = "{anime}"\n'
        f'[styles.ink]\nprompt = "ink wash"\n[styles.ink.lora.wan]\nlora = "{wan}"\n'
        f'[styles.broken]\n[styles.broken.lora.tiny]\nlora = "{wan}"\n'  # another model's
        '[effects.squish]\ndescription = "Squished flat"\nprompt = "{subject} squished"\n'
        f'[effects.squish.lora.tiny]\nlora = "{squish}"\ntrigger = "sq41sh"\n'
    )
    return path


@pytest.fixture
def worker(
    redis_server: LocalRedis, data_dir: Path, styles_file: Path
) -> Iterator[WorkerProcesses]:
    env = reelbot_env(
        redis_server.url,
        data_dir,
        REELBOT_STYLES_FILE=str(styles_file),
        REELBOT_WATERMARK="false",  # identical settings, identical frames
    )
    procs = WorkerProcesses(env, data_dir.parent / "logs")
    procs.start()
    yield procs
    procs.stop_all()


async def bot_for(stack: Stack, styles_file: Path) -> object:
    return await stack.new_bot(styles=StyleFile.from_file(styles_file).menu("tiny"))


def frames(message: Message) -> np.ndarray:
    [data] = message.files.values()
    return decoded(data)[0]


def png(width: int = 320, height: int = 320) -> bytes:
    image = Image.new("RGB", (width, height), (30, 120, 200))
    image.paste((250, 200, 20), (width // 4, height // 4, width * 3 // 4, height * 3 // 4))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def test_a_lora_style_changes_the_clip_and_the_next_plain_clip_is_as_it_was_alone(
    stack: Stack, worker: WorkerProcesses, styles_file: Path
) -> None:
    async with FakeDiscord() as fake, fake.running(await bot_for(stack, styles_file)):
        alone = frames(await create(fake, "a fox in the snow -seed 5"))
        styled_msg = await create(fake, "a fox in the snow -style anime -seed 5")
        styled = frames(styled_msg)
        after = frames(await create(fake, "a fox in the snow -seed 5"))

        # the operator makes the style's preview clip (the normal job path); /styles links it
        preview = [sys.executable, "-m", "cli.main", "styles", "preview", "anime"]
        done = await asyncio.to_thread(
            subprocess.run, preview, env=worker.env, cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
        previews = latest_previews(stack.engine, "tiny")
        assert list(previews) == ["anime"]
        made = stack.store.get(previews["anime"])
        assert made is not None and made.owner_id == PREVIEW_OWNER and made.status == "done"
        listing = await (await fake.slash_command("styles", {})).wait_reply()
        link = f"[preview](<{PUBLIC_URL}/clips/{previews['anime']}>)"
        assert f"`anime` ✨ LoRA — Anime: line art and cel shading · {link}" in listing.content
        assert listing.content.count("[preview]") == 1  # the styles without one: none

    assert "-style anime" in styled_msg.content  # the line that makes it again
    assert not np.array_equal(styled, alone)  # same seed, same words: the LoRA did it
    assert np.array_equal(after, alone)  # nothing of the style stayed in the pipeline
    row = stack.store.get(clip_id(styled_msg))
    assert row is not None and row.spec["style"]["adapter"] == "style"
    assert "styles: style anime loaded as adapter style-anime" in worker.logs()


async def test_refusals_are_private_and_queue_nothing(
    stack: Stack, redis: object, styles_file: Path
) -> None:
    async with FakeDiscord() as fake, fake.running(await bot_for(stack, styles_file)):
        ix = await fake.slash_command("create", {"prompt": "a fox -style ink"})
        reply = await ix.wait_reply()
        assert reply.ephemeral
        assert "the style `ink` needs a model this server isn't running" in reply.content
        assert "set up for wan" in reply.content and "runs tiny" in reply.content

        ix = await fake.slash_command("create", {"prompt": "a fox -style squish"})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "is an effect: it animates a picture" in reply.content

        picture = fake.upload("cat.png", png())
        ix = await fake.slash_command("effect", {"image": picture, "effect": "explode"})
        reply = await ix.wait_reply()
        assert reply.ephemeral and "isn't an effect here" in reply.content
        assert "squish" in reply.content
        assert [r.path for r in fake.requests if r.path.startswith("/attachments/")] == []

        ix = await fake.slash_command("styles", {})
        listing = await ix.wait_reply()
        assert listing.ephemeral
        assert "`anime` ✨ LoRA — Anime: line art and cel shading" in listing.content
        assert "`noir`" in listing.content  # the built-in presets stay
        assert "`squish` — Squished flat" in listing.content
        assert "`ink` (style): wan" in listing.content
    assert await redis.zcard(DEFAULT_QUEUE) == 0  # type: ignore[attr-defined]


async def test_an_effect_on_a_picture_and_effects_under_its_result(
    stack: Stack, worker: WorkerProcesses, styles_file: Path
) -> None:
    async with FakeDiscord() as fake, fake.running(await bot_for(stack, styles_file)):
        picture = fake.upload("car.png", png(480, 320))
        ix = await fake.slash_command(
            "effect", {"image": picture, "effect": "squish", "subject": "a red car"}, user="bob"
        )
        queued = await ix.wait_reply()
        assert not queued.ephemeral and "a red car squished" in queued.content
        result = await fake.wait_for_message(
            lambda m: READY in m.content and int(m.message_reference["message_id"]) == queued.id,
            timeout=60,
        )
        gid = clip_id(result)
        row = await eventually(lambda: stack.store.get(gid), lambda r: r.discord_message_id)
        assert row.spec["mode"] == "i2v" and row.spec["style"]["adapter"] == "effect"
        assert row.spec["prompt"] == "a red car squished"
        assert row.spec["style"]["prompt_suffix"] == "sq41sh"  # the LoRA's trigger
        assert "styles: effect squish loaded as adapter effect-squish" in worker.logs()

        # ✨ Effects under the result: the effect again, on the same picture, as a child clip
        select = f"reelbot:effects:{gid}"
        assert [o["value"] for o in result.component(select)["options"]] == ["squish"]
        ix = await fake.select(result, select, ["squish"], user="alice")
        child_queued = await ix.wait_reply(timeout=30)
        assert not child_queued.ephemeral
        child, child_result = await child_clip(stack, fake, gid)
        assert child.parent_id == gid and child.spec["mode"] == "i2v"
        assert child.spec["input_media"] == row.spec["input_media"]  # the parent's picture
        assert child.spec["style"]["name"] == "squish"
        assert child.owner_id == f"discord:{fake.users['alice'].id}"
        assert child_result.files

        # a clip made from a prompt has no ✨ Effects
        plain = await create(fake, "a fox -seed 3")
        assert not any(c.startswith("reelbot:effects:") for c in plain.custom_ids)


async def test_a_lora_that_fails_to_load_fails_that_clip_and_the_worker_goes_on(
    stack: Stack, worker: WorkerProcesses, styles_file: Path
) -> None:
    async with FakeDiscord() as fake, fake.running(await bot_for(stack, styles_file)):
        ix = await fake.slash_command("create", {"prompt": "a fox -style broken"})
        await ix.wait_reply()
        failed = await fake.wait_for_message(lambda m: "clip failed" in m.content, timeout=60)
        said = failed.content.replace("\\", "")  # Discord markdown escapes undone
        assert "the style `broken` could not be loaded on this server" in said
        assert "reelbot styles check" in said and "blocks.0" not in said
        after = await create(fake, "a fox in the snow -seed 9")  # the same worker, next clip
        assert after.files
    assert worker.processes[0].poll() is None
